//! `level` is read in any case, as tracing reads it.
#![deny(warnings, clippy::pedantic)]

use sessionscope::with_session_context;

#[with_session_context(level = "DEBUG")]
async fn upper() -> &'static str {
    "ok"
}

#[with_session_context(level = "Warn")]
async fn mixed() -> &'static str {
    "ok"
}

fn main() {
    let _app: axum::Router =
        axum::Router::new().route("/upper", axum::routing::get(upper)).route("/mixed", axum::routing::get(mixed));
}
