//! Thousands of concurrent requests, each awaiting, yielding and spawning: every read of the
//! context, in every task, sees its own request, and nothing of it outlives the request.

use crate::common;

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use common::{TestServer, json};
use sessionscope::{MemoryStore, RequestContext, SessionContextLayer, SessionId, SessionRecord};
use tower_http::catch_panic::CatchPanicLayer;

const REQUESTS: usize = 2000;

type Registry = Mutex<Vec<Weak<RequestContext>>>;

/// Weak references to every context each test's handlers saw (one registry per test, as
/// tests run side by side).
static BUSY_CONTEXTS: Registry = Mutex::new(Vec::new());
static PANIC_CONTEXTS: Registry = Mutex::new(Vec::new());

fn remember_context(registry: &Registry) {
    let ctx = sessionscope::current().expect("inside a request");
    registry.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::downgrade(&ctx));
}

/// (correlation id, user id) as one piece of code saw them.
fn read() -> (String, String) {
    sessionscope::with_current(|ctx| {
        let ctx = ctx.expect("context visible");
        (ctx.correlation_id().to_string(), ctx.user_id().unwrap_or("-").to_owned())
    })
}

async fn busy(Path(n): Path<u64>) -> axum::Json<Vec<(String, String)>> {
    remember_context(&BUSY_CONTEXTS);
    let mut reads = vec![read()];
    for round in 0..3u64 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_micros((n * 7 + round * 13) % 2000)).await;
        reads.push(read());
        let spawned = sessionscope::spawn(async move {
            tokio::task::yield_now().await;
            let nested = sessionscope::spawn(async { read() }).await.unwrap();
            (read(), nested)
        });
        let (outer, nested) = spawned.await.unwrap();
        reads.push(outer);
        reads.push(nested);
    }
    axum::Json(reads)
}

async fn boom() -> &'static str {
    remember_context(&PANIC_CONTEXTS);
    tokio::task::yield_now().await;
    panic!("handler bug");
}

fn live_contexts(registry: &Registry) -> (usize, usize) {
    let all = registry.lock().unwrap_or_else(PoisonError::into_inner);
    (all.iter().filter(|w| w.strong_count() > 0).count(), all.len())
}

/// Waits (bounded) for the server to finish dropping request state after the responses.
async fn assert_nothing_lives(registry: &Registry, expected_requests: usize) {
    for _ in 0..250 {
        if live_contexts(registry) == (0, expected_requests) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (live, seen) = live_contexts(registry);
    panic!("{live} of {seen} request contexts outlived their requests (expected {expected_requests} requests)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_concurrent_requests_never_mix_contexts() {
    let store = MemoryStore::new();
    let ids: Vec<SessionId> = (0..REQUESTS)
        .map(|n| store.create(SessionRecord::for_user(format!("user-{n}")), Duration::from_secs(600)))
        .collect();
    let app = Router::new()
        .route("/busy/{n}", get(busy))
        .layer(CatchPanicLayer::custom(sessionscope::handler::panic_response))
        .layer(SessionContextLayer::new(store));
    let srv = TestServer::start(app).await;

    let requests = ids.iter().enumerate().map(|(n, id)| {
        let request = srv
            .get(&format!("/busy/{n}"))
            .header("x-session-id", id.expose())
            .header("x-correlation-id", format!("load-{n}"));
        async move { (n, json::<Vec<(String, String)>>(request.send().await.expect("request answered")).await) }
    });
    let results = futures_util::future::join_all(requests).await;

    let mut reads = 0;
    let mut mixups = 0;
    for (n, seen) in &results {
        let expected = (format!("load-{n}"), format!("user-{n}"));
        reads += seen.len();
        mixups += seen.iter().filter(|s| **s != expected).count();
    }
    eprintln!("isolation: {REQUESTS} concurrent requests, {reads} context reads across tasks, {mixups} mix-ups");
    assert_eq!(results.len(), REQUESTS);
    assert_eq!(reads, REQUESTS * 10);
    assert_eq!(mixups, 0);

    assert!(sessionscope::current().is_none());
    assert_nothing_lives(&BUSY_CONTEXTS, REQUESTS).await;
}

#[tokio::test]
async fn a_panicking_handler_leaves_nothing_behind() {
    let app = Router::new()
        .route("/boom", get(boom))
        .layer(CatchPanicLayer::custom(sessionscope::handler::panic_response))
        .layer(SessionContextLayer::new(MemoryStore::new()));
    let srv = TestServer::start(app).await;
    for _ in 0..20 {
        let response = srv.get("/boom").send().await.unwrap();
        assert_eq!(response.status(), 500);
    }

    // Without a panic catcher the connection just closes; the context is dropped all the same.
    let bare = Router::new().route("/boom", get(boom)).layer(SessionContextLayer::new(MemoryStore::new()));
    let srv_bare = TestServer::start(bare).await;
    for _ in 0..5 {
        assert!(srv_bare.get("/boom").send().await.is_err(), "the connection is closed");
    }
    assert_nothing_lives(&PANIC_CONTEXTS, 25).await;
}
