//! [`MemoryStore`]: sessions in this process, sharded, expiring, swept.

use std::collections::hash_map::Entry as Slot;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use time::OffsetDateTime;

use super::{
    from_unix_millis, unix_millis, ChangeSet, Record, SessionKey, SessionStore, StoreError,
    SweepExpired, WriteOutcome,
};

/// How many shards: a power of two, so a shard is picked with a mask.
const SHARDS: usize = 64;

/// One stored session, kept compact: boxed strings, and the expiry in Unix
/// milliseconds.
#[derive(Debug, Clone)]
struct Entry {
    fields: Vec<(Box<str>, Box<str>)>,
    expires_ms: i64,
}

fn from_millis(ms: i64) -> OffsetDateTime {
    from_unix_millis(ms).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An integer's decimal text, allocated at its exact length (`to_string`
/// allocates 19 bytes, and boxing it would reallocate).
fn int_text(n: i64) -> Box<str> {
    // 20 bytes hold every i64 (`-9223372036854775808`); written from the end.
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
    std::str::from_utf8(buf.get(start..).unwrap_or_default())
        .unwrap_or("0")
        .into()
}

impl Entry {
    fn new(changes: &ChangeSet) -> Self {
        // Built the way every store applies a change set (`Record::apply`:
        // sets, removals, increments) to an empty session, straight into
        // boxed strings. Sized exactly: a pushed vector keeps room for four
        // fields at least, some 160 bytes per session that a million
        // sessions pay for nothing.
        let mut entry = Self {
            fields: Vec::with_capacity(changes.sets().len() + changes.increments().len()),
            expires_ms: 0,
        };
        entry.apply(changes);
        entry
    }

    fn is_live(&self, now_ms: i64) -> bool {
        self.expires_ms > now_ms
    }

    fn to_record(&self) -> Record {
        Record::new(
            self.fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            from_millis(self.expires_ms),
        )
    }

    fn apply(&mut self, changes: &ChangeSet) {
        for (key, value) in changes.sets() {
            self.put(key, value.into());
        }
        for key in changes.removals() {
            self.fields.retain(|(name, _)| &**name != key);
        }
        for inc in changes.increments() {
            let next = inc.apply_to(self.get(&inc.key));
            self.put(&inc.key, int_text(next));
        }
        self.expires_ms = unix_millis(changes.expires_at());
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| &**name == key)
            .map(|(_, v)| &**v)
    }

    fn put(&mut self, key: &str, value: Box<str>) {
        match self.fields.iter_mut().find(|(name, _)| &**name == key) {
            Some(slot) => slot.1 = value,
            None => {
                // One slot more, not the doubling a push does: entries live
                // long and are many. (A new entry reserved its slots.)
                self.fields.reserve_exact(1);
                self.fields.push((key.into(), value));
            }
        }
    }
}

/// Keys are SHA-256 digests, already uniformly spread: hashing them again
/// would only cost time. The first eight bytes are the hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8).take(1) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(buf);
        }
    }

    fn write_usize(&mut self, _len: usize) {}
}

type Shard = HashMap<[u8; 32], Entry, BuildHasherDefault<DigestHasher>>;

#[derive(Debug)]
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
///   different sessions rarely wait on one another.
/// - **Expiring**: an expired session never loads; a background task (started
///   on the first write, when a Tokio runtime is there) sweeps expired
///   sessions one shard at a time, so it never holds up requests for long.
/// - **Bounded, if asked**: [`MemoryStore::with_capacity`] caps how many
///   sessions it holds. When a new session would pass the cap, the expired
///   sessions of its shard are dropped first; if none are, the session of that
///   shard with the nearest expiry (the least recently active) is evicted.
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
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An unbounded store.
    pub fn new() -> Self {
        Self::build(usize::MAX)
    }

    /// A store that holds at most about `max_sessions` sessions (the cap is
    /// kept per shard, so it holds at most `max_sessions` rounded up to a
    /// multiple of 64).
    pub fn with_capacity(max_sessions: usize) -> Self {
        Self::build(max_sessions.div_ceil(SHARDS).max(1))
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
        self.inner.sweep()
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
                let swept = inner.sweep();
                if swept > 0 {
                    tracing::debug!(swept, "expired sessions swept");
                }
            }
        });
    }
}

impl SweepExpired for MemoryStore {
    async fn sweep_expired(&self, batch: u64) -> Result<u64, StoreError> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut left = batch;
        for shard in self.inner.shards.iter() {
            if left == 0 {
                break;
            }
            let mut shard = lock(shard);
            shard.retain(|_, entry| {
                if left == 0 || entry.is_live(now) {
                    return true;
                }
                left -= 1;
                false
            });
        }
        Ok(batch - left)
    }
}

impl Inner {
    fn sweep(&self) -> usize {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut swept = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|_, entry| entry.is_live(now));
            swept += before - shard.len();
        }
        swept
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // No code path panics while holding a shard lock, but if one ever did the
    // map is still a valid map: go on with it.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn shard_index(key: &SessionKey) -> usize {
    // Bytes the hasher does not use, so shard and bucket are independent.
    usize::from(key.as_bytes()[31]) % SHARDS
}

/// Makes room for one more entry in a full shard: expired entries go first,
/// then the one closest to expiry.
fn make_room(shard: &mut Shard, capacity: usize, now: i64) {
    if shard.len() < capacity {
        return;
    }
    shard.retain(|_, entry| entry.is_live(now));
    while shard.len() >= capacity {
        let Some(victim) = shard
            .iter()
            .min_by_key(|(_, entry)| entry.expires_ms)
            .map(|(key, _)| *key)
        else {
            break;
        };
        shard.remove(&victim);
        tracing::debug!("memory store full: evicted the least recently active session");
    }
}

/// Inserts unless a live entry holds the key.
fn insert_new(
    shard: &mut Shard,
    capacity: usize,
    key: &SessionKey,
    entry: Entry,
    now: i64,
) -> WriteOutcome {
    if shard.len() < capacity {
        // Room without evicting anyone (always, when unbounded): one lookup.
        // An expired entry under the key is replaced in place.
        return match shard.entry(*key.as_bytes()) {
            Slot::Occupied(slot) if slot.get().is_live(now) => WriteOutcome::KeyTaken,
            Slot::Occupied(mut slot) => {
                slot.insert(entry);
                WriteOutcome::Applied
            }
            Slot::Vacant(slot) => {
                slot.insert(entry);
                WriteOutcome::Applied
            }
        };
    }
    if shard.get(key.as_bytes()).is_some_and(|e| e.is_live(now)) {
        return WriteOutcome::KeyTaken;
    }
    shard.remove(key.as_bytes());
    make_room(shard, capacity, now);
    shard.insert(*key.as_bytes(), entry);
    WriteOutcome::Applied
}

impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let shard = self.shard(key);
        Ok(shard
            .get(key.as_bytes())
            .filter(|entry| entry.is_live(now))
            .map(Entry::to_record))
    }

    async fn create(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        self.start_sweeper();
        let now = unix_millis(OffsetDateTime::now_utc());
        let entry = Entry::new(changes);
        let mut shard = self.shard(key);
        Ok(insert_new(
            &mut shard,
            self.inner.shard_capacity,
            key,
            entry,
            now,
        ))
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut shard = self.shard(key);
        match shard.get_mut(key.as_bytes()) {
            Some(entry) if entry.is_live(now) => {
                entry.apply(changes);
                Ok(WriteOutcome::Applied)
            }
            _ => Ok(WriteOutcome::NotLive),
        }
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut shard = self.shard(key);
        match shard.get_mut(key.as_bytes()) {
            Some(entry) if entry.is_live(now) => {
                entry.expires_ms = unix_millis(expires_at);
                Ok(WriteOutcome::Applied)
            }
            _ => Ok(WriteOutcome::NotLive),
        }
    }

    async fn regenerate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let capacity = self.inner.shard_capacity;
        let (a, b) = (shard_index(old), shard_index(new));
        if a == b {
            let mut shard = self.shard(old);
            if shard.get(new.as_bytes()).is_some_and(|e| e.is_live(now)) {
                return Ok(WriteOutcome::KeyTaken);
            }
            let Some(mut entry) = shard.remove(old.as_bytes()).filter(|e| e.is_live(now)) else {
                return Ok(WriteOutcome::NotLive);
            };
            entry.apply(changes);
            return Ok(insert_new(&mut shard, capacity, new, entry, now));
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
        if new_shard
            .get(new.as_bytes())
            .is_some_and(|e| e.is_live(now))
        {
            return Ok(WriteOutcome::KeyTaken);
        }
        let Some(mut entry) = old_shard.remove(old.as_bytes()).filter(|e| e.is_live(now)) else {
            return Ok(WriteOutcome::NotLive);
        };
        entry.apply(changes);
        Ok(insert_new(new_shard, capacity, new, entry, now))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.shard(key).remove(key.as_bytes());
        Ok(())
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
    async fn a_full_shard_evicts_expired_sessions_then_the_least_recently_active() {
        // One session per shard.
        let store = MemoryStore::with_capacity(SHARDS);
        store.create(&key(1), &expiring_in(60_000)).await.unwrap();
        store.create(&key(2), &expiring_in(120_000)).await.unwrap();
        assert!(
            store.load(&key(1)).await.unwrap().is_none(),
            "the nearest expiry went"
        );
        assert!(store.load(&key(2)).await.unwrap().is_some());

        let store = MemoryStore::with_capacity(2 * SHARDS);
        store.create(&key(1), &expiring_in(-10)).await.unwrap();
        store.create(&key(2), &expiring_in(60_000)).await.unwrap();
        store.create(&key(3), &expiring_in(30_000)).await.unwrap();
        assert_eq!(store.len(), 2, "the expired one made room");
        assert!(store.load(&key(2)).await.unwrap().is_some());
        assert!(store.load(&key(3)).await.unwrap().is_some());
    }

    #[test]
    fn int_text_is_the_decimal_text() {
        for n in [0, 1, -1, 9, 10, -10, 42, 1_000_000, i64::MAX, i64::MIN] {
            assert_eq!(&*int_text(n), n.to_string());
        }
    }

    #[test]
    fn a_new_entry_holds_what_a_record_would_and_no_spare_slot() {
        let changes = ChangeSet::new(OffsetDateTime::now_utc())
            .set("a.x", "\"x\"")
            .increment("a.n", 3, 4)
            .remove("a.gone");
        let entry = Entry::new(&changes);
        assert_eq!(entry.fields.capacity(), 2);
        let mut fields: Vec<(String, String)> = entry
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut expected = changes.initial_fields();
        fields.sort();
        expected.sort();
        assert_eq!(fields, expected);
        assert_eq!(entry.expires_ms, unix_millis(changes.expires_at()));
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
}
