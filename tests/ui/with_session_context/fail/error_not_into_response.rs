use sessionscope::with_session_context;

struct NotAResponse;

#[with_session_context]
async fn handler() -> Result<String, NotAResponse> {
    Err(NotAResponse)
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
