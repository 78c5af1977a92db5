//! The Redis store against a real `redis-server` on loopback: formats, TTL, the layer over
//! HTTP, the cache in front, and faults (down at start, killed and restarted, frozen).
//!
//! Run with `cargo test --features redis --test redis_store -- --nocapture` to see the
//! measured figures (latency, recovery time).

use crate::common;
use crate::redis_support;

use std::time::{Duration, Instant};

use common::{Counting, Probe, TestServer, json, probe_routes};
use sessionscope::{
    CachedLookup, SessionContextLayer, SessionId, SessionLookup, SessionRecord, lookup::RecordFormat,
    lookup::RedisStore, testing,
};
use tracing::Instrument as _;

const HOUR: Duration = Duration::from_secs(3600);
const LOOKUP_TIMEOUT: Duration = Duration::from_millis(200);

fn store(url: &str) -> RedisStore {
    RedisStore::builder(url).key_prefix("test:session:").build().expect("valid url")
}

fn sid(raw: &str) -> SessionId {
    SessionId::parse(raw).unwrap()
}

/// Asks the probe route with `session`; returns what the handler saw and how long it took.
async fn probe(server: &TestServer, session: &SessionId) -> (Probe, Duration) {
    let started = Instant::now();
    let response = server.get("/probe").header("x-session-id", session.expose()).send().await.expect("request");
    assert_eq!(response.status(), 200, "a store fault never fails the request");
    let probe: Probe = json(response).await;
    (probe, started.elapsed())
}

fn outcome(probe: &Probe) -> &str {
    probe.handler.outcome.as_deref().unwrap_or_default()
}

async fn app_on<L: SessionLookup>(lookup: L) -> TestServer {
    TestServer::start(probe_routes().layer(SessionContextLayer::new(lookup).lookup_timeout(LOOKUP_TIMEOUT))).await
}

/// Polls until the probe reports `found`; returns the time it took and the requests made.
async fn until_found(server: &TestServer, session: &SessionId, within: Duration) -> (Duration, usize) {
    let started = Instant::now();
    for attempt in 1.. {
        let (probe, _) = probe(server, session).await;
        if outcome(&probe) == "found" {
            return (started.elapsed(), attempt);
        }
        assert!(started.elapsed() < within, "not recovered within {within:?}; last outcome {}", outcome(&probe));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unreachable!()
}

#[tokio::test]
async fn hash_records_tell_users_anonymous_unknown_and_expired_apart() {
    let Some(redis) = redis_support::start() else { return };
    let store = store(&redis.url());

    let alice = store.create(&SessionRecord::for_user("alice"), HOUR).await.unwrap();
    let anon = store.create(&SessionRecord::anonymous(), HOUR).await.unwrap();
    let brief = store.create(&SessionRecord::for_user("bob"), Duration::from_millis(150)).await.unwrap();
    assert_eq!(alice.expose().len(), 32, "128 random bits in hex");

    assert_eq!(store.lookup(&alice).await.unwrap(), Some(SessionRecord::for_user("alice")));
    assert_eq!(store.lookup(&anon).await.unwrap(), Some(SessionRecord::anonymous()));
    assert_eq!(store.lookup(&sid("never-created")).await.unwrap(), None);
    assert_eq!(store.lookup(&brief).await.unwrap(), Some(SessionRecord::for_user("bob")));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.lookup(&brief).await.unwrap(), None, "Redis expired the session");

    assert!(store.delete(&alice).await.unwrap());
    assert!(!store.delete(&alice).await.unwrap());
    assert_eq!(store.lookup(&alice).await.unwrap(), None);
}

#[tokio::test]
async fn json_records_use_the_configured_user_field_and_prefix() {
    let Some(redis) = redis_support::start() else { return };
    let json_store =
        RedisStore::builder(redis.url()).key_prefix("app-a:").format(RecordFormat::json("uid")).build().unwrap();
    let other_prefix = RedisStore::builder(redis.url()).key_prefix("app-b:").build().unwrap();

    let id = json_store.create(&SessionRecord::for_user("carol"), HOUR).await.unwrap();
    assert_eq!(json_store.lookup(&id).await.unwrap(), Some(SessionRecord::for_user("carol")));
    assert_eq!(other_prefix.lookup(&id).await.unwrap(), None, "another prefix is another namespace");

    let anon = json_store.create(&SessionRecord::anonymous(), HOUR).await.unwrap();
    assert_eq!(json_store.lookup(&anon).await.unwrap(), Some(SessionRecord::anonymous()));

    // A record in the other format is reported as an error, never as a user.
    let hash_reader = RedisStore::builder(redis.url()).key_prefix("app-a:").build().unwrap();
    let error = hash_reader.lookup(&id).await.expect_err("a JSON string read as a hash");
    assert!(!error.to_string().contains(id.expose()), "errors never carry the raw id: {error}");
}

// Issue 13, item 6: a record's attributes survive both formats and become custom fields.
#[tokio::test]
async fn record_attributes_round_trip_and_become_fields() {
    let Some(redis) = redis_support::start() else { return };
    let record = SessionRecord::for_user("dora").with_attribute("org", "o-9").with_attribute("tenant", "acme");
    let hash_store = store(&redis.url());
    let json_store =
        RedisStore::builder(redis.url()).key_prefix("attrs:").format(RecordFormat::json("uid")).build().unwrap();
    for store in [&hash_store, &json_store] {
        let id = store.create(&record, HOUR).await.unwrap();
        let read = store.lookup(&id).await.unwrap().expect("stored");
        assert_eq!(read.user_id(), Some("dora"));
        assert_eq!(read.attributes().collect::<Vec<_>>(), [("org", "o-9"), ("tenant", "acme")]);
    }

    // A record another application wrote, with a field that is not text: the field is left
    // out, the session still found.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg("test:session:s-binary")
        .arg("user_id")
        .arg("erin")
        .arg("blob")
        .arg(&b"\xff\xfe"[..])
        .arg("org")
        .arg("o-2")
        .query_async(&mut conn)
        .await
        .unwrap();
    let read = hash_store.lookup(&sid("s-binary")).await.unwrap().expect("found despite the binary field");
    assert_eq!((read.user_id(), read.attributes().collect::<Vec<_>>()), (Some("erin"), vec![("org", "o-2")]));

    async fn org() -> String {
        sessionscope::current().and_then(|ctx| ctx.field("org.id").map(str::to_owned)).unwrap_or_default()
    }
    let id = hash_store.create(&record, HOUR).await.unwrap();
    let app = axum::Router::new()
        .route("/org", axum::routing::get(org))
        .layer(SessionContextLayer::new(hash_store).field_from_session("org", "org.id"));
    let server = TestServer::start(app).await;
    let response = server.get("/org").header("x-session-id", id.expose()).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "o-9");
}

#[tokio::test]
async fn the_layer_resolves_users_from_redis_over_http() {
    let Some(redis) = redis_support::start() else { return };
    let store = store(&redis.url());
    let alice = store.create(&SessionRecord::for_user("alice"), HOUR).await.unwrap();
    let server = app_on(store.clone()).await;

    let (probe, _) = probe(&server, &alice).await;
    assert_eq!(probe.handler.user_id.as_deref(), Some("alice"));
    assert_eq!(outcome(&probe), "found");
    assert_eq!(outcome(&probe_unknown(&server).await), "unknown");

    // Latency of a lookup straight against Redis, for the report (not asserted).
    let mut samples: Vec<Duration> = Vec::new();
    for _ in 0..500 {
        let started = Instant::now();
        store.lookup(&alice).await.unwrap();
        samples.push(started.elapsed());
    }
    samples.sort();
    println!(
        "redis lookup latency over loopback: p50 {:?}, p99 {:?}, max {:?}",
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples[samples.len() - 1]
    );
}

async fn probe_unknown(server: &TestServer) -> Probe {
    probe(server, &sid("no-such-session")).await.0
}

#[tokio::test]
async fn cache_hits_never_reach_redis_even_while_it_is_down() {
    let Some(mut redis) = redis_support::start() else { return };
    let store = store(&redis.url());
    let alice = store.create(&SessionRecord::for_user("alice"), HOUR).await.unwrap();
    let counting = Counting::new(store);
    let server = app_on(CachedLookup::new(counting.clone())).await;

    for _ in 0..5 {
        assert_eq!(outcome(&probe(&server, &alice).await.0), "found");
    }
    assert_eq!(counting.calls(), 1, "one miss, then hits only");

    redis.kill();
    let (probe, _) = probe(&server, &alice).await;
    assert_eq!(probe.handler.user_id.as_deref(), Some("alice"), "served from the cache with Redis gone");
    assert_eq!(counting.calls(), 1);
}

#[tokio::test]
async fn redis_down_at_start_degrades_then_recovers_without_restart() {
    let Some(mut redis) = redis_support::start() else { return };
    let port = redis.port();
    redis.kill();

    // The app starts while nothing listens on the port.
    let store = store(&redis.url());
    assert!(store.connect().await.is_err());
    let server = app_on(store.clone()).await;
    let session = sid("s-down-at-start");
    for _ in 0..3 {
        let (probe, took) = probe(&server, &session).await;
        assert_eq!(outcome(&probe), "failed");
        assert_eq!(probe.handler.user_id, None);
        assert!(took < LOOKUP_TIMEOUT + Duration::from_millis(300), "degraded within the timeout: {took:?}");
    }

    redis.restart();
    assert_eq!(redis.port(), port);
    store.insert(&session, &SessionRecord::for_user("dana"), HOUR).await.expect("Redis is back");
    let (recovered_in, attempts) = until_found(&server, &session, Duration::from_secs(5)).await;
    println!("down at start: found after Redis came up in {recovered_in:?} ({attempts} request(s))");
}

#[tokio::test]
async fn redis_killed_mid_run_then_restarted_on_the_same_port_recovers() {
    let Some(mut redis) = redis_support::start() else { return };
    let store = store(&redis.url());
    let session = sid("s-killed-mid-run");
    store.insert(&session, &SessionRecord::for_user("erin"), HOUR).await.unwrap();
    let server = app_on(store.clone()).await;
    assert_eq!(outcome(&probe(&server, &session).await.0), "found");

    redis.kill();
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let (probe, took) = probe(&server, &session).await;
        assert!(matches!(outcome(&probe), "failed" | "timed_out"), "degraded, got {}", outcome(&probe));
        assert_eq!(probe.handler.user_id, None);
        worst = worst.max(took);
    }
    assert!(worst < LOOKUP_TIMEOUT + Duration::from_millis(300), "degraded within the timeout: {worst:?}");

    // A fresh server holds no data (no persistence): the app re-creates the session.
    redis.restart();
    let restarted = Instant::now();
    store.insert(&session, &SessionRecord::for_user("erin"), HOUR).await.expect("Redis is back");
    let (recovered_in, attempts) = until_found(&server, &session, Duration::from_secs(5)).await;
    println!(
        "killed mid-run: slowest degraded request {worst:?}; found {:?} after restart ({attempts} request(s))",
        restarted.elapsed().max(recovered_in)
    );
}

#[tokio::test]
async fn frozen_redis_keeps_requests_within_the_lookup_timeout() {
    let Some(redis) = redis_support::start() else { return };
    let store = store(&redis.url());
    let session = sid("s-frozen");
    store.insert(&session, &SessionRecord::for_user("frank"), HOUR).await.unwrap();
    let server = app_on(store.clone()).await;
    assert_eq!(outcome(&probe(&server, &session).await.0), "found");

    redis.pause();
    let mut worst = Duration::ZERO;
    for _ in 0..3 {
        let (probe, took) = probe(&server, &session).await;
        assert_eq!(outcome(&probe), "timed_out");
        assert!(took >= LOOKUP_TIMEOUT, "waited for the store up to the timeout: {took:?}");
        worst = worst.max(took);
    }
    assert!(worst < LOOKUP_TIMEOUT + Duration::from_millis(300), "bounded by the timeout: {worst:?}");

    redis.resume();
    let (recovered_in, attempts) = until_found(&server, &session, Duration::from_secs(5)).await;
    println!(
        "frozen: slowest request {worst:?} (timeout {LOOKUP_TIMEOUT:?}); found {recovered_in:?} after SIGCONT ({attempts} request(s))"
    );
}

#[tokio::test]
async fn failures_warn_once_per_interval_and_recovery_is_logged() {
    let capture = testing::capture();
    let Some(mut redis) = redis_support::start() else { return };
    let store = RedisStore::builder(redis.url()).warn_interval(Duration::from_secs(60)).build().unwrap();
    let session = sid("s-warn-1");
    store.insert(&session, &SessionRecord::for_user("gina"), HOUR).await.unwrap();

    redis.kill();
    let span = tracing::info_span!("request", correlation_id = "redis-warn-check");
    for _ in 0..10 {
        assert!(store.lookup(&session).instrument(span.clone()).await.is_err());
    }
    redis.restart();
    let recovered = async {
        store.insert(&session, &SessionRecord::for_user("gina"), HOUR).await.expect("Redis is back");
        for _ in 0..100 {
            if store.lookup(&session).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    assert!(recovered.instrument(span.clone()).await);

    let events: Vec<_> =
        capture.events_for("redis-warn-check").into_iter().filter(|e| e.target == "sessionscope::redis").collect();
    let warnings: Vec<_> = events.iter().filter(|e| e.level == tracing::Level::WARN).collect();
    assert_eq!(warnings.len(), 1, "ten failures, one warning: {events:#?}");
    assert!(!warnings[0].render().contains(session.expose()), "the raw id is never logged");
    let back: Vec<_> = events.iter().filter(|e| e.message().contains("reachable again")).collect();
    assert_eq!(back.len(), 1, "{events:#?}");
    let failures: u64 = back[0].field("failures").unwrap().parse().unwrap();
    assert!(failures >= 10, "every failure counted: {failures}");
}

/// Two instances on one `redis-server`, each with its own store client and cache; a
/// session deleted through one is refused by `require_user` on the other, well within 1 s.
#[tokio::test]
async fn a_session_deleted_on_one_instance_is_refused_by_the_other_within_a_second() {
    let Some(redis) = redis_support::start() else { return };
    let instance = |store: RedisStore| async move {
        let layer = SessionContextLayer::new(CachedLookup::new(store)).require_user();
        TestServer::start(probe_routes().layer(layer)).await
    };
    let (store_a, store_b) = (store(&redis.url()), store(&redis.url()));
    let (a, b) = (instance(store_a.clone()).await, instance(store_b.clone()).await);
    let session = store_a.create(&SessionRecord::for_user("alice"), HOUR).await.unwrap();
    let status = |server: &TestServer| {
        let request = server.get("/probe").header("x-session-id", session.expose()).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!((status(&a).await, status(&b).await), (200, 200), "both instances admit and cache the session");
    // Both caches hold it now (default TTL 60 s): only a revocation can end it sooner.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let deleted_at = Instant::now();
    assert!(store_a.delete(&session).await.unwrap());
    let refused_after = loop {
        if status(&b).await == 401 {
            break deleted_at.elapsed();
        }
        assert!(deleted_at.elapsed() < Duration::from_secs(1), "instance B still admits the deleted session");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(status(&a).await, 401, "the instance that deleted it refuses it too");
    println!("revocation reached the other instance after {refused_after:?}");
}

/// While Redis is down the cache keeps serving; once it is back the cache starts afresh
/// (announcements made while nobody listened are lost), and revocations flow again.
#[tokio::test]
async fn revocations_resume_after_redis_restarts() {
    let Some(mut redis) = redis_support::start() else { return };
    let store = store(&redis.url());
    let cached = std::sync::Arc::new(CachedLookup::new(store.clone()));
    let server = app_on(std::sync::Arc::clone(&cached)).await;
    let session = store.create(&SessionRecord::for_user("alice"), HOUR).await.unwrap();
    until_found(&server, &session, Duration::from_secs(2)).await;

    redis.kill();
    let (probe_down, _) = probe(&server, &session).await;
    assert_eq!(outcome(&probe_down), "found", "served from the cache while Redis is down");

    redis.restart();
    until_found(&server, &session, Duration::from_secs(10)).await;
    // The follower resubscribes with a growing pause (at most 5 s); then a delete reaches the
    // cache again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let other = store.create(&SessionRecord::for_user("bob"), HOUR).await.unwrap();
    until_found(&server, &other, Duration::from_secs(2)).await;
    loop {
        store.delete(&other).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        if outcome(&probe(&server, &other).await.0) != "found" {
            break;
        }
        assert!(Instant::now() < deadline, "revocations never resumed after the restart");
        // Deleted already: put it back so the next delete announces it again.
        store.insert(&other, &SessionRecord::for_user("bob"), HOUR).await.unwrap();
        until_found(&server, &other, Duration::from_secs(2)).await;
    }
}
