//! No options, no body: a plain handler that reads the context.
#![deny(warnings, clippy::pedantic)]

use axum::response::IntoResponse;
use axum::routing::get;
use sessionscope::with_session_context;

#[with_session_context]
async fn hello() -> impl IntoResponse {
    sessionscope::user_id().unwrap_or_else(|| "stranger".to_owned())
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", get(hello));
}
