//! Every lookup outcome, the policies that act on them, and the cache in front of a store.

use crate::common;

use std::time::Duration;

use common::{
    Counting, FailingStore, HangingStore, PanickingStore, Probe, TestServer, correlation_header, json, probe_routes,
    seeded_store,
};
use sessionscope::testing;
use sessionscope::{CachedLookup, SessionContextLayer, SessionLookup};

async fn server<L: SessionLookup>(layer: SessionContextLayer<L>) -> TestServer {
    TestServer::start(probe_routes().layer(layer)).await
}

/// Sends a request that must finish well within the test's patience, whatever the store does.
async fn probe(srv: &TestServer, session: &str, correlation: &str) -> Probe {
    let request = srv.get("/probe").header("x-session-id", session).header("x-correlation-id", correlation).send();
    let response = tokio::time::timeout(Duration::from_secs(10), request).await.expect("request never hangs").unwrap();
    assert_eq!(response.status(), 200);
    json(response).await
}

#[tokio::test]
async fn found_unknown_anonymous_and_no_session() {
    let srv = server(SessionContextLayer::new(seeded_store())).await;
    let found = probe(&srv, "s-alice", "found-1").await.handler;
    assert_eq!((found.outcome.as_deref(), found.user_id.as_deref()), (Some("found"), Some("alice")));
    let unknown = probe(&srv, "s-nobody", "unknown-1").await.handler;
    assert_eq!((unknown.outcome.as_deref(), unknown.user_id), (Some("unknown"), None));
    assert_eq!(unknown.session_id.as_deref(), Some("s-nobody"), "an unknown id is still the request's session");
    let anonymous = probe(&srv, "s-anon", "anon-1").await.handler;
    assert_eq!((anonymous.outcome.as_deref(), anonymous.user_id), (Some("anonymous"), None));
    let none: Probe = json(srv.get("/probe").send().await.unwrap()).await;
    assert_eq!((none.handler.outcome.as_deref(), none.handler.session_id), (Some("no_session"), None));
}

#[tokio::test]
async fn failing_store_degrades_with_a_warning() {
    let capture = testing::capture();
    let srv = server(SessionContextLayer::new(FailingStore)).await;
    let seen = probe(&srv, "s-alice", "failed-1").await.handler;
    assert_eq!((seen.outcome.as_deref(), seen.user_id), (Some("failed"), None));
    assert_eq!(seen.session_id.as_deref(), Some("s-alice"));

    let events = capture.events_for("failed-1");
    let warning = events.iter().find(|e| e.level == tracing::Level::WARN).expect("a warning");
    assert_eq!(warning.message(), "session lookup failed; continuing without a user");
    assert_eq!(warning.field("error"), Some("session lookup failed: connection refused"));
    let fingerprint = sessionscope::Fingerprint::of("s-alice").to_string();
    assert_eq!(warning.field("session.id"), Some(fingerprint.as_str()), "the warning carries the session");
}

#[tokio::test]
async fn hanging_store_times_out_and_the_request_goes_on() {
    let capture = testing::capture();
    let srv = server(SessionContextLayer::new(HangingStore).lookup_timeout(Duration::from_millis(50))).await;
    let seen = probe(&srv, "s-alice", "timeout-1").await.handler;
    assert_eq!((seen.outcome.as_deref(), seen.user_id), (Some("timed_out"), None));
    let warning = capture.events_for("timeout-1").into_iter().find(|e| e.level == tracing::Level::WARN).unwrap();
    assert_eq!(warning.message(), "session lookup timed out; continuing without a user");
    assert_eq!(warning.field("timeout_ms"), Some("50"));
}

#[tokio::test]
async fn panicking_store_is_a_failure_not_a_crash() {
    let capture = testing::capture();
    let srv = server(SessionContextLayer::new(PanickingStore)).await;
    for n in 0..3 {
        let seen = probe(&srv, "s-alice", &format!("panic-{n}")).await.handler;
        assert_eq!(seen.outcome.as_deref(), Some("failed"));
    }
    assert!(capture.events_for("panic-0").iter().any(|e| e.message().contains("panicked")));
}

#[tokio::test]
async fn client_cannot_claim_a_user() {
    let srv = server(SessionContextLayer::new(seeded_store())).await;
    let spoof = srv
        .post("/probe")
        .header("x-user-id", "admin")
        .header("x-session-id", "s-nobody")
        .json(&serde_json::json!({"user_id": "admin", "user": "admin"}))
        .send()
        .await
        .unwrap();
    let seen = json::<Probe>(spoof).await.handler;
    assert_eq!(seen.user_id, None);
    assert_eq!(seen.outcome.as_deref(), Some("unknown"));
}

#[tokio::test]
async fn require_session_answers_401_or_400_with_the_correlation_id() {
    let srv = server(SessionContextLayer::new(seeded_store()).require_session()).await;
    let missing = srv.get("/probe").header("x-correlation-id", "req-missing").send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(correlation_header(&missing), "req-missing");
    let body: serde_json::Value = json(missing).await;
    assert_eq!(body["error"], "session_required");
    assert_eq!(body["correlation_id"], "req-missing");

    let malformed = srv.get("/probe").header("x-session-id", "has space").send().await.unwrap();
    assert_eq!(malformed.status(), 400);
    let body: serde_json::Value = json(malformed).await;
    assert_eq!(body["error"], "invalid_session_id");

    let unknown = srv.get("/probe").header("x-session-id", "s-nobody").send().await.unwrap();
    assert_eq!(unknown.status(), 200, "require_session accepts any valid id");
}

#[tokio::test]
async fn require_user_answers_401_for_no_user_and_503_for_a_broken_store() {
    let srv = server(SessionContextLayer::new(seeded_store()).require_user()).await;
    for (session, status, code) in [("s-nobody", 401, "user_required"), ("s-anon", 401, "user_required")] {
        let response = srv.get("/probe").header("x-session-id", session).send().await.unwrap();
        assert_eq!(response.status(), status, "{session}");
        assert_eq!(json::<serde_json::Value>(response).await["error"], code);
    }
    let ok = srv.get("/probe").header("x-session-id", "s-alice").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let missing = srv.get("/probe").send().await.unwrap();
    assert_eq!(missing.status(), 401);

    let broken = server(SessionContextLayer::new(FailingStore).require_user()).await;
    let response = broken.get("/probe").header("x-session-id", "s-alice").send().await.unwrap();
    assert_eq!(response.status(), 503);
    let cid = correlation_header(&response);
    let body: serde_json::Value = json(response).await;
    assert_eq!(body["error"], "session_store_unavailable");
    assert_eq!(body["correlation_id"], cid.as_str());

    let slow =
        server(SessionContextLayer::new(HangingStore).require_user().lookup_timeout(Duration::from_millis(30))).await;
    let response = slow.get("/probe").header("x-session-id", "s-alice").send().await.unwrap();
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn cache_keeps_repeat_requests_off_the_store() {
    let store = Counting::new(seeded_store());
    let srv = server(SessionContextLayer::new(CachedLookup::new(store.clone()))).await;
    for n in 0..5 {
        assert_eq!(probe(&srv, "s-alice", &format!("cache-{n}")).await.handler.user_id.as_deref(), Some("alice"));
        assert_eq!(probe(&srv, "s-nobody", &format!("neg-{n}")).await.handler.outcome.as_deref(), Some("unknown"));
    }
    assert_eq!(store.calls(), 2, "one call per distinct id, misses cached too");
}

/// The negative cache's promise, as documented: a repeated unknown id reaches the store once
/// per `negative_ttl`; distinct bogus ids each reach it once, like any miss.
#[tokio::test]
async fn the_negative_cache_keeps_repeats_off_the_store_but_not_distinct_bogus_ids() {
    let store = Counting::new(seeded_store());
    let srv = server(SessionContextLayer::new(CachedLookup::new(store.clone()))).await;
    for n in 0..50 {
        probe(&srv, "s-bogus", &format!("neg-repeat-{n}")).await;
    }
    assert_eq!(store.calls(), 1, "the same unknown id: one store call");
    for n in 0..50 {
        probe(&srv, &format!("s-bogus-{n}"), &format!("neg-distinct-{n}")).await;
    }
    assert_eq!(store.calls(), 51, "distinct unknown ids: one store call each");
}

/// Warning floods: during a store outage each request used to log its own warning. Now one
/// per cause per interval (10 s) per layer; every request still records its own outcome.
#[tokio::test]
async fn warning_floods_are_rate_limited() {
    let capture = testing::capture();
    let srv = server(SessionContextLayer::new(FailingStore)).await;
    for n in 0..200 {
        let seen = probe(&srv, "s-alice", &format!("flood-{n}")).await.handler;
        assert_eq!(seen.outcome.as_deref(), Some("failed"), "request {n} records its outcome");
    }
    let ours: Vec<_> = capture
        .all()
        .into_iter()
        .filter(|e| e.field("correlation_id").is_some_and(|id| id.starts_with("flood-")))
        .collect();
    let warnings = ours.iter().filter(|e| e.message() == "session lookup failed; continuing without a user").count();
    assert_eq!(warnings, 1, "one warning for 200 failed lookups");
    let summaries = ours
        .iter()
        .filter(|e| e.message() == "request finished" && e.field("lookup.outcome") == Some("failed"))
        .count();
    assert_eq!(summaries, 200, "nothing is lost: every summary says the lookup failed");
}
