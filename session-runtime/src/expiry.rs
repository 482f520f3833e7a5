//! When sessions end, and when their expiry moves.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

/// The longest a browser keeps a cookie (RFC 6265bis): 400 days.
pub(crate) const MAX_COOKIE_AGE: Duration = Duration::days(400);

/// The expiry policy: an inactivity timeout that slides forward on activity,
/// without a store write on every request.
#[derive(Clone, Debug)]
pub(crate) struct Expiry {
    /// How long a session lives without a request.
    pub(crate) inactivity: Duration,
    /// How much of the window must pass before a read-only request moves the
    /// expiry forward (a TTL-only touch, no data written).
    pub(crate) extend_after: Duration,
    /// Whether the cookie carries `Max-Age` (persistent) or dies with the
    /// browser (the default).
    pub(crate) persistent_cookie: bool,
}

impl Default for Expiry {
    fn default() -> Self {
        let inactivity = Duration::hours(24);
        Self {
            inactivity,
            extend_after: inactivity / 4,
            persistent_cookie: false,
        }
    }
}

impl Expiry {
    /// The expiry a session gets when a request writes to it now.
    pub(crate) fn next(&self, now: OffsetDateTime) -> OffsetDateTime {
        now + self.inactivity
    }

    /// Whether a read-only request should move this session's expiry forward.
    pub(crate) fn due_for_extension(
        &self,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> bool {
        let last_extended = expires_at - self.inactivity;
        now - last_extended >= self.extend_after
    }

    /// The cookie's `Max-Age`, if it is persistent.
    pub(crate) fn cookie_max_age(&self) -> Option<Duration> {
        self.persistent_cookie
            .then(|| self.inactivity.min(MAX_COOKIE_AGE))
    }
}

pub(crate) fn to_time(d: StdDuration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_request_extends_only_after_a_quarter_of_the_window() {
        let expiry = Expiry::default();
        let now = OffsetDateTime::now_utc();
        let fresh = expiry.next(now);
        assert!(!expiry.due_for_extension(fresh, now + Duration::hours(1)));
        assert!(expiry.due_for_extension(fresh, now + Duration::hours(7)));
    }
}
