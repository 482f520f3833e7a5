//! Collects every error of one expansion, so they are all reported at once.

use std::fmt::Display;

use quote::ToTokens;

/// The errors found so far.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Option<syn::Error>,
    count: usize,
}

impl Ctxt {
    /// Records an error spanned on `tokens`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&mut self, tokens: T, message: M) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records a syn error.
    pub(crate) fn push(&mut self, err: syn::Error) {
        self.count += 1;
        match &mut self.errors {
            Some(errors) => errors.combine(err),
            None => self.errors = Some(err),
        }
    }

    /// How many errors were recorded so far: compare two counts to tell
    /// whether a step found any.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// All errors, combined, if there were any.
    pub(crate) fn check(self) -> Result<(), syn::Error> {
        match self.errors {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}
