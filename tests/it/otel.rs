//! Feature `opentelemetry`: W3C trace context across services, checked with an in-memory
//! exporter. A joins the caller's trace, B joins A's, baggage carries the correlation id, and
//! request spans carry `session.id` (fingerprint) and `user.id`.

use crate::common;
use crate::redis_support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::{TestServer, json};
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde::{Deserialize, Serialize};
use sessionscope::{
    CachedLookup, SessionContextLayer, SessionId, SessionRecord, lookup::RedisStore, propagate::RequestBuilderExt as _,
};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The in-memory exporter all the tests here share, and its provider.
fn exporter() -> &'static InMemorySpanExporter {
    &provider().0
}

fn provider() -> &'static (InMemorySpanExporter, SdkTracerProvider) {
    static EXPORTER: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        (exporter, provider)
    })
}

/// A subscriber exporting to [`exporter`], for this test's thread (its servers run on the
/// test's runtime, on this thread).
fn export_spans() -> tracing::subscriber::DefaultGuard {
    let otel = tracing_opentelemetry::layer().with_tracer(provider().1.tracer("sessionscope-tests"));
    let (_capture, capture_layer) = sessionscope::testing::Capture::new();
    tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer).with(otel))
}

/// What B's handler saw of the trace.
#[derive(Debug, Serialize, Deserialize)]
struct TraceSeen {
    trace_id: String,
    baggage_correlation_id: Option<String>,
}

fn trace_seen() -> TraceSeen {
    let cx = tracing::Span::current().context();
    TraceSeen {
        trace_id: cx.span().span_context().trace_id().to_string(),
        baggage_correlation_id: cx.baggage().get("correlation_id").map(|v| v.to_string()),
    }
}

#[derive(Clone)]
struct Downstream {
    url: String,
    client: reqwest::Client,
}

async fn services(store: &RedisStore) -> (TestServer, TestServer) {
    let layer = || SessionContextLayer::new(CachedLookup::new(store.clone()));
    let b =
        TestServer::start(Router::new().route("/b", get(|| async { axum::Json(trace_seen()) })).layer(layer())).await;
    let down = Downstream { url: b.url("/b"), client: reqwest::Client::builder().no_proxy().build().unwrap() };
    let a = Router::new()
        .route(
            "/propagated",
            get(|State(d): State<Downstream>| async move { call(d.client.get(&d.url).with_context()).await }),
        )
        .route("/plain", get(|State(d): State<Downstream>| async move { call(d.client.get(&d.url)).await }))
        .with_state(down)
        .layer(layer());
    (TestServer::start(a).await, b)
}

async fn call(request: reqwest::RequestBuilder) -> axum::Json<TraceSeen> {
    axum::Json(json(request.send().await.expect("B answers")).await)
}

/// The exported `request` spans of one correlation id, waiting until `count` have ended.
async fn request_spans(correlation_id: &str, count: usize) -> Vec<SpanData> {
    let started = Instant::now();
    loop {
        let spans: Vec<SpanData> = exporter()
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| {
                s.span_kind == SpanKind::Server && attribute(s, "correlation_id").as_deref() == Some(correlation_id)
            })
            .collect();
        if spans.len() >= count || started.elapsed() > Duration::from_secs(5) {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

fn route_of<'a>(spans: &'a [SpanData], route: &str) -> &'a SpanData {
    spans.iter().find(|s| attribute(s, "http.route").as_deref() == Some(route)).expect("a span for the route")
}

async fn seeded() -> Option<(redis_support::RedisServer, RedisStore, SessionId)> {
    let redis = redis_support::start()?;
    let store = RedisStore::new(redis.url()).unwrap();
    let session = store.create(&SessionRecord::for_user("alice"), Duration::from_secs(600)).await.unwrap();
    Some((redis, store, session))
}

#[tokio::test]
async fn both_services_join_the_caller_s_trace() {
    let _spans = export_spans();
    let Some((_redis, store, session)) = seeded().await else { return };
    let (a, _b) = services(&store).await;

    let response = a
        .get("/propagated")
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("x-correlation-id", "otel-journey")
        .header("x-session-id", session.expose())
        .send()
        .await
        .unwrap();
    let seen_by_b: TraceSeen = json(response).await;
    assert_eq!(seen_by_b.trace_id, CALLER_TRACE);
    assert_eq!(seen_by_b.baggage_correlation_id.as_deref(), Some("otel-journey"));

    let spans = request_spans("otel-journey", 2).await;
    assert_eq!(spans.len(), 2, "A's and B's request spans");
    let (span_a, span_b) = (route_of(&spans, "/propagated"), route_of(&spans, "/b"));
    let caller_trace = TraceId::from_hex(CALLER_TRACE).unwrap();
    assert_eq!(span_a.span_context.trace_id(), caller_trace);
    assert_eq!(span_b.span_context.trace_id(), caller_trace, "both spans share one trace id");
    assert_eq!(span_a.parent_span_id, SpanId::from_hex(CALLER_SPAN).unwrap());
    assert_eq!(span_b.parent_span_id, span_a.span_context.span_id(), "B's span is a child of A's");

    // Semantic conventions: the fingerprint as `session.id` on A (B got no session id).
    assert_eq!(attribute(span_a, "session.id"), Some(session.fingerprint().to_string()));
    assert_eq!(attribute(span_a, "user.id").as_deref(), Some("alice"));
    assert_eq!(attribute(span_a, "http.response.status_code").as_deref(), Some("200"), "status on the span");
    for span in [span_a, span_b] {
        assert!(span.attributes.iter().all(|kv| !kv.value.to_string().contains(session.expose())), "no raw id");
    }
}

#[tokio::test]
async fn a_request_without_traceparent_starts_a_trace_that_b_joins() {
    let _spans = export_spans();
    let Some((_redis, store, session)) = seeded().await else { return };
    let (a, _b) = services(&store).await;

    let response = a
        .get("/propagated")
        .header("x-correlation-id", "otel-new-trace")
        .header("x-session-id", session.expose())
        .send()
        .await
        .unwrap();
    let _: TraceSeen = json(response).await;
    let spans = request_spans("otel-new-trace", 2).await;
    let (span_a, span_b) = (route_of(&spans, "/propagated"), route_of(&spans, "/b"));
    assert_eq!(span_a.parent_span_id, SpanId::INVALID, "A is the root");
    assert_eq!(span_b.span_context.trace_id(), span_a.span_context.trace_id());
}

#[tokio::test]
async fn without_propagation_the_traces_are_separate() {
    let _spans = export_spans();
    let Some((_redis, store, _session)) = seeded().await else { return };
    let (a, _b) = services(&store).await;

    let response = a.get("/plain").header("x-correlation-id", "otel-plain").send().await.unwrap();
    let seen_by_b: TraceSeen = json(response).await;
    assert_ne!(seen_by_b.trace_id, "00000000000000000000000000000000");
    let spans = request_spans("otel-plain", 1).await;
    let span_a = route_of(&spans, "/plain");
    assert_ne!(span_a.span_context.trace_id().to_string(), seen_by_b.trace_id);
    assert_eq!(seen_by_b.baggage_correlation_id, None);
}

mod inventory {
    pub async fn reserve() {
        tracing::info!("reserving");
    }
}

#[tokio::test]
async fn json_lines_carry_the_trace_and_span_ids() {
    let buffer = crate::json_logs::Buffer::default();
    let writer = buffer.clone();
    let otel = tracing_opentelemetry::layer().with_tracer(provider().1.tracer("sessionscope-tests"));
    let json = sessionscope::logging::json_layer_with_writer(move || writer.clone());
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(otel).with(json));

    let handler = || async {
        tracing::info!("in the handler");
        inventory::reserve().instrument(tracing::info_span!("reserve")).await;
        "ok"
    };
    let app = Router::new().route("/order", get(handler)).layer(SessionContextLayer::new(common::seeded_store()));
    let srv = TestServer::start(app).await;
    let response = srv
        .get("/order")
        .header("x-session-id", "s-alice")
        .header("x-correlation-id", "otel-json-1")
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send();
    assert_eq!(response.await.unwrap().status(), 200);

    let request_span = request_spans("otel-json-1", 1).await.pop().expect("the request span is exported");
    let request_span_id = request_span.span_context.span_id().to_string();
    let lines = buffer.lines();
    let ours: Vec<&serde_json::Value> = lines.iter().filter(|l| l["correlation_id"] == "otel-json-1").collect();
    let messages: Vec<&str> = ours.iter().filter_map(|l| l["message"].as_str()).collect();
    for expected in ["in the handler", "reserving", "request finished"] {
        assert!(messages.contains(&expected), "{expected:?} missing from {messages:?}");
    }
    for line in &ours {
        assert_eq!(line["trace_id"], CALLER_TRACE, "every line of the request is in the caller's trace: {line}");
        // A line in a child span of the request (`reserve`) names the request span too.
        assert_eq!(line["span_id"], request_span_id.as_str(), "every line names the request span: {line}");
    }
}

#[tokio::test]
async fn request_spans_follow_the_http_server_conventions() {
    let _spans = export_spans();
    let app = Router::new()
        .route("/orders/{id}", get(|| async { "ok" }))
        .route("/boom", get(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }))
        .layer(SessionContextLayer::new(common::seeded_store()));
    let srv = TestServer::start(app).await;
    let ok = srv.get("/orders/7?verbose=1").header("x-correlation-id", "semconv-ok").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let failed = srv.get("/boom").header("x-correlation-id", "semconv-503").send().await.unwrap();
    assert_eq!(failed.status(), 503);

    let ok = request_spans("semconv-ok", 1).await.pop().expect("exported");
    assert_eq!(ok.name, "GET /orders/{id}", "named `{{method}} {{route}}`");
    assert_eq!(ok.span_kind, SpanKind::Server);
    assert_eq!(attribute(&ok, "url.path").as_deref(), Some("/orders/7"), "the path without the query");
    assert_eq!(attribute(&ok, "url.scheme").as_deref(), Some("http"));
    assert_eq!(attribute(&ok, "http.route").as_deref(), Some("/orders/{id}"));
    assert_eq!(attribute(&ok, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attribute(&ok, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attribute(&ok, "error.type"), None);
    assert_ne!(ok.status, Status::error(""), "a success is not an error");

    let failed = request_spans("semconv-503", 1).await.pop().expect("exported");
    assert_eq!(failed.name, "GET /boom");
    assert!(matches!(failed.status, Status::Error { .. }), "a 5xx is an error: {:?}", failed.status);
    assert_eq!(attribute(&failed, "error.type").as_deref(), Some("503"));
    assert_eq!(attribute(&failed, "http.response.status_code").as_deref(), Some("503"));
}

// Issue 13, item 6: custom fields are attributes of the request's OpenTelemetry span, from
// the head at once and from the session record once the store answered.
#[tokio::test]
async fn custom_fields_are_span_attributes() {
    let _spans = export_spans();
    let store = sessionscope::MemoryStore::new();
    let record = sessionscope::SessionRecord::for_user("erin").with_attribute("org", "o-3");
    store.insert(&SessionId::parse("s-erin").unwrap(), record, Duration::from_secs(60));
    let app = Router::new().route("/", get(|| async { "ok" })).layer(
        SessionContextLayer::new(store)
            .field_from_header("x-tenant-id", "tenant.id")
            .field_from_session("org", "org.id"),
    );
    let srv = TestServer::start(app).await;
    let response = srv
        .get("/")
        .header("x-session-id", "s-erin")
        .header("x-tenant-id", "acme")
        .header("x-correlation-id", "otel-fields")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let span = request_spans("otel-fields", 1).await.pop().expect("exported");
    assert_eq!(attribute(&span, "tenant.id").as_deref(), Some("acme"));
    assert_eq!(attribute(&span, "org.id").as_deref(), Some("o-3"));
}
