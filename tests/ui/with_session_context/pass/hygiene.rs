//! User code that shadows `Option`, `Result`, `Box` and declares `mod tracing` and
//! `mod sessionscope` items of its own: the generated code still resolves.
#![deny(warnings, clippy::pedantic)]
#![allow(dead_code)]

use ::axum::Json;
use ::axum::routing::post;
use sessionscope::{SessionIdSource, with_session_context};

struct Option;
struct Result;
struct Box;
struct Some;
struct None;
struct Future;
struct Response;

mod tracing {
    pub fn span() {}
    pub struct Level;
    pub struct Span;
}

mod core {}
mod std {}
mod axum {}

#[derive(serde::Deserialize, SessionIdSource)]
struct Body {
    #[session_id]
    session_id: String,
    #[investigation_id]
    investigation_id: ::std::option::Option<String>,
}

#[with_session_context(require_session, operation = "hygiene", phase = "p")]
async fn handler(Json(body): Json<Body>) -> String {
    body.session_id
}

fn main() {
    let _app: ::axum::Router = ::axum::Router::new().route("/", post(handler));
}
