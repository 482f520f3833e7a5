//! The memory store's per-user index: in each shard, the slab positions of
//! each user's sessions, updated under the shard's lock by every insert,
//! removal (delete, regeneration, eviction, sweep) and bind, so it never
//! names a session the shard does not hold.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::{lock, MemoryStore, Shard};
use crate::store::{unix_millis, Record, SessionKey, StoreError};

/// A user's sessions in one shard, by slab position.
#[derive(Debug, Default)]
pub(super) struct UserIndex {
    by_user: HashMap<Box<str>, Vec<u32>>,
}

impl UserIndex {
    pub(super) fn insert(&mut self, user: String, at: u32) {
        let slots = self.by_user.entry(user.into_boxed_str()).or_default();
        if !slots.contains(&at) {
            slots.push(at);
        }
    }

    pub(super) fn remove(&mut self, user: &str, at: u32) {
        if let Some(slots) = self.by_user.get_mut(user) {
            slots.retain(|p| *p != at);
            if slots.is_empty() {
                self.by_user.remove(user);
            }
        }
    }

    pub(super) fn positions(&self, user: &str) -> impl Iterator<Item = u32> + '_ {
        self.by_user.get(user).into_iter().flatten().copied()
    }

    /// How many (user, session) pairs the index holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_user.values().map(Vec::len).sum()
    }
}

impl Shard {
    /// The live sessions of `user`; the expired ones met on the way are
    /// dropped (trimmed on read).
    fn live_of(&mut self, user: &str, now: i64) -> Vec<(SessionKey, Record)> {
        let mut live = Vec::new();
        for at in self.positions_of(user) {
            let Some(entry) = self.entry_at(at) else {
                continue;
            };
            if entry.is_live(now) {
                live.push((entry.key(), entry.to_record()));
            } else {
                self.remove_at(at);
            }
        }
        live
    }

    /// Removes every session of `user` but `keep`; counts the live ones.
    fn remove_user(&mut self, user: &str, keep: Option<&SessionKey>, now: i64) -> u64 {
        let mut ended = 0;
        for at in self.positions_of(user) {
            let Some(entry) = self.entry_at(at) else {
                continue;
            };
            if keep.is_some_and(|k| *k == entry.key()) {
                continue;
            }
            if entry.is_live(now) {
                ended += 1;
            }
            self.remove_at(at);
        }
        ended
    }
}

impl MemoryStore {
    /// Every shard, locked in index order (the order a regeneration across
    /// two shards takes its locks in, so the two never deadlock): a listing
    /// or a revocation sees no session halfway through a move.
    fn all_shards(&self) -> Vec<std::sync::MutexGuard<'_, Shard>> {
        self.inner.shards.iter().map(lock).collect()
    }

    pub(super) fn sessions_of(&self, user: &str) -> Result<Vec<(SessionKey, Record)>, StoreError> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut shards = self.all_shards();
        Ok(shards
            .iter_mut()
            .flat_map(|shard| shard.live_of(user, now))
            .collect())
    }

    pub(super) fn remove_sessions_of(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let now = unix_millis(OffsetDateTime::now_utc());
        let mut shards = self.all_shards();
        Ok(shards
            .iter_mut()
            .map(|shard| shard.remove_user(user, keep, now))
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{ChangeSet, MemoryStore, SessionKey, SessionStore, USER_FIELD};
    use time::{Duration, OffsetDateTime};

    fn key(n: u8, shard: u8) -> SessionKey {
        let mut digest = [n; 32];
        digest[31] = shard;
        SessionKey::from_digest(digest)
    }

    fn bound(user: &str, ms: i64) -> ChangeSet {
        ChangeSet::new(OffsetDateTime::now_utc() + Duration::milliseconds(ms))
            .set(USER_FIELD, serde_json::to_string(user).unwrap())
    }

    fn indexed(store: &MemoryStore) -> usize {
        store.all_shards().iter().map(|s| s.users.len()).sum()
    }

    #[tokio::test]
    async fn the_index_follows_delete_regenerate_sweep_and_eviction() {
        let store = MemoryStore::with_capacity(64);
        store
            .create(&key(1, 0), &bound("ada", 60_000))
            .await
            .unwrap();
        store.create(&key(2, 1), &bound("ada", -10)).await.unwrap();
        assert_eq!(indexed(&store), 2);
        assert_eq!(store.sweep(), 1);
        assert_eq!(indexed(&store), 1, "swept from the index");

        let moved = key(3, 2);
        let changes = ChangeSet::new(OffsetDateTime::now_utc() + Duration::hours(1));
        store
            .regenerate(&key(1, 0), &moved, &changes)
            .await
            .unwrap();
        assert_eq!(indexed(&store), 1, "moved, not copied");
        let listed = store.user_sessions("ada").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, moved);

        // One session per shard: a newcomer in shard 2 evicts it.
        store
            .create(&key(4, 2), &bound("bob", 60_000))
            .await
            .unwrap();
        assert!(store.user_sessions("ada").await.unwrap().is_empty());
        assert_eq!(indexed(&store), 1, "evicted from the index");

        store.delete(&key(4, 2)).await.unwrap();
        assert_eq!(indexed(&store), 0);
    }

    #[tokio::test]
    async fn an_unbind_or_a_rebind_moves_the_session_in_the_index() {
        let store = MemoryStore::new();
        let k = key(1, 5);
        store.create(&k, &bound("ada", 60_000)).await.unwrap();
        store.save(&k, &bound("bob", 60_000)).await.unwrap();
        assert!(store.user_sessions("ada").await.unwrap().is_empty());
        assert_eq!(store.user_sessions("bob").await.unwrap().len(), 1);
        let unbind =
            ChangeSet::new(OffsetDateTime::now_utc() + Duration::hours(1)).remove(USER_FIELD);
        store.save(&k, &unbind).await.unwrap();
        assert!(store.user_sessions("bob").await.unwrap().is_empty());
        assert_eq!(indexed(&store), 0);
        assert!(
            store.load(&k).await.unwrap().is_some(),
            "the session itself lives on"
        );
    }

    #[tokio::test]
    async fn an_expired_session_is_trimmed_from_the_index_when_listed() {
        let store = MemoryStore::new();
        store.create(&key(1, 7), &bound("ada", 30)).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        assert!(store.user_sessions("ada").await.unwrap().is_empty());
        assert_eq!(indexed(&store), 0);
        assert_eq!(store.len(), 0);
    }
}
