//! Every option at once, on a handler with a typed body, under the strictest lints.
#![deny(warnings, clippy::pedantic)]

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde::Deserialize;
use sessionscope::{SessionIdSource, with_session_context};

/// The request body.
#[derive(Deserialize, SessionIdSource)]
pub struct CreateInvestigation {
    #[session_id]
    session_id: String,
    #[investigation_id]
    investigation_id: Option<String>,
    title: String,
}

/// The router's state.
#[derive(Clone)]
pub struct AppState {
    prefix: &'static str,
}

/// Creates an investigation.
#[with_session_context(
    require_session,
    require_user,
    operation = "create_investigation",
    level = "debug",
    phase = "planning",
    crate = ::sessionscope
)]
pub async fn create(State(state): State<AppState>, Json(body): Json<CreateInvestigation>) -> String {
    format!("{}{}", state.prefix, body.title)
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", post(create)).with_state(AppState { prefix: "> " });
}
