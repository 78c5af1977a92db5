//! Feature `reqwest-middleware`: every call of a middleware client made inside a request
//! carries its context, without a call site asking for it.

use crate::common;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use common::{TestServer, correlation_header, seeded_store};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use sessionscope::SessionContextLayer;
use sessionscope::propagate::{PropagateContextMiddleware, Propagation};

/// What the downstream service received: its correlation id, session header and user.
async fn downstream(headers: HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    let user = sessionscope::user_id().unwrap_or_else(|| "-".into());
    format!("{} {} {user}", header("x-correlation-id"), header("x-session-id"))
}

#[derive(Clone)]
struct Downstream {
    url: String,
    plain: ClientWithMiddleware,
    trusted: ClientWithMiddleware,
}

async fn upstream(State(down): State<Downstream>) -> String {
    let plain = down.plain.get(&down.url).send().await.unwrap().text().await.unwrap();
    let trusted = down.trusted.get(&down.url).send().await.unwrap().text().await.unwrap();
    format!("{plain} | {trusted}")
}

fn client(middleware: PropagateContextMiddleware) -> ClientWithMiddleware {
    let inner = reqwest::Client::builder().no_proxy().build().unwrap();
    ClientBuilder::new(inner).with(middleware).build()
}

#[tokio::test]
async fn every_call_of_a_middleware_client_carries_the_context() {
    let b =
        TestServer::start(Router::new().route("/b", get(downstream)).layer(SessionContextLayer::new(seeded_store())))
            .await;
    let down = Downstream {
        url: b.url("/b"),
        plain: client(PropagateContextMiddleware::new()),
        trusted: client(PropagateContextMiddleware::using(Propagation::new().with_session_id())),
    };
    let a = TestServer::start(
        Router::new()
            .route("/a", get(upstream))
            .with_state(down.clone())
            .layer(SessionContextLayer::new(seeded_store())),
    )
    .await;

    let response =
        a.get("/a").header("x-session-id", "s-alice").header("x-correlation-id", "mw-1").send().await.unwrap();
    assert_eq!(correlation_header(&response), "mw-1");
    assert_eq!(
        response.text().await.unwrap(),
        "mw-1 - - | mw-1 s-alice alice",
        "the correlation id always travels; the session only with the trusted client"
    );

    // Outside a request the same client sends nothing of its own.
    let outside = down.plain.get(&down.url).send().await.unwrap().text().await.unwrap();
    assert!(!outside.starts_with("mw-1"), "{outside}");
    assert!(outside.ends_with(" - -"), "no session and no user outside a request: {outside}");
}
