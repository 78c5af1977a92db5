//! `SessionContextLayer` + `#[with_session_context]`: the handler refines the layer's context
//! and never looks a session up twice.

use crate::common;
use crate::macro_common;

use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use common::{Counting, HangingStore, TestServer, correlation_header, seeded_store};
use macro_common::{Seen, Step};
use sessionscope::{SessionContextLayer, with_session_context};

#[with_session_context(operation = "layered", phase = "review")]
async fn layered(Json(_body): Json<Step>) -> Json<Seen> {
    Seen::now()
}

fn app<L: sessionscope::SessionLookup>(layer: SessionContextLayer<L>) -> Router {
    Router::new().route("/layered", post(layered)).layer(layer)
}

#[tokio::test]
async fn the_layers_lookup_is_the_only_one() {
    let store = Counting::new(seeded_store());
    let server = TestServer::start(app(SessionContextLayer::new(store.clone()))).await;
    let response = server
        .post("/layered")
        .header("x-correlation-id", "corr-layer-1")
        .header("x-session-id", "s-alice")
        .json(&serde_json::json!({"sessionId": "s-alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(correlation_header(&response), "corr-layer-1");
    let seen: Seen = response.json().await.unwrap();
    assert_eq!((seen.source.as_deref(), seen.user_id.as_deref()), (Some("header"), Some("alice")));
    assert_eq!(seen.correlation_id, "corr-layer-1", "the layer's context, not a second one");
    assert_eq!(seen.phase.as_deref(), Some("review"));
    assert_eq!(store.calls(), 1);
}

#[tokio::test]
async fn a_typed_body_id_is_looked_up_through_the_layers_store() {
    let capture = sessionscope::testing::capture();
    let store = Counting::new(seeded_store());
    let server = TestServer::start(app(SessionContextLayer::new(store.clone()))).await;
    // `sessionId` is not the layer's body field, so only the typed body finds it.
    let response = server
        .post("/layered")
        .json(&serde_json::json!({"sessionId": "s-bob", "investigationId": "inv-1"}))
        .send()
        .await
        .unwrap();
    let correlation_id = correlation_header(&response);
    let seen: Seen = response.json().await.unwrap();
    assert_eq!((seen.source.as_deref(), seen.user_id.as_deref()), (Some("typed_body"), Some("bob")));
    assert_eq!(seen.investigation.as_deref(), Some("inv-1"));
    assert_eq!(store.calls(), 1);

    let events = capture.events_for(&correlation_id);
    let summary = events.iter().find(|e| e.message() == "request finished").expect("the layer's summary");
    assert_eq!(summary.field("lookup.outcome"), Some("found"));
    assert_eq!(summary.field("user.id"), Some("bob"));
    assert_eq!(events.iter().filter(|e| e.message() == "request finished").count(), 1, "one summary, the layer's");
}

#[tokio::test]
async fn the_layers_timeout_applies_to_a_typed_body_lookup() {
    let layer = SessionContextLayer::new(HangingStore).lookup_timeout(Duration::from_millis(50));
    let server = TestServer::start(app(layer)).await;
    let started = std::time::Instant::now();
    let response = server.post("/layered").json(&serde_json::json!({"sessionId": "s-bob"})).send().await.unwrap();
    let seen: Seen = response.json().await.unwrap();
    assert_eq!(seen.outcome, "timed_out");
    assert!(started.elapsed() < Duration::from_secs(5), "the layer's 50 ms timeout, not a hang");
}
