//! The body argument found by type (`Json<T>`, any path, `serde_json::Value`) or marked with
//! `#[session_body]` (another extractor whose type implements `SessionIdSource`).
#![deny(warnings, clippy::pedantic)]

use axum::extract::Query;
use axum::routing::{get, post};
use serde::Deserialize;
use sessionscope::{SessionIdSource, with_session_context};

#[derive(Deserialize, SessionIdSource)]
struct Params {
    #[session_id]
    sid: Option<String>,
}

#[with_session_context(require_session)]
async fn marked(#[session_body] query: Query<Params>) -> String {
    query.0.sid.unwrap_or_default()
}

#[with_session_context(level = "info")]
async fn untyped(body: axum::Json<serde_json::Value>) -> String {
    body.0.to_string()
}

#[with_session_context]
async fn mutable(mut body: axum::Json<serde_json::Value>) -> String {
    body.0.take().to_string()
}

fn main() {
    let _app: axum::Router = axum::Router::new()
        .route("/marked", get(marked))
        .route("/untyped", post(untyped))
        .route("/mutable", post(mutable));
}
