//! A server for load tests: one route, in one of three set-ups, with tracing on.
//!
//! ```text
//! cargo run --release --example load_server -- <bare|tower-http|layered> <port>
//! ```
//!
//! Tracing writes every enabled span and event (level DEBUG, so tower-http's default spans
//! are on too) through the JSON formatter to a sink, so formatting costs are paid, not I/O.
//! `scripts/load.sh` drives it with `wrk`.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sessionscope::{CachedLookup, MemoryStore, SessionContextLayer, SessionId, SessionRecord};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The session id `scripts/load.sh` sends.
const SESSION: &str = "load-session-0123456789abcdef";

async fn hello() -> &'static str {
    tracing::info!("hello");
    "ok"
}

fn app(mode: &str) -> Router {
    let bare = Router::new().route("/r", get(hello));
    match mode {
        "bare" => bare,
        "tower-http" => bare
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(TraceLayer::new_for_http())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid)),
        "layered" => {
            let store = MemoryStore::new();
            let id = SessionId::parse(SESSION).expect("valid id");
            store.insert(&id, SessionRecord::for_user("load-user"), Duration::from_secs(3600));
            bare.layer(SessionContextLayer::new(CachedLookup::new(store)))
        }
        other => panic!("unknown mode {other:?}: use bare, tower-http or layered"),
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("layered", String::as_str).to_owned();
    let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(3000);
    tracing_subscriber::fmt().json().with_max_level(tracing::Level::DEBUG).with_writer(std::io::sink).init();
    // One worker: the other core runs the load generator.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("load_server {mode} on 127.0.0.1:{port}");
        axum::serve(listener, app(&mode)).await
    })
}
