//! What the integration tests share: a real server on loopback, a probe app that reports
//! what each piece of code saw, and stores that misbehave on purpose.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use sessionscope::{LookupError, RequestContext, SessionId, SessionLookup, SessionRecord};

/// A server listening on 127.0.0.1 on a free port, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, service).await.expect("server runs");
        });
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        Self { addr, client, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one piece of code saw of the context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub correlation_id: Option<String>,
    pub session_id: Option<String>,
    pub session_source: Option<String>,
    pub user_id: Option<String>,
    pub outcome: Option<String>,
    pub method: Option<String>,
    pub route: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub phase: Option<String>,
    pub investigation: Option<String>,
}

impl Seen {
    pub fn of(ctx: Option<&RequestContext>) -> Self {
        Self {
            correlation_id: ctx.map(|c| c.correlation_id().to_string()),
            session_id: ctx.and_then(|c| c.session_id().map(|s| s.expose().to_owned())),
            session_source: ctx.and_then(|c| c.session_source().map(|s| s.to_string())),
            user_id: ctx.and_then(|c| c.user_id().map(str::to_owned)),
            outcome: ctx.map(|c| c.lookup_outcome().to_string()),
            method: ctx.and_then(|c| c.method().map(ToString::to_string)),
            route: ctx.and_then(|c| c.route().map(str::to_owned)),
            client_ip: ctx.and_then(|c| c.client_ip().map(|ip| ip.to_string())),
            user_agent: ctx.and_then(|c| c.user_agent().map(str::to_owned)),
            phase: ctx.and_then(|c| c.agent_phase().map(|p| p.to_string())),
            investigation: ctx.and_then(|c| c.investigation_id().map(|i| i.to_string())),
        }
    }

    pub fn now() -> Self {
        sessionscope::with_current(Self::of)
    }
}

/// The body the probe handlers return; `body` echoes what the handler received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    pub handler: Seen,
    pub body_len: usize,
    pub body_sha: String,
}

async fn probe_get() -> axum::Json<Probe> {
    axum::Json(Probe { handler: Seen::now(), body_len: 0, body_sha: String::new() })
}

async fn probe_post(body: bytes::Bytes) -> axum::Json<Probe> {
    axum::Json(Probe { handler: Seen::now(), body_len: body.len(), body_sha: digest(&body) })
}

/// A stable digest of bytes, to compare bodies without echoing megabytes.
pub fn digest(bytes: &[u8]) -> String {
    // FNV-1a: enough to tell bodies apart in a test.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}-{}", bytes.len())
}

/// `GET /probe` and `POST /probe` (any body), each reporting what the handler saw.
pub fn probe_routes() -> Router {
    Router::new().route("/probe", get(probe_get).post(probe_post)).route("/probe/{id}", get(probe_get))
}

/// Known sessions: `s-alice` (user alice), `s-bob` (user bob), `s-anon` (no user).
pub fn seeded_store() -> sessionscope::MemoryStore {
    let store = sessionscope::MemoryStore::new();
    let ttl = Duration::from_secs(600);
    for (id, record) in [
        ("s-alice", SessionRecord::for_user("alice")),
        ("s-bob", SessionRecord::for_user("bob")),
        ("s-anon", SessionRecord::anonymous()),
    ] {
        store.insert(&SessionId::parse(id).unwrap(), record, ttl);
    }
    store
}

/// A store that always fails.
pub struct FailingStore;

impl SessionLookup for FailingStore {
    async fn lookup(&self, _id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        Err(LookupError::new("connection refused"))
    }
}

/// A store that never answers.
pub struct HangingStore;

impl SessionLookup for HangingStore {
    async fn lookup(&self, _id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        std::future::pending().await
    }
}

/// A store that panics.
pub struct PanickingStore;

impl SessionLookup for PanickingStore {
    async fn lookup(&self, _id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        panic!("store bug")
    }
}

/// Counts the lookups that reach the store it wraps. Clones share the count.
#[derive(Clone)]
pub struct Counting<L> {
    pub inner: Arc<L>,
    pub calls: Arc<AtomicUsize>,
}

impl<L> Counting<L> {
    pub fn new(inner: L) -> Self {
        Self { inner: Arc::new(inner), calls: Arc::default() }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl<L: SessionLookup> SessionLookup for Counting<L> {
    async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.lookup(id).await
    }
}

pub async fn json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> T {
    let status = response.status();
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("status {status}, body {text:?}: {e}"))
}

pub fn correlation_header(response: &reqwest::Response) -> String {
    response.headers().get("x-correlation-id").expect("x-correlation-id on every response").to_str().unwrap().to_owned()
}

/// Runs one test of this binary, `name`, in a child process with `flag` set in its
/// environment, and asserts it ran and passed. For what is once per process (a key, a
/// warning): the child test returns at once unless `flag` is set.
pub fn run_in_child_process(name: &str, flag: &str) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(flag, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the child failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("1 passed"), "the child test ran:\n{stdout}");
}
