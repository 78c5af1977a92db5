//! Checks that need no type information: the handler's shape and the options' values.

use quote::ToTokens;

use super::parse::{BODY_MARKER, Handler, Options, Param};
use crate::errors::{Errors, set_once};

/// Axum implements `Handler` for functions of at most this many arguments.
const AXUM_MAX_ARGS: usize = 16;

/// The levels `level = "..."` accepts.
pub(crate) const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

pub(crate) fn options(options: &Options, errors: &mut Errors) {
    if let Some(level) = options.level.as_ref().filter(|l| !LEVELS.contains(&l.value().as_str())) {
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
    if let Some(extra) = handler.params.get(AXUM_MAX_ARGS - 1) {
        errors.at(
            &extra.arg,
            format!(
                "too many arguments: axum handlers take at most {AXUM_MAX_ARGS} and `#[with_session_context]` adds one, so this handler can take at most {}; group extractors into a tuple",
                AXUM_MAX_ARGS - 1
            ),
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
        if !matches!(marker.meta, syn::Meta::Path(_)) {
            errors.at(&marker.meta, format!("`#[{BODY_MARKER}]` takes no arguments; write just `#[{BODY_MARKER}]`"));
        }
        set_once(errors, &mut seen, (), marker, || format!("duplicate `#[{BODY_MARKER}]`; give it once"));
    }
}

/// At most one body argument, and it comes last.
fn body(handler: &Handler, errors: &mut Errors) {
    let bodies = body_params(handler);
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
        if index + 1 != handler.params.len() {
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
}

fn name(param: &Param) -> String {
    param.typed().map(|t| t.pat.to_token_stream().to_string()).unwrap_or_default()
}

/// The arguments the session id may be read from: typed `Json<..>`, or marked `#[session_body]`.
pub(crate) fn body_params(handler: &Handler) -> Vec<usize> {
    handler
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.markers.is_empty() || p.typed().is_some_and(|t| is_json(&t.ty)))
        .map(|(i, _)| i)
        .collect()
}

/// `Json<T>` under any path (`axum::Json<T>`, `Json<T>`).
fn is_json(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => path.path.segments.last().is_some_and(|segment| {
            segment.ident == "Json" && matches!(segment.arguments, syn::PathArguments::AngleBracketed(_))
        }),
        syn::Type::Paren(inner) => is_json(&inner.elem),
        syn::Type::Group(inner) => is_json(&inner.elem),
        _ => false,
    }
}
