//! `crate = path` for a service that reaches sessionscope under another name.

use axum::routing::post;
use sessionscope as scope_kit;

#[derive(serde::Deserialize, scope_kit::SessionIdSource)]
#[sessionscope(crate = scope_kit)]
struct Body {
    #[session_id]
    session_id: String,
}

#[scope_kit::with_session_context(crate = scope_kit, require_session)]
async fn handler(axum::Json(body): axum::Json<Body>) -> String {
    body.session_id
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", post(handler));
}
