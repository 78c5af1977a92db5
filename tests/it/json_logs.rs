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
struct Buffer(Arc<Mutex<Vec<u8>>>);

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
    fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect()
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
            .with_span_list(false)
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
}
