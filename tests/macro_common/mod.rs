//! What the `#[with_session_context]` behaviour tests share: a server on loopback, stores
//! that count, fail or hang, and handlers that report what they saw.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use serde::{Deserialize, Serialize};
use sessionscope::{LookupError, MemoryStore, SessionId, SessionIdSource, SessionLookup, SessionRecord};

/// A server on 127.0.0.1 on a free port, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move { axum::serve(listener, service).await.expect("server runs") });
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        Self { addr, client, task }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("http://{}{path}", self.addr))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("http://{}{path}", self.addr))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Known sessions: `s-alice` (alice), `s-bob` (bob), `s-anon` (no user).
pub fn store() -> MemoryStore {
    let store = MemoryStore::new();
    for (id, record) in [
        ("s-alice", SessionRecord::for_user("alice")),
        ("s-bob", SessionRecord::for_user("bob")),
        ("s-anon", SessionRecord::anonymous()),
    ] {
        store.insert(&SessionId::parse(id).unwrap(), record, Duration::from_secs(600));
    }
    store
}

/// Counts the lookups that reach the store it wraps.
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

/// A store that always fails.
pub struct Failing;

impl SessionLookup for Failing {
    async fn lookup(&self, _: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        Err(LookupError::new("store is down"))
    }
}

/// A store that never answers.
pub struct Hanging;

impl SessionLookup for Hanging {
    async fn lookup(&self, _: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        std::future::pending().await
    }
}

/// What the handler saw of its context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub correlation_id: String,
    pub session_id: Option<String>,
    pub source: Option<String>,
    pub user_id: Option<String>,
    pub outcome: String,
    pub route: Option<String>,
    pub phase: Option<String>,
    pub investigation: Option<String>,
}

impl Seen {
    pub fn now() -> Json<Self> {
        let ctx = sessionscope::current().expect("the handler runs inside the request context");
        Json(Self {
            correlation_id: ctx.correlation_id().to_string(),
            session_id: ctx.session_id().map(|s| s.expose().to_owned()),
            source: ctx.session_source().map(|s| s.to_string()),
            user_id: ctx.user_id().map(str::to_owned),
            outcome: ctx.lookup_outcome().to_string(),
            route: ctx.route().map(str::to_owned),
            phase: ctx.agent_phase().map(|p| p.to_string()),
            investigation: ctx.investigation_id().map(|i| i.to_string()),
        })
    }
}

/// A body whose session id field is renamed on the wire, so only the typed body finds it.
#[derive(Debug, Deserialize, SessionIdSource)]
pub struct Step {
    #[serde(rename = "sessionId")]
    #[session_id]
    pub session: Option<String>,
    #[serde(rename = "investigationId", default)]
    #[investigation_id]
    pub investigation: Option<String>,
    #[serde(default)]
    pub note: String,
}

pub fn correlation_header(response: &reqwest::Response) -> String {
    response.headers().get("x-correlation-id").expect("x-correlation-id on every response").to_str().unwrap().to_owned()
}
