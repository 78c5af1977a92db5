//! `#[session_body]` marks a session source, not the request body: on a `Query` that is not
//! the last argument, beside a `HeaderMap` or a body of its own.
#![deny(warnings, clippy::pedantic)]

use axum::Json;
use axum::extract::Query;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use sessionscope::{SessionIdSource, with_session_context};

#[derive(serde::Deserialize, SessionIdSource)]
struct Page {
    #[session_id]
    sid: Option<String>,
}

#[with_session_context]
async fn before_headers(#[session_body] page: Query<Page>, headers: HeaderMap) -> String {
    format!("{:?} {}", page.0.sid, headers.len())
}

#[with_session_context]
async fn beside_a_body(#[session_body] page: Query<Page>, Json(value): Json<serde_json::Value>) -> String {
    format!("{:?} {value}", page.0.sid)
}

fn main() {
    let _app: axum::Router =
        axum::Router::new().route("/headers", get(before_headers)).route("/body", post(beside_a_body));
}
