//! Rules that need the whole struct: keys, namespaces, attribute combinations.

use std::collections::HashMap;

use crate::ast::Container;
use crate::ctxt::Ctxt;

/// Checks the container; errors go to `cx`.
pub(crate) fn check(cx: &mut Ctxt, cont: &Container<'_>) {
    check_generics(cx, cont);
    check_namespace(cx, cont);
    check_fields(cx, cont);
}

fn check_generics(cx: &mut Ctxt, cont: &Container<'_>) {
    let generics = &cont.original.generics;
    if !generics.params.is_empty() {
        cx.error_spanned_by(
            generics,
            "a session struct cannot be generic: every instance would share one namespace and \
             one set of keys with different types; declare a concrete struct per use",
        );
    }
}

fn check_namespace(cx: &mut Ctxt, cont: &Container<'_>) {
    let Some(attr) = &cont.attrs.namespace else {
        return;
    };
    let namespace = attr.value.value();
    if namespace.is_empty() {
        cx.error_spanned_by(
            &attr.value,
            "the session namespace cannot be empty; write a name such as `#[session(namespace = \"cart\")]`, \
             or remove the attribute to use the struct's name",
        );
    } else if let Some(bad) = namespace.chars().find(|c| !key_char(*c)) {
        cx.error_spanned_by(
            &attr.value,
            format!("the session namespace cannot hold `{bad}`; use letters, digits, `_` and `-`"),
        );
    }
}

fn key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

fn check_fields(cx: &mut Ctxt, cont: &Container<'_>) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for field in &cont.fields {
        if let (Some(skip), Some(counter)) = (&field.attrs.skip, &field.attrs.counter) {
            cx.error_spanned_by(
                &counter.name,
                "`counter` and `skip` cannot go together: a skipped field is never stored, so it \
                 has no count to keep; remove one of them",
            );
            let _ = skip;
        }
        if let (Some(_), Some(rename)) = (&field.attrs.skip, &field.attrs.rename) {
            cx.error_spanned_by(
                &rename.name,
                "`rename` has no effect on a `skip` field, which is never stored; remove `rename`",
            );
        }
        if field.is_skipped() {
            continue;
        }
        let name = field.name();
        if let Some(lit) = field.rename() {
            if name.is_empty() {
                cx.error_spanned_by(
                    lit,
                    "a session key cannot be empty; write a name in `rename = \"...\"`",
                );
                continue;
            }
            if let Some(bad) = name.chars().find(|c| !key_char(*c)) {
                cx.error_spanned_by(
                    lit,
                    format!("a session key cannot hold `{bad}`; use letters, digits, `_` and `-`"),
                );
                continue;
            }
        }
        if let Some(first) = seen.insert(name.clone(), field.ident) {
            let message = format!(
                "the fields `{first}` and `{}` are both stored under the key `{name}`; \
                 give one of them `#[session(rename = \"...\")]`",
                field.ident
            );
            match field.rename() {
                Some(lit) => cx.error_spanned_by(lit, message),
                None => cx.error_spanned_by(field.ident, message),
            }
        }
    }
}
