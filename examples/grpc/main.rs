//! sessionscope with tonic: a gRPC server behind `SessionContextLayer`, and a gRPC client
//! that carries its caller's context. Self-driving; prints what each call saw and the
//! server's log lines.
//!
//! ```sh
//! cargo run --example grpc
//! ```
//!
//! - The session id travels in request metadata `x-session-id` (metadata is HTTP/2 headers,
//!   so the layer reads it like any header); the server's code reads the user with
//!   `sessionscope::user_id()`.
//! - Every response carries `x-correlation-id` in its metadata, a refused call too.
//! - The summary line of each call records `rpc.grpc.status_code`, from the trailers (or from
//!   the headers of a trailers-only answer).
//! - The client wraps its channel in `PropagateContextLayer`: a call made inside a request
//!   context sends that request's correlation id, so the server's lines join it.

mod greeter;

use std::time::Duration;

use greeter::{Greeter, HELLO, Text};
use sessionscope::propagate::{PropagateContextLayer, Propagation};
use sessionscope::{CachedLookup, CorrelationId, MemoryStore, RequestContext, SessionContextLayer, SessionRecord};
use tower::Layer as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).with_writer(std::io::stderr).init();

    let store = MemoryStore::new();
    let session = store.create(SessionRecord::for_user("alice"), Duration::from_secs(600));

    // The server: tonic's own router, the layer in front of every service.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tonic::transport::Server::builder()
        .layer(SessionContextLayer::new(CachedLookup::new(store)))
        .add_service(Greeter)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);

    // The client: its channel carries the caller's context on every call.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?.connect().await?;
    let mut client = tonic::client::Grpc::new(PropagateContextLayer::new(Propagation::new()).layer(channel));
    let path = http::uri::PathAndQuery::from_static(HELLO);

    // A call made while handling some request of this service: its correlation id goes along.
    let caller = RequestContext::builder().correlation_id(CorrelationId::parse("order-7f3a").expect("valid")).build();
    let mut request = tonic::Request::new("hello".to_owned());
    request.metadata_mut().insert("x-session-id", session.expose().parse()?);
    let answer = sessionscope::scope(caller, async {
        client.ready().await?;
        client.unary(request, path.clone(), Text).await.map_err(Box::<dyn std::error::Error>::from)
    })
    .await?;
    println!(
        "with a session:    {:?}, x-correlation-id {:?}",
        answer.get_ref(),
        answer.metadata().get("x-correlation-id").map(|v| v.to_str().unwrap_or_default().to_owned()),
    );

    // Without a session the service refuses; the status and the correlation id still come back.
    client.ready().await?;
    let refused = client.unary(tonic::Request::new("hello".to_owned()), path, Text).await.expect_err("no session");
    println!(
        "without a session: {:?} {:?}, x-correlation-id {:?}",
        refused.code(),
        refused.message(),
        refused.metadata().get("x-correlation-id").map(|v| v.to_str().unwrap_or_default().to_owned()),
    );
    // Let the server write its last summary line before the process ends.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}
