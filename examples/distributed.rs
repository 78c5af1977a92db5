//! Two Redis-backed services on loopback, and the path of one request through both.
//!
//! ```sh
//! cargo run --example distributed --features redis,reqwest
//! ```
//!
//! Needs `redis-server` on PATH (`apt-get install -y redis-server`, `brew install redis`): the
//! example starts its own on a free loopback port and stops it at the end. Service A
//! (`/checkout`) calls service B (`/stock`) inside its request; B continues A's correlation id
//! and session and finds the user in the Redis store both share.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use sessionscope::{
    CachedLookup, RequestContext, SessionContextLayer, SessionRecord, lookup::RedisStore, propagate::Propagation,
    propagate::RequestBuilderExt as _,
};

/// The child `redis-server`, killed when dropped.
struct RedisChild(Child);

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn start_redis() -> Result<(RedisChild, u16), String> {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "could not start redis-server ({e}).\nThis example needs Redis: install it with \
                 `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)."
            )
        })?;
    let child = RedisChild(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("redis-server did not listen on 127.0.0.1:{port} within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((child, port))
}

/// One line per hop: which service, and the context it runs in.
fn hop(service: &str, ctx: &RequestContext) {
    println!(
        "  {service:<12} correlation_id={} session.id={} user.id={} lookup={}",
        ctx.correlation_id(),
        ctx.session_id().map_or_else(|| "-".to_owned(), |s| s.fingerprint().to_string()),
        ctx.user_id().unwrap_or("-"),
        ctx.lookup_outcome(),
    );
}

async fn stock() -> String {
    let ctx = sessionscope::current().expect("inside a request");
    hop("B /stock", &ctx);
    format!("3 items reserved for {}", ctx.user_id().unwrap_or("nobody"))
}

#[derive(Clone)]
struct Downstream {
    url: String,
    client: reqwest::Client,
}

async fn checkout(State(down): State<Downstream>) -> String {
    let ctx = sessionscope::current().expect("inside a request");
    hop("A /checkout", &ctx);
    println!("  A -> B       GET {} with x-correlation-id and x-session-id", down.url);
    let request = down.client.get(&down.url).with_context_using(&Propagation::new().with_session_id());
    match request.send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => format!("B failed: {error}"),
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("server runs") });
    addr
}

#[tokio::main]
async fn main() -> ExitCode {
    let (_redis, port) = match start_redis() {
        Ok(started) => started,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let store = RedisStore::new(format!("redis://127.0.0.1:{port}")).expect("a valid url");
    println!("redis-server on 127.0.0.1:{port}, shared by services A and B");

    let session = match store.create(&SessionRecord::for_user("alice"), Duration::from_secs(600)).await {
        Ok(session) => session,
        Err(error) => {
            eprintln!("could not create a session in Redis: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("session for alice created in Redis: session.id={}", session.fingerprint());

    // Each service has its own cache in front of the one Redis, as separate processes would.
    let layer = || SessionContextLayer::new(CachedLookup::new(store.clone()));
    let b = serve(Router::new().route("/stock", get(stock)).layer(layer())).await;
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let down = Downstream { url: format!("http://{b}/stock"), client: client.clone() };
    let a = serve(Router::new().route("/checkout", get(checkout)).with_state(down).layer(layer())).await;
    println!("service A on {a}, service B on {b}\n");

    println!("client -> A   GET /checkout with x-session-id (no correlation id: A makes one)");
    let response =
        match client.get(format!("http://{a}/checkout")).header("x-session-id", session.expose()).send().await {
            Ok(response) => response,
            Err(error) => {
                eprintln!("request to A failed: {error}");
                return ExitCode::FAILURE;
            }
        };
    let correlation_id =
        response.headers().get("x-correlation-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    println!("client <- A   {status} x-correlation-id={correlation_id}: {body:?}");
    println!("\nOne correlation id and one user on every hop: grep the logs of both services for it.");
    ExitCode::SUCCESS
}
