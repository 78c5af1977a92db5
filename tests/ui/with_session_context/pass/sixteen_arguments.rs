//! The macro adds no argument of its own: a handler keeps axum's limit of 16.
#![deny(warnings, clippy::pedantic)]

use axum::http::{HeaderMap, Method, Uri, Version};
use sessionscope::with_session_context;

#[with_session_context]
#[allow(clippy::too_many_arguments, clippy::many_single_char_names)]
async fn handler(
    a1: Method,
    a2: Uri,
    a3: Version,
    a4: HeaderMap,
    a5: Method,
    a6: Uri,
    a7: Version,
    a8: HeaderMap,
    a9: Method,
    a10: Uri,
    a11: Version,
    a12: HeaderMap,
    a13: Method,
    a14: Uri,
    a15: Version,
    a16: HeaderMap,
) -> String {
    format!("{a1}{a2}{a3:?}{a4:?}{a5}{a6}{a7:?}{a8:?}{a9}{a10}{a11:?}{a12:?}{a13}{a14}{a15:?}{a16:?}")
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
