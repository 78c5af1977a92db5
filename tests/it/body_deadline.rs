//! A slow body cannot hold a request: past the peek deadline the request goes on without the
//! body's session id, and the handler receives what was read followed by the rest, unchanged.

use crate::common;

use std::time::Duration;

use axum::routing::post;
use bytes::Bytes;
use common::{Probe, Seen, TestServer, digest, json, probe_routes, seeded_store};
use sessionscope::SessionContextLayer;
use sessionscope::testing;
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_millis(150);

/// A request body fed by hand: chunks go out as they are sent; it ends when the sender drops.
fn fed_body() -> (mpsc::Sender<Bytes>, reqwest::Body) {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    (tx, reqwest::Body::wrap_stream(stream))
}

/// Answers without reading its body.
async fn ignores_body() -> axum::Json<Seen> {
    axum::Json(Seen::now())
}

#[tokio::test]
async fn a_stalled_body_does_not_keep_a_handler_that_ignores_it_from_answering() {
    let app = probe_routes()
        .route("/ignore", post(ignores_body))
        .layer(SessionContextLayer::new(seeded_store()).body_peek_deadline(DEADLINE));
    let srv = TestServer::start(app).await;
    let (tx, body) = fed_body();
    tx.send(Bytes::from_static(br#"{"session_id":"s-al"#)).await.unwrap();
    let request = srv
        .post("/ignore")
        .header("content-type", "application/json")
        .header("x-correlation-id", "stalled-1")
        .body(body)
        .send();
    // The client never finishes its body while it waits: only the deadline can let the
    // request through. 10 s would mean it was held.
    let response = tokio::time::timeout(Duration::from_secs(10), request).await.expect("answered while stalled");
    let response = response.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(common::correlation_header(&response), "stalled-1");
    let seen: Seen = json(response).await;
    assert_eq!(seen.session_id, None, "half a body gives no id");
    assert_eq!(seen.outcome.as_deref(), Some("no_session"));
    drop(tx);
}

#[tokio::test]
async fn a_body_that_ends_after_the_deadline_reaches_the_handler_whole_and_unpeeked() {
    let capture = testing::capture();
    let app = probe_routes().layer(SessionContextLayer::new(seeded_store()).body_peek_deadline(DEADLINE));
    let srv = TestServer::start(app).await;
    let (tx, body) = fed_body();
    let first = Bytes::from_static(br#"{"session_id":"s-alice","#);
    let second = Bytes::from_static(br#""note":"late"}"#);
    let whole = [first.as_ref(), second.as_ref()].concat();
    let request = tokio::spawn(
        srv.post("/probe")
            .header("content-type", "application/json")
            .header("x-correlation-id", "late-body-1")
            .body(body)
            .send(),
    );
    tx.send(first).await.unwrap();
    tokio::time::sleep(DEADLINE * 3).await;
    tx.send(second).await.unwrap();
    drop(tx);
    let response = tokio::time::timeout(Duration::from_secs(10), request).await.expect("answered").unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let probe: Probe = json(response).await;
    assert_eq!((probe.body_len, probe.body_sha), (whole.len(), digest(&whole)), "the same bytes");
    assert_eq!(probe.handler.session_id, None, "past the deadline the body's id is not taken");

    let events = capture.events_for("late-body-1");
    let unpeeked = events.iter().find(|e| e.message() == "body handed on unpeeked").expect("a debug event says why");
    assert_eq!(unpeeked.field("reason"), Some("deadline"));
}

#[tokio::test]
async fn a_slow_body_that_ends_within_the_deadline_is_peeked() {
    let app = probe_routes().layer(SessionContextLayer::new(seeded_store()).body_peek_deadline(Duration::from_secs(5)));
    let srv = TestServer::start(app).await;
    let (tx, body) = fed_body();
    let request = tokio::spawn(srv.post("/probe").header("content-type", "application/json").body(body).send());
    for chunk in [&br#"{"sess"#[..], br#"ion_id":"s-"#, br#"alice"}"#] {
        tx.send(Bytes::from_static(chunk)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    drop(tx);
    let response = tokio::time::timeout(Duration::from_secs(10), request).await.expect("answered").unwrap().unwrap();
    let probe: Probe = json(response).await;
    assert_eq!(probe.handler.user_id.as_deref(), Some("alice"));
    assert_eq!(probe.handler.session_source.as_deref(), Some("body"));
    assert_eq!(probe.body_sha, digest(br#"{"session_id":"s-alice"}"#));
}
