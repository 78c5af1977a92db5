use axum::extract::Query;
use sessionscope::with_session_context;

#[with_session_context]
async fn handler(#[session_body] first: Query<serde_json::Value>, #[session_body] second: Query<serde_json::Value>) -> String {
    format!("{} {}", first.0, second.0)
}

fn main() {}
