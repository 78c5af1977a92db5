//! The handler always receives the very bytes the client sent, peeked or not.

use crate::common;

use common::{Probe, TestServer, digest, json, probe_routes, seeded_store};
use sessionscope::SessionContextLayer;

async fn server(limit: usize) -> TestServer {
    TestServer::start(probe_routes().layer(SessionContextLayer::new(seeded_store()).body_peek_limit(limit))).await
}

async fn send(srv: &TestServer, content_type: &str, body: Vec<u8>) -> Probe {
    let response = srv.post("/probe").header("content-type", content_type).body(body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    json(response).await
}

fn padded_json(session: &str, total: usize) -> Vec<u8> {
    let head = format!(r#"{{"session_id":"{session}","pad":""#);
    let mut body = head.into_bytes();
    body.resize(total - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

#[tokio::test]
async fn peeked_body_arrives_byte_identical() {
    let srv = server(1024).await;
    let body = br#"{ "z": [1, 2.50, "\u00e9"],  "session_id" : "s-alice" , "tail": null }"#.to_vec();
    let probe = send(&srv, "application/json", body.clone()).await;
    assert_eq!(probe.handler.session_source.as_deref(), Some("body"));
    assert_eq!(probe.handler.user_id.as_deref(), Some("alice"));
    assert_eq!(probe.body_sha, digest(&body));
}

#[tokio::test]
async fn body_at_the_limit_is_peeked_one_byte_over_is_untouched() {
    let srv = server(1024).await;
    let at_limit = padded_json("s-alice", 1024);
    let probe = send(&srv, "application/json", at_limit.clone()).await;
    assert_eq!(probe.handler.session_source.as_deref(), Some("body"));
    assert_eq!(probe.body_sha, digest(&at_limit));

    let over = padded_json("s-alice", 1025);
    let probe = send(&srv, "application/json", over.clone()).await;
    assert_eq!(probe.handler.session_id, None, "over the limit: not read");
    assert_eq!(probe.body_sha, digest(&over));
}

#[tokio::test]
async fn large_bodies_pass_through_whole() {
    let srv = server(sessionscope::layer::DEFAULT_BODY_PEEK_LIMIT).await;
    let big = padded_json("s-alice", 1536 * 1024); // under axum's own 2 MB extractor limit
    let probe = send(&srv, "application/json", big.clone()).await;
    assert_eq!(probe.handler.session_id, None);
    assert_eq!((probe.body_len, probe.body_sha), (big.len(), digest(&big)));
}

fn chunked(pieces: Vec<Vec<u8>>) -> reqwest::Body {
    let parts: Vec<Result<Vec<u8>, std::io::Error>> = pieces.into_iter().map(Ok).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(parts))
}

#[tokio::test]
async fn chunked_body_is_peeked_like_a_declared_one_and_arrives_whole() {
    let srv = server(1024).await;
    let pieces = vec![br#"{"session_id":"#.to_vec(), br#""s-alice"}"#.to_vec()];
    let response = srv.post("/probe").header("content-type", "application/json").body(chunked(pieces)).send();
    let probe: Probe = json(response.await.unwrap()).await;
    assert_eq!(probe.handler.session_id.as_deref(), Some("s-alice"));
    assert_eq!(probe.handler.session_source.as_deref(), Some("body"));
    assert_eq!(probe.body_sha, digest(br#"{"session_id":"s-alice"}"#));
}

#[tokio::test]
async fn chunked_body_past_the_limit_arrives_whole_and_unpeeked() {
    let srv = server(1024).await;
    // The id comes first, within the limit; the body goes on past it.
    let head = br#"{"session_id":"s-alice","pad":""#.to_vec();
    let pad = vec![b'x'; 3000];
    let tail = br#""}"#.to_vec();
    let whole = [head.clone(), pad.clone(), tail.clone()].concat();
    let pieces = vec![head, pad[..500].to_vec(), pad[500..].to_vec(), tail];
    let response = srv.post("/probe").header("content-type", "application/json").body(chunked(pieces)).send();
    let probe: Probe = json(response.await.unwrap()).await;
    assert_eq!(probe.handler.session_id, None, "a body past the limit is not peeked");
    assert_eq!((probe.body_len, probe.body_sha), (whole.len(), digest(&whole)));
}

#[tokio::test]
async fn invalid_json_and_binary_bodies_pass_through() {
    let srv = server(1024).await;
    let broken = br#"{"session_id":"s-alice", oops"#.to_vec();
    let probe = send(&srv, "application/json", broken.clone()).await;
    assert_eq!((probe.handler.session_id, probe.body_sha), (None, digest(&broken)));

    let binary: Vec<u8> = (0..=255u8).cycle().take(700).collect();
    let probe = send(&srv, "application/json", binary.clone()).await;
    assert_eq!((probe.handler.session_id, probe.body_sha), (None, digest(&binary)));
}

#[tokio::test]
async fn only_json_content_types_are_peeked() {
    let srv = server(1024).await;
    let body = br#"{"session_id":"s-alice"}"#.to_vec();
    for (content_type, peeked) in [
        ("application/json; charset=utf-8", true),
        ("application/merge-patch+json", true),
        ("text/plain", false),
        ("application/x-www-form-urlencoded", false),
    ] {
        let probe = send(&srv, content_type, body.clone()).await;
        assert_eq!(probe.handler.session_id.is_some(), peeked, "{content_type}");
        assert_eq!(probe.body_sha, digest(&body), "{content_type}");
    }
}

#[tokio::test]
async fn ambiguous_or_non_string_ids_are_ignored() {
    let srv = server(1024).await;
    for body in [
        r#"{"session_id":"s-alice","session_id":"s-bob"}"#,
        r#"{"session_id":42}"#,
        r#"{"session_id":["s-alice"]}"#,
        r#"{"session_id":{"id":"s-alice"}}"#,
        r#"{"inner":{"session_id":"s-alice"}}"#,
        r#"["s-alice"]"#,
    ] {
        let probe = send(&srv, "application/json", body.as_bytes().to_vec()).await;
        assert_eq!(probe.handler.session_id, None, "{body}");
        assert_eq!(probe.body_sha, digest(body.as_bytes()), "{body}");
    }
}

#[tokio::test]
async fn body_is_not_read_when_an_earlier_source_gave_the_id() {
    let srv = server(1024).await;
    let body = br#"{"session_id":"s-bob"}"#.to_vec();
    let response = srv
        .post("/probe")
        .header("x-session-id", "s-alice")
        .header("content-type", "application/json")
        .body(body.clone());
    let probe: Probe = json(response.send().await.unwrap()).await;
    assert_eq!(probe.handler.session_source.as_deref(), Some("header"));
    assert_eq!(probe.body_sha, digest(&body));
}

/// Body peek and the handler must agree: a body a full JSON parse refuses gives no id, and
/// with `require_session` it is a malformed source (400), not a missing one (401).
#[tokio::test]
async fn body_peek_and_the_handler_must_agree() {
    let strict = TestServer::start(
        common::probe_routes().layer(SessionContextLayer::new(common::seeded_store()).require_session()),
    )
    .await;
    for body in [
        r#"{"session_id":"s-alice","x":"\ud800"}"#,
        r#"{"session_id":1e999}"#,
        r#"{"sess":1e100000,"session_id":"s-alice"}"#,
    ] {
        let response = strict.post("/probe").header("content-type", "application/json").body(body).send();
        assert_eq!(response.await.unwrap().status(), 400, "{body}");
    }
    let fine = strict
        .post("/probe")
        .header("content-type", "application/json")
        .body(r#"{"x":"\ud83d\ude00","session_id":"s-alice"}"#)
        .send();
    assert_eq!(fine.await.unwrap().status(), 200);
}
