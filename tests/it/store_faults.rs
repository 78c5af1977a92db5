//! Stores that misbehave under load: every request still finishes, within the lookup
//! timeout, with the degradation recorded.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{FailingStore, HangingStore, PanickingStore, Probe, TestServer, json, probe_routes};
use sessionscope::{LookupError, SessionContextLayer, SessionId, SessionLookup, SessionRecord};

/// Answers correctly, but only after a delay.
struct SlowStore {
    delay: Duration,
    calls: Arc<AtomicUsize>,
}

impl SessionLookup for SlowStore {
    async fn lookup(&self, _id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(Some(SessionRecord::for_user("late")))
    }
}

/// Sends `count` concurrent requests and returns the outcomes the handlers saw. A request
/// that has not finished after 10 s fails the test: that would be a hang, not slowness.
async fn outcomes<L: SessionLookup>(layer: SessionContextLayer<L>, count: usize) -> Vec<String> {
    let srv = TestServer::start(probe_routes().layer(layer)).await;
    let requests = (0..count).map(|n| {
        let request = srv.get("/probe").header("x-session-id", format!("s-{n}")).send();
        async move {
            let response = tokio::time::timeout(Duration::from_secs(10), request).await.expect("no hang").unwrap();
            assert_eq!(response.status(), 200);
            json::<Probe>(response).await.handler.outcome.unwrap()
        }
    });
    futures_util::future::join_all(requests).await
}

#[tokio::test]
async fn slow_store_under_load_times_out_every_request() {
    let calls = Arc::new(AtomicUsize::new(0));
    let store = SlowStore { delay: Duration::from_secs(30), calls: Arc::clone(&calls) };
    let layer = SessionContextLayer::new(store).lookup_timeout(Duration::from_millis(50));
    let seen = outcomes(layer, 300).await;
    assert!(seen.iter().all(|o| o == "timed_out"), "{seen:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 300);
}

#[tokio::test]
async fn slow_but_in_time_store_still_finds_users() {
    let store = SlowStore { delay: Duration::from_millis(20), calls: Arc::default() };
    let seen = outcomes(SessionContextLayer::new(store).lookup_timeout(Duration::from_secs(5)), 200).await;
    assert!(seen.iter().all(|o| o == "found"), "{seen:?}");
}

#[tokio::test]
async fn hanging_erroring_and_panicking_stores_under_load() {
    let hanging = outcomes(SessionContextLayer::new(HangingStore).lookup_timeout(Duration::from_millis(30)), 200).await;
    assert!(hanging.iter().all(|o| o == "timed_out"));
    let failing = outcomes(SessionContextLayer::new(FailingStore), 200).await;
    assert!(failing.iter().all(|o| o == "failed"));
    let panicking = outcomes(SessionContextLayer::new(PanickingStore), 200).await;
    assert!(panicking.iter().all(|o| o == "failed"));
}

/// Panics while making its future, before anything is awaited (a plain `fn` returning a
/// future, not an `async fn`), and in `lookup_now` too.
struct PanicsBeforeItsFuture;

impl SessionLookup for PanicsBeforeItsFuture {
    #[allow(unreachable_code, clippy::diverging_sub_expression)]
    fn lookup(
        &self,
        _id: &SessionId,
    ) -> impl std::future::Future<Output = Result<Option<SessionRecord>, LookupError>> + Send {
        panic!("the store broke before returning its future");
        std::future::ready(Ok(None))
    }

    fn lookup_now(
        &self,
        _id: &SessionId,
        _now: std::time::Instant,
    ) -> Option<Result<Option<SessionRecord>, LookupError>> {
        panic!("the store broke while answering at once")
    }
}

#[tokio::test]
async fn a_store_that_panics_before_returning_its_future_is_a_failed_lookup() {
    let srv = TestServer::start(probe_routes().layer(SessionContextLayer::new(PanicsBeforeItsFuture))).await;
    for _ in 0..3 {
        let response = srv.get("/probe").header("x-session-id", "s-1").header("x-correlation-id", "early-panic").send();
        let response = tokio::time::timeout(Duration::from_secs(10), response).await.expect("no hang").unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(common::correlation_header(&response), "early-panic");
        let probe: Probe = json(response).await;
        assert_eq!(probe.handler.outcome.as_deref(), Some("failed"));
        assert_eq!(probe.handler.user_id, None);
    }
}
