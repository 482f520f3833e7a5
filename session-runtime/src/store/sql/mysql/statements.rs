//! The schema steps and the statements of `MySqlStore`: the fixed ones, made
//! once per table, and the save, built per change set.

use super::*;

pub(super) const QUOTE: char = '`';

/// The schema, one numbered step at a time. Never edit a step: add one.
pub(super) static STEPS: [Step; 2] = [
    Step {
    version: 1,
    statements: &["CREATE TABLE IF NOT EXISTS {table} (\
         id BINARY(32) NOT NULL, \
         fields LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL CHECK (JSON_VALID(fields)), \
         expires_at DATETIME(6) NOT NULL, \
         PRIMARY KEY (id), \
         KEY {expires_index} (expires_at)) \
         ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"],
    },
    // The per-user index: a virtual column the server computes from the
    // binding field itself (so it never disagrees with the data), holding
    // the SHA-256 of the user key's JSON text (an index on a digest has no
    // length limit to truncate a long key at, and compares bytes, whatever
    // the connection's collation), indexed. One `ALTER`, so a failed step
    // leaves nothing half done.
    Step {
        version: 2,
        statements: &["ALTER TABLE {table} \
             ADD COLUMN user_digest BINARY(32) \
             AS (UNHEX(SHA2(JSON_UNQUOTE(JSON_EXTRACT(fields, '$.\"@user\"')), 256))) VIRTUAL, \
             ADD KEY {user_index} (user_digest)"],
    },
];

/// A regular expression matching the decimal digits of the numbers from 0
/// to `limit` (leading zeros are matched apart): the shorter numbers, then
/// those as long as `limit` that are smaller at some digit, then `limit`.
pub(super) fn at_most(limit: &str) -> String {
    let digits = limit.as_bytes();
    let n = digits.len();
    let mut alternatives = vec![format!("[0-9]{{1,{}}}", n - 1)];
    for (i, &d) in digits.iter().enumerate() {
        if d > b'0' {
            let mut alt = limit[..i].to_owned();
            let _ = write!(alt, "[0-{}]", char::from(d - 1));
            let rest = n - 1 - i;
            if rest > 0 {
                let _ = write!(alt, "[0-9]{{{rest}}}");
            }
            alternatives.push(alt);
        }
    }
    alternatives.push(limit.to_owned());
    alternatives.join("|")
}

/// The text `str::trim` then `str::parse::<i64>` accept: white space, an
/// optional sign, digits within the bounds of `i64`, white space. The white
/// space is written as the characters themselves and the pattern holds no
/// backslash, so neither `NO_BACKSLASH_ESCAPES` nor its absence changes it.
pub(super) static INTEGER: LazyLock<String> = LazyLock::new(|| {
    let ws: String = std::iter::once('[')
        .chain(WHITESPACE.iter().copied())
        .chain(std::iter::once(']'))
        .collect();
    format!(
        "^{ws}*(?:[+]?0*(?:{})|-0*(?:{})){ws}*$",
        at_most("9223372036854775807"),
        at_most("9223372036854775808")
    )
});

/// The statements that do not depend on a change set, made once.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) table: String,
    pub(super) load: String,
    pub(super) insert: String,
    pub(super) replace_expired: String,
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
                "SELECT fields, expires_at FROM {t} WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)"
            ),
            insert: format!("INSERT INTO {t} (id, fields, expires_at) VALUES (?, ?, ?)"),
            replace_expired: format!(
                "UPDATE {t} SET fields = ?, expires_at = ? \
                 WHERE id = ? AND expires_at <= UTC_TIMESTAMP(6)"
            ),
            touch: format!(
                "UPDATE {t} SET expires_at = ? WHERE id = ? AND expires_at > UTC_TIMESTAMP(6)"
            ),
            delete: format!("DELETE FROM {t} WHERE id = ?"),
            free: format!("DELETE FROM {t} WHERE id = ? AND expires_at <= UTC_TIMESTAMP(6)"),
            sweep: format!(
                "DELETE FROM {t} WHERE expires_at <= UTC_TIMESTAMP(6) ORDER BY expires_at LIMIT ?"
            ),
            user_sessions: format!(
                "SELECT id, fields, expires_at FROM {t} \
                 WHERE user_digest = UNHEX(SHA2(?, 256)) AND expires_at > UTC_TIMESTAMP(6)"
            ),
            delete_user: format!(
                "DELETE FROM {t} WHERE user_digest = UNHEX(SHA2(?, 256)) \
                 AND expires_at > UTC_TIMESTAMP(6) AND (? IS NULL OR id <> ?)"
            ),
            table: t,
        }
    }
}

/// A bound parameter of a save, in the order of the statement's `?`s.
pub(super) enum Arg<'a> {
    Text(&'a str),
    Owned(String),
    Int(i64),
    Key(&'a [u8]),
}

/// The save's `UPDATE` and its parameters before the last two (the expiry
/// and the key), or before the last one (the key) when the change set keeps
/// the expiry (see [`ChangeSet::moves_expiry`]): the statement then leaves
/// `expires_at` out of its `SET`. With `new_key`, it also moves the row to
/// that key.
pub(super) fn save_statement<'a>(
    table: &str,
    changes: &'a ChangeSet,
    new_key: Option<&'a SessionKey>,
) -> (String, Vec<Arg<'a>>) {
    let mut sql = format!("UPDATE {table} SET ");
    let mut args = Vec::new();
    if let Some(new) = new_key {
        args.push(Arg::Key(new.as_bytes()));
        sql.push_str("id = ?, ");
    }
    if !changes.is_empty() {
        sql.push_str("fields = JSON_MERGE_PATCH(fields");
        if let Some(patch) = merge_patch(changes) {
            args.push(Arg::Owned(patch));
            sql.push_str(", ?");
        }
        if changes.increments().len() > 0 {
            sql.push_str(", JSON_OBJECT(");
            for (i, inc) in changes.increments().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                args.push(Arg::Text(&inc.key));
                args.push(Arg::Text(&inc.key));
                args.push(Arg::Int(inc.initial));
                args.push(Arg::Int(inc.delta));
                let _ = write!(
                    sql,
                    "?, CAST(LEAST(GREATEST(COALESCE(CAST(REGEXP_SUBSTR(NULLIF(REGEXP_SUBSTR(\
                     JSON_UNQUOTE(JSON_EXTRACT(fields, CONCAT('$.', JSON_QUOTE(?)))), '{}'), ''), \
                     '[+-]?[0-9]+') AS DECIMAL(65,0)), CAST(? AS DECIMAL(65,0))) \
                     + CAST(? AS DECIMAL(65,0)), -9223372036854775808), 9223372036854775807) AS CHAR)",
                    *INTEGER
                );
            }
            sql.push(')');
        }
        sql.push_str("), ");
    }
    end_save(
        &mut sql,
        changes,
        "expires_at = ?",
        "id = ? AND expires_at > UTC_TIMESTAMP(6)",
    );
    (sql, args)
}

/// The earliest and latest instants a `DATETIME(6)` holds, in Unix seconds:
/// 1000-01-01 and 9999-12-31 23:59:59.
pub(super) const DATETIME_RANGE: (i64, i64) = (-30_610_224_000, 253_402_300_799);

/// An instant as the `DATETIME(6)` of its UTC time, to the microsecond,
/// clamped to what the column holds.
pub(super) fn utc_datetime(at: OffsetDateTime) -> PrimitiveDateTime {
    let seconds = at
        .unix_timestamp()
        .clamp(DATETIME_RANGE.0, DATETIME_RANGE.1);
    let micros = if seconds == at.unix_timestamp() {
        at.microsecond()
    } else if seconds == DATETIME_RANGE.1 {
        999_999
    } else {
        0
    };
    let utc = OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .replace_microsecond(micros)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    PrimitiveDateTime::new(utc.date(), utc.time())
}
