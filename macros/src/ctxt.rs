//! Collects errors so that the user sees every problem at once, each under its own token.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

#[derive(Default)]
pub struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    /// Records an error spanning `tokens`.
    pub fn error(&mut self, tokens: impl ToTokens, msg: impl Display) {
        self.errors.push(syn::Error::new_spanned(tokens, msg));
    }

    /// Records an error made elsewhere.
    pub fn push(&mut self, e: syn::Error) {
        self.errors.push(e);
    }

    /// How many errors so far: a parser compares it before and after to tell whether
    /// its part was clean.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// `Ok` without errors, else all of them as `compile_error!` invocations.
    pub fn check(self) -> Result<(), TokenStream> {
        if self.errors.is_empty() {
            return Ok(());
        }
        Err(self
            .errors
            .into_iter()
            .map(syn::Error::into_compile_error)
            .collect())
    }
}
