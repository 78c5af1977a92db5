use axum::Json;
use sessionscope::with_session_context;

#[axum::debug_handler]
#[with_session_context]
async fn above(Json(body): Json<serde_json::Value>) -> String {
    body.to_string()
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::post(above));
}
