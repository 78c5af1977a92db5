//! `#[axum::debug_handler]` below the macro checks the handler the macro generates.
#![deny(warnings, clippy::pedantic)]

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use sessionscope::{SessionIdSource, with_session_context};

#[derive(serde::Deserialize, SessionIdSource)]
struct Body {
    #[session_id]
    session_id: Option<String>,
}

#[derive(Clone)]
struct AppState;

#[with_session_context(require_user)]
#[axum::debug_handler(state = AppState)]
async fn below(State(_state): State<AppState>, Json(body): Json<Body>) -> String {
    body.session_id.unwrap_or_default()
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/below", post(below)).with_state(AppState);
}
