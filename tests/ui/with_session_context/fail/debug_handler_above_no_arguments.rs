// The one form `#[axum::debug_handler]` above cannot check: a handler without arguments
// takes the macro's entry alone. The message names the public `ContextEntry`, whose docs
// say to write `debug_handler` below.
use sessionscope::with_session_context;

#[axum::debug_handler]
#[with_session_context]
async fn health() -> &'static str {
    "ok"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(health));
}
