//! The layer in front of services that are not axum routers: a plain hyper service over
//! HTTP/1 and HTTP/2 (h2c), and a tonic gRPC server with a tonic client. Real connections on
//! loopback; the summary of each request is checked in the captured events.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use sessionscope::layer::RequestBody;
use sessionscope::propagate::{PropagateContextLayer, Propagation};
use sessionscope::testing::{self, CapturedEvent};
use sessionscope::{RequestContext, SessionContextLayer};
use tower::Layer as _;

use crate::common::seeded_store;

/// The summary event of the request with this correlation id.
fn summary(events: &[CapturedEvent]) -> &CapturedEvent {
    events.iter().find(|e| e.message() == "request finished").expect("a summary event")
}

// ---- plain hyper ------------------------------------------------------------------------

/// Echoes the body it receives and tells, in headers, who the context says the caller is.
async fn echo(req: http::Request<RequestBody<Incoming>>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let ctx = sessionscope::current().expect("inside the layer's context");
    let body = req.into_body().collect().await.expect("the client's body").to_bytes();
    let mut response = http::Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert("x-user", ctx.user_id().unwrap_or("-").parse().unwrap());
    let source = ctx.session_source().map_or("-", |s| s.as_str());
    headers.insert("x-session-source", source.parse().unwrap());
    Ok(response)
}

/// A hyper server answering HTTP/1 and h2c on one port, the layer in front of `echo`.
async fn hyper_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = SessionContextLayer::new(seeded_store());
    let service = TowerToHyperService::new(layer.layer(tower::service_fn(echo)));
    tokio::spawn(async move {
        loop {
            let Ok((io, _)) = listener.accept().await else { return };
            let service = service.clone();
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(io), service).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_hyper_service_over_http1_and_h2c_gets_the_context_and_its_streamed_body_byte_identical() {
    let capture = testing::capture();
    let addr = hyper_server().await;
    let pad = "p".repeat(3000);
    let whole = format!(r#"{{"session_id":"s-alice","pad":"{pad}"}}"#);
    // Streamed in small frames: no content-length, chunked over HTTP/1.
    let chunks: Vec<Bytes> = whole.as_bytes().chunks(700).map(Bytes::copy_from_slice).collect();
    let http1 = Client::builder(TokioExecutor::new()).build_http();
    let h2c = Client::builder(TokioExecutor::new()).http2_only(true).build_http();
    for (client, version, correlation_id) in
        [(http1, http::Version::HTTP_11, "hyper-h1"), (h2c, http::Version::HTTP_2, "hyper-h2c")]
    {
        let frames = chunks.clone().into_iter().map(|c| Ok::<_, Infallible>(Frame::data(c)));
        let request = http::Request::post(format!("http://{addr}/echo"))
            .header("content-type", "application/json")
            .header("x-correlation-id", correlation_id)
            .body(StreamBody::new(futures_util::stream::iter(frames)))
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.version(), version);
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-correlation-id"], correlation_id);
        assert_eq!(response.headers()["x-user"], "alice", "the id came from the streamed body");
        assert_eq!(response.headers()["x-session-source"], "body");
        let echoed = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(echoed, whole.as_bytes(), "{version:?}: the handler got other bytes");

        let events = capture.events_for(correlation_id);
        let summary = summary(&events);
        assert_eq!(summary.field("status"), Some("200"));
        assert_eq!(summary.field("user.id"), Some("alice"));
        assert_eq!(summary.field("session.source"), Some("body"));
    }
}

// ---- tonic --------------------------------------------------------------------------------

// The service of `examples/grpc`, shared so the example and the tests serve the same one.
#[path = "../../examples/grpc/greeter.rs"]
mod greeter;

use greeter::{Greeter, Text};

async fn grpc_server() -> SocketAddr {
    grpc_server_behind(SessionContextLayer::new(seeded_store())).await
}

async fn grpc_server_behind(layer: SessionContextLayer<sessionscope::MemoryStore>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .layer(layer)
        .add_service(Greeter)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

#[tokio::test]
async fn a_tonic_server_behind_the_layer_records_the_grpc_status_from_trailers_or_headers() {
    let capture = testing::capture();
    let addr = grpc_server().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    // The client carries the caller's context: its correlation id goes out with every call.
    let channel = PropagateContextLayer::new(Propagation::new()).layer(channel);
    let mut client = tonic::client::Grpc::new(channel);
    let path = http::uri::PathAndQuery::from_static(greeter::HELLO);

    let caller =
        RequestContext::builder().correlation_id(sessionscope::CorrelationId::parse("grpc-ok").unwrap()).build();
    let mut request = tonic::Request::new("hello".to_owned());
    request.metadata_mut().insert("x-session-id", "s-alice".parse().unwrap());
    let answer = sessionscope::scope(caller, async {
        client.ready().await.unwrap();
        client.unary(request, path.clone(), Text).await
    })
    .await
    .expect("an answer");
    assert_eq!(answer.get_ref(), "hello, alice");
    assert_eq!(answer.metadata().get("x-correlation-id").unwrap(), "grpc-ok", "echoed in response metadata");
    let events = capture.events_for("grpc-ok");
    assert!(events.iter().any(|e| e.message() == "greeting" && e.field("user.id") == Some("alice")));
    let ok = summary(&events);
    assert_eq!(ok.field("status"), Some("200"));
    assert_eq!(ok.field("rpc.grpc.status_code"), Some("0"), "from the trailers: {}", ok.render());

    // No session: the handler refuses; the status comes in the headers (trailers-only).
    let caller =
        RequestContext::builder().correlation_id(sessionscope::CorrelationId::parse("grpc-denied").unwrap()).build();
    let refused = sessionscope::scope(caller, async {
        client.ready().await.unwrap();
        client.unary(tonic::Request::new("hello".to_owned()), path, Text).await
    })
    .await
    .expect_err("refused without a session");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert_eq!(refused.metadata().get("x-correlation-id").unwrap(), "grpc-denied");
    let events = capture.events_for("grpc-denied");
    let denied = summary(&events);
    assert_eq!(denied.field("rpc.grpc.status_code"), Some("16"), "from the headers: {}", denied.render());
    assert_eq!(denied.field("lookup.outcome"), Some("no_session"));
}

#[tokio::test]
async fn a_grpc_call_the_layer_refuses_gets_a_grpc_status_not_an_http_error() {
    let capture = testing::capture();
    let addr = grpc_server_behind(SessionContextLayer::new(seeded_store()).require_user()).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    let path = http::uri::PathAndQuery::from_static(greeter::HELLO);
    for (session, correlation_id, message) in [
        (None, "grpc-refused-1", "this endpoint needs a session id"),
        (Some("s-anon"), "grpc-refused-2", "this endpoint needs a signed-in session"),
    ] {
        let mut request = tonic::Request::new("hello".to_owned());
        request.metadata_mut().insert("x-correlation-id", correlation_id.parse().unwrap());
        if let Some(session) = session {
            request.metadata_mut().insert("x-session-id", session.parse().unwrap());
        }
        client.ready().await.unwrap();
        let refused = client.unary(request, path.clone(), Text).await.expect_err("refused by the layer");
        assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
        assert_eq!(refused.message(), message);
        assert_eq!(refused.metadata().get("x-correlation-id").unwrap(), correlation_id);
        let events = capture.events_for(correlation_id);
        let summary = summary(&events);
        assert_eq!(summary.field("rpc.grpc.status_code"), Some("16"), "{}", summary.render());
        assert!(events.iter().all(|e| e.message() != "greeting"), "the handler never ran");
    }
    // A signed-in session passes.
    let mut request = tonic::Request::new("hello".to_owned());
    request.metadata_mut().insert("x-session-id", "s-alice".parse().unwrap());
    client.ready().await.unwrap();
    assert_eq!(client.unary(request, path, Text).await.unwrap().get_ref(), "hello, alice");
}
