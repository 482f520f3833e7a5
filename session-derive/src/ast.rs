//! The intermediate form: the struct, its fields, their keys and defaults.
//! Every item keeps the syn node it came from, for spanned errors.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type};

use crate::attr::{self, Attr, FieldAttrs, StructAttrs};
use crate::ctxt::Ctxt;

/// A struct deriving `Session`.
pub(crate) struct Container<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: StructAttrs,
    pub(crate) fields: Vec<Field<'a>>,
}

/// One field of it.
pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: FieldAttrs,
    /// Whether its attributes parsed without an error, so that what they
    /// mean (skipped, a counter, a default function) can be trusted.
    pub(crate) attrs_ok: bool,
}

impl<'a> Container<'a> {
    /// Reads the input; `None` (with an error in `cx`) when it is not a struct
    /// with named fields.
    pub(crate) fn from_ast(cx: &mut Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let what = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => {
                    let attrs = attr::struct_attrs(cx, &input.attrs);
                    let fields = named
                        .named
                        .iter()
                        .filter_map(|field| {
                            let ident = field.ident.as_ref()?;
                            let errors_before = cx.count();
                            let attrs = attr::field_attrs(cx, &field.attrs);
                            Some(Field {
                                original: field,
                                ident,
                                attrs,
                                attrs_ok: cx.count() == errors_before,
                            })
                        })
                        .collect();
                    return Some(Container {
                        original: input,
                        ident: &input.ident,
                        attrs,
                        fields,
                    });
                }
                Fields::Unnamed(fields) => {
                    cx.error_spanned_by(
                        fields,
                        "`#[derive(Session)]` needs named fields, whose names become the session keys; \
                         write `struct Name { field: Type }` instead of a tuple struct",
                    );
                    return None;
                }
                Fields::Unit => "a unit struct",
            },
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`#[derive(Session)]` works on structs with named fields, not enums; \
                     wrap the enum in a field: `struct Name { state: MyEnum }`",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(Session)]` works on structs with named fields, not unions",
                );
                return None;
            }
        };
        cx.error_spanned_by(
            &input.ident,
            format!(
                "`#[derive(Session)]` needs named fields, and this is {what}; \
                 write `struct {} {{ field: Type }}`",
                input.ident
            ),
        );
        None
    }

    /// The namespace: the attribute's value, or the struct's name in
    /// snake_case.
    pub(crate) fn namespace(&self) -> String {
        match &self.attrs.namespace {
            Some(Attr { value, .. }) => value.value(),
            None => snake_case(&self.ident.unraw().to_string()),
        }
    }
}

impl Field<'_> {
    /// The field's type, whose span every bound check points at.
    pub(crate) fn ty(&self) -> &Type {
        &self.original.ty
    }

    /// The name the field is stored under, inside its namespace.
    pub(crate) fn name(&self) -> String {
        match &self.attrs.rename {
            Some(Attr { value, .. }) => value.value(),
            None => self.ident.unraw().to_string(),
        }
    }

    /// The `rename` literal, if any, for spans.
    pub(crate) fn rename(&self) -> Option<&LitStr> {
        self.attrs.rename.as_ref().map(|a| &a.value)
    }

    /// The `default = path`, if any.
    pub(crate) fn default(&self) -> Option<&Path> {
        self.attrs.default.as_ref().map(|a| &a.value)
    }

    pub(crate) fn is_skipped(&self) -> bool {
        self.attrs.skip.is_some()
    }

    pub(crate) fn is_counter(&self) -> bool {
        self.attrs.counter.is_some()
    }
}

use syn::ext::IdentExt as _;

/// `ShopCart` → `shop_cart`, `HTTPState` → `http_state`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) => p.is_uppercase() && next.is_some_and(char::is_lowercase),
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn struct_names_become_snake_case() {
        assert_eq!(snake_case("Visits"), "visits");
        assert_eq!(snake_case("ShopCart"), "shop_cart");
        assert_eq!(snake_case("HTTPState"), "http_state");
        assert_eq!(snake_case("User2Fa"), "user2_fa");
        assert_eq!(snake_case("Already_Snake"), "already_snake");
    }
}
