//! [`MemoryStore`]: sessions in this process, sharded, bounded, expiring,
//! swept.

mod shard;
mod users;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use time::OffsetDateTime;

use self::shard::{Entry, Inserted, Shard};
use super::{
    from_unix_millis, unix_millis, ChangeSet, Record, SessionKey, SessionStore, StoreError,
    SweepExpired, WriteOutcome,
};

/// How many shards: each has its own lock, so requests on different
/// sessions rarely wait on one another.
const SHARDS: usize = 64;

fn from_millis(ms: i64) -> OffsetDateTime {
    from_unix_millis(ms).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An integer's decimal text, on the stack: a counter's new value is copied
/// into the bytes of the stored one when it has as many digits, and
/// allocated at its exact length when not (`to_string` allocates 19 bytes,
/// and boxing it would reallocate).
struct IntText {
    // 20 bytes hold every i64 (`-9223372036854775808`); written from the end.
    buf: [u8; 20],
    start: usize,
}

impl IntText {
    fn new(n: i64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        let mut rest = n.unsigned_abs();
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + u8::try_from(rest % 10).unwrap_or(0);
            start -= 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if n < 0 {
            start -= 1;
            if let Some(slot) = buf.get_mut(start) {
                *slot = b'-';
            }
        }
        Self { buf, start }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(self.start..).unwrap_or_default()).unwrap_or("0")
    }
}

struct Inner {
    shards: Box<[Mutex<Shard>]>,
    /// The most sessions one shard holds before it evicts; `usize::MAX` when
    /// unbounded.
    shard_capacity: usize,
    sweep_every: Duration,
    /// Whether the background sweep has been started: read on every create,
    /// so a flag, not a lock all requests would meet on.
    sweeper: AtomicBool,
}

/// The embedded store, and the default: sessions live in this process.
///
/// - **Sharded**: 64 shards, each behind its own lock, so requests on
///   different sessions rarely wait on one another; each shard is a slab of
///   compact entries with a small index, so growing to a million sessions
///   moves no large table at once.
/// - **Bounded**: [`MemoryStore::new`] holds at most
///   [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) sessions, so clients that
///   send no cookie cannot grow the process until it dies;
///   [`with_capacity`](Self::with_capacity) sets another bound and
///   [`unbounded`](Self::unbounded) none.
/// - **Evicting the right sessions**: when a new session would pass the
///   bound, a session that was never seen again after it was created (one
///   visit, as a flood of anonymous requests makes) goes first, in bounded
///   time per new session; a returning visitor's session goes only when the
///   store holds nothing else nearby, and then the least recently active.
/// - **Expiring**: an expired session never loads; a background task (started
///   on the first write, when a Tokio runtime is there) sweeps expired
///   sessions one shard at a time, so it never holds up requests for long.
///
/// Sessions do not survive a restart and are not shared between processes:
/// for that, use a server-backed store.
///
/// ```
/// use session_kit::{Key, MemoryStore, SessionLayer};
///
/// let store = MemoryStore::with_capacity(100_000);
/// let layer = SessionLayer::new(store, Key::generate());
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for MemoryStore {
    // Configuration and counts only: no session's data, and no lock taken.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let capacity = self.inner.shard_capacity.saturating_mul(SHARDS);
        f.debug_struct("MemoryStore")
            .field("shards", &SHARDS)
            .field(
                "capacity",
                &if capacity == usize::MAX {
                    None
                } else {
                    Some(capacity)
                },
            )
            .field("sweep_every", &self.inner.sweep_every)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// How many sessions [`MemoryStore::new`] holds at most: one million,
    /// about 150 MB for sessions of a few small fields (a counter, a user
    /// name). Sessions that hold more take more; size the bound with
    /// [`with_capacity`](Self::with_capacity) for them.
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    /// A store that holds at most [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY)
    /// sessions.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// A store that holds at most about `max_sessions` sessions (the cap is
    /// kept per shard, so it holds at most `max_sessions` rounded up to a
    /// multiple of 64).
    pub fn with_capacity(max_sessions: usize) -> Self {
        Self::build(max_sessions.div_ceil(SHARDS).max(1))
    }

    /// A store with no bound: only for apps whose every session comes from
    /// an authenticated user, since anyone who can make the app write a
    /// session for a cookie-less request can grow it without end.
    pub fn unbounded() -> Self {
        Self::build(usize::MAX)
    }

    fn build(shard_capacity: usize) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Self {
            inner: Arc::new(Inner {
                shards,
                shard_capacity,
                sweep_every: Duration::from_secs(60),
                sweeper: AtomicBool::new(false),
            }),
        }
    }

    /// How often the background sweep runs (default every 60 seconds).
    pub fn sweep_every(mut self, every: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.sweep_every = every.max(Duration::from_millis(10));
        }
        self
    }

    /// How many sessions the store holds, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every expired session now, one shard at a time; returns how many.
    pub fn sweep(&self) -> usize {
        self.inner.sweep(usize::MAX)
    }

    fn shard(&self, key: &SessionKey) -> MutexGuard<'_, Shard> {
        lock(&self.inner.shards[shard_index(key)])
    }

    fn start_sweeper(&self) {
        if self.inner.sweeper.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // One caller wins the flag and starts the one sweep.
        if self.inner.sweeper.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let every = self.inner.sweep_every;
        runtime.spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let swept = inner.sweep(usize::MAX);
                if swept > 0 {
                    tracing::debug!(swept, "expired sessions swept");
                }
            }
        });
    }
}

impl SweepExpired for MemoryStore {
    async fn sweep_expired(&self, batch: u64) -> Result<u64, StoreError> {
        let limit = usize::try_from(batch).unwrap_or(usize::MAX);
        Ok(u64::try_from(self.inner.sweep(limit)).unwrap_or(u64::MAX))
    }
}

impl Inner {
    /// Sweeps shard by shard, each under its own lock, up to `limit` in all.
    fn sweep(&self, limit: usize) -> usize {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut swept = 0;
        for shard in self.shards.iter() {
            if swept >= limit {
                break;
            }
            swept += lock(shard).sweep(now, limit - swept);
        }
        swept
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // No code path panics while holding a shard lock, but if one ever did the
    // shard is still a valid shard: go on with it.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn shard_index(key: &SessionKey) -> usize {
    // A byte the index's hash does not use, so shard and bucket are
    // independent.
    usize::from(key.as_bytes()[31]) % SHARDS
}

fn outcome(inserted: Inserted) -> WriteOutcome {
    match inserted {
        Inserted::Applied => WriteOutcome::Applied,
        Inserted::KeyTaken => WriteOutcome::KeyTaken,
    }
}

/// The calls the layer makes at once, with the clock it read, where the
/// store is a `MemoryStore`: no future, and no allocation for one, per call.
/// The `SessionStore` methods are these, at the time they are called.
impl MemoryStore {
    pub(crate) fn load_at(&self, key: &SessionKey, now: OffsetDateTime) -> Option<Record> {
        self.shard(key).load(key, unix_millis(now))
    }

    pub(crate) fn create_at(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        now: OffsetDateTime,
    ) -> WriteOutcome {
        self.start_sweeper();
        let entry = Entry::new(key, changes);
        let capacity = self.inner.shard_capacity;
        outcome(self.shard(key).insert(entry, capacity, unix_millis(now)))
    }

    pub(crate) fn save_at(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        now: OffsetDateTime,
    ) -> WriteOutcome {
        if self.shard(key).apply_live(key, changes, unix_millis(now)) {
            WriteOutcome::Applied
        } else {
            WriteOutcome::NotLive
        }
    }

    pub(crate) fn touch_at(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> WriteOutcome {
        let mut shard = self.shard(key);
        match shard.get_mut(key) {
            Some(entry) if entry.is_live(unix_millis(now)) => {
                entry.set_expires_ms(unix_millis(expires_at));
                WriteOutcome::Applied
            }
            _ => WriteOutcome::NotLive,
        }
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        Ok(self.load_at(key, OffsetDateTime::now_utc()))
    }

    async fn create(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        Ok(self.create_at(key, changes, OffsetDateTime::now_utc()))
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        Ok(self.save_at(key, changes, OffsetDateTime::now_utc()))
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        Ok(self.touch_at(key, expires_at, OffsetDateTime::now_utc()))
    }

    async fn regenerate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let capacity = self.inner.shard_capacity;
        let live = |shard: &mut Shard, key: &SessionKey| {
            shard.get_mut(key).is_some_and(|e| e.is_live(now))
        };
        let (a, b) = (shard_index(old), shard_index(new));
        if a == b {
            let mut shard = self.shard(old);
            if live(&mut shard, new) {
                return Ok(WriteOutcome::KeyTaken);
            }
            if !live(&mut shard, old) {
                return Ok(WriteOutcome::NotLive);
            }
            let Some(mut entry) = shard.remove(old) else {
                return Ok(WriteOutcome::NotLive);
            };
            entry.apply(changes);
            return Ok(outcome(shard.insert(entry.rekeyed(new), capacity, now)));
        }
        // Two shards: lock both, in index order, so two regenerations never
        // deadlock; the move is atomic to every other request.
        let (first, second) = (a.min(b), a.max(b));
        let mut lo = lock(&self.inner.shards[first]);
        let mut hi = lock(&self.inner.shards[second]);
        let (old_shard, new_shard) = if a < b {
            (&mut *lo, &mut *hi)
        } else {
            (&mut *hi, &mut *lo)
        };
        if live(new_shard, new) {
            return Ok(WriteOutcome::KeyTaken);
        }
        if !live(old_shard, old) {
            return Ok(WriteOutcome::NotLive);
        }
        let Some(mut entry) = old_shard.remove(old) else {
            return Ok(WriteOutcome::NotLive);
        };
        entry.apply(changes);
        Ok(outcome(new_shard.insert(entry.rekeyed(new), capacity, now)))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.shard(key).remove(key);
        Ok(())
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<(SessionKey, Record)>, StoreError> {
        self.sessions_of(user)
    }

    async fn delete_user_sessions(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        self.remove_sessions_of(user, keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SessionKey {
        let mut digest = [n; 32];
        digest[31] = 0; // every test key in one shard
        digest[0] = n;
        SessionKey::from_digest(digest)
    }

    fn expiring_in(ms: i64) -> ChangeSet {
        ChangeSet::new(OffsetDateTime::now_utc() + time::Duration::milliseconds(ms)).set("a.x", "1")
    }

    #[tokio::test]
    async fn sweep_drops_expired_sessions_only() {
        let store = MemoryStore::new();
        store.create(&key(1), &expiring_in(-1000)).await.unwrap();
        store.create(&key(2), &expiring_in(60_000)).await.unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.sweep(), 1);
        assert_eq!(store.len(), 1);
        assert!(store.load(&key(2)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn the_background_sweeper_runs_without_being_asked() {
        let store = MemoryStore::new().sweep_every(Duration::from_millis(50));
        store.create(&key(1), &expiring_in(20)).await.unwrap();
        assert_eq!(store.len(), 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(store.len(), 0, "swept in the background");
    }

    #[tokio::test]
    async fn a_full_shard_evicts_expired_and_probation_sessions_first() {
        // One session per shard: the newcomer evicts the one never seen again.
        let store = MemoryStore::with_capacity(SHARDS);
        store.create(&key(1), &expiring_in(60_000)).await.unwrap();
        store.create(&key(2), &expiring_in(120_000)).await.unwrap();
        assert!(
            store.load(&key(1)).await.unwrap().is_none(),
            "on probation: evicted"
        );
        assert!(store.load(&key(2)).await.unwrap().is_some());

        let store = MemoryStore::with_capacity(2 * SHARDS);
        store.create(&key(1), &expiring_in(-10)).await.unwrap();
        store.create(&key(2), &expiring_in(60_000)).await.unwrap();
        store.load(&key(2)).await.unwrap();
        store.create(&key(3), &expiring_in(30_000)).await.unwrap();
        assert_eq!(store.len(), 2, "the expired one made room");
        assert!(store.load(&key(2)).await.unwrap().is_some());
        assert!(store.load(&key(3)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_flood_of_one_visit_sessions_leaves_every_returning_session_alive() {
        // Ten per shard, every test key in one shard: five returning
        // visitors, then a hundred one-visit sessions.
        let store = MemoryStore::with_capacity(10 * SHARDS);
        for n in 1..=5 {
            store.create(&key(n), &expiring_in(60_000)).await.unwrap();
            assert!(store.load(&key(n)).await.unwrap().is_some());
        }
        for n in 10..110 {
            store.create(&key(n), &expiring_in(120_000)).await.unwrap();
            assert!(store.len() <= 10, "bounded: {}", store.len());
        }
        for n in 1..=5 {
            assert!(
                store.load(&key(n)).await.unwrap().is_some(),
                "returning session {n} survived the flood"
            );
        }
    }

    #[tokio::test]
    async fn a_shard_full_of_returning_sessions_evicts_the_least_recently_active() {
        let store = MemoryStore::with_capacity(2 * SHARDS);
        store.create(&key(1), &expiring_in(30_000)).await.unwrap();
        store.create(&key(2), &expiring_in(60_000)).await.unwrap();
        store.load(&key(1)).await.unwrap();
        store.load(&key(2)).await.unwrap();
        store.create(&key(3), &expiring_in(90_000)).await.unwrap();
        assert!(
            store.load(&key(1)).await.unwrap().is_none(),
            "the nearest expiry went"
        );
        assert!(store.load(&key(2)).await.unwrap().is_some());
        assert!(store.load(&key(3)).await.unwrap().is_some());
    }

    #[test]
    fn int_text_is_the_decimal_text() {
        for n in [0, 1, -1, 9, 10, -10, 42, 1_000_000, i64::MAX, i64::MIN] {
            assert_eq!(IntText::new(n).as_str(), n.to_string());
        }
    }

    #[test]
    fn a_new_entry_holds_what_a_record_would() {
        let changes = ChangeSet::new(OffsetDateTime::now_utc())
            .set("a.x", "\"x\"")
            .increment("a.n", 3, 4)
            .remove("a.gone");
        let entry = Entry::new(&key(1), &changes);
        let mut fields: Vec<(String, String)> = entry
            .fields()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut expected = changes.initial_fields();
        fields.sort();
        expected.sort();
        assert_eq!(fields, expected);
        assert_eq!(entry.expires_ms(), unix_millis(changes.expires_at()) & !1);
    }

    #[test]
    fn debug_shows_the_configuration_and_no_data() {
        let text = format!("{:?}", MemoryStore::with_capacity(640));
        assert!(text.contains("capacity: Some(640)"), "{text}");
        assert!(!text.contains("fields"), "{text}");
    }

    #[test]
    fn keys_spread_over_all_shards() {
        let mut seen = [false; SHARDS];
        for n in 0..=255u8 {
            let mut digest = [0u8; 32];
            digest[31] = n;
            seen[shard_index(&SessionKey::from_digest(digest))] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn a_counter_steps_over_its_digit_counts_in_an_entry() {
        let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
        let mut entry = Entry::new(&key(1), &ChangeSet::new(later).set("a.n", "8"));
        let mut seen = Vec::new();
        // 8 to 9 and 10 to -1 to 99 keep the text's length (written in
        // place); 9 to 10 and 99 to 100 grow it, 100 to -1 shrinks it.
        for delta in [1, 1, -11, 100, 1, -101] {
            entry.apply(&ChangeSet::new(later).increment("a.n", delta, 0));
            let value = entry.fields().iter().find(|(k, _)| &**k == "a.n");
            seen.push(value.map(|(_, v)| v.to_string()));
        }
        let want = ["9", "10", "-1", "99", "100", "-1"];
        assert_eq!(seen, want.map(|v| Some(v.to_owned())));
    }
}
