//! Turns a checked [`Container`] into the `SessionData` impl. Nothing here can
//! fail: every error is found before.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{DeriveInput, Ident};

use crate::ast::{Container, Field};
use crate::ctxt::Ctxt;
use crate::valid;

/// The whole expansion: the impl, or the errors and a stub impl.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let cont = Container::from_ast(&mut cx, input);
    if let Some(cont) = &cont {
        valid::check(&mut cx, cont);
    }
    let private = match cont.as_ref().and_then(|c| c.attrs.krate.as_ref()) {
        Some(krate) => {
            let path = &krate.value;
            quote!(#path::__private)
        }
        None => quote!(::session_kit::__private),
    };
    match (cx.check(), cont) {
        (Ok(()), Some(cont)) => expand(&cont, &private),
        (Err(err), cont) => {
            let mut out = err.to_compile_error();
            out.extend(stub(input, &private));
            if let Some(cont) = &cont {
                out.extend(check_field_types(cont, &private));
            }
            out
        }
        // `from_ast` returns `None` only after recording an error.
        (Ok(()), None) => stub(input, &private),
    }
}

/// An impl that stands in when the input has errors, so the user sees those
/// errors and not a cascade of "`SessionData` is not implemented".
fn stub(input: &DeriveInput, private: &TokenStream) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    quote! {
        #[automatically_derived]
        impl #private::SessionData for #ident {
            const NAMESPACE: &'static str = "";
            type __Snapshot = ();
            fn __load(_: &#private::Fields<'_>) -> (Self, ()) {
                ::core::unreachable!()
            }
            fn __diff(&self, _: &(), _: &mut #private::Diff<'_>) {}
        }
    }
}

/// When the struct has attribute errors, the bound checks of the fields whose
/// own attributes are sound still run, so a field type that is not
/// `Serialize` is reported in the same build as a misspelt attribute.
fn check_field_types(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    if !cont.original.generics.params.is_empty() {
        return TokenStream::new();
    }
    let checks = cont
        .fields
        .iter()
        .enumerate()
        .filter(|(_, field)| field.attrs_ok && !(field.is_skipped() && field.is_counter()))
        .map(|(index, field)| {
            let var = format_ident!("__field{}", index);
            let loaded = format_ident!("__loaded{}", index);
            let code = field_code(
                private,
                field,
                &var,
                &loaded,
                "",
                quote!(&#var),
                quote!(&#loaded),
            );
            let diff = code.diff;
            let load = code.load;
            quote! { #load #diff }
        });
    quote! {
        const _: () = {
            // Never called: it only makes rustc check each field's bounds.
            #[allow(dead_code)]
            fn __check_field_types(
                __fields: &#private::Fields<'_>,
                __diff: &mut #private::Diff<'_>,
            ) {
                #(#checks)*
            }
        };
    }
}

/// The expression that gives a field's default value: the `default = path`
/// function, or `Default::default`, spanned on what the user wrote.
fn default_expr(private: &TokenStream, field: &Field<'_>) -> TokenStream {
    let ty = field.ty();
    match field.default() {
        Some(path) => {
            let private = respan(private, path.span());
            quote_spanned! {path.span()=>
                #private::default_fn::<#ty, _>(#path)
            }
        }
        None => {
            let private = respan(private, ty.span());
            quote_spanned! {ty.span()=>
                #private::default_of::<#ty>
            }
        }
    }
}

/// The path to the facade's `__private`, with every token spanned at `span`,
/// so that an unmet bound in code made with `quote_spanned!` points at the
/// user's field, not at the derive.
fn respan(private: &TokenStream, span: proc_macro2::Span) -> TokenStream {
    private
        .clone()
        .into_iter()
        .map(|mut tree| {
            tree.set_span(span);
            tree
        })
        .collect()
}

/// One field's share of the generated code.
struct FieldCode {
    /// Statements that bind `var` (and, for a counter, `loaded`) from
    /// `__fields`.
    load: TokenStream,
    /// Statements that record the field's change into `__diff`.
    diff: TokenStream,
    /// Whether the field is a counter, whose loaded value is kept.
    counter: bool,
}

/// The load and diff code of one field; `value` and `loaded_ref` are the
/// expressions the diff reads the current value and the loaded count from.
fn field_code(
    private: &TokenStream,
    field: &Field<'_>,
    var: &Ident,
    loaded: &Ident,
    key: &str,
    value: TokenStream,
    loaded_ref: TokenStream,
) -> FieldCode {
    let ty = field.ty();
    let default = default_expr(private, field);
    let private = &respan(private, ty.span());
    if field.is_skipped() {
        FieldCode {
            load: quote! {
                let #var: #ty = #private::DefaultFn::call(&#default);
            },
            diff: TokenStream::new(),
            counter: false,
        }
    } else if field.is_counter() {
        FieldCode {
            load: quote_spanned! {ty.span()=>
                let (#var, #loaded) =
                    #private::load_counter::<#ty>(__fields, #key, #default);
            },
            diff: quote_spanned! {ty.span()=>
                #private::diff_counter::<#ty>(
                    #value, #loaded_ref, #key, #default, __diff,
                );
            },
            counter: true,
        }
    } else {
        FieldCode {
            load: quote_spanned! {ty.span()=>
                let #var = #private::load_field::<#ty>(__fields, #key, #default);
            },
            diff: quote_spanned! {ty.span()=>
                #private::diff_field::<#ty>(#value, #key, #default, __diff);
            },
            counter: false,
        }
    }
}

fn expand(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let ident = cont.ident;
    let namespace = cont.namespace();
    let type_name = ident.unraw().to_string();

    let mut loads = Vec::new();
    let mut diffs = Vec::new();
    let mut inits = Vec::new();
    let mut snapshot_types = Vec::new();
    let mut snapshot_vars = Vec::new();

    for (index, field) in cont.fields.iter().enumerate() {
        let member = field.ident;
        let var = format_ident!("__field{}", index);
        let loaded = format_ident!("__loaded{}", index);
        let key = format!("{namespace}.{}", field.name());
        let slot = syn::Index::from(snapshot_vars.len());
        let code = field_code(
            private,
            field,
            &var,
            &loaded,
            &key,
            quote!(&__this.#member),
            quote!(&__snapshot.#slot),
        );
        if code.counter {
            let ty = field.ty();
            snapshot_types.push(quote!(#ty));
            snapshot_vars.push(loaded);
        }
        loads.push(code.load);
        diffs.push(code.diff);
        inits.push(quote!(#member: #var));
    }

    // The loading and the diffing code of every field are two closures in one
    // function, not the bodies of the two trait methods: rustc reports a
    // missing bound once per body and span, so a field type that is not
    // `Serialize` (or a counter that is not an integer) is one error, not two.
    // The closures capture nothing, so they are plain function pointers, and
    // the call through them inlines away.
    quote! {
        const _: () = {
            type __Snapshot = (#(#snapshot_types,)*);

            #[inline]
            fn __field_code() -> (
                fn(&#private::Fields<'_>) -> (#ident, __Snapshot),
                fn(&#ident, &__Snapshot, &mut #private::Diff<'_>),
            ) {
                (
                    |__fields| {
                        #(#loads)*
                        (#ident { #(#inits,)* }, (#(#snapshot_vars,)*))
                    },
                    |__this, __snapshot, __diff| {
                        #(#diffs)*
                    },
                )
            }

            #[automatically_derived]
            impl #private::SessionData for #ident {
                const NAMESPACE: &'static str = #namespace;
                type __Snapshot = __Snapshot;

                fn __load(
                    __fields: &#private::Fields<'_>,
                ) -> (Self, Self::__Snapshot) {
                    (__field_code().0)(__fields)
                }

                fn __diff(
                    &self,
                    __snapshot: &Self::__Snapshot,
                    __diff: &mut #private::Diff<'_>,
                ) {
                    (__field_code().1)(self, __snapshot, __diff)
                }
            }

            #private::inventory::submit! {
                #private::NamespaceEntry {
                    namespace: #namespace,
                    type_name: ::core::concat!(::core::module_path!(), "::", #type_name),
                }
            }
        };
    }
}
