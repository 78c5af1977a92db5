use axum::Json;
use sessionscope::with_session_context;

#[derive(serde::Deserialize)]
struct CreateInvestigation {
    title: String,
}

#[with_session_context]
async fn create(Json(body): Json<CreateInvestigation>) -> String {
    body.title
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::post(create));
}
