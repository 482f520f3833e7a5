//! The Lua scripts, each in its own `.lua` file beside this one, and the
//! [`Script`] handles that send them by digest (`EVALSHA`).
//!
//! The write scripts share `apply.lua` (the change-set layout and the `i64`
//! rule of `Increment::apply_to`) and `guard.lua` (the per-user index
//! guard: a session bound to a user never outlives its index entry); the
//! Cluster regenerate scripts share `digest.lua`.

use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};

use time::OffsetDateTime;

use super::users::bound_in;
use crate::store::{ChangeSet, USER_FIELD};

/// Lua shared by the write scripts: the `i64` rule of `Increment::apply_to`
/// and applying a change set laid out in `ARGV` as
/// `"ttl_ms n_sets n_removals n_increments", (field, json)*, field*,
/// (field, "delta" | "delta,initial")*` (an `initial` of 0 is left out), the
/// expiry set with `PEXPIRE`, or left as it is when `ttl_ms` is `-1`
/// ([`KEEP_TTL`]).
const LUA_APPLY: &str = include_str!("scripts/apply.lua");

/// The `ttl_ms` of a change set that keeps the expiry: never a real TTL,
/// which is at least 0.
const KEEP_TTL: i64 = -1;

/// The per-user index guard: `@ix`, the "index first" answer, `mark`.
const LUA_GUARD: &str = include_str!("scripts/guard.lua");

/// Create: `KEYS[1]`; `ARGV`: `ttl_ms, ix_json, ix_ms, (field, json)+`.
/// Answers 1 (created), 0 (taken) or the user to index first.
const LUA_CREATE_TAIL: &str = include_str!("scripts/create.lua");

/// Save: `KEYS[1]`; `ARGV` as in `LUA_APPLY`, then `ix_json, ix_ms`.
/// Answers 1 (applied), 0 (not live: no key, or a key with no expiry) or
/// the user to index first.
const LUA_SAVE_TAIL: &str = include_str!("scripts/save.lua");

/// Create, for a session bound to no user: `KEYS[1]`; `ARGV`: `ttl_ms,
/// (field, json)+`, at most [`UNBOUND_CREATE_FIELDS`] fields. Answers 1
/// (created) or 0 (taken). A microsecond or two less of Redis's time per
/// new visitor than the create script with its index guard.
const LUA_CREATE_UNBOUND: &str = include_str!("scripts/create_unbound.lua");

/// The most fields the unbound create script takes in one `HSET` (Lua's
/// `unpack` spreads at most about 8,000 values); a larger session is
/// created by the create script, which writes them in chunks.
pub(super) const UNBOUND_CREATE_FIELDS: usize = 1000;

/// Bump: `KEYS[1]`; `ARGV`: `(field, delta)*`. The save of a change set
/// that only increments counters from 0 and keeps the expiry: a few
/// microseconds less of Redis's time than `LUA_SAVE_TAIL` (no header to
/// parse, no binding to look for). Answers 1 (applied) or 0 (not live).
const LUA_BUMP_TAIL: &str = include_str!("scripts/bump.lua");

/// Touch: `KEYS[1]`; `ARGV`: `ttl_ms, ix_json, ix_ms`. Answers 1, 0 or the
/// user to index first.
const LUA_TOUCH_TAIL: &str = include_str!("scripts/touch.lua");

/// Regenerate on one server: `KEYS[1]` old, `KEYS[2]` new; `ARGV` as in
/// save. Answers 1 (applied), 0 (old not live), 2 (new taken) or the user
/// to index first.
const LUA_REGENERATE_TAIL: &str = include_str!("scripts/regenerate.lua");

/// Delete: `KEYS[1]`. Answers the user the session was bound to, or nil.
const LUA_DELETE: &str = include_str!("scripts/delete.lua");

/// Revoke: `KEYS[1]`; `ARGV[1]` the user. Deletes the session if it is
/// still bound to that user; answers 1 if it was live.
const LUA_REVOKE: &str = include_str!("scripts/revoke.lua");

/// Index add: `KEYS[1]` a user's index; `ARGV`: `member, hold_ms`.
const LUA_INDEX_ADD: &str = include_str!("scripts/index_add.lua");

/// Index read: `KEYS[1]` a user's index. Answers its members still held.
const LUA_INDEX_READ: &str = include_str!("scripts/index_read.lua");

/// A digest of a hash's fields, independent of their order.
const LUA_DIGEST: &str = include_str!("scripts/digest.lua");

/// Cluster regenerate, step 1: `KEYS[1]` old. Answers `false` (gone) or
/// `{digest, pttl, field, value, ...}`.
const LUA_SNAPSHOT_TAIL: &str = include_str!("scripts/snapshot.lua");

/// Cluster regenerate, step 3: `KEYS[1]` old; `ARGV[1]` the digest of step 1.
/// Answers 1 (deleted), 0 (gone) or 2 (changed meanwhile).
const LUA_RETIRE_TAIL: &str = include_str!("scripts/retire.lua");

pub(super) struct Scripts {
    pub(super) create: Script,
    pub(super) create_unbound: Script,
    pub(super) save: Script,
    pub(super) bump: Script,
    pub(super) touch: Script,
    pub(super) regenerate: Script,
    pub(super) delete: Script,
    pub(super) snapshot: Script,
    pub(super) retire: Script,
    pub(super) revoke: Script,
    pub(super) index_add: Script,
    pub(super) index_read: Script,
}

pub(super) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create: Script::new(&format!("{LUA_GUARD}{LUA_CREATE_TAIL}")),
    create_unbound: Script::new(LUA_CREATE_UNBOUND),
    save: Script::new(&format!("{LUA_APPLY}{LUA_GUARD}{LUA_SAVE_TAIL}")),
    bump: Script::new(&format!("{LUA_APPLY}{LUA_BUMP_TAIL}")),
    touch: Script::new(&format!("{LUA_GUARD}{LUA_TOUCH_TAIL}")),
    regenerate: Script::new(&format!("{LUA_APPLY}{LUA_GUARD}{LUA_REGENERATE_TAIL}")),
    delete: Script::new(LUA_DELETE),
    snapshot: Script::new(&format!("{LUA_DIGEST}{LUA_SNAPSHOT_TAIL}")),
    retire: Script::new(&format!("{LUA_DIGEST}{LUA_RETIRE_TAIL}")),
    revoke: Script::new(LUA_REVOKE),
    index_add: Script::new(LUA_INDEX_ADD),
    index_read: Script::new(LUA_INDEX_READ),
});

/// The bump script's call for `changes`, when it is one the script can
/// apply: increments only, each starting from 0, keeping the expiry (so it
/// neither binds the session nor moves its expiry past the user's index).
pub(super) fn bump(redis_key: &str, changes: &ChangeSet) -> Option<ScriptInvocation<'static>> {
    let only_increments = changes.sets().len() == 0
        && changes.removals().len() == 0
        && changes.increments().len() > 0
        && changes.increments().all(|inc| inc.initial == 0);
    if !only_increments || changes.moves_expiry() {
        return None;
    }
    let mut invocation = SCRIPTS.bump.key(redis_key);
    for inc in changes.increments() {
        invocation.arg(inc.key.as_ref()).arg(inc.delta);
    }
    Some(invocation)
}

/// Adds a change set to a script call, in the layout `LUA_APPLY` reads.
///
/// A change set that keeps the expiry sends [`KEEP_TTL`], unless it binds or
/// unbinds the session: the index guard then weighs the expiry it sends.
pub(super) fn push_changes(invocation: &mut redis::ScriptInvocation<'_>, changes: &ChangeSet) {
    let binds =
        bound_in(changes.sets()).is_some() || changes.removals().any(|name| name == USER_FIELD);
    let ttl = if changes.moves_expiry() || binds {
        ttl_millis(changes.expires_at())
    } else {
        KEEP_TTL
    };
    invocation.arg(format!(
        "{} {} {} {}",
        ttl,
        changes.sets().len(),
        changes.removals().len(),
        changes.increments().len()
    ));
    for (name, json) in changes.sets() {
        invocation.arg(name).arg(json);
    }
    for name in changes.removals() {
        invocation.arg(name);
    }
    for inc in changes.increments() {
        invocation.arg(inc.key.as_ref());
        if inc.initial == 0 {
            invocation.arg(inc.delta);
        } else {
            invocation.arg(format!("{},{}", inc.delta, inc.initial));
        }
    }
}

/// The time left until `expires_at`, in whole milliseconds, by this
/// machine's clock, for `PEXPIRE`: Redis starts it on its own clock, so a
/// difference between the two clocks (or between two app machines') does not
/// move the expiry. See [`ttl_between`].
pub(super) fn ttl_millis(expires_at: OffsetDateTime) -> i64 {
    ttl_between(OffsetDateTime::now_utc(), expires_at)
}

/// The milliseconds from `now` to `expires_at`: 0 for an instant already
/// past (Redis deletes a key given a TTL of 0). The latest instant `time`
/// holds (the end of year 9999) is some 2.5 * 10^14 ms away, far inside
/// what Redis adds to its clock without refusing an overflow.
fn ttl_between(now: OffsetDateTime, expires_at: OffsetDateTime) -> i64 {
    let ms = (expires_at - now).whole_milliseconds().max(0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::{bump, ttl_between};
    use crate::store::ChangeSet;
    use time::{Duration, OffsetDateTime};

    #[test]
    fn only_counters_from_zero_that_keep_the_expiry_take_the_bump_script() {
        let at = OffsetDateTime::now_utc() + Duration::hours(1);
        let counters = ChangeSet::new(at)
            .increment("a.n", 1, 0)
            .increment("a.m", -2, 0);
        assert!(bump("k", &counters.clone().keeping_expiry()).is_some());
        for other in [
            counters.clone(),
            counters.clone().set("a.x", "1").keeping_expiry(),
            counters.clone().remove("a.x").keeping_expiry(),
            ChangeSet::new(at).increment("a.n", 1, 10).keeping_expiry(),
            ChangeSet::new(at).set("@user", "\"ann\"").keeping_expiry(),
            ChangeSet::new(at).keeping_expiry(),
        ] {
            assert!(bump("k", &other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn the_ttl_is_the_time_left_and_never_negative() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        assert_eq!(ttl_between(now, now + Duration::hours(1)), 3_600_000);
        assert_eq!(ttl_between(now, now + Duration::microseconds(1_999)), 1);
        assert_eq!(ttl_between(now, now), 0);
        assert_eq!(ttl_between(now, now - Duration::hours(1)), 0);
    }

    #[test]
    fn the_latest_instant_there_is_still_fits() {
        let latest = time::PrimitiveDateTime::MAX.assume_utc();
        let ttl = ttl_between(OffsetDateTime::UNIX_EPOCH, latest);
        assert_eq!(
            i128::from(ttl),
            (latest - OffsetDateTime::UNIX_EPOCH).whole_milliseconds()
        );
    }
}
