//! The per-user index on Redis: one sorted set per user, and the guard that
//! keeps it complete (see [Sessions of a user](super#sessions-of-a-user)).

use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures_util::future::join_all;
use redis::{ScriptInvocation, Value};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::scripts::{ttl_millis, SCRIPTS};
use super::RedisStore;
use crate::store::{Record, SessionKey, StoreError, StoreErrorKind, USER_FIELD};

/// What the index is given beyond a session's own lifetime, and what the
/// session is told less than the index holds: room for the time a command
/// spends in flight and for the clocks of two Cluster nodes disagreeing.
const MARGIN_MS: i64 = 60_000;

/// The most times a write goes back to the index before giving up: once
/// is the rule (the first answer "index first" is followed by a write that
/// the index now covers); more only when the session is rebound meanwhile.
const GUARD_ATTEMPTS: usize = 4;

/// The most rounds of "log out everywhere": each round revokes the
/// sessions the index names; another round runs while logins racing it
/// added new ones.
const REVOKE_ROUNDS: usize = 8;

/// What the user's index is known to hold for the session a write leaves:
/// the user's JSON text and for how many milliseconds from when the write
/// runs. Empty when the write has not been to the index.
#[derive(Debug, Default)]
pub(super) struct Cover {
    user_json: String,
    hold_ms: i64,
}

impl Cover {
    /// Adds `ix_json, ix_ms` to a write script's arguments.
    pub(super) fn push(&self, invocation: &mut ScriptInvocation<'_>) {
        invocation.arg(&self.user_json).arg(self.hold_ms.max(0));
    }

    /// The user this cover indexed the session under, if any.
    pub(super) fn user_json(&self) -> Option<&str> {
        (!self.user_json.is_empty()).then_some(self.user_json.as_str())
    }
}

/// A write script's answer: a number, or "index first" with the user.
enum Guarded {
    Done(i64),
    IndexFirst(String),
}

fn guarded(reply: Value) -> Result<Guarded, StoreError> {
    match reply {
        Value::Int(n) => Ok(Guarded::Done(n)),
        Value::BulkString(bytes) => String::from_utf8(bytes)
            .map(Guarded::IndexFirst)
            .map_err(|err| StoreError::corrupt("a session's user in Redis is not UTF-8", err)),
        other => Err(StoreError::corrupt(
            "Redis answered a session write in an unexpected shape",
            format!("{other:?}"),
        )),
    }
}

/// The user's JSON text, as the layer stores it in [`USER_FIELD`].
fn user_json(user: &str) -> Result<String, StoreError> {
    serde_json::to_string(user)
        .map_err(|err| StoreError::corrupt("a user key cannot be written as JSON", err))
}

/// The JSON text of the user a change set binds the session to, if it does.
pub(super) fn bound_in<'a>(
    mut fields: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<&'a str> {
    fields
        .find(|(name, _)| *name == USER_FIELD)
        .map(|(_, json)| json)
}

impl RedisStore {
    /// The key of a user's index: `{prefix}user:{<digest>}`, the SHA-256
    /// digest of the user's JSON text in braces, so that the index has a
    /// hash slot of its own on a Cluster (never one of its sessions').
    pub(super) fn index_key(&self, user_json: &str) -> String {
        let digest = Sha256::digest(user_json.as_bytes());
        let mut out = String::with_capacity(self.inner.prefix.len() + 50);
        out.push_str(&self.inner.prefix);
        out.push_str("user:{");
        URL_SAFE_NO_PAD.encode_string(digest, &mut out);
        out.push('}');
        out
    }

    /// The index member of a session key: its digest, as in its Redis key.
    pub(super) fn member(key: &SessionKey) -> String {
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    }

    /// Adds a session to its user's index, held long enough for a session
    /// that expires at `expires_at`, and says what the write may then claim.
    async fn cover(
        &self,
        user_json: String,
        member: &str,
        expires_at: OffsetDateTime,
    ) -> Result<Cover, StoreError> {
        // Twice the session's time left: the expiry moves on with use, and
        // the next write needs the index again only once half of it is gone.
        let hold = ttl_millis(expires_at)
            .saturating_mul(2)
            .saturating_add(2 * MARGIN_MS);
        let index = self.index_key(&user_json);
        let sent = Instant::now();
        let mut invocation = SCRIPTS.index_add.key(&index);
        invocation.arg(member).arg(hold);
        self.invoke::<i64>("cannot add the session to its user's index", invocation)
            .await?;
        let spent = i64::try_from(sent.elapsed().as_millis()).unwrap_or(i64::MAX);
        Ok(Cover {
            user_json,
            hold_ms: hold.saturating_sub(MARGIN_MS).saturating_sub(spent),
        })
    }

    /// Runs a write script that guards the index: when it answers "index
    /// first", adds the session (`member`) to the user's index and sends the
    /// write again. `bind` is the user the write binds the session to, if
    /// the caller knows it, so that the index comes first at once. Answers
    /// the script's number and what was indexed.
    pub(super) async fn write_guarded<F>(
        &self,
        context: &'static str,
        member: &str,
        expires_at: OffsetDateTime,
        bind: Option<&str>,
        build: F,
    ) -> Result<(i64, Cover), StoreError>
    where
        F: Fn(&Cover) -> ScriptInvocation<'static>,
    {
        let mut cover = match bind {
            Some(json) => self.cover(json.to_owned(), member, expires_at).await?,
            None => Cover::default(),
        };
        for _ in 0..GUARD_ATTEMPTS {
            let invocation = build(&cover);
            let reply: Value = self.invoke(context, invocation).await?;
            match guarded(reply)? {
                Guarded::Done(n) => return Ok((n, cover)),
                Guarded::IndexFirst(json) => {
                    cover = self.cover(json, member, expires_at).await?;
                }
            }
        }
        Err(
            StoreError::msg("the session's user kept changing while it was written; try again")
                .with_kind(StoreErrorKind::Conflict),
        )
    }

    /// Removes sessions from a user's index. Best effort: a member left
    /// behind names a session that is gone or rebound, which every read
    /// checks, and its hold runs out by itself.
    pub(super) async fn unindex(&self, user_json: &str, members: &[String]) {
        if members.is_empty() {
            return;
        }
        let index = self.index_key(user_json);
        let removed = self
            .run("cannot remove sessions from a user's index", |mut conn| {
                let mut cmd = redis::cmd("ZREM");
                cmd.arg(&index).arg(members);
                async move { cmd.query_async::<i64>(&mut conn).await }
            })
            .await;
        if let Err(err) = removed {
            tracing::debug!(%err, "a user's index keeps members of ended sessions until they lapse");
        }
    }

    /// The members of a user's index whose hold has not passed.
    async fn members(&self, index: &str) -> Result<Vec<String>, StoreError> {
        self.invoke("cannot read a user's index", SCRIPTS.index_read.key(index))
            .await
    }

    /// The live sessions of `user`, each checked against its own key: a
    /// member whose session is gone or bound to someone else is dropped
    /// from the index (trimmed on read).
    pub(super) async fn sessions_of(
        &self,
        user: &str,
    ) -> Result<Vec<(SessionKey, Record)>, StoreError> {
        let json = user_json(user)?;
        let members = self.members(&self.index_key(&json)).await?;
        let loads = members.iter().map(|member| async move {
            let Some(key) = session_key(member) else {
                return Ok(None);
            };
            let record = self.load_key(&self.redis_key(&key)).await?;
            Ok::<_, StoreError>(record.map(|record| (key, record)))
        });
        let mut live = Vec::with_capacity(members.len());
        let mut stale = Vec::new();
        for (member, loaded) in members.iter().zip(join_all(loads).await) {
            match loaded? {
                Some((key, record)) if record.get(USER_FIELD) == Some(json.as_str()) => {
                    live.push((key, record));
                }
                _ => stale.push(member.clone()),
            }
        }
        self.unindex(&json, &stale).await;
        Ok(live)
    }

    /// Ends every session of `user` but `keep`, round by round until the
    /// index names no session not yet revoked (a login racing this adds its
    /// new key to the index before the key exists, so a later round finds
    /// it); counts the live ones.
    pub(super) async fn revoke_user(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let json = user_json(user)?;
        let index = self.index_key(&json);
        let kept = keep.map(Self::member);
        let mut done: Vec<String> = Vec::new();
        let mut ended = 0;
        for _ in 0..REVOKE_ROUNDS {
            let fresh: Vec<String> = self
                .members(&index)
                .await?
                .into_iter()
                .filter(|m| Some(m) != kept.as_ref() && !done.contains(m))
                .collect();
            if fresh.is_empty() {
                return Ok(ended);
            }
            // A member that is no session key names no session of ours: it
            // only leaves the index.
            let revokes = fresh.iter().filter_map(|m| session_key(m)).map(|key| {
                let key = self.redis_key(&key);
                let json = &json;
                let mut invocation = SCRIPTS.revoke.key(key);
                invocation.arg(json.as_str());
                self.invoke::<i64>("cannot revoke a session in Redis", invocation)
            });
            for revoked in join_all(revokes).await {
                if revoked? == 1 {
                    ended += 1;
                }
            }
            self.unindex(&json, &fresh).await;
            done.extend(fresh);
        }
        Err(
            StoreError::msg("the user's sessions kept changing while they were revoked; try again")
                .with_kind(StoreErrorKind::Conflict),
        )
    }
}

/// The session key an index member names, if it is one.
fn session_key(member: &str) -> Option<SessionKey> {
    let bytes = URL_SAFE_NO_PAD.decode(member).ok()?;
    let digest: [u8; 32] = bytes.try_into().ok()?;
    Some(SessionKey::from_digest(digest))
}
