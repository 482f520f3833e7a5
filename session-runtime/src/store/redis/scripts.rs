//! The Lua scripts, each in its own `.lua` file beside this one, and the
//! [`Script`] handles that send them by digest (`EVALSHA`).
//!
//! The write scripts share `apply.lua` (the change-set layout and the `i64`
//! rule of `Increment::apply_to`); the Cluster regenerate scripts share
//! `digest.lua`.

use std::sync::LazyLock;

use redis::Script;

use crate::store::{unix_millis, ChangeSet};

/// Lua shared by the write scripts: the `i64` rule of `Increment::apply_to`
/// and applying a change set laid out in `ARGV` as
/// `"expires_ms n_sets n_removals n_increments", (field, json)*, field*,
/// (field, "delta" | "delta,initial")*` (an `initial` of 0 is left out).
const LUA_APPLY: &str = include_str!("scripts/apply.lua");

/// Load: `KEYS[1]`. Answers `false` (no such key) or
/// `{field, value, ..., pttl}`: the fields and the remaining time together,
/// in one command, read atomically.
const LUA_LOAD: &str = include_str!("scripts/load.lua");

/// Create: `KEYS[1]`; `ARGV`: `expires_ms, (field, json)+`.
/// Answers 1 (created) or 0 (taken).
const LUA_CREATE: &str = include_str!("scripts/create.lua");

/// Save: `KEYS[1]`; `ARGV` as in `LUA_APPLY`. Answers 1 (applied) or 0 (not
/// live).
const LUA_SAVE_TAIL: &str = include_str!("scripts/save.lua");

/// Regenerate on one server: `KEYS[1]` old, `KEYS[2]` new; `ARGV` as in
/// `LUA_APPLY`. Answers 1 (applied), 0 (old not live) or 2 (new taken).
const LUA_REGENERATE_TAIL: &str = include_str!("scripts/regenerate.lua");

/// A digest of a hash's fields, independent of their order.
const LUA_DIGEST: &str = include_str!("scripts/digest.lua");

/// Cluster regenerate, step 1: `KEYS[1]` old. Answers `false` (gone) or
/// `{digest, pttl, field, value, ...}`.
const LUA_SNAPSHOT_TAIL: &str = include_str!("scripts/snapshot.lua");

/// Cluster regenerate, step 3: `KEYS[1]` old; `ARGV[1]` the digest of step 1.
/// Answers 1 (deleted), 0 (gone) or 2 (changed meanwhile).
const LUA_RETIRE_TAIL: &str = include_str!("scripts/retire.lua");

pub(super) struct Scripts {
    pub(super) load: Script,
    pub(super) create: Script,
    pub(super) save: Script,
    pub(super) regenerate: Script,
    pub(super) snapshot: Script,
    pub(super) retire: Script,
}

pub(super) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    load: Script::new(LUA_LOAD),
    create: Script::new(LUA_CREATE),
    save: Script::new(&format!("{LUA_APPLY}{LUA_SAVE_TAIL}")),
    regenerate: Script::new(&format!("{LUA_APPLY}{LUA_REGENERATE_TAIL}")),
    snapshot: Script::new(&format!("{LUA_DIGEST}{LUA_SNAPSHOT_TAIL}")),
    retire: Script::new(&format!("{LUA_DIGEST}{LUA_RETIRE_TAIL}")),
});

/// Adds a change set to a script call, in the layout `LUA_APPLY` reads.
pub(super) fn push_changes(invocation: &mut redis::ScriptInvocation<'_>, changes: &ChangeSet) {
    invocation.arg(format!(
        "{} {} {} {}",
        unix_millis(changes.expires_at()),
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
