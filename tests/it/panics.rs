//! A panicking handler behind tower-http's CatchPanicLayer: a 500 that still carries the
//! correlation id, and a panic event that carries the request's context.

use crate::common;

use axum::Router;
use axum::routing::get;
use common::{TestServer, correlation_header, json, seeded_store};
use sessionscope::SessionContextLayer;
use sessionscope::testing;
use tower_http::catch_panic::CatchPanicLayer;

async fn boom() -> &'static str {
    sessionscope::set_agent_phase("exploding");
    let index = std::hint::black_box(7);
    let items: Vec<u8> = Vec::new();
    let _ = items[index];
    "unreachable"
}

#[tokio::test]
async fn panic_becomes_a_500_with_the_context_on_its_event() {
    let capture = testing::capture();
    let app = Router::new()
        .route("/boom", get(boom))
        .layer(CatchPanicLayer::custom(sessionscope::handler::panic_response))
        .layer(SessionContextLayer::new(seeded_store()));
    let srv = TestServer::start(app).await;

    let response = srv
        .get("/boom")
        .header("x-session-id", "s-alice")
        .header("x-correlation-id", "handler-panic-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(correlation_header(&response), "handler-panic-1");
    let body: serde_json::Value = json(response).await;
    assert_eq!(body["error"], "internal_error");
    assert_eq!(body["correlation_id"], "handler-panic-1");
    assert!(!body.to_string().contains("index out of bounds"), "the panic message is not sent to the client");

    let events = capture.events_for("handler-panic-1");
    let panic = events.iter().find(|e| e.message() == "handler panicked").expect("a panic event");
    assert_eq!(panic.level, tracing::Level::ERROR);
    assert!(panic.field("panic").unwrap().contains("index out of bounds"));
    assert_eq!(panic.field("user.id"), Some("alice"));
    assert_eq!(panic.field("agent.phase"), Some("exploding"));
    let fingerprint = sessionscope::Fingerprint::of("s-alice").to_string();
    assert_eq!(panic.field("session.id"), Some(fingerprint.as_str()));
    let summary = events.iter().find(|e| e.message() == "request finished").unwrap();
    assert_eq!(summary.field("status"), Some("500"), "{}", summary.render());

    // The server keeps serving.
    let again = srv.get("/boom").send().await.unwrap();
    assert_eq!(again.status(), 500);
}
