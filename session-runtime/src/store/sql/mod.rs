//! What the SQL stores share: the table name and the names derived from it,
//! the fields document, the migration steps' bookkeeping, error kinds,
//! time limits and the background sweeper. Each dialect (`postgres.rs`,
//! `mysql.rs`, `sqlite.rs`) adds its SQL and its driver.
//!
//! # One row per session
//!
//! Every dialect keeps the same three columns:
//!
//! | column | holds |
//! | --- | --- |
//! | `id` | the [`SessionKey`](crate::SessionKey): the SHA-256 digest of the session ID, 32 bytes, the primary key; never the ID itself |
//! | `fields` | a JSON object mapping each field's name to its value's JSON text, *as a JSON string* |
//! | `expires_at` | when the session expires, as an instant (each dialect's rule is in its module docs), indexed for the sweep |
//!
//! A field's value is kept as a string holding its JSON text, not as JSON
//! itself: PostgreSQL's `jsonb` and the JSON functions of MySQL and SQLite
//! re-write the JSON they store (key order, spaces, number forms; `jsonb`
//! refuses `\u0000`), and a session must read back byte for byte what it
//! wrote. A JSON string keeps any text exactly. So a session holding a cart
//! and a counter is the row
//!
//! ```text
//! {"shop.cart": "[\"apple\",\"pear\"]", "visits.page_views": "3"}
//! ```
//!
//! A value that is not a string (a row edited by hand) reads as its own JSON
//! text. A `fields` column that is not a JSON object at all does not load:
//! the store logs a warning and answers "no session", so that one client
//! starts afresh and nothing else is lost.
//!
//! # Writes
//!
//! A save is one `UPDATE` of one row, matched by its key and only while it
//! is live, that sets the changed fields, removes the removed ones and
//! applies counter increments inside the database, with the rule of
//! [`Increment::apply_to`](super::Increment::apply_to): a stored text that is
//! not an `i64` (after trimming white space) counts as absent, and the sum
//! saturates at the bounds of `i64`. Field names travel as bound parameters
//! (or, in MySQL, inside a JSON path built by the server from a bound
//! parameter), never spliced into SQL. Nothing is read back into the app to
//! be changed and written again.

#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub mod mysql;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;

use std::fmt::{self, Write as _};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

#[cfg(any(feature = "mysql", feature = "sqlite"))]
use super::ChangeSet;
use super::{StoreConfigError, StoreError, StoreErrorKind};

/// The table sessions live in unless told otherwise.
pub(crate) const DEFAULT_TABLE: &str = "sessions";

/// The longest identifier every dialect takes (PostgreSQL's limit; MySQL's
/// is 64).
const MAX_IDENTIFIER: usize = 63;

/// The whitespace Rust's `str::trim` removes (Unicode `White_Space`), which
/// the increment rule trims from a stored counter. Written out as the
/// characters themselves, so that no dialect's string escapes are involved.
pub(crate) const WHITESPACE: &[char] = &[
    '\u{9}', '\u{a}', '\u{b}', '\u{c}', '\u{d}', ' ', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}',
    '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}',
    '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
];

/// A table name, checked: one or two plain identifiers (`sessions`,
/// `app.sessions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Table {
    schema: Option<String>,
    name: String,
}

impl Table {
    /// Checks `name`: letters, digits and `_`, not starting with a digit, at
    /// most 63 characters; qualified by a schema (`schema.table`) only where
    /// the dialect has schemas.
    pub(crate) fn parse(name: &str, schemas: bool) -> Result<Self, StoreConfigError> {
        let invalid = || StoreConfigError::InvalidTableName {
            name: name.to_owned(),
        };
        let (schema, table) = match name.split_once('.') {
            Some((schema, table)) if schemas => (Some(schema), table),
            Some(_) => return Err(invalid()),
            None => (None, name),
        };
        let plain = |part: &str| {
            !part.is_empty()
                && part.len() <= MAX_IDENTIFIER
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !part.as_bytes()[0].is_ascii_digit()
        };
        if !plain(table) || !schema.is_none_or(plain) {
            return Err(invalid());
        }
        Ok(Self {
            schema: schema.map(str::to_owned),
            name: table.to_owned(),
        })
    }

    /// The schema, if the name gave one.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The table's own name, without its schema.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The name as given: `schema.table` or `table`.
    pub(crate) fn display(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The table in SQL, each part quoted with `quote` (`"` or `` ` ``).
    /// The parts were checked, so quoting cannot be broken out of; quoting
    /// still matters, for names that are reserved words.
    pub(crate) fn quoted(&self, quote: char) -> String {
        self.qualify(&self.name, quote)
    }

    /// Another table beside this one, in the same schema: `{table}{suffix}`,
    /// quoted.
    pub(crate) fn sibling(&self, suffix: &str, quote: char) -> String {
        self.qualify(&derived_name(&self.name, suffix), quote)
    }

    /// A name derived from the table's (an index), unqualified and quoted.
    pub(crate) fn derived(&self, suffix: &str, quote: char) -> String {
        quote_ident(&derived_name(&self.name, suffix), quote)
    }

    fn qualify(&self, name: &str, quote: char) -> String {
        match &self.schema {
            Some(schema) => format!(
                "{}.{}",
                quote_ident(schema, quote),
                quote_ident(name, quote)
            ),
            None => quote_ident(name, quote),
        }
    }
}

fn quote_ident(ident: &str, quote: char) -> String {
    format!("{quote}{ident}{quote}")
}

/// `{name}{suffix}`, kept within 63 characters: a long name is cut and
/// given 8 hex digits of its digest, so two long names stay apart.
fn derived_name(name: &str, suffix: &str) -> String {
    if name.len() + suffix.len() <= MAX_IDENTIFIER {
        return format!("{name}{suffix}");
    }
    let digest = Sha256::digest(name.as_bytes());
    let keep = MAX_IDENTIFIER - suffix.len() - 9;
    let mut out = String::with_capacity(MAX_IDENTIFIER);
    out.push_str(&name[..keep.min(name.len())]);
    out.push('_');
    for byte in &digest[..4] {
        let _ = write!(out, "{byte:02x}");
    }
    out.push_str(suffix);
    out
}

/// One numbered schema change: the statements that make it, run in order.
///
/// `{table}`, `{versions}` and `{expires_index}` in them stand for the
/// quoted names. A step once released is never edited: a later change is a
/// new step (the dialects' tests pin each step's text).
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) version: i64,
    pub(crate) statements: &'static [&'static str],
}

/// The suffix of the table that records which steps ran.
pub(crate) const VERSIONS_SUFFIX: &str = "_migrations";
/// The suffix of the index on `expires_at`.
pub(crate) const EXPIRES_INDEX_SUFFIX: &str = "_expires_at";
/// The suffix of the index of the per-user column (schema step 2).
pub(crate) const USER_INDEX_SUFFIX: &str = "_user";

/// A step's statement with the names filled in.
pub(crate) fn render(statement: &str, table: &Table, quote: char) -> String {
    statement
        .replace("{table}", &table.quoted(quote))
        .replace("{versions}", &table.sibling(VERSIONS_SUFFIX, quote))
        .replace(
            "{expires_index}",
            &table.derived(EXPIRES_INDEX_SUFFIX, quote),
        )
        .replace("{user_index}", &table.derived(USER_INDEX_SUFFIX, quote))
}

/// The steps after `current`, in order, checked to be numbered 1, 2, 3, ...
pub(crate) fn pending(steps: &'static [Step], current: i64) -> &'static [Step] {
    debug_assert!(steps
        .iter()
        .enumerate()
        .all(|(i, s)| s.version == i as i64 + 1));
    let done = usize::try_from(current.max(0))
        .unwrap_or(usize::MAX)
        .min(steps.len());
    &steps[done..]
}

/// A digest of a step's statements, which the dialects' tests pin.
#[cfg(test)]
pub(crate) fn step_digest(step: &Step) -> String {
    let mut hasher = Sha256::new();
    for statement in step.statements {
        hasher.update(statement.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

// ------------------------------------------------------------- documents

/// The user key as the binding's field holds it: a JSON string, as
/// `serde_json` writes it (what the per-user column is compared with).
pub(crate) fn user_json(user: &str) -> String {
    let mut out = String::with_capacity(user.len() + 2);
    push_json_string(&mut out, user);
    out
}

/// A row's `id` as the session key it is, or `None` for a row whose `id`
/// is not 32 bytes (which the schema rules out).
pub(crate) fn key_of_row(id: &[u8]) -> Option<crate::store::SessionKey> {
    <[u8; 32]>::try_from(id)
        .ok()
        .map(crate::store::SessionKey::from_digest)
}

/// Appends `text` as a JSON string.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut plain = 0;
    for (i, c) in text.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if c < ' ' => "",
            _ => continue,
        };
        out.push_str(&text[plain..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push_str(escape);
        }
        plain = i + c.len_utf8();
    }
    out.push_str(&text[plain..]);
    out.push('"');
}

/// The `fields` document of a whole session: `{"name": "<json text>", ...}`.
pub(crate) fn fields_document<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (name, value) in fields {
        if out.len() > 1 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push(':');
        push_json_string(&mut out, value);
    }
    out.push('}');
    out
}

/// A JSON merge patch (RFC 7396) of a change set's sets and removals: each
/// set field to its JSON text as a string, each removed field to `null`.
/// `None` when the change set sets and removes nothing.
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) fn merge_patch(changes: &ChangeSet) -> Option<String> {
    if changes.sets().len() == 0 && changes.removals().len() == 0 {
        return None;
    }
    let mut out = String::from("{");
    for (name, value) in changes.sets() {
        if out.len() > 1 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push(':');
        push_json_string(&mut out, value);
    }
    for name in changes.removals() {
        if out.len() > 1 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push_str(":null");
    }
    out.push('}');
    Some(out)
}

/// Ends a save's `UPDATE ... SET`, whose assignments so far each end in
/// `", "`: with `expiry` (as `"expires_at = $2"`) as the last assignment
/// when the change set moves the expiry, else with the separator dropped,
/// then ` WHERE {live}`. A change set that keeps the expiry changes a
/// field, so there is always an assignment before it.
pub(crate) fn end_save(sql: &mut String, changes: &ChangeSet, expiry: &str, live: &str) {
    if changes.moves_expiry() {
        sql.push_str(expiry);
    } else {
        if let Some(kept) = sql.strip_suffix(", ").map(str::len) {
            sql.truncate(kept);
        }
    }
    sql.push_str(" WHERE ");
    sql.push_str(live);
}

/// The fields of a `fields` document, or why it is not one.
pub(crate) fn decode_fields(text: &str) -> Result<Vec<(String, String)>, serde_json::Error> {
    serde_json::from_str::<Fields>(text).map(|fields| fields.0)
}

/// A `fields` document read into name and JSON text pairs.
struct Fields(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Fields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of session fields")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
                    let text = match value {
                        serde_json::Value::String(text) => text,
                        // Written by hand: the value's own JSON text.
                        other => other.to_string(),
                    };
                    fields.push((name, text));
                }
                Ok(Fields(fields))
            }
        }

        deserializer.deserialize_map(Visitor)
    }
}

/// Why a loaded row does not decode, in words that quote none of its data
/// (a JSON error's message can quote a stored value).
#[derive(Debug)]
pub(crate) enum Undecodable {
    /// The `fields` column is not a JSON object of fields.
    Fields(serde_json::Error),
    /// A column does not read as its type (the driver's error names types,
    /// not values).
    Column(sqlx::Error),
    /// The `fields` column is not UTF-8 (MySQL's, read as bytes).
    #[cfg(feature = "mysql")]
    NotUtf8,
    /// The expiry is outside the instants the runtime can represent
    /// (SQLite's integer).
    #[cfg(feature = "sqlite")]
    Expiry,
}

impl fmt::Display for Undecodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fields(err) => write!(
                f,
                "the fields are not a JSON object of strings ({:?} error at line {}, column {})",
                err.classify(),
                err.line(),
                err.column()
            ),
            Self::Column(err) => write!(f, "a column does not decode: {err}"),
            #[cfg(feature = "mysql")]
            Self::NotUtf8 => f.write_str("the fields are not UTF-8"),
            #[cfg(feature = "sqlite")]
            Self::Expiry => f.write_str("the expiry is out of range"),
        }
    }
}

impl From<serde_json::Error> for Undecodable {
    fn from(err: serde_json::Error) -> Self {
        Self::Fields(err)
    }
}

impl From<sqlx::Error> for Undecodable {
    fn from(err: sqlx::Error) -> Self {
        Self::Column(err)
    }
}

/// A loaded row that does not decode: logged (without its data), and read
/// as no session.
pub(crate) fn corrupt_row(key: &crate::SessionKey, table: &Table, why: &Undecodable) {
    tracing::warn!(
        ?key,
        table = %table.display(),
        reason = %why,
        "a stored session does not decode; it is ignored and its client starts a new session"
    );
}

// ---------------------------------------------------------------- errors

/// A driver error as a [`StoreError`] of the right kind. `database` sorts
/// the database's own errors (a lock timeout is a conflict, a shut-down
/// server is unavailable); whatever it does not know is
/// [`StoreErrorKind::Other`].
pub(crate) fn store_error(
    context: &'static str,
    err: sqlx::Error,
    database: fn(&dyn sqlx::error::DatabaseError) -> Option<StoreErrorKind>,
) -> StoreError {
    let kind = match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreErrorKind::Unavailable,
        sqlx::Error::PoolTimedOut => StoreErrorKind::Timeout,
        sqlx::Error::Configuration(_) => StoreErrorKind::Config,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreErrorKind::Corrupt,
        sqlx::Error::Database(db) => database(db.as_ref()).unwrap_or(StoreErrorKind::Other),
        _ => StoreErrorKind::Other,
    };
    StoreError::new(context, err).with_kind(kind)
}

/// Runs one store operation within `limit`, waiting for a connection
/// included: a database that does not answer costs a request this long at
/// most, never a hang.
pub(crate) async fn timed<T>(
    limit: Duration,
    context: &'static str,
    database: fn(&dyn sqlx::error::DatabaseError) -> Option<StoreErrorKind>,
    op: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, op).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(store_error(context, err, database)),
        Err(elapsed) => Err(StoreError::timeout(context, elapsed)),
    }
}

/// Whether a driver error is a duplicate primary key.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

// -------------------------------------------------------------- settings

/// What every SQL store's builder sets.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) table: String,
    pub(crate) sweep_every: Option<Duration>,
    pub(crate) sweep_batch: u64,
    pub(crate) operation_timeout: Duration,
    pub(crate) acquire_timeout: Duration,
    pub(crate) max_connections: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            table: DEFAULT_TABLE.to_owned(),
            sweep_every: Some(Duration::from_secs(300)),
            sweep_batch: 1000,
            operation_timeout: Duration::from_secs(2),
            acquire_timeout: Duration::from_secs(1),
            max_connections: 10,
        }
    }
}

// --------------------------------------------------------------- sweeper

/// The background sweep of one store: started once, on the first write
/// made inside a Tokio runtime; it stops when the store is dropped.
#[derive(Debug)]
pub(crate) struct Sweeper {
    every: Option<Duration>,
    batch: u64,
    started: AtomicBool,
}

impl Sweeper {
    pub(crate) fn new(every: Option<Duration>, batch: u64) -> Self {
        Self {
            every,
            batch: batch.max(1),
            started: AtomicBool::new(false),
        }
    }

    /// Starts the sweep of `inner`, unless it runs already, is turned off,
    /// or there is no runtime to run it on. Every `every` (give or take a
    /// fifth, so instances sharing a table do not sweep in step) it deletes
    /// expired rows a batch at a time, until a batch comes back short.
    pub(crate) fn start<T, F, Fut>(&self, inner: &Arc<T>, sweep: F)
    where
        T: Send + Sync + 'static,
        F: Fn(Arc<T>, u64) -> Fut + Send + 'static,
        Fut: Future<Output = Result<u64, StoreError>> + Send,
    {
        let Some(every) = self.every else { return };
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<T> = Arc::downgrade(inner);
        let batch = self.batch;
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(jittered(every)).await;
                let mut swept = 0;
                loop {
                    let Some(inner) = weak.upgrade() else { return };
                    match sweep(inner, batch).await {
                        Ok(n) => {
                            swept += n;
                            if n < batch {
                                break;
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, source = ?std::error::Error::source(&err), "cannot sweep expired sessions");
                            break;
                        }
                    }
                    // Let requests in between two batches.
                    tokio::task::yield_now().await;
                }
                if swept > 0 {
                    tracing::debug!(swept, "expired sessions swept");
                }
            }
        });
    }
}

/// `every`, plus or minus up to a fifth of it.
fn jittered(every: Duration) -> Duration {
    let fifth = every / 5;
    let span = u64::try_from(fifth.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_mul(2);
    if span == 0 {
        return every;
    }
    let offset = Duration::from_millis(OsRng.next_u64() % (span + 1));
    (every - fifth) + offset
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ChangeSet;

    #[test]
    fn table_names_are_plain_identifiers_optionally_qualified() {
        for ok in ["sessions", "_s", "app.sessions", "S2", &"a".repeat(63)] {
            assert!(Table::parse(ok, true).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "2s",
            "a-b",
            "a b",
            "a\"b",
            "a`b",
            "a;drop table x",
            "a.b.c",
            ".a",
            "a.",
            "ünï",
            &"a".repeat(64),
        ] {
            assert_eq!(
                Table::parse(bad, true),
                Err(StoreConfigError::InvalidTableName {
                    name: bad.to_owned()
                }),
                "{bad}"
            );
        }
        assert!(
            Table::parse("app.sessions", false).is_err(),
            "no schemas here"
        );
    }

    #[test]
    fn names_are_quoted_and_derived_names_fit() {
        let t = Table::parse("app.sessions", true).unwrap();
        assert_eq!(t.quoted('"'), "\"app\".\"sessions\"");
        assert_eq!(
            t.sibling(VERSIONS_SUFFIX, '`'),
            "`app`.`sessions_migrations`"
        );
        assert_eq!(
            t.derived(EXPIRES_INDEX_SUFFIX, '"'),
            "\"sessions_expires_at\""
        );
        let long = "a".repeat(63);
        let derived = derived_name(&long, VERSIONS_SUFFIX);
        assert_eq!(derived.len(), 63);
        assert!(derived.ends_with(VERSIONS_SUFFIX));
        let other = derived_name(&format!("{}b", "a".repeat(62)), VERSIONS_SUFFIX);
        assert_ne!(derived, other, "two long names stay apart");
    }

    #[test]
    fn documents_round_trip_any_text() {
        let odd = "{\"a\":\"é\\u0000\\\"\\\\ 😀\",\"b\":[null,true,-1.5e300]}\u{0}\u{1f}\n";
        let doc = fields_document([("a.x", odd), ("q\"k.\\", "1")]);
        assert_eq!(
            decode_fields(&doc).unwrap(),
            vec![
                ("a.x".to_owned(), odd.to_owned()),
                ("q\"k.\\".to_owned(), "1".to_owned())
            ]
        );
        let parsed: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert!(parsed.is_object());
    }

    #[cfg(any(feature = "mysql", feature = "sqlite"))]
    #[test]
    fn a_merge_patch_sets_strings_and_removes_with_null() {
        let changes = ChangeSet::new(time::OffsetDateTime::UNIX_EPOCH)
            .set("a.x", "[1]")
            .remove("a.y")
            .increment("a.n", 1, 0);
        assert_eq!(
            merge_patch(&changes).as_deref(),
            Some(r#"{"a.x":"[1]","a.y":null}"#)
        );
        let only_counter = ChangeSet::new(time::OffsetDateTime::UNIX_EPOCH).increment("a.n", 1, 0);
        assert_eq!(merge_patch(&only_counter), None);
    }

    #[test]
    fn hand_written_values_read_as_their_json_text_and_non_objects_do_not_decode() {
        assert_eq!(
            decode_fields(r#"{"a.n": 5, "a.s": "x", "a.o": {"k": [1]}}"#).unwrap(),
            vec![
                ("a.n".to_owned(), "5".to_owned()),
                ("a.s".to_owned(), "x".to_owned()),
                ("a.o".to_owned(), "{\"k\":[1]}".to_owned()),
            ]
        );
        for bad in ["[1]", "\"x\"", "nope", "{", ""] {
            assert!(decode_fields(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pending_steps_follow_the_recorded_version() {
        static STEPS: [Step; 2] = [
            Step {
                version: 1,
                statements: &["a"],
            },
            Step {
                version: 2,
                statements: &["b"],
            },
        ];
        assert_eq!(pending(&STEPS, 0).len(), 2);
        assert_eq!(pending(&STEPS, 1)[0].version, 2);
        assert!(pending(&STEPS, 2).is_empty());
        assert!(
            pending(&STEPS, 7).is_empty(),
            "a newer schema than this build"
        );
    }

    #[test]
    fn the_sweep_interval_is_jittered_within_a_fifth() {
        let every = Duration::from_secs(100);
        for _ in 0..100 {
            let d = jittered(every);
            assert!(
                d >= Duration::from_secs(80) && d <= Duration::from_secs(120),
                "{d:?}"
            );
        }
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }
}
