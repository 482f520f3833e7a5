//! The trait `#[derive(Session)]` implements, and the per-field code it calls.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ConfigError;
use crate::store::{ChangeSet, Record};

/// A struct whose fields live in the session: implemented by
/// `#[derive(Session)]`, not by hand.
///
/// Each field is stored under `namespace.field`, as its own JSON text, so a
/// request that changes one field writes that field alone.
///
/// ```
/// use session_kit::{Session, SessionData};
///
/// #[derive(Session, Default)]
/// #[session(namespace = "cart")]
/// struct Cart {
///     items: Vec<String>,
/// }
///
/// assert_eq!(<Cart as SessionData>::NAMESPACE, "cart");
/// ```
pub trait SessionData: Sized + Send + Sync + 'static {
    /// The prefix of this struct's keys inside the session.
    const NAMESPACE: &'static str;

    /// What the derive remembers of the loaded state: the loaded values of
    /// counter fields, so their change is saved as a difference.
    #[doc(hidden)]
    type __Snapshot: Send + Sync + 'static;

    /// Builds the struct from the stored fields.
    #[doc(hidden)]
    fn __load(fields: &Fields<'_>) -> (Self, Self::__Snapshot);

    /// Records, for each field that changed since load, how to write it.
    #[doc(hidden)]
    fn __diff(&self, snapshot: &Self::__Snapshot, diff: &mut Diff<'_>);
}

/// The stored fields a derived struct loads from.
#[doc(hidden)]
#[derive(Debug)]
pub struct Fields<'a> {
    pub(crate) record: &'a Record,
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.record.get(key)
    }
}

/// Where a derived struct records its changes.
#[doc(hidden)]
#[derive(Debug)]
pub struct Diff<'a> {
    pub(crate) record: &'a Record,
    pub(crate) changes: ChangeSet,
    pub(crate) failed: Option<(&'static str, serde_json::Error)>,
}

impl Diff<'_> {
    fn fail(&mut self, key: &'static str, err: serde_json::Error) {
        tracing::error!(
            field = key,
            kind = ?err.classify(),
            "a session field could not be encoded; the session is not saved"
        );
        self.failed.get_or_insert((key, err));
    }
}

/// A registration of one derived struct's namespace, checked for clashes when
/// a `SessionLayer` is built.
#[doc(hidden)]
#[derive(Debug)]
pub struct NamespaceEntry {
    pub namespace: &'static str,
    pub type_name: &'static str,
}

inventory::collect!(NamespaceEntry);

/// Fails when two derived structs of this program share a namespace.
pub(crate) fn check_namespaces() -> Result<(), ConfigError> {
    let mut seen: HashMap<&'static str, &'static str> = HashMap::new();
    let mut entries: Vec<&NamespaceEntry> = inventory::iter::<NamespaceEntry>.into_iter().collect();
    entries.sort_by_key(|e| (e.namespace, e.type_name));
    for entry in entries {
        match seen.insert(entry.namespace, entry.type_name) {
            Some(first) if first != entry.type_name => {
                return Err(ConfigError::DuplicateNamespace {
                    namespace: entry.namespace,
                    first,
                    second: entry.type_name,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// A field type that can be stored: `Serialize` and `DeserializeOwned`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the session field type `{Self}` cannot be stored: it must implement `serde::Serialize` and `serde::Deserialize`",
    label = "this type is not `Serialize` + `Deserialize`",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to `{Self}`, or mark the field `#[session(skip)]`"
)]
pub trait Storable: Serialize + DeserializeOwned {}

// Report a missing bound as "`T` cannot be stored", once, rather than once per
// missing serde trait.
#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> Storable for T {}

/// A field type the derive can default without being told how.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the session field type `{Self}` has no default value",
    label = "this type does not implement `Default`",
    note = "implement or derive `Default` for `{Self}`, or name a function with `#[session(default = path::to::function)]`"
)]
pub trait FieldDefault: Default {}

impl<T: Default> FieldDefault for T {}

/// `#[session(default = path)]` must name a function of no arguments that
/// returns the field's type.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`default = ...` must name a function that takes no arguments and returns `{T}`",
    label = "this is not a `fn() -> {T}`",
    note = "write `#[session(default = path::to::function)]` with `fn function() -> {T}`"
)]
pub trait DefaultFn<T> {
    /// Calls the function.
    fn call(&self) -> T;
}

// Report a wrong `default = ...` with the message above, not as "`Fn()` is not
// implemented for `str`".
#[diagnostic::do_not_recommend]
impl<T, F: Fn() -> T> DefaultFn<T> for F {
    fn call(&self) -> T {
        self()
    }
}

/// Checks a `default = path` at compile time, spanned on the path.
#[doc(hidden)]
pub fn default_fn<T, F: DefaultFn<T>>(f: F) -> F {
    f
}

/// The default value of a field without `default = ...`.
#[doc(hidden)]
pub fn default_of<T: FieldDefault>() -> T {
    T::default()
}

/// Loads one field; a stored value that no longer decodes (its type changed
/// between deploys) resets to the default with a warning.
#[doc(hidden)]
pub fn load_field<T: Storable>(
    fields: &Fields<'_>,
    key: &'static str,
    default: impl DefaultFn<T>,
) -> T {
    match fields.get(key) {
        None => default.call(),
        Some(raw) => match serde_json::from_str(raw) {
            Ok(value) => value,
            Err(err) => {
                // serde's message can quote the stored value: log where and
                // what kind of error, never the data.
                tracing::warn!(
                    field = key,
                    kind = ?err.classify(),
                    line = err.line(),
                    column = err.column(),
                    "a stored session field no longer decodes; it is reset to its default"
                );
                default.call()
            }
        },
    }
}

/// Records a field's change, if it changed. A field back at its default is
/// removed.
///
/// The value is first serialized into a writer that compares it, byte by
/// byte, with the JSON text the store holds: an unchanged field costs no
/// allocation, and a changed one stops the comparison at its first differing
/// byte. Only a changed field is encoded into a new string.
#[doc(hidden)]
pub fn diff_field<T: Storable>(
    value: &T,
    key: &'static str,
    default: impl DefaultFn<T>,
    diff: &mut Diff<'_>,
) {
    let stored = diff.record.get(key);
    if let Some(stored) = stored {
        if encodes_as(value, stored) {
            return;
        }
    }
    let encoded = match serde_json::to_string(value) {
        Ok(text) => text,
        Err(err) => return diff.fail(key, err),
    };
    let is_default = match serde_json::to_string(&default.call()) {
        Ok(text) => text == encoded,
        Err(_) => false,
    };
    match (stored, is_default) {
        (None, true) => {}
        (Some(_), true) => diff.changes.push_remove(key.into()),
        (_, false) => diff.changes.push_set(key.into(), encoded),
    }
}

/// Whether `value` serializes to exactly `expected`, without allocating.
fn encodes_as<T: Serialize>(value: &T, expected: &str) -> bool {
    let mut cmp = Compare {
        rest: expected.as_bytes(),
    };
    serde_json::to_writer(&mut cmp, value).is_ok() && cmp.rest.is_empty()
}

/// An `io::Write` that checks what is written against an expected text, and
/// fails at the first difference so serialization stops early.
struct Compare<'a> {
    rest: &'a [u8],
}

impl std::io::Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.rest.strip_prefix(buf) {
            Some(rest) => {
                self.rest = rest;
                Ok(buf.len())
            }
            None => Err(std::io::Error::other("differs")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An integer type `#[session(counter)]` accepts.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`#[session(counter)]` needs an integer field, and `{Self}` is not one",
    label = "not an integer type",
    note = "use one of `i8`, `i16`, `i32`, `i64`, `isize`, `u8`, `u16`, `u32`, `u64`, `usize`, or remove `counter`"
)]
pub trait Counter: Copy + Send + Sync + 'static {
    /// Widens to `i128`.
    fn widen(self) -> i128;
    /// Narrows, saturating at the type's bounds.
    fn saturate(value: i128) -> Self;
}

macro_rules! counters {
    ($($ty:ty),*) => {$(
        impl Counter for $ty {
            fn widen(self) -> i128 {
                self as i128
            }
            fn saturate(value: i128) -> Self {
                value.clamp(<$ty>::MIN as i128, <$ty>::MAX as i128) as $ty
            }
        }
    )*};
}

counters!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

fn to_i64(value: i128) -> i64 {
    value.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Loads a counter: a stored sum outside the field's type saturates at the
/// type's bounds. Returns the value twice: one for the struct, one for the
/// snapshot the difference is taken against.
#[doc(hidden)]
pub fn load_counter<T: Counter>(
    fields: &Fields<'_>,
    key: &'static str,
    default: impl DefaultFn<T>,
) -> (T, T) {
    let value = match fields.get(key) {
        None => default.call(),
        Some(raw) => match raw.trim().parse::<i128>() {
            Ok(n) => T::saturate(n),
            Err(err) => {
                tracing::warn!(
                    field = key,
                    error = %err,
                    "a stored session counter is not an integer; it is reset to its default"
                );
                default.call()
            }
        },
    };
    (value, value)
}

/// Records a counter's change as a store-side increment of the difference.
#[doc(hidden)]
pub fn diff_counter<T: Counter>(
    value: &T,
    loaded: &T,
    key: &'static str,
    default: impl DefaultFn<T>,
    diff: &mut Diff<'_>,
) {
    let delta = value.widen() - loaded.widen();
    if delta != 0 {
        let initial = to_i64(default.call().widen());
        diff.changes
            .push_increment(key.into(), to_i64(delta), initial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn record(fields: &[(&str, &str)]) -> Record {
        Record::new(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            OffsetDateTime::now_utc(),
        )
    }

    fn diff_of(record: &Record, f: impl FnOnce(&mut Diff<'_>)) -> ChangeSet {
        let mut diff = Diff {
            record,
            changes: ChangeSet::new(OffsetDateTime::now_utc()),
            failed: None,
        };
        f(&mut diff);
        diff.changes
    }

    #[test]
    fn an_undecodable_field_resets_to_its_default() {
        let rec = record(&[("a.n", "\"not a number\"")]);
        let fields = Fields { record: &rec };
        assert_eq!(load_field::<u32>(&fields, "a.n", || 7), 7);
    }

    #[test]
    fn an_unchanged_field_writes_nothing() {
        let rec = record(&[("a.s", "\"x\"")]);
        let changes = diff_of(&rec, |d| diff_field(&"x".to_owned(), "a.s", String::new, d));
        assert!(changes.is_empty());
        let empty = record(&[]);
        let changes = diff_of(&empty, |d| diff_field(&0u32, "a.n", || 0, d));
        assert!(
            changes.is_empty(),
            "an absent field still at its default is unchanged"
        );
    }

    #[test]
    fn the_comparing_writer_tells_equal_from_different_encodings() {
        assert!(encodes_as(&vec!["a", "b"], r#"["a","b"]"#));
        assert!(!encodes_as(&vec!["a", "b"], r#"["a","c"]"#));
        assert!(
            !encodes_as(&vec!["a"], r#"["a","b"]"#),
            "a prefix is not equal"
        );
        assert!(
            !encodes_as(&vec!["a", "b"], r#"["a"]"#),
            "a longer value is not equal"
        );
        assert!(encodes_as(&"é\"q", r#""é\"q""#));
    }

    #[test]
    fn a_changed_field_is_set_and_one_back_at_default_is_removed() {
        let rec = record(&[("a.s", "\"x\"")]);
        let changes = diff_of(&rec, |d| diff_field(&"y".to_owned(), "a.s", String::new, d));
        assert_eq!(changes.sets().collect::<Vec<_>>(), vec![("a.s", "\"y\"")]);
        let changes = diff_of(&rec, |d| diff_field(&String::new(), "a.s", String::new, d));
        assert_eq!(changes.removals().collect::<Vec<_>>(), vec!["a.s"]);
    }

    #[test]
    fn counters_saturate_on_load_and_save_differences() {
        let rec = record(&[("a.c", "300")]);
        let fields = Fields { record: &rec };
        let (value, loaded) = load_counter::<u8>(&fields, "a.c", || 0);
        assert_eq!((value, loaded), (255, 255));
        let (value, _) = load_counter::<i8>(
            &Fields {
                record: &record(&[("a.c", "-999")]),
            },
            "a.c",
            || 0,
        );
        assert_eq!(value, -128);
        let changes = diff_of(&rec, |d| diff_counter(&10u32, &7u32, "a.c", || 0, d));
        let inc: Vec<_> = changes.increments().cloned().collect();
        assert_eq!(inc.len(), 1);
        assert_eq!((inc[0].delta, inc[0].initial), (3, 0));
        let changes = diff_of(&rec, |d| diff_counter(&0u64, &u64::MAX, "a.c", || 5, d));
        let inc: Vec<_> = changes.increments().cloned().collect();
        assert_eq!((inc[0].delta, inc[0].initial), (i64::MIN, 5));
    }
}
