//! Instants as Unix time in milliseconds: how stores that keep a number
//! (Redis' `PEXPIREAT`, the memory store's entries, SQL integer columns)
//! write an expiry, in one place so every store rounds the same way.

use time::OffsetDateTime;

/// Unix time in milliseconds, rounded toward the epoch; an instant past what
/// an `i64` of milliseconds holds (beyond the year 292 million) saturates.
///
/// ```
/// use session_runtime::store::{from_unix_millis, unix_millis};
/// use time::OffsetDateTime;
///
/// let at = OffsetDateTime::from_unix_timestamp(4_102_444_800).unwrap(); // 2100-01-01
/// assert_eq!(unix_millis(at), 4_102_444_800_000);
/// assert_eq!(from_unix_millis(unix_millis(at)), Some(at));
/// ```
pub fn unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The instant of a Unix time in milliseconds; `None` outside the years
/// `time` can represent, so a store never panics on a number it reads back.
///
/// ```
/// use session_runtime::store::from_unix_millis;
///
/// assert!(from_unix_millis(0).is_some());
/// assert_eq!(from_unix_millis(i64::MAX), None);
/// ```
pub fn from_unix_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}
