//! Custom fields (issue 13, item 6): chosen request headers, session record attributes and
//! a hook's values, on the context and at the top level of every JSON line of the request.

use crate::common;
use crate::json_logs::{Buffer, lines_for};

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use common::TestServer;
use sessionscope::{MemoryStore, SessionContextLayer, SessionId, SessionRecord};
use tracing_subscriber::layer::SubscriberExt;

fn store() -> MemoryStore {
    let store = MemoryStore::new();
    let record = SessionRecord::for_user("alice").with_attribute("org", "o-17").with_attribute("roles", "admin,ops");
    store.insert(&SessionId::parse("s-org").unwrap(), record, Duration::from_secs(600));
    store
}

fn layer() -> SessionContextLayer<MemoryStore> {
    SessionContextLayer::new(store())
        .field_from_header("x-tenant-id", "tenant.id")
        .field_from_session("org", "org.id")
        .field_from_session("roles", "user.roles")
        .fields_with(|head, fields| {
            let version = if head.uri.path().starts_with("/v2/") { "2" } else { "1" };
            fields.insert("api.version", version);
        })
}

/// What the handler reads of the context's custom fields.
async fn fields() -> Json<Vec<(String, String)>> {
    tracing::info!("inside");
    let ctx = sessionscope::current().expect("inside the layer");
    Json(ctx.fields().map(|(name, value)| (name.to_owned(), value.to_owned())).collect())
}

async fn logout() -> Json<Vec<(String, String)>> {
    sessionscope::end_session();
    tracing::info!("after logout");
    fields().await
}

fn app() -> Router {
    Router::new()
        .route("/v2/fields", get(fields))
        .route("/fields", get(fields))
        .route("/logout", get(logout))
        .layer(layer())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

#[tokio::test]
async fn custom_fields_reach_the_context_and_every_json_line() {
    // The global capture: with no global subscriber, a callsite first hit by a test without
    // one can be cached as uninteresting before this test's own subscriber exists.
    let _ = sessionscope::testing::capture();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let layer = sessionscope::logging::json_layer_with_writer(move || writer.clone());
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let srv = TestServer::start(app()).await;

    let response = srv
        .get("/v2/fields")
        .header("x-session-id", "s-org")
        .header("x-tenant-id", "acme")
        .header("x-correlation-id", "fields-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: Vec<(String, String)> = response.json().await.unwrap();
    assert_eq!(
        seen,
        pairs(&[("tenant.id", "acme"), ("api.version", "2"), ("org.id", "o-17"), ("user.roles", "admin,ops")])
    );

    let lines = lines_for(&buffer, "fields-1");
    assert!(lines.len() >= 2, "the handler's line and the summary: {:?}", buffer.lines());
    for (raw, line) in &lines {
        assert_eq!(line["tenant.id"], "acme", "{raw}");
        assert_eq!(line["org.id"], "o-17", "{raw}");
        assert_eq!(line["user.roles"], "admin,ops", "{raw}");
        assert_eq!(line["api.version"], "2", "{raw}");
        assert_eq!(raw.matches("\"tenant.id\":").count(), 1, "written once: {raw}");
    }

    // Without the header or a session, only what the request has.
    let response = srv.get("/fields").header("x-correlation-id", "fields-2").send().await.unwrap();
    let seen: Vec<(String, String)> = response.json().await.unwrap();
    assert_eq!(seen, pairs(&[("api.version", "1")]));
    for (raw, line) in lines_for(&buffer, "fields-2") {
        assert!(line.get("tenant.id").is_none() && line.get("org.id").is_none(), "{raw}");
    }
}

#[tokio::test]
async fn hostile_header_values_are_left_out_or_cut() {
    let _ = sessionscope::testing::capture();
    let srv = TestServer::start(app()).await;
    let long = format!("\u{202e}{}", "x".repeat(10_000));
    let response = srv.get("/fields").header("x-tenant-id", long.as_str()).send().await.unwrap();
    // A header value that is not visible ASCII (here an invisible override) is left out.
    let seen: Vec<(String, String)> = response.json().await.unwrap();
    assert!(seen.iter().all(|(name, _)| name != "tenant.id"), "a non-ASCII header value is left out: {seen:?}");

    // A value past the limit is cut: no request grows what every line of it carries.

    let response = srv.get("/fields").header("x-tenant-id", "y".repeat(10_000)).send().await.unwrap();
    let seen: Vec<(String, String)> = response.json().await.unwrap();
    let tenant = &seen.iter().find(|(name, _)| name == "tenant.id").unwrap().1;
    assert_eq!(tenant.len(), sessionscope::context::MAX_FIELD_VALUE_LEN);
}

#[tokio::test]
async fn a_session_that_ends_takes_its_fields_with_it() {
    let _ = sessionscope::testing::capture();
    let srv = TestServer::start(app()).await;
    let response =
        srv.get("/logout").header("x-session-id", "s-org").header("x-tenant-id", "acme").send().await.unwrap();
    let seen: Vec<(String, String)> = response.json().await.unwrap();
    assert_eq!(seen, pairs(&[("tenant.id", "acme"), ("api.version", "1")]), "the session's own fields are gone");
}

#[tokio::test]
async fn a_name_set_by_the_head_and_the_session_is_carried_once() {
    let layer = SessionContextLayer::new(store()).field_from_session("org", "org.id").fields_with(|_, fields| {
        fields.insert("org.id", "from-the-hook");
    });
    let srv = TestServer::start(Router::new().route("/fields", get(fields)).layer(layer)).await;
    let response = srv.get("/fields").header("x-session-id", "s-org").send().await.unwrap();
    let seen: Vec<(String, String)> = response.json().await.unwrap();
    assert_eq!(seen, pairs(&[("org.id", "from-the-hook")]), "the head's value, once");
}

#[test]
#[should_panic(expected = "is a key sessionscope writes itself")]
fn a_reserved_field_name_is_refused_at_build() {
    let _ = SessionContextLayer::new(MemoryStore::new()).field_from_header("x-user", "user.id");
}

#[test]
#[should_panic(expected = "configured twice")]
fn a_field_configured_twice_is_refused_at_build() {
    let _ = SessionContextLayer::new(MemoryStore::new())
        .field_from_header("x-tenant-id", "tenant.id")
        .field_from_session("tenant", "tenant.id");
}

// Issue 13, item 6, the hook in the spirit of `MakeSpan`: a span of the service's own,
// inside the request span, around the inner service; its fields are on every line the
// service writes, in the text formatter too.
#[tokio::test]
async fn a_span_of_the_services_own_carries_its_fields_in_the_text_formatter() {
    let _ = sessionscope::testing::capture();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let text = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(move || writer.clone());
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(text));

    let layer = SessionContextLayer::new(store()).make_span_with(|head| {
        let tenant = head.headers.get("x-tenant-id").and_then(|value| value.to_str().ok()).unwrap_or("none");
        tracing::info_span!("tenant", tenant.id = tenant)
    });
    #[sessionscope::with_session_context(operation = "tenant_op")]
    async fn with_macro() -> &'static str {
        tracing::info!("inside the macro");
        "ok"
    }
    let app = Router::new().route("/fields", get(fields)).route("/macro", get(with_macro)).layer(layer);
    let srv = TestServer::start(app).await;
    let response = srv
        .get("/fields")
        .header("x-session-id", "s-org")
        .header("x-tenant-id", "acme")
        .header("x-correlation-id", "own-span-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let written = String::from_utf8(buffer.bytes()).unwrap();
    let inside = written.lines().find(|line| line.contains("inside") && line.contains("own-span-1")).expect(&written);
    assert!(inside.contains("request{correlation_id=own-span-1"), "the request span first: {inside}");
    assert!(inside.contains(":tenant{tenant.id=\"acme\"}"), "then the service's span: {inside}");
    assert!(inside.contains("user.id=\"alice\""), "{inside}");

    // A `#[with_session_context]` handler's operation span nests inside the service's span.
    let response = srv.get("/macro").header("x-tenant-id", "acme").header("x-correlation-id", "own-span-2").send();
    assert_eq!(response.await.unwrap().status(), 200);
    let written = String::from_utf8(buffer.bytes()).unwrap();
    let inside = written.lines().find(|line| line.contains("inside the macro")).expect(&written);
    assert!(inside.contains(":tenant{tenant.id=\"acme\"}:tenant_op"), "request, service span, operation: {inside}");
}
