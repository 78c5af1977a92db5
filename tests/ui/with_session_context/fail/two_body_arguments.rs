use axum::Json;
use sessionscope::with_session_context;

#[with_session_context]
async fn handler(Json(first): Json<serde_json::Value>, Json(second): Json<serde_json::Value>) -> String {
    format!("{first}{second}")
}

fn main() {}
