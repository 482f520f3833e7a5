//! The store trait every back end implements, and the types it speaks.
//!
//! # The contract
//!
//! A store keeps, per session, a set of named fields (each a JSON text) and
//! an expiry. It is addressed by a [`SessionKey`], the SHA-256 digest of the
//! session ID: the ID itself never reaches a store, so a leaked dump or a
//! timing side channel in the store's index gives no usable cookie.
//!
//! Every store must keep these rules, which the conformance suite in
//! `session_runtime::testing` (feature `testing`) checks (every back end of this crate runs it):
//!
//! 1. [`load`](SessionStore::load) returns `None` for a key it does not know
//!    and for a session whose expiry has passed, even if the record is still
//!    there: expiry is enforced on the server, on every load.
//! 2. [`create`](SessionStore::create) never overwrites a live session: it
//!    answers [`WriteOutcome::KeyTaken`] instead.
//! 3. [`save`](SessionStore::save) applies a whole [`ChangeSet`] atomically
//!    for one session, and only if the session is live: a save that arrives
//!    after the session was deleted, regenerated or has expired answers
//!    [`WriteOutcome::NotLive`] and writes nothing, so a slow request never
//!    revives a dead session. Fields that are not in the change set are left
//!    as they are, so two requests that change different fields both persist.
//!    The save moves the expiry to [`ChangeSet::expires_at`], unless the
//!    change set [keeps it](ChangeSet::keeping_expiry): then the stored
//!    expiry stays as it is, whatever it is by then.
//! 4. An [`Increment`] is applied on the store's side, against the value the
//!    store holds at that moment (or the increment's `initial` value where the
//!    field is absent), saturating at the bounds of `i64`: two overlapping
//!    increments both count.
//! 5. [`touch`](SessionStore::touch) moves the expiry of a live session and
//!    writes no data.
//! 6. [`regenerate`](SessionStore::regenerate) moves a live session's data to a
//!    new key, applies a change set to it, and makes the old key dead, in one
//!    step where the back end allows it.
//! 7. [`delete`](SessionStore::delete) removes a session; deleting a key that
//!    is not there is not an error.
//! 8. A failure of the back end is a [`StoreError`] that keeps its source; a
//!    store never panics on data it reads back.
//!
//! # Writing a store
//!
//! What a new back end must write, and what it must pass:
//!
//! 1. A type that implements [`SessionStore`]: four methods,
//!    [`load`](SessionStore::load), [`create`](SessionStore::create),
//!    [`save`](SessionStore::save) and [`delete`](SessionStore::delete).
//!    [`touch`](SessionStore::touch) and [`regenerate`](SessionStore::regenerate)
//!    have defaults built on those (the default regenerate is three steps,
//!    not one transaction: override it where the back end can do better).
//! 2. Optionally [`SweepExpired`], for a back end that does not drop expired
//!    sessions by itself; optionally the per-user index,
//!    [`user_sessions`](SessionStore::user_sessions) and
//!    [`delete_user_sessions`](SessionStore::delete_user_sessions), whose
//!    defaults answer [`StoreErrorKind::Unsupported`]: every server store
//!    of this crate has it (the cookie store cannot), checked by
//!    `user_index_conformance_tests!`. A store that wraps another
//!    (to count or log its calls) forwards
//!    [`cookie_payload`](SessionStore::cookie_payload), so that a wrapped
//!    [`CookieStore`] still keeps its sessions in the cookie.
//! 3. Errors as [`StoreError`] with the [kind](StoreErrorKind) they are and
//!    the driver's error as source; configuration mistakes as
//!    [`StoreConfigError`], when the store is built.
//! 4. Two test suites, each one macro line in a test file, both in
//!    `session_runtime::testing` (feature `testing`), against the real
//!    server: the store conformance suite (`store_conformance_tests!`) and
//!    the HTTP suite (`store_http_tests!`: SPEC's semantics, the lifecycle,
//!    expiry, counters, the races and the outage contract over real HTTP); a
//!    case a store cannot keep by design is skipped by name with its reason.
//!
//! Inside this repository a store also gets a cargo feature (here and in
//! the facade), a `pub use` in this module, the crate root and the facade,
//! and a branch in the examples' `SESSION_STORE` parser; CONTRIBUTING.md
//! lists the files.

mod cookie;
mod dyn_store;
#[cfg(feature = "memory")]
mod memory;
mod millis;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite")))
)]
pub mod sql;

pub(crate) use self::dyn_store::DynStore;

pub use self::cookie::{CookiePayload, CookieStore, COOKIE_SIZE_LIMIT};

#[cfg(feature = "memory")]
pub use self::memory::MemoryStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisStore, RedisStoreBuilder};
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use self::sql::mysql::{MySqlStore, MySqlStoreBuilder};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::sql::postgres::{PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use self::sql::sqlite::{SqliteStore, SqliteStoreBuilder};

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use time::OffsetDateTime;

pub use self::millis::{from_unix_millis, unix_millis};
pub use crate::error::{StoreConfigError, StoreError, StoreErrorKind};
pub use crate::id::SessionKey;
pub use crate::users::USER_FIELD;

/// A session as a store holds it: its fields and its expiry.
///
/// Field names are namespaced by the derive (`"cart.items"`); values are JSON
/// texts. A record is small, so fields are kept in a `Vec` and looked up by a
/// linear scan, which beats hashing for the dozen fields a session has.
///
/// ```
/// use session_runtime::store::Record;
/// use time::{Duration, OffsetDateTime};
///
/// let expires_at = OffsetDateTime::now_utc() + Duration::hours(1);
/// let record = Record::new(vec![("visits.page_views".into(), "3".into())], expires_at);
/// assert_eq!(record.get("visits.page_views"), Some("3"));
/// assert_eq!(record.get("cart.items"), None);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    fields: Vec<(String, String)>,
    expires_at: OffsetDateTime,
}

impl Record {
    /// A record of these fields, live until `expires_at`.
    pub fn new(fields: Vec<(String, String)>, expires_at: OffsetDateTime) -> Self {
        Self { fields, expires_at }
    }

    /// The JSON text stored under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// Every field, in no particular order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many fields the record holds.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the record holds no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// When the session expires.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Takes the fields out of the record.
    pub fn into_fields(self) -> Vec<(String, String)> {
        self.fields
    }

    /// Applies a change set to this record in place, the way every store must:
    /// sets, then removals, then increments, then the new expiry.
    ///
    /// Stores that hold records in memory (or that read, change and write a
    /// record inside one transaction) use this so that they all agree.
    ///
    /// ```
    /// use session_runtime::store::{ChangeSet, Record};
    /// use time::{Duration, OffsetDateTime};
    ///
    /// let later = OffsetDateTime::now_utc() + Duration::hours(2);
    /// let mut record = Record::new(vec![("v.n".into(), "1".into())], later);
    /// let changes = ChangeSet::new(later).set("v.theme", "\"dark\"").increment("v.n", 2, 0);
    /// record.apply(&changes);
    /// assert_eq!(record.get("v.n"), Some("3"));
    /// assert_eq!(record.get("v.theme"), Some("\"dark\""));
    /// ```
    pub fn apply(&mut self, changes: &ChangeSet) {
        for (key, value) in &changes.set {
            self.put(key, value.clone());
        }
        for key in &changes.remove {
            self.fields.retain(|(name, _)| name != key.as_ref());
        }
        for inc in &changes.increment {
            let next = inc.apply_to(self.get(&inc.key));
            self.put(&inc.key, next.to_string());
        }
        if changes.moves_expiry() {
            self.expires_at = changes.expires_at;
        }
    }

    fn put(&mut self, key: &str, value: String) {
        match self.fields.iter_mut().find(|(name, _)| name == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key.to_owned(), value)),
        }
    }
}

impl fmt::Debug for Record {
    // Values may hold personal data: the debug form names the fields only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field(
                "fields",
                &self.fields.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A store-side increment of an integer field (`#[session(counter)]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Increment {
    /// The field.
    pub key: Cow<'static, str>,
    /// How much to add (negative to subtract).
    pub delta: i64,
    /// The value to add to when the store holds no value for the field.
    pub initial: i64,
}

impl Increment {
    /// The value after this increment, given the stored JSON text (if any).
    ///
    /// The sum saturates at the bounds of `i64`. A stored value that is not
    /// an integer counts as absent, so the increment starts from `initial`.
    ///
    /// ```
    /// use session_runtime::store::Increment;
    ///
    /// let inc = Increment { key: "v.n".into(), delta: 5, initial: 0 };
    /// assert_eq!(inc.apply_to(Some("10")), 15);
    /// assert_eq!(inc.apply_to(None), 5);
    /// assert_eq!(inc.apply_to(Some("\"oops\"")), 5);
    /// assert_eq!(inc.apply_to(Some(&i64::MAX.to_string())), i64::MAX);
    /// ```
    pub fn apply_to(&self, stored: Option<&str>) -> i64 {
        let base = stored
            .and_then(|raw| raw.trim().parse::<i64>().ok())
            .unwrap_or(self.initial);
        base.saturating_add(self.delta)
    }
}

/// What one request changed in a session: the fields it set, the fields it
/// removed, the increments of its counters, and the session's new expiry.
///
/// An unchanged field never appears here.
///
/// ```
/// use session_runtime::store::ChangeSet;
/// use time::{Duration, OffsetDateTime};
///
/// let changes = ChangeSet::new(OffsetDateTime::now_utc() + Duration::hours(24))
///     .set("prefs.theme", "\"dark\"")
///     .remove("cart.items")
///     .increment("visits.page_views", 1, 0);
/// assert!(!changes.is_empty());
/// assert_eq!(changes.sets().count(), 1);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ChangeSet {
    set: Vec<(Cow<'static, str>, String)>,
    remove: Vec<Cow<'static, str>>,
    increment: Vec<Increment>,
    expires_at: OffsetDateTime,
    keeps_expiry: bool,
}

impl ChangeSet {
    /// An empty change set that moves the expiry to `expires_at`.
    pub fn new(expires_at: OffsetDateTime) -> Self {
        Self {
            set: Vec::new(),
            remove: Vec::new(),
            increment: Vec::new(),
            expires_at,
            keeps_expiry: false,
        }
    }

    /// Makes a save of these changes leave the stored expiry where it is:
    /// the fields change, the expiry does not. `expires_at` is then the
    /// expiry the session held when it was loaded, for a store that creates
    /// a session from the change set.
    ///
    /// The layer sends this for a write that comes before `extend_after` of
    /// the inactivity window has passed: the expiry would move by less
    /// than the slack a read-only request already has, and leaving it lets a
    /// store skip its expiry index (PostgreSQL then updates the row in
    /// place; SQLite leaves the index's page alone) and never pulls back an
    /// expiry that a concurrent request has just moved. A change set that
    /// changes no field always moves the expiry: it is a touch.
    ///
    /// ```
    /// use session_runtime::store::{ChangeSet, Record};
    /// use time::{Duration, OffsetDateTime};
    ///
    /// let now = OffsetDateTime::now_utc();
    /// let mut record = Record::new(vec![("v.n".into(), "1".into())], now + Duration::hours(3));
    /// let changes = ChangeSet::new(now + Duration::hours(1))
    ///     .increment("v.n", 1, 0)
    ///     .keeping_expiry();
    /// assert!(!changes.moves_expiry());
    /// record.apply(&changes);
    /// assert_eq!(record.get("v.n"), Some("2"));
    /// assert_eq!(record.expires_at(), now + Duration::hours(3));
    /// assert!(ChangeSet::new(now).keeping_expiry().moves_expiry());
    /// ```
    pub fn keeping_expiry(mut self) -> Self {
        self.keeps_expiry = true;
        self
    }

    /// Adds a field to set to this JSON text.
    pub fn set(mut self, key: impl Into<Cow<'static, str>>, json: impl Into<String>) -> Self {
        self.push_set(key.into(), json.into());
        self
    }

    /// Adds a field to remove.
    pub fn remove(mut self, key: impl Into<Cow<'static, str>>) -> Self {
        self.push_remove(key.into());
        self
    }

    /// Adds an increment.
    pub fn increment(
        mut self,
        key: impl Into<Cow<'static, str>>,
        delta: i64,
        initial: i64,
    ) -> Self {
        self.push_increment(key.into(), delta, initial);
        self
    }

    pub(crate) fn push_set(&mut self, key: Cow<'static, str>, json: String) {
        self.forget(&key);
        self.set.push((key, json));
    }

    pub(crate) fn push_remove(&mut self, key: Cow<'static, str>) {
        self.forget(&key);
        self.remove.push(key);
    }

    pub(crate) fn push_increment(&mut self, key: Cow<'static, str>, delta: i64, initial: i64) {
        if let Some(inc) = self.increment.iter_mut().find(|inc| inc.key == key) {
            inc.delta = inc.delta.saturating_add(delta);
            return;
        }
        self.forget(&key);
        self.increment.push(Increment {
            key,
            delta,
            initial,
        });
    }

    /// Adds every change of `other`, which replace this set's changes to
    /// the same keys (increments to one key add up).
    pub(crate) fn merge(&mut self, other: ChangeSet) {
        if self.is_empty() {
            // The first change set of a request (nearly always the only
            // one): its lists are taken as they are, with no copy.
            self.set = other.set;
            self.remove = other.remove;
            self.increment = other.increment;
            return;
        }
        for (key, json) in other.set {
            self.push_set(key, json);
        }
        for key in other.remove {
            self.push_remove(key);
        }
        for inc in other.increment {
            self.push_increment(inc.key, inc.delta, inc.initial);
        }
    }

    pub(crate) fn set_expires_at(&mut self, expires_at: OffsetDateTime) {
        self.expires_at = expires_at;
    }

    /// Leaves the stored expiry as it is (see
    /// [`keeping_expiry`](Self::keeping_expiry)), which is `expires_at`.
    pub(crate) fn keep_expiry(&mut self, expires_at: OffsetDateTime) {
        self.expires_at = expires_at;
        self.keeps_expiry = true;
    }

    /// A later change to a key replaces an earlier one.
    fn forget(&mut self, key: &str) {
        self.set.retain(|(k, _)| k != key);
        self.remove.retain(|k| k != key);
        self.increment.retain(|inc| inc.key != key);
    }

    /// The fields to set, with their JSON texts.
    pub fn sets(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.set.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// The fields to remove.
    pub fn removals(&self) -> impl ExactSizeIterator<Item = &str> {
        self.remove.iter().map(|k| k.as_ref())
    }

    /// The increments to apply on the store's side.
    pub fn increments(&self) -> impl ExactSizeIterator<Item = &Increment> {
        self.increment.iter()
    }

    /// The session's new expiry, or, when the change set does not
    /// [move it](Self::moves_expiry), the expiry the session held when it
    /// was loaded.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Whether a save moves the stored expiry to
    /// [`expires_at`](Self::expires_at); `false` after
    /// [`keeping_expiry`](Self::keeping_expiry) on a change set that changes
    /// a field, when the save leaves the expiry the store holds.
    pub fn moves_expiry(&self) -> bool {
        !self.keeps_expiry || self.is_empty()
    }

    /// Whether no field changes (the expiry may still move).
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty() && self.increment.is_empty()
    }

    /// Whether the change set stores any data: what a new session needs before
    /// it is worth creating.
    pub fn stores_data(&self) -> bool {
        !self.set.is_empty() || !self.increment.is_empty()
    }

    /// Everything a new session starts with: the sets and the increments (each
    /// applied to its initial value), as a list of fields.
    pub fn initial_fields(&self) -> Vec<(String, String)> {
        let mut record = Record::new(Vec::new(), self.expires_at);
        record.apply(self);
        record.into_fields()
    }
}

impl fmt::Debug for ChangeSet {
    // Values may hold personal data: the debug form names the keys only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeSet")
            .field("set", &self.set.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("remove", &self.remove)
            .field(
                "increment",
                &self
                    .increment
                    .iter()
                    .map(|i| (&i.key, i.delta))
                    .collect::<Vec<_>>(),
            )
            .field("expires_at", &self.expires_at)
            .field("moves_expiry", &self.moves_expiry())
            .finish()
    }
}

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteOutcome {
    /// The write was applied.
    Applied,
    /// The session is not live (deleted, regenerated, expired or never
    /// created): nothing was written.
    NotLive,
    /// The new key is already held by a live session: nothing was written.
    KeyTaken,
}

/// A session store: where session data lives between requests.
///
/// See the [module docs](self) for the contract every store keeps. The
/// methods are `async`; an implementation may write them as `async fn`.
///
/// ```
/// use session_runtime::store::{ChangeSet, MemoryStore, SessionKey, SessionStore, WriteOutcome};
/// use time::{Duration, OffsetDateTime};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_runtime::StoreError> {
/// let store = MemoryStore::new();
/// let key = SessionKey::from_digest([7; 32]);
/// let expires_at = OffsetDateTime::now_utc() + Duration::hours(1);
///
/// let first = ChangeSet::new(expires_at).set("visits.page_views", "1");
/// assert_eq!(store.create(&key, &first).await?, WriteOutcome::Applied);
/// assert_eq!(store.create(&key, &first).await?, WriteOutcome::KeyTaken);
///
/// let bump = ChangeSet::new(expires_at).increment("visits.page_views", 1, 0);
/// assert_eq!(store.save(&key, &bump).await?, WriteOutcome::Applied);
/// let record = store.load(&key).await?.expect("live");
/// assert_eq!(record.get("visits.page_views"), Some("2"));
///
/// store.delete(&key).await?;
/// assert_eq!(store.save(&key, &bump).await?, WriteOutcome::NotLive);
/// # Ok(())
/// # }
/// ```
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// Loads a live session's record; `None` when the key is unknown or the
    /// session has expired.
    fn load(
        &self,
        key: &SessionKey,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Creates a session under `key` with the data of `changes`, unless a live
    /// session already holds that key ([`WriteOutcome::KeyTaken`]).
    fn create(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// Applies `changes` to the live session under `key`, atomically, or
    /// answers [`WriteOutcome::NotLive`] and writes nothing.
    fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// Moves the expiry of the live session under `key`, writing no data.
    ///
    /// The default saves an empty [`ChangeSet`], which every store's
    /// [`save`](Self::save) already treats as "move the expiry of a live
    /// session"; a store with a cheaper TTL-only write overrides it.
    fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send {
        async move { self.save(key, &ChangeSet::new(expires_at)).await }
    }

    /// Moves the live session under `old` to `new`, applies `changes` to it,
    /// and makes `old` dead.
    ///
    /// Answers [`WriteOutcome::NotLive`] when `old` is not live and
    /// [`WriteOutcome::KeyTaken`] when `new` is held by a live session; in both
    /// cases nothing is written.
    ///
    /// The default is built from the other methods, in three steps that are
    /// each atomic but not atomic together: it loads `old`, creates `new`
    /// with the loaded fields and `changes` applied, then deletes `old`.
    /// It still never revives a session: a save to `old` that lands between
    /// the steps is lost with `old` (the client holds `new` by then), and if
    /// `old` ends before the create, the load answers `NotLive`. What it
    /// cannot give is a single instant at which `old` dies and `new` is born:
    /// for a moment both load. A store that can move a record in one
    /// transaction overrides it.
    fn regenerate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send {
        async move {
            let Some(mut record) = self.load(old).await? else {
                return Ok(WriteOutcome::NotLive);
            };
            record.apply(changes);
            let mut moved = ChangeSet::new(record.expires_at());
            for (name, value) in record.fields() {
                moved.push_set(Cow::Owned(name.to_owned()), value.to_owned());
            }
            match self.create(new, &moved).await? {
                WriteOutcome::Applied => {}
                other => return Ok(other),
            }
            self.delete(old).await?;
            Ok(WriteOutcome::Applied)
        }
    }

    /// Deletes the session under `key`. Deleting an unknown key is not an error.
    fn delete(&self, key: &SessionKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// An optional ability, the per-user index: every live session whose
    /// reserved field [`USER_FIELD`] holds `user` (as a JSON string), with
    /// its key and record, in no particular order.
    ///
    /// A store with the ability keeps its index consistent with every write,
    /// delete, regeneration and expiry: an expired session is never listed,
    /// and the index holds no more than the sessions the store holds. The
    /// conformance suite `user_index_conformance_tests!` checks it.
    ///
    /// The default answers an error of kind [`StoreErrorKind::Unsupported`],
    /// so a store without the ability needs no code for it.
    fn user_sessions(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<(SessionKey, Record)>, StoreError>> + Send {
        let _ = user;
        async {
            Err(StoreError::unsupported(
                "this store keeps no per-user index",
            ))
        }
    }

    /// An optional ability, beside [`user_sessions`](Self::user_sessions):
    /// deletes every session bound to `user` except the one under `keep`, in
    /// one step as far as any other write to the store can tell (a
    /// regeneration that lands at the same moment is either revoked with the
    /// rest or comes after), and says how many live sessions it ended.
    ///
    /// The default answers an error of kind [`StoreErrorKind::Unsupported`].
    fn delete_user_sessions(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let _ = (user, keep);
        async {
            Err(StoreError::unsupported(
                "this store keeps no per-user index",
            ))
        }
    }

    /// Whether this store keeps each session's data in the cookie itself
    /// rather than behind a key, and how the cookie protects it.
    ///
    /// `None`, the default, for every store that keeps sessions on the
    /// server. Only [`CookieStore`] answers `Some`; the layer asks once, when
    /// it is built, and from then on reads and writes those sessions in the
    /// cookie without calling the store's other methods. A store that wraps
    /// another (to count or log its calls) forwards the inner store's answer.
    ///
    /// ```
    /// use session_runtime::store::{CookieStore, MemoryStore, SessionStore};
    ///
    /// assert!(MemoryStore::new().cookie_payload().is_none());
    /// assert!(CookieStore::new().cookie_payload().is_some());
    /// ```
    fn cookie_payload(&self) -> Option<CookiePayload> {
        None
    }
}

/// An optional ability beside [`SessionStore`]: deleting expired sessions in
/// bulk, for back ends that do not drop them by themselves (SQL tables; the
/// memory store sweeps on its own timer, Redis expires keys itself).
///
/// Expired sessions never load whether or not they are swept (rule 1 of
/// the contract): sweeping only reclaims their space.
///
/// ```
/// use session_runtime::store::SweepExpired;
///
/// /// Sweeps a store until nothing expired is left, a batch at a time.
/// async fn sweep_all<S: SweepExpired>(store: &S) -> Result<u64, session_runtime::StoreError> {
///     let mut total = 0;
///     loop {
///         let n = store.sweep_expired(1000).await?;
///         total += n;
///         if n < 1000 {
///             return Ok(total);
///         }
///     }
/// }
/// # let _ = sweep_all::<session_runtime::store::MemoryStore>;
/// ```
pub trait SweepExpired: SessionStore {
    /// Deletes at most `batch` sessions whose expiry has passed, and says
    /// how many it deleted. A bounded batch keeps each call short, so a
    /// large backlog never holds a long lock.
    fn sweep_expired(&self, batch: u64) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
