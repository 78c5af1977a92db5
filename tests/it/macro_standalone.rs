//! `#[with_session_context]` without `SessionContextLayer`: the macro builds the context,
//! finds the id, looks it up through the `SharedLookup` extension and answers with
//! `x-correlation-id`.

use crate::common;
use crate::macro_common;

use axum::routing::get;
use axum::{Extension, Json, Router};
use common::{Counting, TestServer, correlation_header, seeded_store};
use macro_common::Seen;
use sessionscope::{SharedLookup, with_session_context};

#[with_session_context(operation = "whoami", phase = "intake")]
async fn whoami() -> Json<Seen> {
    tracing::info!("inside the handler");
    Seen::now()
}

fn app(lookup: Option<SharedLookup>) -> Router {
    let router = Router::new().route("/whoami/{id}", get(whoami));
    match lookup {
        Some(lookup) => router.layer(Extension(lookup)),
        None => router,
    }
}

#[tokio::test]
async fn header_session_is_looked_up_through_the_extension_store() {
    let capture = sessionscope::testing::capture();
    let store = Counting::new(seeded_store());
    let server = TestServer::start(app(Some(SharedLookup::new(store.clone())))).await;

    let response = server.get("/whoami/1").header("x-session-id", "s-alice").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let correlation_id = correlation_header(&response);
    let seen: Seen = response.json().await.unwrap();
    assert_eq!(seen.correlation_id, correlation_id);
    assert_eq!(seen.session_id.as_deref(), Some("s-alice"));
    assert_eq!(seen.source.as_deref(), Some("header"));
    assert_eq!(seen.user_id.as_deref(), Some("alice"));
    assert_eq!(seen.outcome, "found");
    assert_eq!(seen.route.as_deref(), Some("/whoami/{id}"));
    assert_eq!(seen.phase.as_deref(), Some("intake"));
    assert_eq!(store.calls(), 1);

    let events = capture.events_for(&correlation_id);
    let inside = events.iter().find(|e| e.message() == "inside the handler").expect("the handler's event");
    assert_eq!(inside.field("user.id"), Some("alice"));
    assert_eq!(inside.field("operation"), Some("whoami"));
    assert_eq!(inside.field("agent.phase"), Some("intake"));
    assert!(inside.spans.iter().any(|(name, _)| name == "whoami"), "operation span: {}", inside.render());
    let summary = events.iter().find(|e| e.message() == "request finished").expect("one summary event");
    assert_eq!(summary.field("lookup.outcome"), Some("found"));
    assert_eq!(summary.field("status"), Some("200"));
    assert!(events.iter().all(|e| !e.render().contains("s-alice")), "the raw session id never reaches a log");
}

#[tokio::test]
async fn incoming_correlation_id_is_kept_and_echoed() {
    let server = TestServer::start(app(Some(SharedLookup::new(seeded_store())))).await;
    let response = server.get("/whoami/2?session_id=s-bob").header("x-request-id", "req-42").send().await.unwrap();
    assert_eq!(correlation_header(&response), "req-42");
    let seen: Seen = response.json().await.unwrap();
    assert_eq!((seen.correlation_id.as_str(), seen.source.as_deref()), ("req-42", Some("query")));
    assert_eq!(seen.user_id.as_deref(), Some("bob"));
}

#[tokio::test]
async fn without_a_store_the_lookup_is_skipped() {
    let server = TestServer::start(app(None)).await;
    let response = server.get("/whoami/3").header("x-session-id", "s-alice").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let seen: Seen = response.json().await.unwrap();
    assert_eq!((seen.outcome.as_str(), seen.user_id), ("skipped", None));
    assert_eq!(seen.session_id.as_deref(), Some("s-alice"));
}

#[tokio::test]
async fn without_a_session_the_handler_still_runs_in_a_context() {
    let server = TestServer::start(app(Some(SharedLookup::new(seeded_store())))).await;
    let response = server.get("/whoami/4").send().await.unwrap();
    let correlation_id = correlation_header(&response);
    let seen: Seen = response.json().await.unwrap();
    assert_eq!(seen.correlation_id, correlation_id);
    assert_eq!((seen.outcome.as_str(), seen.session_id), ("no_session", None));
}

#[tokio::test]
async fn context_does_not_leak_between_requests() {
    let server = TestServer::start(app(Some(SharedLookup::new(seeded_store())))).await;
    let (a, b) = tokio::join!(
        server.get("/whoami/5").header("x-session-id", "s-alice").send(),
        server.get("/whoami/6").header("x-session-id", "s-bob").send(),
    );
    let (a, b): (Seen, Seen) = (a.unwrap().json().await.unwrap(), b.unwrap().json().await.unwrap());
    assert_eq!((a.user_id.as_deref(), b.user_id.as_deref()), (Some("alice"), Some("bob")));
    assert_ne!(a.correlation_id, b.correlation_id);
    assert!(sessionscope::current().is_none());
}

// Issue 14, item 13: `#[tracing::instrument]` below the attribute instruments the function
// as written, inside the operation span, and its arguments by the names the user gave them.
#[with_session_context(operation = "op")]
#[tracing::instrument(level = "info", skip_all, fields(item = id))]
async fn instrumented(axum::extract::Path(id): axum::extract::Path<u32>) -> Json<Seen> {
    tracing::info!("inside the instrumented handler");
    Seen::now()
}

#[tokio::test]
async fn instrument_below_runs_inside_the_request_context() {
    let capture = sessionscope::testing::capture();
    let store = Counting::new(seeded_store());
    let router =
        Router::new().route("/instrumented/{id}", get(instrumented)).layer(Extension(SharedLookup::new(store.clone())));
    let server = TestServer::start(router).await;
    let response = server.get("/instrumented/7").header("x-session-id", "s-alice").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let correlation_id = correlation_header(&response);
    let events = capture.events_for(&correlation_id);
    let inside = events.iter().find(|e| e.message() == "inside the instrumented handler").expect("the event");
    assert_eq!(inside.field("user.id"), Some("alice"));
    assert_eq!(inside.field("item"), Some("7"));
    // The instrument span keeps the handler's name, inside the operation span.
    let names: Vec<&str> = inside.spans.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.ends_with(&["op", "instrumented"]), "{names:?}");
    assert!(names.iter().all(|name| !name.starts_with("__")), "{names:?}");
}
