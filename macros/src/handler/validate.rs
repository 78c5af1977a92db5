//! Checks that need no type information: the handler's shape and the options' values.

use quote::ToTokens;

use super::parse::{BODY_MARKER, Handler, Marker, Options, Param, is_none};
use crate::errors::{Errors, set_once};

/// Axum implements `Handler` for functions of at most this many arguments.
const AXUM_MAX_ARGS: usize = 16;

/// The levels `level = "..."` accepts.
pub(crate) const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

pub(crate) fn options(options: &Options, errors: &mut Errors) {
    // Any case, as tracing's own `Level::from_str` accepts.
    if let Some(level) = options.level.as_ref().filter(|l| !LEVELS.contains(&l.value().to_lowercase().as_str())) {
        errors.at(
            level,
            format!(
                "unknown level `{}`; use one of \"trace\", \"debug\", \"info\", \"warn\", \"error\"",
                level.value()
            ),
        );
    }
    if let Some(operation) = &options.operation {
        non_empty_text(operation, "operation", errors);
    }
    if let Some(phase) = &options.phase {
        non_empty_text(phase, "phase", errors);
    }
}

fn non_empty_text(lit: &syn::LitStr, name: &str, errors: &mut Errors) {
    let value = lit.value();
    if value.is_empty() {
        errors.at(lit, format!("`{name}` cannot be empty; give it a name or remove the option"));
    } else if value.chars().any(char::is_control) {
        errors.at(lit, format!("`{name}` cannot hold control characters (it is written to logs)"));
    }
}

pub(crate) fn handler(handler: &Handler, errors: &mut Errors) {
    signature(&handler.sig, errors);
    written_twice(handler, errors);
    for param in &handler.params {
        if let syn::FnArg::Receiver(receiver) = &param.arg {
            errors.at(
                receiver,
                format!(
                    "a handler cannot take `self`: axum calls handlers as plain functions; move `{}` out of the `impl` block and take what it needs as extractors",
                    handler.sig.ident
                ),
            );
        }
        markers(param, errors);
    }
    if let Some(extra) = handler.params.get(AXUM_MAX_ARGS) {
        errors.at(
            &extra.arg,
            format!("too many arguments: axum handlers take at most {AXUM_MAX_ARGS}; group extractors into a tuple"),
        );
    }
    body(handler, errors);
}

/// The attribute again below this one (`#[with_session_context]` or a path ending in it)
/// would give one request two contexts, each with its own correlation id.
fn written_twice(handler: &Handler, errors: &mut Errors) {
    for attr in &handler.attrs {
        if attr.path().segments.last().is_some_and(|segment| segment.ident == "with_session_context") {
            errors.at(
                attr,
                "`#[with_session_context]` is written twice: one request would get two contexts with two correlation ids; remove one and put every option in the other",
            );
        }
    }
}

fn signature(sig: &syn::Signature, errors: &mut Errors) {
    let name = &sig.ident;
    if let Some(constness) = &sig.constness {
        errors.at(constness, format!("a handler cannot be a `const fn`; remove `const` and write `async fn {name}`"));
    } else if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token,
            format!("`#[with_session_context]` needs an `async fn` (axum handlers are async); write `async fn {name}`"),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.at(unsafety, "a handler cannot be an `unsafe fn`; remove `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, "a handler cannot have an `extern` ABI; remove it");
    }
}

fn markers(param: &Param, errors: &mut Errors) {
    let mut seen = None;
    for marker in &param.markers {
        let well_formed = match &marker.meta {
            syn::Meta::Path(_) => true,
            syn::Meta::List(list) => is_none(&list.tokens),
            syn::Meta::NameValue(_) => false,
        };
        if !well_formed {
            errors.at(
                &marker.meta,
                format!(
                    "`#[{BODY_MARKER}]` takes nothing or `none`: `#[{BODY_MARKER}]` reads the session id from this argument, `#[{BODY_MARKER}(none)]` never does"
                ),
            );
        }
        set_once(errors, &mut seen, (), marker, || format!("duplicate `#[{BODY_MARKER}]`; give it once"));
    }
}

/// At most one request body (a `Json` argument), and it comes last; at most one argument
/// marked `#[session_body]`; `#[session_body(none)]` only where a body could be read.
fn body(handler: &Handler, errors: &mut Errors) {
    let last = handler.params.len().saturating_sub(1);
    let bodies: Vec<usize> = (0..handler.params.len()).filter(|&i| is_json_param(&handler.params[i])).collect();
    let mut kept: Option<String> = None;
    for &index in &bodies {
        let param = &handler.params[index];
        let this = name(param);
        let first = kept.clone().unwrap_or_default();
        let duplicate = || {
            format!(
                "two body arguments (`{first}` and `{this}`): axum reads the request body once, through the last argument; keep one"
            )
        };
        set_once(errors, &mut kept, this.clone(), &param.arg, duplicate);
    }
    if let [index] = bodies[..] {
        if index != last {
            let param = &handler.params[index];
            errors.at(
                &param.arg,
                format!(
                    "the body argument `{}` must be the last argument: axum reads the body through the last one; move it to the end",
                    name(param)
                ),
            );
        }
    }
    let mut marked: Option<String> = None;
    for (index, param) in handler.params.iter().enumerate() {
        match param.marker() {
            Marker::Read => {
                let this = name(param);
                let first = marked.clone().unwrap_or_default();
                let duplicate = || {
                    format!(
                        "two arguments marked `#[{BODY_MARKER}]` (`{first}` and `{this}`): the marker names the one extractor the session id is read from; keep it on one"
                    )
                };
                set_once(errors, &mut marked, this.clone(), &param.markers[0], duplicate);
            }
            Marker::Skip if index != last && !is_json_param(param) => errors.at(
                &param.markers[0],
                format!(
                    "`#[{BODY_MARKER}(none)]` goes on the request body (the last argument), to say no session id is read from it; `{}` is not read anyway, so remove the marker",
                    name(param)
                ),
            ),
            Marker::Skip | Marker::Unmarked => {}
        }
    }
}

fn name(param: &Param) -> String {
    param.typed().map(|t| t.pat.to_token_stream().to_string()).unwrap_or_default()
}

/// How the session id is read from one argument.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// The type must implement `SessionIdSource` (a compile error names the fix otherwise):
    /// arguments marked `#[session_body]` and bodies written as `Json<T>`.
    Required,
    /// Read when the type implements `SessionIdSource`, else nothing: the last argument
    /// (axum's request body) when its type is not visibly `Json`, such as an alias.
    IfSource,
}

/// The arguments the session id is read from, in argument order.
pub(crate) fn sources(handler: &Handler) -> Vec<(usize, Read)> {
    let last = handler.params.len().checked_sub(1);
    handler
        .params
        .iter()
        .enumerate()
        .filter_map(|(index, param)| match param.marker() {
            Marker::Read => Some((index, Read::Required)),
            Marker::Skip => None,
            Marker::Unmarked if is_json_param(param) => Some((index, Read::Required)),
            Marker::Unmarked if Some(index) == last && param.typed().is_some() => Some((index, Read::IfSource)),
            Marker::Unmarked => None,
        })
        .collect()
}

fn is_json_param(param: &Param) -> bool {
    param.typed().is_some_and(|typed| is_json_body(&typed.ty))
}

/// A body written as `Json<T>` (under any path), or `Option`/`Result` of one: the forms
/// where a missing `SessionIdSource` can only be a mistake.
fn is_json_body(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => path.path.segments.last().is_some_and(|segment| {
            let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else { return false };
            if segment.ident == "Json" {
                return true;
            }
            let wraps = segment.ident == "Option" || segment.ident == "Result";
            wraps && matches!(arguments.args.first(), Some(syn::GenericArgument::Type(inner)) if is_json_body(inner))
        }),
        syn::Type::Paren(inner) => is_json_body(&inner.elem),
        syn::Type::Group(inner) => is_json_body(&inner.elem),
        _ => false,
    }
}
