//! `#[axum::debug_handler]` above the macro checks the handler as written, and the handler
//! the macro generates still takes the same arguments.
#![deny(warnings, clippy::pedantic)]
// `debug_handler` copies each body into a function of its own, which awaits nothing here.
#![allow(clippy::unused_async)]

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use sessionscope::with_session_context;

#[derive(Clone)]
struct AppState;

#[axum::debug_handler]
#[with_session_context]
async fn above(Json(body): Json<serde_json::Value>) -> String {
    body.to_string()
}

#[axum::debug_handler]
#[with_session_context(require_user)]
async fn above_with_state(State(_state): State<AppState>, Json(body): Json<serde_json::Value>) -> String {
    body.to_string()
}

fn main() {
    let _app: axum::Router =
        axum::Router::new().route("/", post(above)).route("/state", post(above_with_state)).with_state(AppState);
}
