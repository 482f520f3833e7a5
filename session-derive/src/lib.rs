//! `#[derive(Session)]`: the derive of session-kit.
//!
//! Use it through the `session-kit` crate, which re-exports it with the
//! runtime it expands to. See `session_kit::Session` for the attributes.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod valid;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `session_kit::SessionData` for a struct with named fields, so that
/// `Session<T>` can load it, track its changes and save them field by field.
///
/// Struct attribute: `#[session(namespace = "...")]`. Field attributes:
/// `#[session(rename = "...")]`, `#[session(default = path::to::fn)]`,
/// `#[session(skip)]`, `#[session(counter)]`.
#[proc_macro_derive(Session, attributes(session))]
pub fn derive_session(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
