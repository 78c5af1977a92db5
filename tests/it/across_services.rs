//! Context across services: service A calls service B inside a request; B continues A's
//! correlation id and session and finds the user in the Redis store both share.

use crate::common;
use crate::redis_support;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::{Seen, TestServer, json};
use serde::{Deserialize, Serialize};
use sessionscope::{
    CachedLookup, SessionContextLayer, SessionId, SessionRecord, lookup::RedisStore, propagate::PropagateContextLayer,
    propagate::Propagation, propagate::RequestBuilderExt as _, testing,
};
use tower::{Layer as _, Service as _, ServiceExt as _};

/// What A answers: what its handler saw, and what B's handler saw.
#[derive(Debug, Serialize, Deserialize)]
struct Journey {
    a: Seen,
    b: Seen,
}

#[derive(Clone)]
struct Downstream {
    url: String,
    client: reqwest::Client,
}

/// B: reports what its handler saw.
fn service_b(store: RedisStore) -> Router {
    Router::new().route("/whoami", get(|| async { axum::Json(Seen::now()) })).layer(layer(store))
}

/// A: calls B in four ways, each under its own route.
fn service_a(store: RedisStore, b: &TestServer) -> Router {
    let downstream =
        Downstream { url: b.url("/whoami"), client: reqwest::Client::builder().no_proxy().build().unwrap() };
    Router::new()
        .route("/reqwest", get(via_reqwest))
        .route("/reqwest-no-session", get(via_reqwest_without_session))
        .route("/tower", get(via_tower_layer))
        .route("/plain", get(without_propagation))
        .with_state(downstream)
        .layer(layer(store))
}

fn layer(store: RedisStore) -> SessionContextLayer<CachedLookup<RedisStore>> {
    SessionContextLayer::new(CachedLookup::new(store)).lookup_timeout(Duration::from_millis(500))
}

async fn via_reqwest(State(down): State<Downstream>) -> axum::Json<Journey> {
    let request = down.client.get(&down.url).with_context_using(&Propagation::new().with_session_id());
    answer(request.send().await.expect("B answers")).await
}

async fn via_reqwest_without_session(State(down): State<Downstream>) -> axum::Json<Journey> {
    answer(down.client.get(&down.url).with_context().send().await.expect("B answers")).await
}

async fn without_propagation(State(down): State<Downstream>) -> axum::Json<Journey> {
    answer(down.client.get(&down.url).send().await.expect("B answers")).await
}

/// A tower client stack: the propagation layer over a service that sends with reqwest.
async fn via_tower_layer(State(down): State<Downstream>) -> axum::Json<Journey> {
    let client = down.client.clone();
    let send = tower::service_fn(move |req: http::Request<String>| {
        let client = client.clone();
        async move {
            let req = reqwest::Request::try_from(req).expect("a valid request");
            Ok::<_, Infallible>(client.execute(req).await.expect("B answers"))
        }
    });
    let mut stack = PropagateContextLayer::new(Propagation::new().with_session_id()).layer(send);
    let request = http::Request::get(&down.url).body(String::new()).unwrap();
    let response = stack.ready().await.unwrap().call(request).await.unwrap();
    answer(response).await
}

async fn answer(from_b: reqwest::Response) -> axum::Json<Journey> {
    let b: Seen = json(from_b).await;
    axum::Json(Journey { a: Seen::now(), b })
}

struct Services {
    _redis: redis_support::RedisServer,
    a: TestServer,
    _b: TestServer,
    session: SessionId,
}

/// Redis, a session for alice in it, and A and B sharing it.
async fn services() -> Option<Services> {
    let redis = redis_support::start()?;
    let store = RedisStore::builder(redis.url()).key_prefix("shop:session:").build().unwrap();
    let session = store.create(&SessionRecord::for_user("alice"), Duration::from_secs(600)).await.unwrap();
    let b = TestServer::start(service_b(store.clone())).await;
    let a = TestServer::start(service_a(store, &b)).await;
    Some(Services { _redis: redis, a, _b: b, session })
}

async fn journey(services: &Services, route: &str, correlation_id: &str) -> Journey {
    let response = services
        .a
        .get(route)
        .header("x-correlation-id", correlation_id)
        .header("x-session-id", services.session.expose())
        .send()
        .await
        .expect("A answers");
    assert_eq!(response.status(), 200);
    json(response).await
}

#[tokio::test]
async fn b_continues_a_s_correlation_id_session_and_user_through_reqwest() {
    let capture = testing::capture();
    let Some(services) = services().await else { return };
    let journey = journey(&services, "/reqwest", "journey-reqwest").await;

    assert_eq!(journey.a.user_id.as_deref(), Some("alice"));
    assert_eq!(journey.b.correlation_id.as_deref(), Some("journey-reqwest"));
    assert_eq!(journey.b.session_id.as_deref(), Some(services.session.expose()));
    assert_eq!(journey.b.session_source.as_deref(), Some("header"));
    assert_eq!(journey.b.user_id.as_deref(), Some("alice"), "B found the user in the shared Redis store");
    assert_eq!(journey.b.outcome.as_deref(), Some("found"));

    // One user action, followed across both services by its correlation id.
    let finished: Vec<_> = capture
        .events_for("journey-reqwest")
        .into_iter()
        .filter(|e| e.target == "sessionscope::request" && e.message() == "request finished")
        .collect();
    let routes: Vec<_> = finished.iter().map(|e| e.field("http.route").unwrap_or_default().to_owned()).collect();
    assert_eq!(finished.len(), 2, "one summary per service: {routes:?}");
    assert!(routes.contains(&"/reqwest".to_owned()) && routes.contains(&"/whoami".to_owned()), "{routes:?}");
    testing::assert_every_event_has(
        &finished,
        &[("user.id", "alice"), ("session.id", &services.session.fingerprint().to_string())],
    );
}

#[tokio::test]
async fn the_tower_layer_carries_the_context_on_a_client_stack() {
    let Some(services) = services().await else { return };
    let journey = journey(&services, "/tower", "journey-tower").await;

    assert_eq!(journey.b.correlation_id.as_deref(), Some("journey-tower"));
    assert_eq!(journey.b.session_id.as_deref(), Some(services.session.expose()));
    assert_eq!(journey.b.user_id.as_deref(), Some("alice"));
}

#[tokio::test]
async fn the_session_id_travels_only_when_asked() {
    let Some(services) = services().await else { return };
    let journey = journey(&services, "/reqwest-no-session", "journey-no-session").await;

    assert_eq!(journey.b.correlation_id.as_deref(), Some("journey-no-session"));
    assert_eq!(journey.b.session_id, None);
    assert_eq!(journey.b.user_id, None);
    assert_eq!(journey.b.outcome.as_deref(), Some("no_session"));
}

#[tokio::test]
async fn without_propagation_b_starts_a_new_context() {
    let Some(services) = services().await else { return };
    let journey = journey(&services, "/plain", "journey-plain").await;

    assert_eq!(journey.a.correlation_id.as_deref(), Some("journey-plain"));
    assert_ne!(journey.b.correlation_id.as_deref(), Some("journey-plain"));
    assert_eq!(journey.b.user_id, None);
}
