//! Where the session id comes from, and which source wins.

use crate::common;

use common::{Probe, TestServer, json, probe_routes, seeded_store};
use sessionscope::SessionContextLayer;
use sessionscope::testing;

async fn server(layer: SessionContextLayer<sessionscope::MemoryStore>) -> TestServer {
    TestServer::start(probe_routes().layer(layer)).await
}

async fn default_server() -> TestServer {
    server(SessionContextLayer::new(seeded_store())).await
}

fn assert_session(probe: &Probe, id: &str, source: &str, user: &str) {
    assert_eq!(probe.handler.session_id.as_deref(), Some(id), "{probe:?}");
    assert_eq!(probe.handler.session_source.as_deref(), Some(source), "{probe:?}");
    assert_eq!(probe.handler.user_id.as_deref(), Some(user), "{probe:?}");
}

#[tokio::test]
async fn header_source() {
    let srv = default_server().await;
    let probe: Probe = json(srv.get("/probe").header("X-Session-ID", "s-alice").send().await.unwrap()).await;
    assert_session(&probe, "s-alice", "header", "alice");
}

#[tokio::test]
async fn query_source_is_percent_decoded() {
    let srv = default_server().await;
    let probe: Probe = json(srv.get("/probe?x=1&session_id=s%2Dalice").send().await.unwrap()).await;
    assert_session(&probe, "s-alice", "query", "alice");
}

#[tokio::test]
async fn cookie_source_only_when_enabled() {
    let srv = default_server().await;
    let probe: Probe = json(srv.get("/probe").header("cookie", "theme=dark; sid=s-alice").send().await.unwrap()).await;
    assert_eq!(probe.handler.session_id, None, "cookies are off by default");
    assert_eq!(probe.handler.outcome.as_deref(), Some("no_session"));

    let srv = server(SessionContextLayer::new(seeded_store()).cookie("sid")).await;
    let probe: Probe = json(srv.get("/probe").header("cookie", "theme=dark; sid=s-alice").send().await.unwrap()).await;
    assert_session(&probe, "s-alice", "cookie", "alice");
}

#[tokio::test]
async fn json_body_source_for_post_put_patch() {
    let srv = default_server().await;
    for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::PATCH] {
        let response = srv
            .client
            .request(method.clone(), srv.url("/probe"))
            .json(&serde_json::json!({"task": "x", "session_id": "s-bob"}))
            .send()
            .await
            .unwrap();
        if method == reqwest::Method::POST {
            let probe: Probe = json(response).await;
            assert_session(&probe, "s-bob", "body", "bob");
        } else {
            // The probe route only has GET and POST: the layer still ran and echoed the id.
            assert_eq!(response.status(), 405);
            assert!(response.headers().contains_key("x-correlation-id"));
        }
    }
}

#[tokio::test]
async fn priority_header_then_query_then_cookie_then_body() {
    let srv = server(SessionContextLayer::new(seeded_store()).cookie("sid")).await;
    let body = serde_json::json!({"session_id": "s-anon"});
    let all = srv
        .post("/probe?session_id=s-bob")
        .header("x-session-id", "s-alice")
        .header("cookie", "sid=s-anon")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_session(&json(all).await, "s-alice", "header", "alice");

    let no_header = srv.post("/probe?session_id=s-bob").header("cookie", "sid=s-anon").json(&body).send();
    assert_session(&json(no_header.await.unwrap()).await, "s-bob", "query", "bob");

    let cookie_and_body = srv.post("/probe").header("cookie", "sid=s-alice").json(&body).send();
    assert_session(&json(cookie_and_body.await.unwrap()).await, "s-alice", "cookie", "alice");
}

#[tokio::test]
async fn first_valid_value_wins_and_invalid_ones_are_never_logged() {
    let capture = testing::capture();
    let srv = default_server().await;
    let response = srv
        .get("/probe?session_id=s-bob")
        .header("x-session-id", "bad value with spaces")
        .header("x-correlation-id", "invalid-then-query")
        .send()
        .await
        .unwrap();
    assert_session(&json(response).await, "s-bob", "query", "bob");

    let events = capture.events_for("invalid-then-query");
    let ignored = events.iter().find(|e| e.message() == "ignored an invalid session id").expect("a debug event");
    assert_eq!(ignored.level, tracing::Level::DEBUG);
    assert_eq!(ignored.field("source"), Some("header"));
    for event in &events {
        assert!(!event.render().contains("bad value"), "raw invalid id logged: {}", event.render());
    }
}

#[tokio::test]
async fn conflicting_sources_warn_with_fingerprints_only() {
    let capture = testing::capture();
    let srv = default_server().await;
    let response = srv
        .get("/probe?session_id=s-bob")
        .header("x-session-id", "s-alice")
        .header("x-correlation-id", "conflict-1")
        .send()
        .await
        .unwrap();
    assert_session(&json(response).await, "s-alice", "header", "alice");

    let events = capture.events_for("conflict-1");
    let warning = events.iter().find(|e| e.level == tracing::Level::WARN).expect("a conflict warning");
    assert_eq!(warning.field("kept_source"), Some("header"));
    assert_eq!(warning.field("ignored_source"), Some("query"));
    let alice = sessionscope::Fingerprint::of("s-alice").to_string();
    let bob = sessionscope::Fingerprint::of("s-bob").to_string();
    assert_eq!(warning.field("kept_fingerprint"), Some(alice.as_str()));
    assert_eq!(warning.field("ignored_fingerprint"), Some(bob.as_str()));
    for event in &events {
        let line = event.render();
        assert!(!line.contains("s-alice") && !line.contains("s-bob"), "raw id logged: {line}");
    }
}

#[tokio::test]
async fn same_id_in_two_sources_is_no_conflict() {
    let capture = testing::capture();
    let srv = default_server().await;
    let response = srv
        .get("/probe?session_id=s-alice")
        .header("x-session-id", "s-alice")
        .header("x-correlation-id", "agree-1")
        .send()
        .await
        .unwrap();
    assert_session(&json(response).await, "s-alice", "header", "alice");
    assert!(capture.events_for("agree-1").iter().all(|e| e.level != tracing::Level::WARN));
}

#[tokio::test]
async fn names_are_configurable() {
    let layer =
        SessionContextLayer::new(seeded_store()).session_header("x-sid").query_param("sid").body_field("sessionId");
    let srv = server(layer).await;
    let by_header: Probe = json(srv.get("/probe").header("x-sid", "s-alice").send().await.unwrap()).await;
    assert_session(&by_header, "s-alice", "header", "alice");
    let old_header: Probe = json(srv.get("/probe").header("x-session-id", "s-alice").send().await.unwrap()).await;
    assert_eq!(old_header.handler.session_id, None);
    let by_query: Probe = json(srv.get("/probe?sid=s-bob").send().await.unwrap()).await;
    assert_session(&by_query, "s-bob", "query", "bob");
    let by_body: Probe =
        json(srv.post("/probe").json(&serde_json::json!({"sessionId": "s-bob"})).send().await.unwrap()).await;
    assert_session(&by_body, "s-bob", "body", "bob");
}

#[tokio::test]
async fn sources_can_be_turned_off() {
    let layer = SessionContextLayer::new(seeded_store()).without_header().without_query().without_body();
    let srv = server(layer).await;
    let probe: Probe = json(
        srv.post("/probe?session_id=s-bob")
            .header("x-session-id", "s-alice")
            .json(&serde_json::json!({"session_id": "s-anon"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(probe.handler.session_id, None);
    assert_eq!(probe.handler.outcome.as_deref(), Some("no_session"));
}

/// Repeated sources are not silently split: a source given twice with different values
/// (two headers, two query pairs, two cookies of one name) is malformed, with a warning that
/// names fingerprints only; given twice with the same value, it is that value.
#[tokio::test]
async fn repeated_sources_with_different_values_are_malformed() {
    let capture = testing::capture();
    let srv = server(SessionContextLayer::new(seeded_store()).cookie("sid")).await;
    let strict = server(SessionContextLayer::new(seeded_store()).require_session()).await;
    let alice = sessionscope::Fingerprint::of("s-alice").to_string();
    let bob = sessionscope::Fingerprint::of("s-bob").to_string();

    let requests = [
        ("repeat-header", srv.get("/probe").header("x-session-id", "s-alice").header("x-session-id", "s-bob")),
        ("repeat-query", srv.get("/probe?session_id=s-alice&session_id=s-bob")),
        ("repeat-cookie", srv.get("/probe").header("cookie", "sid=s-alice").header("cookie", "theme=dark; sid=s-bob")),
    ];
    for (id, request) in requests {
        let probe: Probe = json(request.header("x-correlation-id", id).send().await.unwrap()).await;
        assert_eq!(probe.handler.session_id, None, "{id}: no session taken from a split source");
        assert_eq!(probe.handler.user_id, None, "{id}");
        let events = capture.events_for(id);
        let warning = events
            .iter()
            .find(|e| e.message().contains("repeats a session id source"))
            .unwrap_or_else(|| panic!("{id}: a warning in {events:?}"));
        assert_eq!(warning.level, tracing::Level::WARN);
        assert_eq!(warning.field("fingerprints"), Some(format!("{alice},{bob}").as_str()), "{id}");
        for event in &events {
            let line = event.render();
            assert!(!line.contains("s-alice") && !line.contains("s-bob"), "{id}: raw id logged: {line}");
        }
    }

    // With `require_session` a split source is a malformed id: 400, not 401.
    let refused = strict.get("/probe").header("x-session-id", "s-alice").header("x-session-id", "s-bob").send();
    assert_eq!(refused.await.unwrap().status(), 400);

    // The same value twice is that value.
    let twice = srv.get("/probe?session_id=s-alice&session_id=s-alice").send().await.unwrap();
    assert_session(&json(twice).await, "s-alice", "query", "alice");
    let twice = srv.get("/probe").header("x-session-id", "s-bob").header("x-session-id", "s-bob").send();
    assert_session(&json(twice.await.unwrap()).await, "s-bob", "header", "bob");

    // Many repeats are malformed too, however alike, and cost no more than the first few.
    let many = vec!["session_id=s-alice"; 500].join("&");
    let probe: Probe = json(srv.get(&format!("/probe?{many}")).send().await.unwrap()).await;
    assert_eq!(probe.handler.session_id, None);
}
