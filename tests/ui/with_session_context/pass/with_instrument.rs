//! `#[tracing::instrument]` below the macro instruments the function as written (its
//! arguments as the user named them), inside the request context; above it, the same.
#![deny(warnings, clippy::pedantic)]

use axum::extract::Path;
use axum::routing::get;
use sessionscope::with_session_context;

#[with_session_context(operation = "below")]
#[tracing::instrument(level = "debug")]
async fn below(Path(id): Path<u32>) -> String {
    tracing::debug!("inside");
    id.to_string()
}

#[tracing::instrument(skip_all)]
#[with_session_context(operation = "above")]
async fn above(Path(id): Path<u32>) -> String {
    id.to_string()
}

#[with_session_context]
#[tracing::instrument(skip_all)]
async fn trailing_comma() -> &'static str {
    "ok"
}

#[with_session_context]
#[tracing::instrument(name = "named_by_the_user")]
async fn named() -> &'static str {
    "ok"
}

#[with_session_context]
#[tracing::instrument]
async fn bare() -> &'static str {
    "ok"
}

fn main() {
    let _app: axum::Router = axum::Router::new()
        .route("/below/{id}", get(below))
        .route("/above/{id}", get(above))
        .route("/trailing", get(trailing_comma))
        .route("/named", get(named))
        .route("/bare", get(bare));
}
