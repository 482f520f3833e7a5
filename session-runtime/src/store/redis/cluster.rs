//! `regenerate` on a Redis Cluster, in three checked steps (see the module
//! docs of [`super`] for why it is safe).

use redis::Value;

use super::replies::parse_snapshot;
use super::scripts::SCRIPTS;
use super::RedisStore;
use crate::store::{ChangeSet, SessionKey, StoreError, WriteOutcome, USER_FIELD};

/// The most times a Cluster regenerate starts over when another request
/// changes the old session while it moves.
const CLUSTER_MOVE_ATTEMPTS: usize = 3;

impl RedisStore {
    pub(super) async fn regenerate_on_cluster(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        changes: &ChangeSet,
    ) -> Result<WriteOutcome, StoreError> {
        let (old_key, new_key) = (self.redis_key(old), self.redis_key(new));
        for _ in 0..CLUSTER_MOVE_ATTEMPTS {
            // Step 1: the old session and the digest of its fields.
            let snapshot: Option<Vec<Value>> = self
                .invoke(
                    "cannot read the session to regenerate",
                    SCRIPTS.snapshot.key(&old_key),
                )
                .await?;
            // Gone, or a key with no expiry: not a live session either way.
            let Some((digest, mut record)) = snapshot.map(parse_snapshot).transpose()?.flatten()
            else {
                return Ok(WriteOutcome::NotLive);
            };
            record.apply(changes);
            // The user the session is bound to: the create puts the new key
            // in the user's index before the key exists, and the old key's
            // entry goes once the old key has.
            let user = record.get(USER_FIELD).map(str::to_owned);
            // Step 2: the new session, refused if the key is taken.
            match self
                .create_fields(new, record.into_fields(), changes.expires_at())
                .await?
            {
                WriteOutcome::Applied => {}
                other => return Ok(other),
            }
            // Step 3: retire the old session, if it is still as it was read.
            let mut invocation = SCRIPTS.retire.key(&old_key);
            invocation.arg(digest);
            let retired = self
                .invoke::<i64>("cannot retire the regenerated session", invocation)
                .await;
            let retired = match retired {
                Ok(retired) => retired,
                Err(err) => {
                    // The old session may still be live: take the new one
                    // back, so that only one of them stays.
                    let _ = self.delete_key(&new_key).await;
                    return Err(err);
                }
            };
            let unindex = |member: &SessionKey| {
                let member = Self::member(member);
                let user = user.clone();
                async move {
                    if let Some(json) = user {
                        self.unindex(&json, &[member]).await;
                    }
                }
            };
            match retired {
                1 => {
                    unindex(old).await;
                    return Ok(WriteOutcome::Applied);
                }
                0 => {
                    // Ended meanwhile (a logout, another login): the new key
                    // must not keep it alive.
                    self.delete_key(&new_key).await?;
                    unindex(new).await;
                    return Ok(WriteOutcome::NotLive);
                }
                _ => {
                    // Changed meanwhile: move it again, with that change.
                    self.delete_key(&new_key).await?;
                }
            }
        }
        Err(StoreError::msg(
            "the session kept changing while it was regenerated; try again",
        ))
    }
}
