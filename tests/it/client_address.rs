//! `client.address` behind trusted proxies: taken from the forwarded header only when the
//! connection comes from a trusted proxy; the connection's peer otherwise.

use crate::common;

use axum::Router;
use axum::routing::get;
use common::{TestServer, seeded_store};
use sessionscope::SessionContextLayer;
use sessionscope::request::ForwardedHeader;
use sessionscope::testing::Capture;
use tracing_subscriber::layer::SubscriberExt as _;

async fn client() -> String {
    sessionscope::current().and_then(|ctx| ctx.client_ip()).map(|ip| ip.to_string()).unwrap_or_default()
}

async fn server(layer: SessionContextLayer<sessionscope::MemoryStore>) -> TestServer {
    TestServer::start(Router::new().route("/", get(client)).layer(layer)).await
}

async fn seen(srv: &TestServer, forwarded: &[(&str, &str)]) -> String {
    let mut request = srv.get("/");
    for (name, value) in forwarded {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn forwarded_addresses_count_only_through_trusted_proxies() {
    let (capture, capture_layer) = Capture::new();
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer));

    // The test client connects from 127.0.0.1: here that is the trusted proxy.
    let behind_proxy = server(
        SessionContextLayer::new(seeded_store()).trusted_proxies(ForwardedHeader::XForwardedFor, ["127.0.0.0/8"]),
    )
    .await;
    let forwarded = [("x-forwarded-for", "203.0.113.5, 198.51.100.7"), ("x-correlation-id", "client-addr-1")];
    assert_eq!(seen(&behind_proxy, &forwarded).await, "198.51.100.7", "the rightmost untrusted hop");
    let summary = capture.events_for("client-addr-1").into_iter().find(|e| e.message() == "request finished").unwrap();
    assert_eq!(summary.field("client.address"), Some("198.51.100.7"), "the span carries it too");
    assert_eq!(
        seen(&behind_proxy, &[("forwarded", "for=198.51.100.7")]).await,
        "127.0.0.1",
        "the other header is not read"
    );
    assert_eq!(seen(&behind_proxy, &[]).await, "127.0.0.1");

    // Default: the header is the client's own claim and is ignored.
    let direct = server(SessionContextLayer::new(seeded_store())).await;
    assert_eq!(seen(&direct, &[("x-forwarded-for", "198.51.100.7")]).await, "127.0.0.1");

    // Trusting other proxies: a connection from 127.0.0.1 is not one of them.
    let elsewhere =
        server(SessionContextLayer::new(seeded_store()).trusted_proxies(ForwardedHeader::Forwarded, ["10.0.0.0/8"]))
            .await;
    assert_eq!(seen(&elsewhere, &[("forwarded", "for=198.51.100.7")]).await, "127.0.0.1");
}

#[test]
#[should_panic(expected = "neither a CIDR range nor an IP address")]
fn a_bad_range_is_refused_when_the_layer_is_built() {
    let _ = SessionContextLayer::new(seeded_store()).trusted_proxies(ForwardedHeader::XForwardedFor, ["10.0.0.0/33"]);
}
