//! Errors collected across a whole macro input and reported together.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Every error found so far, each at its own token.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Records an error spanning `at`.
    pub(crate) fn at(&mut self, at: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(at, message));
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `Err` with every recorded error, or `Ok` when there were none.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Fills `slot` once. A second value is an error at `at`, worded by `duplicate`; the first
/// value stays. Used for every option and marker that may appear only once.
pub(crate) fn set_once<T>(
    errors: &mut Errors,
    slot: &mut Option<T>,
    value: T,
    at: impl ToTokens,
    duplicate: impl FnOnce() -> String,
) {
    if slot.is_some() {
        errors.at(at, duplicate());
    } else {
        *slot = Some(value);
    }
}

/// The compile errors followed by `fallback`, so the user sees the real error and nothing
/// that only follows from the macro having failed.
pub(crate) fn with_fallback(error: &syn::Error, fallback: impl ToTokens) -> TokenStream {
    let mut tokens = error.to_compile_error();
    fallback.to_tokens(&mut tokens);
    tokens
}

/// `::sessionscope`, or the path given with `crate = ...`.
pub(crate) fn runtime_path(krate: Option<&syn::Path>) -> syn::Path {
    krate.cloned().unwrap_or_else(|| syn::parse_quote!(::sessionscope))
}
