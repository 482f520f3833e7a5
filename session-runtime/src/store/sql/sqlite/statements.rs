//! The schema steps and the statements of `SqliteStore`: the fixed ones, made
//! once per table, and the save, built per change set.

use super::*;

pub(super) const QUOTE: char = '"';

/// The schema, one numbered step at a time. Never edit a step: add one.
pub(super) static STEPS: [Step; 3] = [
    Step {
        version: 1,
        statements: &[
            "CREATE TABLE IF NOT EXISTS {table} (\
         id BLOB NOT NULL PRIMARY KEY, \
         fields TEXT NOT NULL, \
         expires_at INTEGER NOT NULL) STRICT",
            "CREATE INDEX IF NOT EXISTS {expires_index} ON {table} (expires_at)",
        ],
    },
    // The per-user index: a virtual column SQLite computes from the binding
    // field itself (so it never disagrees with the data; NULL for a row
    // whose fields are not JSON, which then loads as no session), indexed.
    Step {
        version: 2,
        statements: &[
            "ALTER TABLE {table} ADD COLUMN user_key TEXT GENERATED ALWAYS AS \
             (CASE WHEN json_valid(fields) THEN json_extract(fields, '$.\"@user\"') END) VIRTUAL",
            "CREATE INDEX IF NOT EXISTS {user_index} ON {table} (user_key)",
        ],
    },
    // The per-user index holds bound sessions only. SQLite rewrites an
    // index on a generated column whenever a column it is computed from is
    // assigned, even when the value it computes stays the same: with every
    // row in it, each save of an unbound session wrote the index's page
    // too. A partial index that no unbound row enters is left alone; the
    // lookups (`user_key = ?`) imply its `WHERE` and still use it.
    Step {
        version: 3,
        statements: &[
            "DROP INDEX IF EXISTS {user_index}",
            "CREATE INDEX {user_index} ON {table} (user_key) WHERE user_key IS NOT NULL",
        ],
    },
];

/// Unix milliseconds, the expiry column's unit, rounded as every store
/// rounds them.
pub(super) fn millis(at: OffsetDateTime) -> i64 {
    crate::store::unix_millis(at)
}

pub(super) fn from_millis(ms: i64) -> Option<OffsetDateTime> {
    crate::store::from_unix_millis(ms)
}

/// The statements that do not depend on a change set, made once.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) table: String,
    pub(super) load: String,
    pub(super) create: String,
    pub(super) touch: String,
    pub(super) delete: String,
    pub(super) free: String,
    pub(super) sweep: String,
    pub(super) user_sessions: String,
    pub(super) delete_user: String,
}

impl Statements {
    pub(super) fn new(table: &Table) -> Self {
        let t = table.quoted(QUOTE);
        Self {
            load: format!("SELECT fields, expires_at FROM {t} WHERE id = ?1 AND expires_at > ?2"),
            create: format!(
                "INSERT INTO {t} (id, fields, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, \
                 expires_at = excluded.expires_at WHERE {t}.expires_at <= ?4"
            ),
            touch: format!("UPDATE {t} SET expires_at = ?2 WHERE id = ?1 AND expires_at > ?3"),
            delete: format!("DELETE FROM {t} WHERE id = ?1"),
            free: format!("DELETE FROM {t} WHERE id = ?1 AND expires_at <= ?2"),
            sweep: format!(
                "DELETE FROM {t} WHERE rowid IN \
                 (SELECT rowid FROM {t} WHERE expires_at <= ?1 LIMIT ?2)"
            ),
            user_sessions: format!(
                "SELECT id, fields, expires_at FROM {t} WHERE user_key = ?1 AND expires_at > ?2"
            ),
            delete_user: format!(
                "DELETE FROM {t} WHERE user_key = ?1 AND expires_at > ?2 \
                 AND (?3 IS NULL OR id <> ?3)"
            ),
            table: t,
        }
    }
}

/// A bound parameter of a save, numbered from `?4` on.
pub(super) enum Arg<'a> {
    Text(&'a str),
    Owned(String),
    Int(i64),
    Key(&'a [u8]),
}

/// The JSON path that names `key` in a `fields` document, `$."key"`, where
/// SQLite reads it back as exactly `key`: a quoted label ends at the next
/// `"` (there is no escape for one) and a `\` or a control character is
/// compared through JSON's escapes, so a name with any of them gets
/// `None`, and its increment finds the value with `json_each` instead.
pub(super) fn json_path(key: &str) -> Option<String> {
    if key.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return None;
    }
    Some(format!("$.\"{key}\""))
}

/// The increment of the counter named by `?k`, by `?d`, from `?i` where the
/// stored text is not an `i64`: `Increment::apply_to` in SQL. `path` is the
/// parameter holding [`json_path`] of the name, where it has one.
///
/// The stored value is read once: with `json_type` and `json_extract` at
/// the bound path (SQLite parses the document once per statement and
/// shares the parse), or, for a name no path can hold, with `json_each`,
/// comparing each key with the bound name. A canonical integer (what
/// session-kit writes) is recognised by a round trip through `CAST`; any
/// other text is checked for sign, digits and the bounds of `i64` on the
/// text. The sum saturates with `min`/`max`: SQLite turns an `i64`
/// overflow into a float, which lies past the bound it crossed.
pub(super) fn increment_sql(
    table: &str,
    k: usize,
    d: usize,
    i: usize,
    path: Option<usize>,
) -> String {
    let ws: String = WHITESPACE.iter().collect();
    // `s`: the stored text, trimmed (empty where there is none); `u`: its
    // digits, after an optional sign; `z`: those digits without leading
    // zeros.
    let u = "(CASE WHEN substr(s, 1, 1) IN ('+', '-') THEN substr(s, 2) ELSE s END)";
    let z = format!("ltrim({u}, '0')");
    let n = format!(
        "(CASE WHEN CAST(CAST(s AS INTEGER) AS TEXT) = s OR ({u} <> '' \
         AND {u} NOT GLOB '*[^0-9]*' AND (length({z}) < 19 OR (length({z}) = 19 \
         AND {z} <= (CASE WHEN substr(s, 1, 1) = '-' THEN '9223372036854775808' \
         ELSE '9223372036854775807' END)))) THEN CAST(s AS INTEGER) ELSE ?{i} END)"
    );
    let sum = format!("max(-9223372036854775807 - 1, min(9223372036854775807, {n} + ?{d}))");
    let text = |ty: &str, value: &str| {
        format!("CASE WHEN {ty} IN ('text', 'integer') THEN trim(CAST({value} AS TEXT), '{ws}') ELSE '' END")
    };
    let stored = match path {
        Some(p) => format!(
            "SELECT {} AS s",
            text(
                &format!("json_type({table}.fields, ?{p})"),
                &format!("json_extract({table}.fields, ?{p})"),
            )
        ),
        None => format!(
            "SELECT COALESCE((SELECT {} FROM json_each({table}.fields) AS e \
             WHERE e.key = ?{k} LIMIT 1), '') AS s",
            text("e.type", "e.value")
        ),
    };
    format!("CAST((SELECT {sum} FROM ({stored})) AS TEXT)")
}

/// The save's `UPDATE`: `?1` the key, `?2` the expiry, `?3` now, then the
/// parameters returned; or, when the change set keeps the expiry (see
/// [`ChangeSet::moves_expiry`]), `?1` the key, `?2` now, then the
/// parameters: the statement leaves `expires_at` out of its `SET`, so
/// SQLite does not rewrite the expiry index. With `new_key`, it also moves
/// the row to that key.
pub(super) fn save_statement<'a>(
    table: &str,
    changes: &'a ChangeSet,
    new_key: Option<&'a SessionKey>,
) -> (String, Vec<Arg<'a>>) {
    let moves = changes.moves_expiry();
    let first = if moves { 3 } else { 2 };
    let mut sql = format!("UPDATE {table} SET ");
    let mut args = Vec::new();
    let param = |args: &mut Vec<Arg<'a>>, arg: Arg<'a>| {
        args.push(arg);
        args.len() + first
    };
    if let Some(new) = new_key {
        let n = param(&mut args, Arg::Key(new.as_bytes()));
        let _ = write!(sql, "id = ?{n}, ");
    }
    if !changes.is_empty() {
        let mut fields = String::from("fields");
        if let Some(patch) = merge_patch(changes) {
            let n = param(&mut args, Arg::Owned(patch));
            fields = format!("json_patch({fields}, ?{n})");
        }
        if changes.increments().len() > 0 {
            let mut object = String::from("json_object(");
            for (i, inc) in changes.increments().enumerate() {
                let k = param(&mut args, Arg::Text(&inc.key));
                let d = param(&mut args, Arg::Int(inc.delta));
                let init = param(&mut args, Arg::Int(inc.initial));
                let path = json_path(&inc.key).map(|path| param(&mut args, Arg::Owned(path)));
                if i > 0 {
                    object.push_str(", ");
                }
                let _ = write!(object, "?{k}, {}", increment_sql(table, k, d, init, path));
            }
            object.push(')');
            fields = format!("json_patch({fields}, {object})");
        }
        let _ = write!(sql, "fields = {fields}, ");
    }
    let live = if moves {
        "id = ?1 AND expires_at > ?3"
    } else {
        "id = ?1 AND expires_at > ?2"
    };
    end_save(&mut sql, changes, "expires_at = ?2", live);
    (sql, args)
}
