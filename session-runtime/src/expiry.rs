//! When sessions end, and when their expiry moves.
//!
//! Every rule here is enforced by the server, on every load: the cookie's own
//! `Max-Age` is only a hint to the browser.
//!
//! - **Inactivity** (always on, 24 hours by default): a session that gets no
//!   request for this long ends. A request moves the expiry forward once
//!   `extend_after` of the window has passed since it last moved: one that
//!   changes nothing does so with a TTL-only touch, so a busy session costs
//!   no store write on most requests, and one that writes keeps the stored
//!   expiry until then, so a busy session's expiry index is not rewritten on
//!   every write.
//! - **Absolute lifetime** (off by default): a session ends this long after
//!   it was created, whatever its activity. The creation time is kept in the
//!   reserved field [`CREATED_FIELD`], which no derived struct can produce.
//! - **The cookie**: a browser-session cookie (no `Max-Age`) by default, or a
//!   persistent one whose `Max-Age` follows the server's expiry, capped at the
//!   absolute lifetime left and at 400 days.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use crate::store::{from_unix_millis, unix_millis, Record};

/// The longest a browser keeps a cookie (RFC 6265bis): 400 days.
pub(crate) const MAX_COOKIE_AGE: Duration = Duration::days(400);

/// The reserved field that holds a session's creation time (Unix time in
/// milliseconds), stored only when an absolute lifetime is configured.
///
/// Derived keys are always `namespace.field`, made of letters, digits, `_` and
/// `-`: a name with `@` and no `.` can never clash with one.
pub(crate) const CREATED_FIELD: &str = "@created";

/// The expiry policy.
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
    /// How long a session may live from its creation, whatever its activity.
    pub(crate) absolute: Option<Duration>,
    /// Whether every response that used a live session re-issues its cookie
    /// (express-session's `rolling`).
    pub(crate) rolling: bool,
}

impl Default for Expiry {
    fn default() -> Self {
        let inactivity = Duration::hours(24);
        Self {
            inactivity,
            extend_after: inactivity / 4,
            persistent_cookie: false,
            absolute: None,
            rolling: false,
        }
    }
}

impl Expiry {
    /// The expiry a session gets when a request writes to (or touches) it now:
    /// the inactivity window from now, capped at the absolute deadline.
    pub(crate) fn next(
        &self,
        now: OffsetDateTime,
        created: Option<OffsetDateTime>,
    ) -> OffsetDateTime {
        let idle = now.checked_add(self.inactivity).unwrap_or(now);
        match self.deadline(created) {
            Some(deadline) => idle.min(deadline),
            None => idle,
        }
    }

    /// When a session created at `created` reaches its absolute lifetime. A
    /// creation time read back from a store so late that the sum leaves the
    /// calendar gives the earliest instant: such a session is not live.
    pub(crate) fn deadline(&self, created: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
        let (created, absolute) = (created?, self.absolute?);
        Some(
            created
                .checked_add(absolute)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    /// Whether a session created at `created` has outlived its absolute
    /// lifetime (or carries a creation time so late that its deadline leaves
    /// the calendar).
    pub(crate) fn outlived(&self, created: OffsetDateTime, now: OffsetDateTime) -> bool {
        self.deadline(Some(created))
            .is_some_and(|deadline| deadline <= now)
    }

    /// Whether a read-only request should move this session's expiry forward:
    /// once `extend_after` of the window has passed, and only if the expiry
    /// would actually move (not when it is pinned at the absolute deadline).
    pub(crate) fn due_for_extension(
        &self,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        next: OffsetDateTime,
    ) -> bool {
        let Some(last_extended) = expires_at.checked_sub(self.inactivity) else {
            return false;
        };
        next > expires_at && now - last_extended >= self.extend_after
    }

    /// Whether a write may leave the stored expiry `expires_at` where it
    /// is rather than move it to `next`: the expiry would move forward by
    /// less than `extend_after`, the slack a read-only request already has.
    /// The store then leaves the expiry out of its write
    /// ([`ChangeSet::keeping_expiry`](crate::store::ChangeSet::keeping_expiry)),
    /// which lets PostgreSQL update the row in place (a heap-only update: the
    /// expiry index is not touched) and SQLite leave the index's page alone,
    /// where moving an indexed expiry on every write of a busy session
    /// writes the index on every write. An expiry that would move
    /// back (a shorter window, as when a remembered session is forgotten)
    /// always moves.
    pub(crate) fn write_keeps(&self, expires_at: OffsetDateTime, next: OffsetDateTime) -> bool {
        next >= expires_at && next - expires_at < self.extend_after
    }

    /// The cookie's `Max-Age`, if it is persistent: the inactivity timeout,
    /// capped at what is left of the absolute lifetime and at 400 days.
    pub(crate) fn cookie_max_age(
        &self,
        now: OffsetDateTime,
        created: Option<OffsetDateTime>,
    ) -> Option<Duration> {
        if !self.persistent_cookie {
            return None;
        }
        let mut max_age = self.inactivity.min(MAX_COOKIE_AGE);
        if let Some(deadline) = self.deadline(created) {
            // The difference of two instants always fits a `Duration`.
            max_age = max_age.min(deadline - now).max(Duration::ZERO);
        }
        Some(max_age)
    }

    /// The creation time a stored session carries, if any.
    pub(crate) fn created_of(record: &Record) -> Option<OffsetDateTime> {
        let millis: i64 = record.get(CREATED_FIELD)?.trim().parse().ok()?;
        from_unix_millis(millis)
    }

    /// The stored form of a creation time.
    pub(crate) fn created_value(created: OffsetDateTime) -> String {
        unix_millis(created).to_string()
    }
}

/// A length of time the layer's builder takes: a `std::time::Duration` or a
/// `time::Duration` (the `time` crate is re-exported as `session_kit::time`,
/// the crate of [`SessionHandle::expires_at`](crate::SessionHandle::expires_at)'s
/// instant), so either vocabulary works.
///
/// ```
/// use session_kit::{time, Key, MemoryStore, SessionLayer};
///
/// let a = SessionLayer::builder(MemoryStore::new(), Key::generate())
///     .inactivity_timeout(std::time::Duration::from_secs(30 * 60))
///     .build();
/// let b = SessionLayer::builder(MemoryStore::new(), Key::generate())
///     .inactivity_timeout(time::Duration::minutes(30))
///     .build();
/// assert!(a.is_ok() && b.is_ok());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a length of time the session layer takes",
    label = "expected a duration",
    note = "pass a `std::time::Duration` or a `time::Duration` (re-exported as `session_kit::time::Duration`)"
)]
pub trait IntoDuration {
    /// The length of time, as `time` counts it; a negative one is refused by
    /// `build()`.
    fn into_duration(self) -> Duration;
}

impl IntoDuration for StdDuration {
    fn into_duration(self) -> Duration {
        Duration::try_from(self).unwrap_or(Duration::MAX)
    }
}

impl IntoDuration for Duration {
    fn into_duration(self) -> Duration {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_request_extends_only_after_a_quarter_of_the_window() {
        let expiry = Expiry::default();
        let now = OffsetDateTime::now_utc();
        let fresh = expiry.next(now, None);
        let at = |h| now + Duration::hours(h);
        assert!(!expiry.due_for_extension(fresh, at(1), expiry.next(at(1), None)));
        assert!(expiry.due_for_extension(fresh, at(7), expiry.next(at(7), None)));
    }

    #[test]
    fn a_write_moves_the_expiry_once_extend_after_has_passed_or_to_shorten_it() {
        let expiry = Expiry::default();
        let now = OffsetDateTime::now_utc();
        let stored = expiry.next(now, None);
        let at = |h| expiry.next(now + Duration::hours(h), None);
        assert!(expiry.write_keeps(stored, at(0)));
        assert!(expiry.write_keeps(stored, at(5)));
        assert!(!expiry.write_keeps(stored, at(6)));
        // A remembered session forgotten: its 30-day expiry comes back to
        // the 24-hour window at once.
        assert!(!expiry.write_keeps(now + Duration::days(30), at(0)));
        let always = Expiry {
            extend_after: Duration::ZERO,
            ..Expiry::default()
        };
        assert!(!always.write_keeps(stored, always.next(now + Duration::milliseconds(1), None)));
    }

    #[test]
    fn cookie_max_age_is_capped_at_400_days() {
        let expiry = Expiry {
            inactivity: Duration::days(1000),
            persistent_cookie: true,
            ..Expiry::default()
        };
        let now = OffsetDateTime::now_utc();
        assert_eq!(expiry.cookie_max_age(now, None), Some(MAX_COOKIE_AGE));
    }

    #[test]
    fn the_absolute_lifetime_caps_the_expiry_and_the_cookie_max_age() {
        let expiry = Expiry {
            inactivity: Duration::hours(24),
            persistent_cookie: true,
            absolute: Some(Duration::hours(2)),
            ..Expiry::default()
        };
        let created = OffsetDateTime::now_utc();
        let now = created + Duration::hours(1);
        assert_eq!(
            expiry.next(now, Some(created)),
            created + Duration::hours(2)
        );
        assert_eq!(
            expiry.cookie_max_age(now, Some(created)),
            Some(Duration::hours(1))
        );
        assert!(!expiry.outlived(created, now));
        assert!(expiry.outlived(created, created + Duration::hours(2)));
        // Pinned at the deadline, a read-only request has nothing to extend.
        let pinned = expiry.next(now, Some(created));
        assert!(!expiry.due_for_extension(pinned, now, expiry.next(now, Some(created))));
    }

    #[test]
    fn a_creation_time_near_the_end_of_the_calendar_is_not_live_and_does_not_panic() {
        let expiry = Expiry {
            absolute: Some(MAX_COOKIE_AGE),
            ..Expiry::default()
        };
        let now = OffsetDateTime::now_utc();
        let late = Record::new(
            vec![(CREATED_FIELD.to_owned(), "253402300799000".into())], // 9999-12-31
            now,
        );
        let created = Expiry::created_of(&late).expect("a valid instant");
        assert!(expiry.outlived(created, now));
        assert!(expiry.cookie_max_age(now, Some(created)).is_none());
        let _ = expiry.next(now, Some(created));
        let _ = expiry.due_for_extension(OffsetDateTime::UNIX_EPOCH, now, now);
        let far = Record::new(vec![(CREATED_FIELD.to_owned(), i64::MAX.to_string())], now);
        assert_eq!(
            Expiry::created_of(&far),
            None,
            "out of range: no creation time"
        );
    }

    #[test]
    fn the_creation_time_round_trips_through_its_reserved_field() {
        let created = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let record = Record::new(
            vec![(CREATED_FIELD.to_owned(), Expiry::created_value(created))],
            created,
        );
        assert_eq!(Expiry::created_of(&record), Some(created));
        let garbled = Record::new(vec![(CREATED_FIELD.to_owned(), "\"x\"".into())], created);
        assert_eq!(Expiry::created_of(&garbled), None);
    }
}
