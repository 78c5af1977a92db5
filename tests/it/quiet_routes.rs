//! Quiet routes: a health check keeps its context and the correlation id echo, writes no
//! summary line, and its request span is at DEBUG; other routes are unchanged.

use crate::common;

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::routing::get;
use common::{TestServer, correlation_header, seeded_store};
use sessionscope::SessionContextLayer;
use sessionscope::testing::Capture;
use tracing::span::{Attributes, Id};
use tracing::{Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};

/// The level of every `request` span opened, with its correlation id.
#[derive(Clone, Default)]
struct RequestSpanLevels(Arc<Mutex<Vec<(String, Level)>>>);

impl RequestSpanLevels {
    fn of(&self, correlation_id: &str) -> Vec<Level> {
        let seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        seen.iter().filter(|(id, _)| id == correlation_id).map(|(_, level)| *level).collect()
    }
}

impl<S: Subscriber> Layer<S> for RequestSpanLevels {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() != "request" {
            return;
        }
        struct CorrelationId(Option<String>);
        impl tracing::field::Visit for CorrelationId {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "correlation_id" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        let mut id = CorrelationId(None);
        attrs.record(&mut id);
        if let Some(id) = id.0 {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push((id, *attrs.metadata().level()));
        }
    }
}

async fn who() -> String {
    tracing::info!("probed");
    let ctx = sessionscope::current().expect("a quiet request still has its context");
    format!("{} {}", ctx.correlation_id(), ctx.user_id().unwrap_or("-"))
}

#[tokio::test]
async fn a_quiet_route_keeps_its_context_and_echo_but_writes_no_summary() {
    let (capture, capture_layer) = Capture::new();
    let levels = RequestSpanLevels::default();
    // This test's own subscriber, for its thread: the server runs on the test's runtime.
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer).with(levels.clone()));

    let app =
        Router::new().route("/health", get(who)).route("/work", get(who)).route("/internal/{probe}", get(who)).layer(
            SessionContextLayer::new(seeded_store())
                .quiet_routes(["/health"])
                .quiet_when(|head| head.uri.path().starts_with("/internal/")),
        );
    let srv = TestServer::start(app).await;

    for (path, id) in [("/health", "quiet-health-1"), ("/internal/ready", "quiet-internal-1")] {
        let response =
            srv.get(path).header("x-session-id", "s-alice").header("x-correlation-id", id).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(correlation_header(&response), id, "the echo is unchanged on {path}");
        assert_eq!(response.text().await.unwrap(), format!("{id} alice"), "the context is unchanged on {path}");

        let events = capture.events_for(id);
        let messages: Vec<&str> = events.iter().map(|e| e.message()).collect();
        assert!(messages.contains(&"probed"), "the handler's own line is written on {path}: {messages:?}");
        assert!(!messages.contains(&"request finished"), "no summary on {path}: {messages:?}");
        assert_eq!(levels.of(id), [Level::DEBUG], "the request span of {path} is at DEBUG");
    }

    let response = srv.get("/work").header("x-session-id", "s-alice").header("x-correlation-id", "loud-1").send();
    assert_eq!(response.await.unwrap().status(), 200);
    let events = capture.events_for("loud-1");
    let summary = events.iter().find(|e| e.message() == "request finished").expect("other routes keep their summary");
    assert_eq!(summary.level, Level::INFO);
    assert_eq!(levels.of("loud-1"), [Level::INFO]);
}

#[tokio::test]
async fn a_request_that_only_looks_like_a_quiet_route_is_not_quiet() {
    let (capture, capture_layer) = Capture::new();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer));

    // `/health` is not a route here: it reaches the catch-all, which must stay visible.
    let app = Router::new()
        .route("/{*rest}", get(who))
        .layer(SessionContextLayer::new(seeded_store()).quiet_routes(["/health"]));
    let srv = TestServer::start(app).await;
    let response = srv.get("/health").header("x-correlation-id", "not-quiet-1").send();
    assert_eq!(response.await.unwrap().status(), 200);
    let events = capture.events_for("not-quiet-1");
    assert!(events.iter().any(|e| e.message() == "request finished"), "{events:?}");
}
