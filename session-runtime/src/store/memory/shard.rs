//! One shard of the memory store: a slab of entries, an index into it, and
//! the eviction that keeps it under its capacity.
//!
//! # Layout
//!
//! Entries live in a `Vec` (the slab); a [`HashTable`] of 4-byte slab
//! positions, hashed by the session key's own first bytes (a SHA-256 digest
//! is already uniform), finds them. A live session costs its slab slot (the
//! 32-byte key, the expiry, a boxed slice of fields) plus about ten bytes of
//! index: no allocation per entry beyond its fields.
//!
//! # Eviction
//!
//! A session that was created but never loaded again is on *probation*; one
//! that came back (a returning visitor) is *established*. When a create
//! finds the shard full, a hand sweeps the slab from where it last stopped,
//! at most [`SCAN`] slots: the first expired or probation slot it meets is
//! evicted; if it meets none, the established session with the nearest
//! expiry among those it looked at goes. So a flood of one-visit sessions
//! evicts one-visit sessions, not the users who keep coming back, and each
//! create does bounded work (a segmented LRU, approximated as CLOCK is).

use hashbrown::HashTable;

use super::users::UserIndex;
use super::{from_millis, IntText};
use crate::store::{unix_millis, ChangeSet, Record, SessionKey, USER_FIELD};

/// How many slots one eviction looks at, at most.
pub(super) const SCAN: usize = 64;

/// One stored session.
pub(super) struct Entry {
    key: [u8; 32],
    /// Unix milliseconds, with the lowest bit standing for "established"
    /// (loaded again after its creation): a millisecond of expiry is not
    /// worth eight more bytes per session.
    expires: i64,
    /// Sized exactly: a session has a handful of fields and lives long.
    fields: Box<[(Box<str>, Box<str>)]>,
}

impl Entry {
    pub(super) fn new(key: &SessionKey, changes: &ChangeSet) -> Self {
        let mut entry = Self {
            key: *key.as_bytes(),
            expires: 0,
            fields: Box::new([]),
        };
        entry.apply(changes);
        entry
    }

    /// The same entry under another key (a regenerated session), on
    /// probation again.
    pub(super) fn rekeyed(mut self, key: &SessionKey) -> Self {
        self.key = *key.as_bytes();
        self.expires &= !1;
        self
    }

    pub(super) fn expires_ms(&self) -> i64 {
        self.expires & !1
    }

    pub(super) fn set_expires_ms(&mut self, ms: i64) {
        self.expires = (ms & !1) | (self.expires & 1);
    }

    fn is_established(&self) -> bool {
        self.expires & 1 == 1
    }

    fn establish(&mut self) {
        self.expires |= 1;
    }

    pub(super) fn is_live(&self, now_ms: i64) -> bool {
        self.expires_ms() > now_ms
    }

    pub(super) fn to_record(&self) -> Record {
        Record::new(
            self.fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            from_millis(self.expires_ms()),
        )
    }

    /// Applies a change set the way every store must (`Record::apply`:
    /// sets, removals, increments, then the expiry).
    pub(super) fn apply(&mut self, changes: &ChangeSet) {
        let mut fields = std::mem::take(&mut self.fields).into_vec();
        for (key, value) in changes.sets() {
            put(&mut fields, key, value.into());
        }
        if changes.removals().len() > 0 {
            fields.retain(|(name, _)| !changes.removals().any(|k| k == &**name));
        }
        for inc in changes.increments() {
            let stored = fields
                .iter()
                .find(|(name, _)| &**name == inc.key.as_ref())
                .map(|(_, v)| &**v);
            let next = IntText::new(inc.apply_to(stored));
            put_text(&mut fields, &inc.key, next.as_str());
        }
        // `into_boxed_slice` drops spare capacity: entries live long and
        // are many.
        self.fields = fields.into_boxed_slice();
        if changes.moves_expiry() {
            self.set_expires_ms(unix_millis(changes.expires_at()));
        }
    }

    #[cfg(test)]
    pub(super) fn fields(&self) -> &[(Box<str>, Box<str>)] {
        &self.fields
    }

    /// The user this session is bound to (its `@user` field, a JSON string).
    pub(super) fn user(&self) -> Option<String> {
        let (_, raw) = self.fields.iter().find(|(name, _)| &**name == USER_FIELD)?;
        serde_json::from_str(raw).ok()
    }

    pub(super) fn key(&self) -> SessionKey {
        SessionKey::from_digest(self.key)
    }
}

/// Sets `key` to `value`.
fn put(fields: &mut Vec<(Box<str>, Box<str>)>, key: &str, value: Box<str>) {
    match fields.iter_mut().find(|(name, _)| &**name == key) {
        Some(slot) => slot.1 = value,
        None => fields.push((key.into(), value)),
    }
}

/// Sets `key` to `text`, in the stored value's own allocation when it has
/// the same length (a counter that keeps its number of digits).
fn put_text(fields: &mut Vec<(Box<str>, Box<str>)>, key: &str, text: &str) {
    match fields.iter_mut().find(|(name, _)| &**name == key) {
        Some(slot) if slot.1.len() == text.len() => {
            let mut bytes = std::mem::take(&mut slot.1).into_boxed_bytes();
            bytes.copy_from_slice(text.as_bytes());
            // The bytes are `text`'s, so they are UTF-8: the error arm is
            // never taken, and would still store the right value.
            slot.1 = String::from_utf8(bytes.into_vec())
                .map(String::into_boxed_str)
                .unwrap_or_else(|_| text.into());
        }
        Some(slot) => slot.1 = text.into(),
        None => fields.push((key.into(), text.into())),
    }
}

/// What an insert found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Inserted {
    Applied,
    KeyTaken,
}

/// One shard.
#[derive(Default)]
pub(super) struct Shard {
    /// The slab: `None` is a free slot, listed in `free`.
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    index: HashTable<u32>,
    len: usize,
    /// Where the eviction hand stopped.
    hand: usize,
    /// The sessions of each user in this shard, by slab position: kept in
    /// step with every insert and removal below.
    pub(super) users: UserIndex,
}

fn hash_of(key: &[u8; 32]) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&key[..8]);
    u64::from_le_bytes(head)
}

/// A slab position as the index keeps it. A shard never holds four billion
/// slots: its capacity is far below, and an unbounded store runs out of
/// memory long before.
fn pos(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

impl Shard {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    fn position(&self, key: &[u8; 32]) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(
                hash_of(key),
                |&at| matches!(slots.get(at as usize), Some(Some(e)) if &e.key == key),
            )
            .map(|&at| at as usize)
    }

    /// The entry under `key`, live or not.
    pub(super) fn get_mut(&mut self, key: &SessionKey) -> Option<&mut Entry> {
        let at = self.position(key.as_bytes())?;
        self.slots.get_mut(at)?.as_mut()
    }

    /// The live entry under `key`, now marked as established: its visitor
    /// came back.
    pub(super) fn load(&mut self, key: &SessionKey, now: i64) -> Option<Record> {
        let entry = self.get_mut(key).filter(|e| e.is_live(now))?;
        entry.establish();
        Some(entry.to_record())
    }

    /// Takes the entry under `key` out of the shard.
    pub(super) fn remove(&mut self, key: &SessionKey) -> Option<Entry> {
        let at = self.position(key.as_bytes())?;
        self.remove_at(at)
    }

    /// Takes the entry in slot `at` out of the slab and the index.
    pub(super) fn remove_at(&mut self, at: usize) -> Option<Entry> {
        let entry = self.slots.get_mut(at)?.take()?;
        let p = pos(at);
        if let Some(user) = entry.user() {
            self.users.remove(&user, p);
        }
        if let Ok(found) = self.index.find_entry(hash_of(&entry.key), |&q| q == p) {
            found.remove();
        }
        self.len -= 1;
        self.free.push(p);
        Some(entry)
    }

    /// Inserts an entry (a new one, or one moved from another key), unless
    /// a live entry holds its key; makes room first when the shard is at
    /// `capacity`.
    pub(super) fn insert(&mut self, entry: Entry, capacity: usize, now: i64) -> Inserted {
        if let Some(at) = self.position(&entry.key) {
            let Some(slot) = self.slots.get_mut(at) else {
                return Inserted::KeyTaken;
            };
            if slot.as_ref().is_some_and(|old| old.is_live(now)) {
                return Inserted::KeyTaken;
            }
            // An expired session's key is free again: replaced in place.
            let new_user = entry.user();
            let old_user = slot.replace(entry).and_then(|old| old.user());
            let p = pos(at);
            if let Some(user) = old_user {
                self.users.remove(&user, p);
            }
            if let Some(user) = new_user {
                self.users.insert(user, p);
            }
            return Inserted::Applied;
        }
        if self.len >= capacity {
            self.make_room(now);
        }
        let hash = hash_of(&entry.key);
        let user = entry.user();
        let at = match self.free.pop() {
            Some(at) => {
                let at = at as usize;
                if let Some(slot) = self.slots.get_mut(at) {
                    *slot = Some(entry);
                }
                at
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.len += 1;
        if let Some(user) = user {
            self.users.insert(user, pos(at));
        }
        let slots = &self.slots;
        self.index
            .insert_unique(hash, pos(at), |&p| match slots.get(p as usize) {
                Some(Some(e)) => hash_of(&e.key),
                _ => 0,
            });
        Inserted::Applied
    }

    /// Applies a change set to the live entry under `key`, keeping the user
    /// index in step when the change binds or unbinds it; `false` when no
    /// live entry holds the key.
    pub(super) fn apply_live(&mut self, key: &SessionKey, changes: &ChangeSet, now: i64) -> bool {
        let Some(at) = self.position(key.as_bytes()) else {
            return false;
        };
        let Some(Some(entry)) = self.slots.get_mut(at) else {
            return false;
        };
        if !entry.is_live(now) {
            return false;
        }
        let rebinds = changes.sets().any(|(k, _)| k == USER_FIELD)
            || changes.removals().any(|k| k == USER_FIELD);
        if !rebinds {
            entry.apply(changes);
            return true;
        }
        let before = entry.user();
        entry.apply(changes);
        let after = entry.user();
        if before != after {
            let p = pos(at);
            if let Some(user) = before {
                self.users.remove(&user, p);
            }
            if let Some(user) = after {
                self.users.insert(user, p);
            }
        }
        true
    }

    /// The slab positions of `user`'s sessions, live or not.
    pub(super) fn positions_of(&self, user: &str) -> Vec<usize> {
        self.users.positions(user).map(|p| p as usize).collect()
    }

    /// The entry in slot `at`.
    pub(super) fn entry_at(&self, at: usize) -> Option<&Entry> {
        self.slots.get(at)?.as_ref()
    }

    /// Evicts one session: the first expired or probation slot the hand
    /// meets within [`SCAN`] slots, else the established one with the
    /// nearest expiry among them.
    fn make_room(&mut self, now: i64) {
        let n = self.slots.len();
        let mut fallback: Option<(i64, usize)> = None;
        for _ in 0..SCAN.min(n) {
            let at = self.hand % n;
            self.hand = (at + 1) % n;
            let Some(Some(entry)) = self.slots.get(at) else {
                continue;
            };
            if !entry.is_live(now) || !entry.is_established() {
                self.remove_at(at);
                tracing::trace!("memory store full: evicted a session on probation");
                return;
            }
            let expires = entry.expires_ms();
            if fallback.is_none_or(|(best, _)| expires < best) {
                fallback = Some((expires, at));
            }
        }
        if let Some((_, at)) = fallback {
            self.remove_at(at);
            tracing::debug!(
                "memory store full of returning sessions: evicted the least recently active one"
            );
        }
    }

    /// Drops up to `limit` expired entries; returns how many.
    pub(super) fn sweep(&mut self, now: i64, limit: usize) -> usize {
        let mut swept = 0;
        for at in 0..self.slots.len() {
            if swept == limit {
                break;
            }
            if matches!(self.slots.get(at), Some(Some(e)) if !e.is_live(now)) {
                self.remove_at(at);
                swept += 1;
            }
        }
        if self.len == 0 && !self.slots.is_empty() {
            // Nothing left: give the memory back.
            *self = Self::default();
        }
        swept
    }
}
