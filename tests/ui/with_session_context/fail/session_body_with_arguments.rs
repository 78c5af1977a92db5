use axum::extract::Query;
use sessionscope::with_session_context;

#[with_session_context]
async fn handler(#[session_body(field = "sid")] query: Query<serde_json::Value>) -> String {
    query.0.to_string()
}

fn main() {}
