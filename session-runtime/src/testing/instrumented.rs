//! `InstrumentedStore`: a store wrapper that counts calls, records what is
//! written, and fails on demand, as a store that is down would.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::id::SessionKey;
use crate::store::{ChangeSet, Record, SessionStore, StoreError, WriteOutcome};

/// How many times each store operation was called.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Calls {
    /// `load`
    pub loads: usize,
    /// `create`
    pub creates: usize,
    /// `save`
    pub saves: usize,
    /// `touch`
    pub touches: usize,
    /// `regenerate`
    pub regenerates: usize,
    /// `delete`
    pub deletes: usize,
}

impl Calls {
    /// Every call that writes.
    pub fn writes(&self) -> usize {
        self.creates + self.saves + self.touches + self.regenerates + self.deletes
    }
}

#[derive(Debug, Default)]
struct Counters {
    loads: AtomicUsize,
    creates: AtomicUsize,
    saves: AtomicUsize,
    touches: AtomicUsize,
    regenerates: AtomicUsize,
    deletes: AtomicUsize,
    fail_reads: AtomicBool,
    fail_writes: AtomicBool,
    /// Every change set given to `create`, `save` or `regenerate`, with the
    /// key it was written under (the new key, for `regenerate`).
    written: std::sync::Mutex<Vec<(SessionKey, ChangeSet)>>,
}

/// A store wrapper for tests: counts every call, and fails reads or writes on
/// demand, as a store that is down would.
///
/// ```
/// use session_runtime::store::MemoryStore;
/// use session_runtime::testing::InstrumentedStore;
///
/// let store = InstrumentedStore::new(MemoryStore::new());
/// store.fail_reads(true);
/// assert_eq!(store.calls().loads, 0);
/// ```
#[derive(Debug)]
pub struct InstrumentedStore<S> {
    inner: Arc<S>,
    counters: Arc<Counters>,
}

/// A clone shares the store and the counts (no `S: Clone` needed).
impl<S> Clone for InstrumentedStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            counters: Arc::clone(&self.counters),
        }
    }
}

impl<S: SessionStore> InstrumentedStore<S> {
    /// Wraps a store.
    pub fn new(inner: S) -> Self {
        Self {
            inner: Arc::new(inner),
            counters: Arc::default(),
        }
    }

    /// The calls so far.
    pub fn calls(&self) -> Calls {
        let c = &self.counters;
        Calls {
            loads: c.loads.load(Ordering::SeqCst),
            creates: c.creates.load(Ordering::SeqCst),
            saves: c.saves.load(Ordering::SeqCst),
            touches: c.touches.load(Ordering::SeqCst),
            regenerates: c.regenerates.load(Ordering::SeqCst),
            deletes: c.deletes.load(Ordering::SeqCst),
        }
    }

    /// Makes every load fail (or work again).
    pub fn fail_reads(&self, fail: bool) {
        self.counters.fail_reads.store(fail, Ordering::SeqCst);
    }

    /// Makes every write fail (or work again).
    pub fn fail_writes(&self, fail: bool) {
        self.counters.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn read(&self, counter: &AtomicUsize) -> Result<(), StoreError> {
        counter.fetch_add(1, Ordering::SeqCst);
        if self.counters.fail_reads.load(Ordering::SeqCst) {
            return Err(down());
        }
        Ok(())
    }

    /// Every change set this store was asked to write (by `create`, `save` and
    /// `regenerate`, failed writes included), oldest first, with the key it was
    /// written under: what a test checks to see that only changed fields are
    /// sent.
    ///
    /// ```
    /// use session_runtime::store::{ChangeSet, MemoryStore, SessionKey, SessionStore};
    /// use session_runtime::testing::InstrumentedStore;
    /// use time::{Duration, OffsetDateTime};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_runtime::StoreError> {
    /// let store = InstrumentedStore::new(MemoryStore::new());
    /// let key = SessionKey::from_digest([1; 32]);
    /// let changes = ChangeSet::new(OffsetDateTime::now_utc() + Duration::hours(1)).set("a.x", "1");
    /// store.create(&key, &changes).await?;
    /// assert_eq!(store.written(), vec![(key, changes)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn written(&self) -> Vec<(SessionKey, ChangeSet)> {
        self.counters
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn record(&self, key: &SessionKey, changes: &ChangeSet) {
        self.counters
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((*key, changes.clone()));
    }

    fn write(&self, counter: &AtomicUsize) -> Result<(), StoreError> {
        counter.fetch_add(1, Ordering::SeqCst);
        if self.counters.fail_writes.load(Ordering::SeqCst) {
            return Err(down());
        }
        Ok(())
    }
}

fn down() -> StoreError {
    StoreError::new(
        "the test store is switched off",
        std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"),
    )
}

impl<S: SessionStore> SessionStore for InstrumentedStore<S> {
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>, StoreError> {
        self.read(&self.counters.loads)?;
        self.inner.load(key).await
    }

    async fn create(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        self.record(key, changes);
        self.write(&self.counters.creates)?;
        self.inner.create(key, changes).await
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        self.record(key, changes);
        self.write(&self.counters.saves)?;
        self.inner.save(key, changes).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> Result<WriteOutcome, StoreError> {
        self.write(&self.counters.touches)?;
        self.inner.touch(key, expires_at).await
    }

    async fn regenerate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        self.record(new, changes);
        self.write(&self.counters.regenerates)?;
        self.inner.regenerate(old, new, changes).await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.write(&self.counters.deletes)?;
        self.inner.delete(key).await
    }

    async fn user_sessions(&self, user: &str) -> Result<Vec<(SessionKey, Record)>, StoreError> {
        self.read(&self.counters.loads)?;
        self.inner.user_sessions(user).await
    }

    async fn delete_user_sessions(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        self.write(&self.counters.deletes)?;
        self.inner.delete_user_sessions(user, keep).await
    }

    fn cookie_payload(&self) -> Option<crate::store::CookiePayload> {
        self.inner.cookie_payload()
    }
}
