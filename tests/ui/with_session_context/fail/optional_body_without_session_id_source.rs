use axum::Json;
use axum::extract::rejection::JsonRejection;
use sessionscope::with_session_context;

#[derive(serde::Deserialize)]
struct Body {
    session_id: String,
}

#[with_session_context]
async fn optional(body: Option<Json<Body>>) -> String {
    body.map(|b| b.0.session_id).unwrap_or_default()
}

#[with_session_context]
async fn result(body: Result<axum::Json<Body>, JsonRejection>) -> String {
    body.map(|b| b.0.session_id).unwrap_or_default()
}

fn main() {
    let _app: axum::Router = axum::Router::new()
        .route("/optional", axum::routing::post(optional))
        .route("/result", axum::routing::post(result));
}
