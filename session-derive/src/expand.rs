//! Turns a checked [`Container`] into the `SessionData` impl. Nothing here can
//! fail: every error is found before.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::DeriveInput;

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
    match (cx.check(), cont) {
        (Ok(()), Some(cont)) => expand(&cont),
        (Err(err), _) => {
            let mut out = err.to_compile_error();
            out.extend(stub(input));
            out
        }
        // `from_ast` returns `None` only after recording an error.
        (Ok(()), None) => stub(input),
    }
}

/// An impl that stands in when the input has errors, so the user sees those
/// errors and not a cascade of "`SessionData` is not implemented".
fn stub(input: &DeriveInput) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    quote! {
        #[automatically_derived]
        impl ::session_kit::__private::SessionData for #ident {
            const NAMESPACE: &'static str = "";
            type __Snapshot = ();
            fn __load(_: &::session_kit::__private::Fields<'_>) -> (Self, ()) {
                ::core::unreachable!()
            }
            fn __diff(&self, _: &(), _: &mut ::session_kit::__private::Diff<'_>) {}
        }
    }
}

fn default_expr(field: &Field<'_>) -> TokenStream {
    let ty = field.ty;
    match field.default() {
        Some(path) => quote_spanned! {path.span()=>
            ::session_kit::__private::default_fn::<#ty, _>(#path)
        },
        None => quote_spanned! {ty.span()=>
            ::session_kit::__private::default_of::<#ty>
        },
    }
}

fn expand(cont: &Container<'_>) -> TokenStream {
    let ident = cont.ident;
    let namespace = cont.namespace();
    let type_name = ident.to_string();

    let mut loads = Vec::new();
    let mut diffs = Vec::new();
    let mut inits = Vec::new();
    let mut snapshot_types = Vec::new();
    let mut snapshot_vars = Vec::new();

    for (index, field) in cont.fields.iter().enumerate() {
        let member = field.ident;
        let ty = field.ty;
        let var = format_ident!("__field{}", index);
        let key = format!("{namespace}.{}", field.name());
        let default = default_expr(field);
        if field.is_skipped() {
            loads.push(quote! {
                let #var: #ty = ::session_kit::__private::DefaultFn::call(&#default);
            });
        } else if field.is_counter() {
            let snap = format_ident!("__loaded{}", index);
            let slot = syn::Index::from(snapshot_vars.len());
            loads.push(quote_spanned! {ty.span()=>
                let (#var, #snap) = ::session_kit::__private::load_counter::<#ty>(__fields, #key, #default);
            });
            diffs.push(quote_spanned! {ty.span()=>
                ::session_kit::__private::diff_counter::<#ty>(
                    &self.#member, &__snapshot.#slot, #key, #default, __diff,
                );
            });
            snapshot_types.push(quote!(#ty));
            snapshot_vars.push(snap);
        } else {
            loads.push(quote_spanned! {ty.span()=>
                let #var = ::session_kit::__private::load_field::<#ty>(__fields, #key, #default);
            });
            diffs.push(quote_spanned! {ty.span()=>
                ::session_kit::__private::diff_field::<#ty>(&self.#member, #key, #default, __diff);
            });
        }
        inits.push(quote!(#member: #var));
        let _ = &field.original;
    }

    quote! {
        #[automatically_derived]
        impl ::session_kit::__private::SessionData for #ident {
            const NAMESPACE: &'static str = #namespace;
            type __Snapshot = (#(#snapshot_types,)*);

            fn __load(
                __fields: &::session_kit::__private::Fields<'_>,
            ) -> (Self, Self::__Snapshot) {
                #(#loads)*
                (Self { #(#inits,)* }, (#(#snapshot_vars,)*))
            }

            fn __diff(
                &self,
                __snapshot: &Self::__Snapshot,
                __diff: &mut ::session_kit::__private::Diff<'_>,
            ) {
                let _ = __snapshot;
                #(#diffs)*
                let _ = __diff;
            }
        }

        const _: () = {
            ::session_kit::__private::inventory::submit! {
                ::session_kit::__private::NamespaceEntry {
                    namespace: #namespace,
                    type_name: ::core::concat!(::core::module_path!(), "::", #type_name),
                }
            }
        };
    }
}
