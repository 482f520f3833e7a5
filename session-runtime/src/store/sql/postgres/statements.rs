//! The schema steps and the statements of `PostgresStore`: the fixed ones, made
//! once per table, and the save, built per change set.

use super::*;

pub(super) const QUOTE: char = '"';

/// The schema, one numbered step at a time. Never edit a step: add one.
pub(super) static STEPS: [Step; 2] = [
    Step {
        version: 1,
        statements: &[
            "CREATE TABLE IF NOT EXISTS {table} (\
         id bytea PRIMARY KEY CHECK (octet_length(id) = 32), \
         fields jsonb NOT NULL, \
         expires_at timestamptz NOT NULL)",
            "CREATE INDEX IF NOT EXISTS {expires_index} ON {table} (expires_at)",
        ],
    },
    // The per-user index: a column PostgreSQL computes from the binding
    // field itself (so it never disagrees with the data), under a hash
    // index (no length limit on a user key). On an existing table the
    // `ALTER` rewrites it once.
    Step {
        version: 2,
        statements: &[
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS user_key text \
             GENERATED ALWAYS AS (fields ->> '@user') STORED",
            "CREATE INDEX IF NOT EXISTS {user_index} ON {table} USING hash (user_key)",
        ],
    },
];

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
            load: format!(
                "SELECT fields::text, expires_at FROM {t} WHERE id = $1 AND expires_at > now()"
            ),
            create: format!(
                "INSERT INTO {t} AS s (id, fields, expires_at) VALUES ($1, $2::jsonb, $3) \
                 ON CONFLICT (id) DO UPDATE SET fields = EXCLUDED.fields, \
                 expires_at = EXCLUDED.expires_at WHERE s.expires_at <= now()"
            ),
            touch: format!("UPDATE {t} SET expires_at = $2 WHERE id = $1 AND expires_at > now()"),
            delete: format!("DELETE FROM {t} WHERE id = $1"),
            free: format!("DELETE FROM {t} WHERE id = $1 AND expires_at <= now()"),
            sweep: format!(
                "DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE expires_at <= now() \
                 LIMIT $1 FOR UPDATE SKIP LOCKED)"
            ),
            user_sessions: format!(
                "SELECT id, fields::text, expires_at FROM {t} \
                 WHERE user_key = $1 AND expires_at > now()"
            ),
            delete_user: format!(
                "DELETE FROM {t} WHERE user_key = $1 AND expires_at > now() \
                 AND id IS DISTINCT FROM $2"
            ),
            table: t,
        }
    }
}

/// A bound parameter of a save, in the order the statement numbers them.
pub(super) enum Arg<'a> {
    Text(&'a str),
    Owned(String),
    Texts(Vec<&'a str>),
    Int(i64),
    Key(&'a [u8]),
}

/// The regular expression of an integer as `str::trim` then
/// `str::parse::<i64>` read it (the range is checked in `numeric`), in an
/// `E''` literal: the escapes reach the regex engine, whatever
/// `standard_conforming_strings` says.
pub(super) fn integer_pattern() -> String {
    let mut class = String::from("[");
    for c in WHITESPACE {
        let _ = write!(class, "\\\\u{:04x}", u32::from(*c));
    }
    class.push(']');
    format!("E'^{class}*([+-]?[0-9]+){class}*$'")
}

/// The save's `UPDATE` and its parameters after `$1` (the key) and `$2`
/// (the expiry), or after `$1` alone when the change set keeps the expiry
/// (see [`ChangeSet::moves_expiry`]): the statement then leaves
/// `expires_at` out of its `SET`. With `new_key`, it also moves the row to
/// that key.
pub(super) fn save_statement<'a>(
    table: &str,
    changes: &'a ChangeSet,
    new_key: Option<&'a SessionKey>,
) -> (String, Vec<Arg<'a>>) {
    let moves = changes.moves_expiry();
    let first = if moves { 2 } else { 1 };
    let mut sql = format!("UPDATE {table} SET ");
    let mut args = Vec::new();
    let param = |args: &mut Vec<Arg<'a>>, arg: Arg<'a>| {
        args.push(arg);
        args.len() + first
    };
    if let Some(new) = new_key {
        let n = param(&mut args, Arg::Key(new.as_bytes()));
        let _ = write!(sql, "id = ${n}, ");
    }
    if !changes.is_empty() {
        let mut fields = String::from("fields");
        if changes.sets().len() > 0 {
            // The sets only: removals go as a `text[]`, since `jsonb` has no
            // merge patch.
            let sets = fields_document(changes.sets());
            let n = param(&mut args, Arg::Owned(sets));
            let _ = write!(fields, " || ${n}::jsonb");
        }
        if changes.removals().len() > 0 {
            let n = param(&mut args, Arg::Texts(changes.removals().collect()));
            fields = format!("({fields}) - ${n}::text[]");
        }
        if changes.increments().len() > 0 {
            let pattern = integer_pattern();
            fields = format!("({fields}) || jsonb_build_object(");
            for (i, inc) in changes.increments().enumerate() {
                let k = param(&mut args, Arg::Text(&inc.key));
                let d = param(&mut args, Arg::Int(inc.delta));
                let init = param(&mut args, Arg::Int(inc.initial));
                if i > 0 {
                    fields.push_str(", ");
                }
                let _ = write!(
                    fields,
                    "${k}::text, (SELECT LEAST(GREATEST(COALESCE(CASE WHEN n BETWEEN \
                     -9223372036854775808 AND 9223372036854775807 THEN n END, ${init}::int8) \
                     + ${d}::int8, -9223372036854775808), 9223372036854775807)::int8::text \
                     FROM (SELECT substring(fields ->> ${k}::text FROM {pattern})::numeric AS n) AS c)"
                );
            }
            fields.push(')');
        }
        let _ = write!(sql, "fields = {fields}, ");
    }
    end_save(
        &mut sql,
        changes,
        "expires_at = $2",
        "id = $1 AND expires_at > now()",
    );
    (sql, args)
}
