use axum::Json;
use sessionscope::with_session_context;

#[derive(serde::Deserialize)]
struct Item {
    name: String,
}

#[with_session_context]
async fn import(Json(items): Json<Vec<Item>>) -> String {
    items.into_iter().map(|item| item.name).collect()
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::post(import));
}
