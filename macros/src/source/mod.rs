//! `#[derive(SessionIdSource)]`: parse the struct, validate its markers, expand the impl.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::errors::{Errors, with_fallback};

/// The derive: on any error, the errors plus an impl that compiles, so handlers that use
/// the type report nothing more.
pub(crate) fn expand(input: &syn::DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let model = parse::input(input, &mut errors);
    validate::input(&model, &mut errors);
    match errors.finish() {
        Ok(()) => expand::implementation(&model),
        Err(error) => with_fallback(&error, expand::stub(&model)),
    }
}
