//! `require_session` and `require_user` on a handler: the status and JSON body a client sees.

use crate::common;

use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use common::{FailingStore, HangingStore, TestServer, correlation_header, seeded_store};
use sessionscope::{SessionContextLayer, SharedLookup, with_session_context};

#[with_session_context(require_session)]
async fn needs_session() -> &'static str {
    "in"
}

#[with_session_context(require_user)]
async fn needs_user() -> String {
    sessionscope::user_id().expect("require_user lets only users in")
}

fn routes() -> Router {
    Router::new().route("/session", get(needs_session)).route("/user", get(needs_user))
}

async fn rejected(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status(), status);
    let correlation_id = correlation_header(&response);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["correlation_id"], correlation_id.as_str(), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn require_session_answers_401_without_an_id_and_400_for_a_malformed_one() {
    let server = TestServer::start(routes().layer(Extension(SharedLookup::new(seeded_store())))).await;
    rejected(server.get("/session").send().await.unwrap(), 401, "session_required").await;
    rejected(
        server.get("/session").header("x-session-id", "has space").send().await.unwrap(),
        400,
        "invalid_session_id",
    )
    .await;
    let ok = server.get("/session").header("x-session-id", "s-unknown").send().await.unwrap();
    assert_eq!((ok.status().as_u16(), ok.text().await.unwrap().as_str()), (200, "in"));
}

#[tokio::test]
async fn require_user_answers_401_for_unknown_and_anonymous_sessions() {
    let server = TestServer::start(routes().layer(Extension(SharedLookup::new(seeded_store())))).await;
    rejected(server.get("/user").send().await.unwrap(), 401, "session_required").await;
    rejected(server.get("/user").header("x-session-id", "s-unknown").send().await.unwrap(), 401, "user_required").await;
    rejected(server.get("/user").header("x-session-id", "s-anon").send().await.unwrap(), 401, "user_required").await;
    let ok = server.get("/user").header("x-session-id", "s-alice").send().await.unwrap();
    assert_eq!((ok.status().as_u16(), ok.text().await.unwrap().as_str()), (200, "alice"));
}

#[tokio::test]
async fn require_user_answers_503_when_the_store_fails_or_times_out() {
    let failing = TestServer::start(routes().layer(Extension(SharedLookup::new(FailingStore)))).await;
    rejected(
        failing.get("/user").header("x-session-id", "s-alice").send().await.unwrap(),
        503,
        "session_store_unavailable",
    )
    .await;
    // Without the layer the default timeout (250 ms) applies.
    let hanging = TestServer::start(routes().layer(Extension(SharedLookup::new(HangingStore)))).await;
    rejected(
        hanging.get("/user").header("x-session-id", "s-alice").send().await.unwrap(),
        503,
        "session_store_unavailable",
    )
    .await;
}

#[tokio::test]
async fn the_handlers_policy_applies_behind_a_permissive_layer() {
    let layer = SessionContextLayer::new(HangingStore).lookup_timeout(Duration::from_millis(30));
    let server = TestServer::start(routes().layer(layer)).await;
    rejected(server.get("/session").send().await.unwrap(), 401, "session_required").await;
    rejected(
        server.get("/user").header("x-session-id", "s-alice").send().await.unwrap(),
        503,
        "session_store_unavailable",
    )
    .await;
}
