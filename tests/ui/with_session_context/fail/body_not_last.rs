use axum::Json;
use http::HeaderMap;
use sessionscope::with_session_context;

#[with_session_context]
async fn handler(body: Json<serde_json::Value>, headers: HeaderMap) -> String {
    format!("{} {}", body.0, headers.len())
}

fn main() {}
