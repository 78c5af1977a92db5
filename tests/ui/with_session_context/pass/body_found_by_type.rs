//! The request body is found by its type, however it is written: `Option<Json<B>>`,
//! `Result<Json<B>, _>`, a renamed `Json`, a type alias. `tests/it` sends each one a request.
#![deny(warnings, clippy::pedantic)]

use axum::Json as JsonBody;
use axum::extract::rejection::JsonRejection;
use axum::routing::post;
use sessionscope::{SessionIdSource, with_session_context};

#[derive(serde::Deserialize, SessionIdSource)]
struct Body {
    #[session_id]
    session_id: String,
}

type Request = axum::Json<Body>;

#[with_session_context(require_session)]
async fn optional(body: Option<axum::Json<Body>>) -> String {
    body.map(|b| b.0.session_id).unwrap_or_default()
}

#[with_session_context(require_session)]
async fn result(body: Result<axum::Json<Body>, JsonRejection>) -> String {
    body.map(|b| b.0.session_id).unwrap_or_default()
}

#[with_session_context(require_session)]
async fn renamed(JsonBody(body): JsonBody<Body>) -> String {
    body.session_id
}

#[with_session_context(require_session)]
async fn aliased(body: Request) -> String {
    body.0.session_id
}

fn main() {
    let _app: axum::Router = axum::Router::new()
        .route("/optional", post(optional))
        .route("/result", post(result))
        .route("/renamed", post(renamed))
        .route("/aliased", post(aliased));
}
