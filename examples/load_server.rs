//! A server for load tests: one route, in one of four set-ups, with tracing on.
//!
//! ```text
//! cargo run --release --example load_server -- <bare|tower-http|layered|layered-no-summary> <port> [sessionscope|fmt]
//! ```
//!
//! Tracing writes every enabled span and event (level DEBUG, so tower-http's default spans
//! are on too) as JSON to a sink, so formatting costs are paid, not I/O: with sessionscope's
//! `logging::json_layer` (the default; every set-up writes the same output) or with
//! tracing-subscriber's JSON formatter (`fmt`). `scripts/load.sh` drives it with `wrk`.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sessionscope::layer::Summary;
use sessionscope::{CachedLookup, MemoryStore, SessionContextLayer, SessionId, SessionRecord};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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
        "layered" | "layered-no-summary" => {
            let store = MemoryStore::new();
            let id = SessionId::parse(SESSION).expect("valid id");
            store.insert(&id, SessionRecord::for_user("load-user"), Duration::from_secs(3600));
            let layer = SessionContextLayer::new(CachedLookup::new(store));
            let layer = if mode == "layered" { layer } else { layer.summary(Summary::Off) };
            bare.layer(layer)
        }
        other => panic!("unknown mode {other:?}: use bare, tower-http, layered or layered-no-summary"),
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("layered", String::as_str).to_owned();
    let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(3000);
    let output = args.get(3).map_or("sessionscope", String::as_str);
    match output {
        "fmt" => {
            tracing_subscriber::fmt().json().with_max_level(tracing::Level::DEBUG).with_writer(std::io::sink).init()
        }
        _ => tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with(sessionscope::logging::json_layer_with_writer(std::io::sink))
            .init(),
    }
    // One worker: the other core runs the load generator.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("load_server {mode} on 127.0.0.1:{port}");
        axum::serve(listener, app(&mode)).await
    })
}
