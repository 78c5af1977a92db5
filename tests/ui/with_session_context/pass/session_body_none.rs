//! `#[session_body(none)]`: a body that carries no session id, of a type no one can derive
//! `SessionIdSource` on.
#![deny(warnings, clippy::pedantic)]

use axum::Json;
use axum::routing::post;
use sessionscope::with_session_context;

#[derive(serde::Deserialize)]
struct Item {
    name: String,
}

#[with_session_context(require_session)]
async fn import(#[session_body(none)] Json(items): Json<Vec<Item>>) -> String {
    items.into_iter().map(|item| item.name).collect()
}

#[with_session_context]
async fn optional(#[session_body(none)] items: Option<Json<Vec<Item>>>) -> String {
    items.map_or(0, |items| items.0.len()).to_string()
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/import", post(import)).route("/optional", post(optional));
}
