//! `#[with_session_context(...)]`: parse the options and the handler, validate, expand.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::errors::{Errors, with_fallback};

/// The whole attribute: on any error, the errors plus the user's item as it was (minus our
/// parameter markers), so nothing else fails because of us.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = parse::options(args, &mut errors);
    let handler = match parse::handler(item.clone()) {
        Ok(handler) => handler,
        Err(error) => {
            errors.push(error);
            let error = errors.finish().expect_err("just pushed");
            return with_fallback(&error, item);
        }
    };
    validate::options(&options, &mut errors);
    validate::handler(&handler, &mut errors);
    match errors.finish() {
        Ok(()) => expand::handler(&options, &handler),
        Err(error) => with_fallback(&error, handler.original()),
    }
}
