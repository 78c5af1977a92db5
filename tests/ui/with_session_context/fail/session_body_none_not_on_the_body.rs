use axum::Json;
use axum::http::HeaderMap;
use sessionscope::with_session_context;

#[with_session_context]
async fn handler(#[session_body(none)] headers: HeaderMap, Json(body): Json<serde_json::Value>) -> String {
    format!("{} {body}", headers.len())
}

fn main() {}
