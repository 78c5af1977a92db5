//! Handler panics, answered and logged inside the request context.

use std::any::Any;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::ids::sanitize;

/// Turns a handler panic into a 500 response, logging the panic inside the request's
/// context and span. Give it to tower-http's `CatchPanicLayer::custom`, placed **inside**
/// [`SessionContextLayer`](crate::layer::SessionContextLayer) (added to the router before it), so
/// the response still carries `x-correlation-id`.
///
/// The body is `{"error": "internal_error", "message": "...", "correlation_id": "..."}`; the
/// panic message goes to the log (control characters escaped), never to the client.
///
/// ```
/// let response = sessionscope::handler::panic_response(Box::new("index out of bounds"));
/// assert_eq!(response.status(), 500);
/// ```
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic with a non-text payload");
    tracing::error!(target: "sessionscope::panic", panic = %sanitize(message), "handler panicked");
    let body = serde_json::json!({
        "error": "internal_error",
        "message": "the server failed to handle this request",
        "correlation_id": crate::scope::correlation_id().map(|id| id.to_string()),
    });
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}
