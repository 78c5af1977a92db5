//! A handler returning `Result` with `?`, whose error type's `IntoResponse` reads the context.
#![deny(warnings, clippy::pedantic)]

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sessionscope::with_session_context;

struct AppError(&'static str);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let id = sessionscope::correlation_id().map(|c| c.to_string()).unwrap_or_default();
        (http::StatusCode::CONFLICT, format!("{} ({id})", self.0)).into_response()
    }
}

fn check(ok: bool) -> Result<u8, AppError> {
    if ok { Ok(1) } else { Err(AppError("nope")) }
}

#[with_session_context(operation = "may_fail")]
async fn may_fail(axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>) -> Result<String, AppError> {
    let n = check(q.is_empty())?;
    if n > 1 {
        return Err(AppError("too many"));
    }
    Ok(n.to_string())
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", get(may_fail));
}
