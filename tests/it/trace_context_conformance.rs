//! Features `opentelemetry` and `reqwest`: a service behind the layer passes the W3C Trace
//! Context validation suite (`tests/w3c-trace-context`, run with Python and aiohttp).
//!
//! The harness posts a list of calls to the service's `/test`; the service makes each call
//! (a POST of its `arguments` to its `url`) carrying its context, and the harness checks the
//! `traceparent` and `tracestate` it receives against what it sent.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::routing::post;
use common::{TestServer, seeded_store};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use sessionscope::SessionContextLayer;
use sessionscope::propagate::RequestBuilderExt as _;
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(serde::Deserialize)]
struct Call {
    url: String,
    arguments: serde_json::Value,
}

async fn test_service(Json(calls): Json<Vec<Call>>) -> &'static str {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
    for call in calls {
        // Each outgoing call in a client span of its own, so each carries its own parent id.
        // The harness judges what reaches it; a call it does not answer fails its own test.
        let send = async { client.post(&call.url).json(&call.arguments).with_context().send().await };
        let _ = send.instrument(tracing::info_span!("POST", otel.kind = "client")).await;
    }
    "ok"
}

/// A Python that can run the harness: `SESSIONSCOPE_PYTHON`, else `python3`, with aiohttp.
fn python() -> Option<String> {
    let python = std::env::var("SESSIONSCOPE_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ready = std::process::Command::new(&python).args(["-c", "import aiohttp"]).output();
    if ready.is_ok_and(|out| out.status.success()) {
        return Some(python);
    }
    assert!(std::env::var_os("CI").is_none(), "CI must run the W3C harness: install Python 3 with aiohttp");
    eprintln!("skipping the W3C Trace Context suite: no {python} with aiohttp (pip install aiohttp)");
    None
}

#[tokio::test]
async fn the_w3c_trace_context_validation_suite_passes() {
    let Some(python) = python() else { return };
    let provider = SdkTracerProvider::builder().build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("conformance"));
    // This test's own subscriber, for its thread: the service runs on the test's runtime.
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(otel));

    let service = TestServer::start(
        Router::new().route("/test", post(test_service)).layer(SessionContextLayer::new(seeded_store())),
    )
    .await;
    let harness_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let harness = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/w3c-trace-context");
    let run = tokio::process::Command::new(&python)
        .arg("test.py")
        .arg(service.url("/test"))
        .current_dir(&harness)
        .env("HARNESS_PORT", harness_port.to_string())
        .env("STRICT_LEVEL", "2")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run).await.expect("the harness finishes").unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{report}");
    let ran = report.lines().find(|line| line.starts_with("Ran ")).unwrap_or_default().to_owned();
    assert!(output.status.success(), "the W3C suite failed ({ran}):\n{report}");
    assert!(ran.starts_with("Ran ") && !ran.starts_with("Ran 0 "), "the suite ran its tests: {ran:?}");
}

const CHILD: &str = "SESSIONSCOPE_OTEL_LAYER_MISSING_CHILD";

/// A valid `traceparent` while no OpenTelemetry layer of sessionscope's version is installed
/// is said once. Run in a child process (this file's `missing_layer_child`, by name): the
/// warning is once per process.
#[test]
fn a_traceparent_without_an_opentelemetry_layer_is_warned_about_once() {
    common::run_in_child_process("trace_context_conformance::missing_layer_child", CHILD);
}

#[tokio::test]
async fn missing_layer_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let (capture, capture_layer) = sessionscope::testing::Capture::new();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer));
    let srv = TestServer::start(
        Router::new().route("/", axum::routing::get(|| async { "ok" })).layer(SessionContextLayer::new(seeded_store())),
    )
    .await;
    for _ in 0..3 {
        let request = srv.get("/").header("traceparent", "00-12345678901234567890123456789012-1234567890123456-01");
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
    let warnings: Vec<_> = capture
        .all()
        .into_iter()
        .filter(|e| e.target == "sessionscope::otel" && e.level == tracing::Level::WARN)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].message().contains("sessionscope::otel::layer"), "the warning names the fix");
}
