//! Keyed fingerprints: with a shared key every fingerprint is HMAC-SHA-256 under it, the same
//! in every process that has the key, and a key cannot be set once fingerprints were made.
//!
//! The key is process-wide, so the scenario runs in a child process of this test binary
//! (this file's `child` test, selected by name, with an environment variable that tells it
//! it is the child); in the ordinary run the child test returns at once.

use crate::common;

use axum::Router;
use axum::routing::get;
use common::{TestServer, seeded_store};
use sessionscope::ids::{FingerprintKeyError, set_fingerprint_key};
use sessionscope::testing::Capture;
use sessionscope::{Fingerprint, SessionContextLayer};
use tracing_subscriber::layer::SubscriberExt as _;

const CHILD: &str = "SESSIONSCOPE_KEYED_FINGERPRINT_CHILD";
const KEY: &[u8] = b"shared-fingerprint-key-0123456789";
// HMAC-SHA-256 under KEY, first 64 bits, computed outside this crate.
const KEYED_ALICE: &str = "7fe389e74a98c509";
const UNKEYED_ALICE: &str = "b6356bcd0c73054d";

#[test]
fn a_shared_key_makes_every_fingerprint_keyed() {
    common::run_in_child_process("keyed_fingerprints::child", CHILD);
}

#[test]
fn a_key_is_refused_when_too_short_or_too_late() {
    assert_eq!(set_fingerprint_key(b"short"), Err(FingerprintKeyError::Length(5)));
    assert_eq!(set_fingerprint_key(&[7; 2000]), Err(FingerprintKeyError::Length(2000)));
    // This process has made unkeyed fingerprints (this test makes one to be sure).
    assert_eq!(Fingerprint::of("s-alice").to_string(), UNKEYED_ALICE);
    assert_eq!(set_fingerprint_key(KEY), Err(FingerprintKeyError::TooLate));
    assert_eq!(Fingerprint::of("s-alice").to_string(), UNKEYED_ALICE, "a refused key changes nothing");
}

#[tokio::test]
async fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    set_fingerprint_key(KEY).expect("a fresh process takes the key");
    assert_eq!(set_fingerprint_key(KEY), Err(FingerprintKeyError::AlreadySet));
    assert_eq!(Fingerprint::of("s-alice").to_string(), KEYED_ALICE);

    let (capture, capture_layer) = Capture::new();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer));
    let app = Router::new()
        .route("/", get(|| async { tracing::info!("hello") }))
        .layer(SessionContextLayer::new(seeded_store()));
    let srv = TestServer::start(app).await;
    let response = srv.get("/").header("x-session-id", "s-alice").header("x-correlation-id", "keyed-1").send();
    assert_eq!(response.await.unwrap().status(), 200);
    let events = capture.events_for("keyed-1");
    assert!(!events.is_empty());
    for event in &events {
        assert_eq!(event.field("session.id"), Some(KEYED_ALICE), "{}", event.render());
        assert!(!event.render().contains(UNKEYED_ALICE), "no unkeyed fingerprint: {}", event.render());
    }
}
