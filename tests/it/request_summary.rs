//! The summary event at the end of each request, log_once, error-once and slow operations.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{TestServer, seeded_store};
use sessionscope::SessionContextLayer;
use sessionscope::diagnostics::Tier;
use sessionscope::testing::{self, CapturedEvent};

/// A service-level error wrapping the infrastructure one: `source()` points at the root cause.
#[derive(Debug)]
struct Wrapped(std::io::Error);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("service could not load the cart")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

async fn busy() -> &'static str {
    for attempt in 0..3 {
        sessionscope::log_once!("retry", tracing::warn!(attempt, "retrying the cart service"));
    }
    let root = std::io::Error::other("connection reset");
    // The error bubbles up through three layers; each reports it.
    let infra_logged = sessionscope::diagnostics::log_error(Tier::Infrastructure, &root);
    let wrapped = Wrapped(root);
    let service_logged = sessionscope::diagnostics::log_error(Tier::Service, &wrapped);
    let api_logged = sessionscope::diagnostics::log_error(Tier::Api, &wrapped);
    assert!(infra_logged && !service_logged && !api_logged);
    // A different error counts separately.
    sessionscope::diagnostics::log_error(Tier::Api, &std::io::Error::other("bad coupon"));

    Tier::Core.set_threshold(Duration::from_millis(5));
    sessionscope::diagnostics::timed(Tier::Core, "price_cart", tokio::time::sleep(Duration::from_millis(20))).await;
    sessionscope::diagnostics::timed(Tier::Infrastructure, "fast_lookup", async {}).await;
    {
        let _timer = sessionscope::diagnostics::time(Tier::Core, "render");
        std::thread::sleep(Duration::from_millis(10));
    }
    "ok"
}

async fn quiet() -> &'static str {
    "ok"
}

fn by_message<'a>(events: &'a [CapturedEvent], message: &str) -> Vec<&'a CapturedEvent> {
    events.iter().filter(|e| e.message() == message).collect()
}

#[tokio::test]
async fn summary_counts_errors_once_and_slow_operations() {
    let capture = testing::capture();
    let app = Router::new()
        .route("/busy", get(busy))
        .route("/quiet", get(quiet))
        .layer(SessionContextLayer::new(seeded_store()));
    let srv = TestServer::start(app).await;
    let response = srv.get("/busy").header("x-session-id", "s-alice").header("x-correlation-id", "sum-1").send().await;
    assert_eq!(response.unwrap().status(), 200);

    let events = capture.events_for("sum-1");
    assert_eq!(by_message(&events, "retrying the cart service").len(), 1, "log_once logs once per request");

    let errors = by_message(&events, "request error");
    assert_eq!(errors.len(), 2, "one per distinct root cause");
    assert_eq!(errors[0].field("layer"), Some("infrastructure"), "logged at the layer it came from");
    assert_eq!(errors[0].field("error"), Some("connection reset"));
    assert_eq!(errors[1].field("error"), Some("bad coupon"));

    let slow = by_message(&events, "slow operation");
    let slow_names: Vec<_> = slow.iter().map(|e| e.field("operation").unwrap()).collect();
    assert_eq!(slow_names, ["price_cart", "render"]);
    assert_eq!(slow[0].field("tier"), Some("core"));

    let summary = by_message(&events, "request finished");
    assert_eq!(summary.len(), 1, "exactly one summary");
    let summary = summary[0];
    assert_eq!(summary.target, "sessionscope::request");
    assert_eq!(summary.field("status"), Some("200"));
    assert_eq!(summary.field("lookup.outcome"), Some("found"), "from the request span");
    assert_eq!(summary.field("errors"), Some("2"));
    assert_eq!(summary.field("slow_operations"), Some("2"));
    assert_eq!(summary.field("slow"), Some("price_cart,render"));
    assert_eq!(summary.field("user.id"), Some("alice"), "the summary is inside the request span");
    assert!(summary.field("latency_ms").unwrap().parse::<f64>().unwrap() >= 20.0);
    testing::assert_every_event_has(&events, &[("correlation_id", "sum-1"), ("user.id", "alice")]);

    // log_once is per request: the next request logs again, and its counters start at zero.
    srv.get("/busy").header("x-correlation-id", "sum-2").send().await.unwrap();
    assert_eq!(by_message(&capture.events_for("sum-2"), "retrying the cart service").len(), 1);
    srv.get("/quiet").header("x-correlation-id", "sum-3").send().await.unwrap();
    let quiet = capture.events_for("sum-3");
    let summary = by_message(&quiet, "request finished")[0];
    // Zero counts are left off the summary.
    assert_eq!((summary.field("errors"), summary.field("slow_operations"), summary.field("slow")), (None, None, None));
    assert_eq!(summary.field("lookup.outcome"), Some("no_session"));
}

async fn server_error() -> (http::StatusCode, &'static str) {
    (http::StatusCode::INTERNAL_SERVER_ERROR, "broken")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(120)).await;
    "ok"
}

/// The summaries written for `/quiet`, `/broken` and `/slow` under `summary`, in that order
/// (`None` where none was written), with the level of each.
async fn summaries_under(summary: sessionscope::layer::Summary, tag: &str) -> Vec<Option<tracing::Level>> {
    let capture = testing::capture();
    let app = Router::new()
        .route("/quiet", get(quiet))
        .route("/broken", get(server_error))
        .route("/slow", get(slow))
        .layer(SessionContextLayer::new(seeded_store()).summary(summary));
    let srv = TestServer::start(app).await;
    let mut levels = Vec::new();
    for path in ["/quiet", "/broken", "/slow"] {
        let correlation_id = format!("summary-{tag}{}", path.replace('/', "-"));
        let response = srv.get(path).header("x-correlation-id", &correlation_id).send().await.unwrap();
        assert_eq!(common::correlation_header(&response), correlation_id, "echoed whatever the summary");
        let events = capture.events_for(&correlation_id);
        let written = by_message(&events, "request finished");
        assert!(written.len() <= 1, "{written:?}");
        levels.push(written.first().map(|e| e.level));
    }
    levels
}

#[tokio::test]
async fn the_summary_can_be_lowered_kept_for_slow_or_failed_requests_or_switched_off() {
    use sessionscope::layer::Summary;
    use tracing::Level;
    let info = Some(Level::INFO);
    assert_eq!(summaries_under(Summary::Info, "info").await, [info, info, info], "the default: every request");
    let debug = Some(Level::DEBUG);
    assert_eq!(summaries_under(Summary::Debug, "debug").await, [debug, debug, debug]);
    let slow_or_failed = Summary::SlowOrFailed { slower_than: Duration::from_millis(60) };
    assert_eq!(summaries_under(slow_or_failed, "slow").await, [None, info, info], "fast and fine: none");
    assert_eq!(summaries_under(Summary::Off, "off").await, [None, None, None]);
}
