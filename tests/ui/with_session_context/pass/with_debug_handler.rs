//! `#[axum::debug_handler]` below the macro checks the function as written: its extractors
//! (the state type inferred from `State<..>` or given), its output, its future.
#![deny(warnings, clippy::pedantic)]
// `debug_handler` copies each body into a function of its own, which awaits nothing here.
#![allow(clippy::unused_async)]

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

#[with_session_context]
#[axum::debug_handler]
async fn below_inferred(State(_state): State<AppState>) -> &'static str {
    "ok"
}

fn main() {
    let _app: axum::Router =
        axum::Router::new().route("/below", post(below)).route("/inferred", post(below_inferred)).with_state(AppState);
}
