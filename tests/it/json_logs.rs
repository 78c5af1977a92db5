//! Every JSON log line written anywhere in a request carries the request's fields.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::routing::get;
use common::{TestServer, seeded_store};
use sessionscope::SessionContextLayer;
use tracing_subscriber::layer::SubscriberExt;

/// Collects what the JSON formatter writes.
#[derive(Clone, Default)]
pub(crate) struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    /// Everything written so far.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Every line written, as written and parsed (each must be one JSON object).
    fn raw_lines(&self) -> Vec<(String, serde_json::Value)> {
        String::from_utf8(self.bytes())
            .unwrap()
            .lines()
            .map(|l| (l.to_owned(), serde_json::from_str(l).expect("one JSON object per line")))
            .collect()
    }

    pub(crate) fn lines(&self) -> Vec<serde_json::Value> {
        self.raw_lines().into_iter().map(|(_, value)| value).collect()
    }
}

mod billing {
    pub async fn charge() {
        tracing::info!(amount = 42, "charging");
    }
}

async fn checkout() -> &'static str {
    tracing::info!("checkout started");
    billing::charge().await;
    sessionscope::set_agent_phase("settling");
    sessionscope::spawn(async { tracing::info!("receipt queued") }).await.unwrap();
    "ok"
}

#[tokio::test]
async fn handler_service_and_spawned_task_lines_carry_every_field() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || writer.clone()),
    );
    // This test's own subscriber, for its thread: the server runs on the test's runtime,
    // on this thread, so every line of the request reaches it.
    let _subscriber = tracing::subscriber::set_default(subscriber);

    let app = Router::new().route("/checkout/{cart}", get(checkout)).layer(SessionContextLayer::new(seeded_store()));
    let srv = TestServer::start(app).await;
    let response = srv.get("/checkout/7").header("x-session-id", "s-alice").header("x-correlation-id", "json-1").send();
    assert_eq!(response.await.unwrap().status(), 200);

    let lines = buffer.lines();
    let ours: Vec<&serde_json::Value> = lines.iter().filter(|l| l["span"]["correlation_id"] == "json-1").collect();
    let messages: Vec<&str> = ours.iter().map(|l| l["fields"]["message"].as_str().unwrap()).collect();
    for expected in ["checkout started", "charging", "receipt queued", "request finished"] {
        assert!(messages.contains(&expected), "missing {expected:?} in {messages:?}");
    }
    let fingerprint = sessionscope::Fingerprint::of("s-alice").to_string();
    for line in &ours {
        let span = &line["span"];
        assert_eq!(span["name"], "request", "{line}");
        assert_eq!(span["session.id"], fingerprint.as_str(), "{line}");
        assert_eq!(span["user.id"], "alice", "{line}");
        assert_eq!(span["lookup.outcome"], "found", "{line}");
        assert_eq!(span["http.request.method"], "GET", "{line}");
        assert_eq!(span["http.route"], "/checkout/{cart}", "{line}");
        assert_eq!(span["client.address"], "127.0.0.1", "{line}");
        assert!(!line.to_string().contains("s-alice"), "raw session id in a log line: {line}");
    }
    let receipt = ours.iter().find(|l| l["fields"]["message"] == "receipt queued").unwrap();
    assert_eq!(receipt["span"]["agent.phase"], "settling", "phase recorded once set");
    let summary = ours.iter().find(|l| l["fields"]["message"] == "request finished").unwrap();
    assert_eq!(summary["fields"]["status"], 200);
    assert_eq!(summary["fields"]["session.source"], "header", "where the id came from, told once");
    assert!(summary["fields"]["latency_ms"].as_f64().unwrap() >= 0.0);
    // Counts that are zero are left off; the status is printed once, by the summary itself.
    assert!(summary["fields"].get("errors").is_none() && summary["fields"].get("slow_operations").is_none());
    assert!(summary["span"].get("http.response.status_code").is_none(), "status printed twice: {summary}");
    // The summary belongs to its request in a setup that lists spans too.
    let spans = summary["spans"].as_array().expect("the span list");
    assert_eq!(spans.len(), 1, "{summary}");
    assert_eq!(spans[0]["name"], "request");
    assert_eq!(spans[0]["correlation_id"], "json-1");
}

mod inventory {
    /// A service function with a span of its own: its lines are written in that span.
    #[tracing::instrument(name = "reserve_stock", skip_all, fields(items = 3))]
    pub async fn reserve() {
        tracing::info!("reserving stock");
    }
}

#[sessionscope::with_session_context(operation = "place_order")]
async fn place_order() -> &'static str {
    // Inside the operation span the macro opens, a child of the request span.
    tracing::info!("placing order");
    inventory::reserve().await;
    sessionscope::set_agent_phase("confirming");
    sessionscope::spawn(async { tracing::info!("confirmation queued") }).await.unwrap();
    "ok"
}

/// The lines written for one correlation id, as written and parsed.
pub(crate) fn lines_for(buffer: &Buffer, correlation_id: &str) -> Vec<(String, serde_json::Value)> {
    buffer.raw_lines().into_iter().filter(|(_, value)| value["correlation_id"] == correlation_id).collect()
}

#[tokio::test]
async fn the_json_layer_puts_the_context_at_the_top_level_of_every_line_whatever_span_it_is_in() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let layer = sessionscope::logging::json_layer_with_writer(move || writer.clone());
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let app = Router::new().route("/orders/{cart}", get(place_order)).layer(SessionContextLayer::new(seeded_store()));
    let srv = TestServer::start(app).await;
    let response =
        srv.get("/orders/7").header("x-session-id", "s-alice").header("x-correlation-id", "json-top-1").send();
    assert_eq!(response.await.unwrap().status(), 200);

    let lines = lines_for(&buffer, "json-top-1");
    let messages: Vec<&str> = lines.iter().map(|(_, l)| l["message"].as_str().unwrap_or_default()).collect();
    for expected in ["placing order", "reserving stock", "confirmation queued", "request finished"] {
        assert!(messages.contains(&expected), "missing {expected:?} in {messages:?}");
    }
    let fingerprint = sessionscope::Fingerprint::of("s-alice").to_string();
    for (raw, line) in &lines {
        assert_eq!(line["session.id"], fingerprint.as_str(), "{raw}");
        assert_eq!(line["user.id"], "alice", "{raw}");
        assert_eq!(line["http.route"], "/orders/{cart}", "{raw}");
        assert_eq!(line["http.request.method"], "GET", "{raw}");
        assert_eq!(line["lookup.outcome"], "found", "{raw}");
        assert!(line["timestamp"].is_string() && line["level"].is_string(), "{raw}");
        for key in ["\"correlation_id\":", "\"user.id\":", "\"session.id\":"] {
            assert_eq!(raw.matches(key).count(), 1, "{key} written once: {raw}");
        }
        assert!(!raw.contains("s-alice"), "raw session id in a log line: {raw}");
    }
    let by_message = |m: &str| &lines.iter().find(|(_, l)| l["message"] == m).unwrap().1;
    assert_eq!(by_message("placing order")["operation"], "place_order", "written in the operation span");
    assert_eq!(by_message("reserving stock")["name"], "reserve_stock", "the innermost span is shown");
    assert_eq!(by_message("reserving stock")["items"], 3);
    assert_eq!(by_message("reserving stock")["operation"], "place_order");
    assert_eq!(by_message("confirmation queued")["agent.phase"], "confirming");
    let summary = by_message("request finished");
    assert_eq!(summary["name"], "request", "the summary is written in the request span");
    assert_eq!(summary["status"], 200);
    assert_eq!(summary["operation"], "place_order");
}
