//! Parses `#[session(...)]` attributes into typed values.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, ExprPath, Ident, Lit, LitStr, Path};

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

fn session_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("session"))
}

/// Parses the struct's attributes; errors go to `cx`.
pub(crate) fn struct_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> StructAttrs {
    let mut out = StructAttrs::default();
    for attr in session_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let Some(name) = attr_name(&meta) else {
                return Err(meta.error("unknown session attribute; expected `namespace = \"...\"`"));
            };
            if name == "namespace" {
                match string_value(&meta, &name, "cart") {
                    Ok(lit) => set_once(cx, &mut out.namespace, &name, lit),
                    Err(err) => cx.push(err),
                }
                Ok(())
            } else {
                if meta.input.peek(syn::Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                }
                cx.error_spanned_by(
                    &name,
                    format!("unknown session attribute `{name}`; expected `namespace = \"...\"`"),
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
    for attr in session_attrs(attrs) {
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
                "skip" => set_once(cx, &mut out.skip, &name, ()),
                "counter" => set_once(cx, &mut out.counter, &name, ()),
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
