//! Targeted tracing: verbose events only for targeted users, sessions and operations,
//! changed at run time, over HTTP through the admin router.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{TestServer, seeded_store};
use sessionscope::targeting::{Dimension, TargetingHandle};
use sessionscope::testing::{Capture, CapturedEvent};
use sessionscope::{SessionContextLayer, TargetedFilter};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

#[sessionscope::with_session_context(operation = "checkout")]
async fn checkout() -> &'static str {
    work().await
}

async fn work() -> &'static str {
    tracing::info!("working");
    tracing::debug!("debug detail");
    sessionscope::spawn(async { tracing::trace!("trace detail in a spawned task") }).await.unwrap();
    "ok"
}

struct Harness {
    capture: Capture,
    handle: TargetingHandle,
    srv: TestServer,
}

/// The scenarios run one after another against one server and one filter, each starting from
/// no targets.
#[tokio::test]
async fn targeted_tracing_scenarios() {
    let (capture, layer) = Capture::new();
    let filter = TargetedFilter::new(LevelFilter::INFO);
    let handle = filter.handle();
    // This test's own subscriber, for its thread (the server runs on the test's runtime).
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer.with_filter(filter)));
    let app = Router::new()
        .route("/work", get(work))
        .route("/other", get(work))
        .route("/checkout", get(checkout))
        .nest("/admin", sessionscope::targeting::admin::router(handle.clone(), "t0ken"))
        .layer(SessionContextLayer::new(seeded_store()));
    let h = Harness { capture, handle, srv: TestServer::start(app).await };
    nothing_verbose_without_targets(&h).await;
    reset(&h);
    users_sessions_operations_with_or_within_and_across(&h).await;
    reset(&h);
    runtime_changes_take_effect_on_the_next_request_and_expire(&h).await;
    reset(&h);
    admin_router_needs_the_token_and_audits_changes(&h).await;
}

fn reset(h: &Harness) {
    h.handle.clear();
    h.handle.set_disabled(false);
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sends a request and returns the messages of its events.
async fn run(h: &Harness, path: &str, session: Option<&str>) -> Vec<String> {
    let cid = format!("tt-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let mut request = h.srv.get(path).header("x-correlation-id", &cid);
    if let Some(session) = session {
        request = request.header("x-session-id", session);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    h.capture.events_for(&cid).iter().map(|e: &CapturedEvent| e.message().to_owned()).collect()
}

fn verbose(messages: &[String]) -> bool {
    let debug = messages.iter().any(|m| m == "debug detail");
    let trace = messages.iter().any(|m| m == "trace detail in a spawned task");
    assert_eq!(debug, trace, "debug and trace go together: {messages:?}");
    assert!(messages.iter().any(|m| m == "working"), "info always passes: {messages:?}");
    debug
}

async fn nothing_verbose_without_targets(h: &Harness) {
    assert!(!verbose(&run(h, "/work", Some("s-alice")).await));
    assert!(!verbose(&run(h, "/work", None).await));
}

async fn users_sessions_operations_with_or_within_and_across(h: &Harness) {
    h.handle.add(Dimension::User, "alice", None).unwrap();
    assert!(verbose(&run(h, "/work", Some("s-alice")).await));
    assert!(!verbose(&run(h, "/work", Some("s-bob")).await));

    h.handle.add(Dimension::User, "bob", None).unwrap();
    assert!(verbose(&run(h, "/work", Some("s-bob")).await), "OR within users");

    h.handle.add(Dimension::Operation, "/other", None).unwrap();
    assert!(!verbose(&run(h, "/work", Some("s-alice")).await), "AND across: right user, wrong route");
    assert!(verbose(&run(h, "/other", Some("s-alice")).await));

    h.handle.clear();
    h.handle.add(Dimension::Operation, "checkout", None).unwrap();
    assert!(verbose(&run(h, "/checkout", Some("s-bob")).await), "operation named by #[with_session_context]");
    assert!(!verbose(&run(h, "/work", Some("s-bob")).await));

    h.handle.clear();
    let fingerprint = format!("fp:{}", sessionscope::Fingerprint::of("s-anon"));
    h.handle.add(Dimension::Session, &fingerprint, None).unwrap();
    assert!(verbose(&run(h, "/work", Some("s-anon")).await), "session by fingerprint, no user needed");
    assert!(!verbose(&run(h, "/work", Some("s-alice")).await));
    h.handle.clear();
    h.handle.add(Dimension::Session, "s-alice", None).unwrap();
    assert!(verbose(&run(h, "/work", Some("s-alice")).await), "session by raw id");
}

async fn runtime_changes_take_effect_on_the_next_request_and_expire(h: &Harness) {
    assert!(!verbose(&run(h, "/work", Some("s-bob")).await));
    h.handle.add(Dimension::User, "bob", Some(Duration::from_millis(300))).unwrap();
    assert!(verbose(&run(h, "/work", Some("s-bob")).await));
    h.handle.set_disabled(true);
    assert!(!verbose(&run(h, "/work", Some("s-bob")).await), "global off switch");
    h.handle.set_disabled(false);
    assert!(verbose(&run(h, "/work", Some("s-bob")).await));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!verbose(&run(h, "/work", Some("s-bob")).await), "expired");
}

async fn admin_router_needs_the_token_and_audits_changes(h: &Harness) {
    let url = h.srv.url("/admin/targets");
    for auth in [None, Some("Bearer wrong"), Some("Bearer t0ke"), Some("t0ken"), Some("Basic t0ken")] {
        let mut request = h.srv.client.get(&url);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }

    let lower = h.srv.client.get(&url).header("authorization", "bearer t0ken").send().await.unwrap();
    assert_eq!(lower.status(), 200, "the scheme is case-insensitive");

    let add = h
        .srv
        .client
        .post(&url)
        .bearer_auth("t0ken")
        .header("x-correlation-id", "admin-add")
        .json(&serde_json::json!({"dimension": "session", "value": "s-bob", "ttl_secs": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(add.status(), 204);
    assert!(verbose(&run(h, "/work", Some("s-bob")).await), "effective for the next request");

    let snapshot: serde_json::Value =
        h.srv.client.get(&url).bearer_auth("t0ken").send().await.unwrap().json().await.unwrap();
    let fingerprint = sessionscope::Fingerprint::of("s-bob").to_string();
    assert_eq!(snapshot["sessions"][0]["value"], fingerprint.as_str());
    assert!(snapshot["sessions"][0]["expires_in_secs"].as_u64().unwrap() <= 600);
    assert!(!snapshot.to_string().contains("s-bob"), "the snapshot shows fingerprints only");

    let audit = h
        .capture
        .events_for("admin-add")
        .into_iter()
        .find(|e| e.target == "sessionscope::audit")
        .expect("an audit event");
    assert_eq!(audit.field("action"), Some("add"));
    assert_eq!(audit.field("dimension"), Some("session"));
    assert_eq!(audit.field("value"), Some(fingerprint.as_str()));
    assert!(!audit.render().contains("s-bob"));

    let remove = h
        .srv
        .client
        .delete(&url)
        .bearer_auth("t0ken")
        .json(&serde_json::json!({"dimension": "session", "value": "s-bob"}));
    assert_eq!(remove.send().await.unwrap().status(), 204);
    assert!(!verbose(&run(h, "/work", Some("s-bob")).await));

    // Admin shows a raw session id: a raw id of 16 hex digits could pass for a fingerprint.
    // Bare, it is refused as ambiguous; as `raw:` it is kept and shown as its fingerprint
    // only; as `fp:` a fingerprint is taken as one.
    let hex_id = "0123456789abcdef";
    let post = |value: String, correlation_id: &'static str| {
        let body = serde_json::json!({"dimension": "session", "value": value});
        h.srv.client.post(&url).bearer_auth("t0ken").header("x-correlation-id", correlation_id).json(&body).send()
    };
    let ambiguous = post(hex_id.to_owned(), "admin-hex-1").await.unwrap();
    assert_eq!(ambiguous.status(), 400);
    assert!(ambiguous.text().await.unwrap().contains("`fp:<fingerprint>`"), "the message names the fix");
    assert_eq!(post(format!("raw:{hex_id}"), "admin-hex-2").await.unwrap().status(), 204);
    assert_eq!(post("fp:not-a-fingerprint".to_owned(), "admin-hex-3").await.unwrap().status(), 400);
    let other = sessionscope::Fingerprint::of("s-carol");
    assert_eq!(post(format!("fp:{other}"), "admin-hex-4").await.unwrap().status(), 204);
    let snapshot = h.srv.client.get(&url).bearer_auth("t0ken").send().await.unwrap().text().await.unwrap();
    assert!(!snapshot.contains(hex_id), "the snapshot never shows a submitted raw id: {snapshot}");
    assert!(
        snapshot.contains(&sessionscope::Fingerprint::of(hex_id).to_string()) && snapshot.contains(&other.to_string())
    );
    for id in ["admin-hex-1", "admin-hex-2", "admin-hex-3", "admin-hex-4"] {
        for event in h.capture.events_for(id) {
            assert!(!event.render().contains(hex_id), "never in an audit line: {}", event.render());
        }
    }
    h.handle.clear();

    let off = h
        .srv
        .client
        .put(h.srv.url("/admin/targets/disabled"))
        .bearer_auth("t0ken")
        .json(&serde_json::json!({"disabled": true}));
    assert_eq!(off.send().await.unwrap().status(), 204);
    assert!(h.handle.is_disabled());
    h.handle.set_disabled(false);

    // Limits: a TTL past 30 days (or one that would overflow the clock) is refused with a
    // message; so is a target past the maximum count.
    for ttl_secs in [sessionscope::targeting::admin::MAX_TTL_SECS + 1, u64::MAX, 1 << 63] {
        let body = serde_json::json!({"dimension": "user", "value": "zoe", "ttl_secs": ttl_secs});
        let refused = h.srv.client.post(&url).bearer_auth("t0ken").json(&body).send().await.unwrap();
        assert_eq!(refused.status(), 400, "ttl_secs {ttl_secs}");
        assert!(refused.text().await.unwrap().contains("ttl_secs must be at most"));
    }
    for n in 0..sessionscope::targeting::MAX_TARGETS {
        h.handle.add(Dimension::Operation, &format!("/op-{n}"), None).unwrap();
    }
    let body = serde_json::json!({"dimension": "user", "value": "one-too-many"});
    let full = h.srv.client.post(&url).bearer_auth("t0ken").json(&body).send().await.unwrap();
    assert_eq!(full.status(), 409);
    assert!(full.text().await.unwrap().contains("at most 10000 tracing targets"));
    assert!(h.handle.snapshot().users.is_empty(), "nothing was added");
    h.handle.clear();
}
