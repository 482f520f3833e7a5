//! Parses `#[session(...)]` attributes into typed values.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::{token, Attribute, Expr, ExprLit, ExprPath, Ident, Lit, LitStr, Meta, Path, Token};

use crate::ctxt::Ctxt;

/// A value given by an attribute, with the tokens it was written as.
pub(crate) struct Attr<T> {
    pub(crate) name: Ident,
    pub(crate) value: T,
}

/// `#[session(...)]` on the struct.
#[derive(Default)]
pub(crate) struct StructAttrs {
    pub(crate) namespace: Option<Attr<LitStr>>,
    /// `crate = "path"`: where the facade is, for a renamed dependency.
    pub(crate) krate: Option<Attr<Path>>,
}

/// `#[session(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) rename: Option<Attr<LitStr>>,
    pub(crate) default: Option<Attr<Path>>,
    pub(crate) skip: Option<Attr<()>>,
    pub(crate) counter: Option<Attr<()>>,
}

fn set_once<T>(cx: &mut Ctxt, slot: &mut Option<Attr<T>>, name: &Ident, value: T) {
    if slot.is_some() {
        cx.error_spanned_by(
            name,
            format!("`{name}` is given more than once; keep one `{name}`"),
        );
        return;
    }
    *slot = Some(Attr {
        name: name.clone(),
        value,
    });
}

fn attr_name(meta: &ParseNestedMeta<'_>) -> Option<Ident> {
    meta.path.get_ident().cloned()
}

/// Parses `= "literal"`, or explains what to write.
fn string_value(meta: &ParseNestedMeta<'_>, name: &Ident, example: &str) -> syn::Result<LitStr> {
    if !meta.input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(
            name,
            format!("`{name}` needs a value: write `#[session({name} = \"{example}\")]`"),
        ));
    }
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{name}` takes a string literal: write `#[session({name} = \"{example}\")]`"),
        )),
    }
}

/// Parses `= path::to::function`, or explains what to write.
fn path_value(meta: &ParseNestedMeta<'_>, name: &Ident) -> syn::Result<Path> {
    if !meta.input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(
            name,
            format!("`{name}` needs a function: write `#[session({name} = path::to::function)]`"),
        ));
    }
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Path(ExprPath { path, qself: None, .. }) => Ok(path),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => match lit.parse::<Path>() {
            Ok(path) => Ok(path),
            Err(_) => Err(syn::Error::new_spanned(
                lit,
                format!("`{name}` takes the path of a function: write `#[session({name} = path::to::function)]`"),
            )),
        },
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{name}` takes the path of a function: write `#[session({name} = path::to::function)]`"),
        )),
    }
}

/// Accepts a bare flag such as `skip`; a value given to it (`skip = true`,
/// `skip(...)`) is consumed and explained, so parsing goes on after it.
fn flag(meta: &ParseNestedMeta<'_>, name: &Ident) -> syn::Result<()> {
    let message = format!("`{name}` takes no value: write `#[session({name})]`");
    if meta.input.peek(Token![=]) {
        let value: Expr = meta.value()?.parse()?;
        return Err(syn::Error::new_spanned(value, message));
    }
    if meta.input.peek(token::Paren) {
        let content;
        let parens = syn::parenthesized!(content in meta.input);
        let _: TokenStream = content.parse()?;
        return Err(syn::Error::new(parens.span.join(), message));
    }
    Ok(())
}

/// The `#[session(...)]` attributes among `attrs`; one written without its
/// list (`#[session]`, `#[session = "..."]`) is explained and left out.
fn session_attrs<'a>(cx: &mut Ctxt, attrs: &'a [Attribute], expected: &str) -> Vec<&'a Attribute> {
    let (lists, others): (Vec<_>, Vec<_>) = attrs
        .iter()
        .filter(|a| a.path().is_ident("session"))
        .partition(|a| matches!(a.meta, Meta::List(_)));
    for attr in others {
        cx.error_spanned_by(
            attr,
            format!("`#[session]` needs its arguments in parentheses: write {expected}"),
        );
    }
    lists
}

/// Parses the struct's attributes; errors go to `cx`.
pub(crate) fn struct_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> StructAttrs {
    let mut out = StructAttrs::default();
    for attr in session_attrs(cx, attrs, "`#[session(namespace = \"...\")]`") {
        let result = attr.parse_nested_meta(|meta| {
            let Some(name) = attr_name(&meta) else {
                return Err(meta.error(
                    "unknown session attribute; expected `namespace = \"...\"` or `crate = \"...\"`",
                ));
            };
            if name == "namespace" {
                match string_value(&meta, &name, "cart") {
                    Ok(lit) => set_once(cx, &mut out.namespace, &name, lit),
                    Err(err) => cx.push(err),
                }
                Ok(())
            } else if name == "crate" {
                match string_value(&meta, &name, "sessions").and_then(|lit| {
                    lit.parse::<Path>().map_err(|_| {
                        syn::Error::new_spanned(
                            &lit,
                            "`crate` takes the path of the session-kit crate as a string: write \
                             `#[session(crate = \"sessions\")]` for a dependency renamed to `sessions`",
                        )
                    })
                }) {
                    Ok(path) => set_once(cx, &mut out.krate, &name, path),
                    Err(err) => cx.push(err),
                }
                Ok(())
            } else {
                if meta.input.peek(syn::Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                }
                cx.error_spanned_by(
                    &name,
                    format!(
                        "unknown session attribute `{name}`; expected `namespace = \"...\"` or \
                         `crate = \"...\"`"
                    ),
                );
                Ok(())
            }
        });
        if let Err(err) = result {
            cx.push(err);
        }
    }
    out
}

/// Parses a field's attributes; errors go to `cx`.
pub(crate) fn field_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in session_attrs(
        cx,
        attrs,
        "`#[session(skip)]`, or another of `rename`, `default`, `skip`, `counter`",
    ) {
        let result = attr.parse_nested_meta(|meta| {
            let Some(name) = attr_name(&meta) else {
                return Err(meta.error(
                    "unknown session field attribute; expected one of `rename`, `default`, `skip`, `counter`",
                ));
            };
            match name.to_string().as_str() {
                "rename" => match string_value(&meta, &name, "key") {
                    Ok(lit) => set_once(cx, &mut out.rename, &name, lit),
                    Err(err) => cx.push(err),
                },
                "default" => match path_value(&meta, &name) {
                    Ok(path) => set_once(cx, &mut out.default, &name, path),
                    Err(err) => cx.push(err),
                },
                "skip" => match flag(&meta, &name) {
                    Ok(()) => set_once(cx, &mut out.skip, &name, ()),
                    Err(err) => cx.push(err),
                },
                "counter" => match flag(&meta, &name) {
                    Ok(()) => set_once(cx, &mut out.counter, &name, ()),
                    Err(err) => cx.push(err),
                },
                _ => {
                    if meta.input.peek(syn::Token![=]) {
                        let _: Expr = meta.value()?.parse()?;
                    }
                    cx.error_spanned_by(
                        &name,
                        format!(
                            "unknown session field attribute `{name}`; expected one of `rename`, `default`, `skip`, `counter`"
                        ),
                    );
                }
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.push(err);
        }
    }
    out
}
