//! The handler's output, error types included, is turned into a response inside the request
//! context: an error's `IntoResponse` can read the context and its events carry its fields.

use crate::common;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use common::{TestServer, correlation_header, seeded_store};
use sessionscope::{SharedLookup, with_session_context};

struct AppError;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let ctx = sessionscope::current().expect("IntoResponse runs inside the request context");
        tracing::error!("request failed");
        let body = serde_json::json!({
            "correlation_id": ctx.correlation_id().to_string(),
            "user": ctx.user_id(),
            "phase": ctx.agent_phase().map(|p| p.to_string()),
        });
        (http::StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
    }
}

fn validate(ok: bool) -> Result<(), AppError> {
    if ok { Ok(()) } else { Err(AppError) }
}

#[with_session_context(operation = "fallible", phase = "validation")]
async fn fallible() -> Result<&'static str, AppError> {
    validate(false)?;
    Ok("unreachable")
}

#[tokio::test]
async fn error_into_response_sees_the_context() {
    let capture = sessionscope::testing::capture();
    let app = Router::new().route("/fallible", get(fallible)).layer(Extension(SharedLookup::new(seeded_store())));
    let server = TestServer::start(app).await;
    let response = server.get("/fallible").header("x-session-id", "s-alice").send().await.unwrap();
    assert_eq!(response.status(), 422);
    let correlation_id = correlation_header(&response);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["correlation_id"], correlation_id.as_str());
    assert_eq!(body["user"], "alice");
    assert_eq!(body["phase"], "validation");

    let events = capture.events_for(&correlation_id);
    let failed = events.iter().find(|e| e.message() == "request failed").expect("the error's event");
    assert_eq!(failed.field("user.id"), Some("alice"));
    assert_eq!(failed.field("operation"), Some("fallible"));
    assert!(failed.spans.iter().any(|(name, _)| name == "fallible"), "{}", failed.render());
    let summary = events.iter().find(|e| e.message() == "request finished").expect("summary");
    assert_eq!(summary.field("status"), Some("422"));
}
