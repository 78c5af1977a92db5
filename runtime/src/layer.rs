//! `SessionContextLayer`: builds the request context for every request of a `Router`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request};
use http_body::Body as _;
use http_body_util::BodyExt as _;
use tower_layer::Layer;
use tower_service::Service;

use crate::__private::LayerHandoff;
use crate::context::{HttpAttributes, Identity, RequestContext, SessionSource};
use crate::correlation::CorrelationId;
use crate::lookup::{SessionLookup, SharedLookup};
use crate::pipeline::{DEFAULT_LOOKUP_TIMEOUT, Policy, SessionRejection, look_up, look_up_now};
use crate::scope::Scoped;
use crate::source::{BodyPeek, Found, Sources, peek_body};

/// The header that carries the correlation id in and out.
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";

/// Settings shared by every request through one layer.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) sources: Sources,
    pub(crate) timeout: Duration,
    pub(crate) correlation_headers: Vec<HeaderName>,
    pub(crate) policy: Policy,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sources: Sources::default(),
            timeout: DEFAULT_LOOKUP_TIMEOUT,
            correlation_headers: vec![
                HeaderName::from_static(CORRELATION_ID_HEADER),
                HeaderName::from_static("x-request-id"),
            ],
            policy: Policy::default(),
        }
    }
}

/// A tower layer that gives every request of a `Router` its [`RequestContext`].
///
/// For each request it takes the correlation id (or makes one), finds the session id
/// (header `x-session-id`, query `session_id`, cookie when enabled, JSON body field
/// `session_id`), looks the user up through the store within a timeout, and runs the rest of
/// the stack inside the context and its `request` span. Every response carries
/// `x-correlation-id`.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use sessionscope::{CachedLookup, MemoryStore, SessionContextLayer};
///
/// async fn hello() -> String {
///     let user = sessionscope::user_id().unwrap_or_else(|| "stranger".into());
///     format!("hello, {user}")
/// }
///
/// let store = MemoryStore::new();
/// let app: Router = Router::new()
///     .route("/hello", get(hello))
///     .layer(
///         SessionContextLayer::new(CachedLookup::new(store))
///             .cookie("sid")
///             .lookup_timeout(Duration::from_millis(100)),
///     );
/// ```
pub struct SessionContextLayer<L> {
    shared: Arc<Shared<L>>,
}

/// What every request through one layer reads, behind one `Arc`: the router clones its
/// service for every request, so one count to bump instead of several.
struct Shared<L> {
    lookup: Arc<L>,
    config: Arc<Config>,
    // The same store, type-erased once, with the settings: what the layer leaves for
    // `#[with_session_context]` when it finds no session id itself.
    handoff: LayerHandoff,
}

impl<L> Clone for SessionContextLayer<L> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<L> std::fmt::Debug for SessionContextLayer<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionContextLayer").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl<L: SessionLookup> SessionContextLayer<L> {
    /// A layer that looks sessions up in `lookup`, with the default sources and limits.
    pub fn new(lookup: L) -> Self {
        let lookup = Arc::new(lookup);
        let config = Arc::<Config>::default();
        let handoff = LayerHandoff::new(SharedLookup::new(Arc::clone(&lookup)), Arc::clone(&config));
        Self { shared: Arc::new(Shared { lookup, config, handoff }) }
    }

    fn configure(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = (*self.shared.config).clone();
        change(&mut config);
        let config = Arc::new(config);
        let handoff = self.shared.handoff.with_config(Arc::clone(&config));
        Self { shared: Arc::new(Shared { lookup: Arc::clone(&self.shared.lookup), config, handoff }) }
    }

    /// The header the session id is read from (default `x-session-id`).
    ///
    /// # Panics
    /// If `name` is not a valid header name.
    pub fn session_header(self, name: &str) -> Self {
        let name = HeaderName::try_from(name).expect("a valid header name");
        self.configure(|c| c.sources.header = Some(name))
    }

    /// The query parameter the session id is read from (default `session_id`).
    pub fn query_param(self, name: &str) -> Self {
        self.configure(|c| c.sources.query = Some(name.into()))
    }

    /// Reads the session id from the cookie called `name` (off by default).
    pub fn cookie(self, name: &str) -> Self {
        self.configure(|c| c.sources.cookie = Some(name.into()))
    }

    /// The top-level JSON body field the session id is read from (default `session_id`).
    pub fn body_field(self, name: &str) -> Self {
        self.configure(|c| c.sources.body_field = Some(name.into()))
    }

    /// Never reads the session id from the header.
    pub fn without_header(self) -> Self {
        self.configure(|c| c.sources.header = None)
    }

    /// Never reads the session id from the query string.
    pub fn without_query(self) -> Self {
        self.configure(|c| c.sources.query = None)
    }

    /// Never peeks at request bodies.
    pub fn without_body(self) -> Self {
        self.configure(|c| c.sources.body_field = None)
    }

    /// The largest JSON body peeked for the session id (default 64 KiB). Larger bodies
    /// reach the handler untouched and unread.
    pub fn body_peek_limit(self, bytes: usize) -> Self {
        self.configure(|c| c.sources.body_peek_limit = bytes)
    }

    /// How long the store may take before the request goes on without a user (default 250 ms).
    pub fn lookup_timeout(self, timeout: Duration) -> Self {
        self.configure(|c| c.timeout = timeout)
    }

    /// The headers an incoming correlation id is taken from, first match wins (default
    /// `x-correlation-id`, then `x-request-id`). Responses always echo `x-correlation-id`.
    ///
    /// # Panics
    /// If a name is not a valid header name.
    pub fn correlation_headers<'a>(self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let names = names.into_iter().map(|n| HeaderName::try_from(n).expect("a valid header name")).collect();
        self.configure(|c| c.correlation_headers = names)
    }

    /// Answers 401 (400 for a malformed id) to requests without a valid session id.
    pub fn require_session(self) -> Self {
        self.configure(|c| c.policy.require_session = true)
    }

    /// Answers 401 to requests whose session has no user, 503 when the store failed.
    pub fn require_user(self) -> Self {
        self.configure(|c| c.policy.require_user = true)
    }
}

impl<S, L> Layer<S> for SessionContextLayer<L> {
    type Service = SessionContextService<S, L>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionContextService { inner, shared: Arc::clone(&self.shared) }
    }
}

/// The service [`SessionContextLayer`] wraps around the inner stack.
pub struct SessionContextService<S, L> {
    inner: S,
    shared: Arc<Shared<L>>,
}

impl<S: Clone, L> Clone for SessionContextService<S, L> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: Arc::clone(&self.shared) }
    }
}

impl<S, L> Service<Request<Body>> for SessionContextService<S, L>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    L: SessionLookup,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let shared = &*self.shared;
        let mut start = Start::read(&parts, &shared.config);
        let needs_peek =
            start.found.chosen.is_none() && shared.config.sources.body_peekable(&parts, body.size_hint().upper());
        // Fast path: everything is known without waiting (no session, or the store answered
        // from memory), so the context is built here and the inner service called at once.
        let known = match start.found.chosen.take() {
            _ if needs_peek => None,
            None => Some(None),
            Some(chosen) => match look_up_now(&*shared.lookup, chosen, start.started_at) {
                Ok(identity) => Some(Some(identity)),
                Err(chosen) => {
                    start.found.chosen = Some(chosen);
                    None
                }
            },
        };
        match known {
            Some(identity) => {
                let no_session = identity.is_none();
                let (mut ctx, _) = start.open(&parts.headers, identity);
                if no_session {
                    ctx.handoff = Some(shared.handoff.clone());
                }
                self.run(Arc::new(ctx), parts, body)
            }
            None => {
                // The clone is the one not yet polled ready; keep the ready one for this call.
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                let slow = handle(ready, Arc::clone(&self.shared), start, needs_peek, parts, body);
                ResponseFuture { state: State::Waiting { fut: Box::pin(slow) } }
            }
        }
    }
}

impl<S, L> SessionContextService<S, L>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    /// Applies the policy and calls the inner service inside the context.
    ///
    /// The context is not put in the request's extensions: everything inside runs in its
    /// task-local scope, where the extractor and the macro find it.
    fn run(&mut self, ctx: Arc<RequestContext>, parts: Parts, body: Body) -> ResponseFuture<S::Future> {
        match enter(self.shared.config.policy, &ctx, &mut self.inner, Request::from_parts(parts, body)) {
            // The scope holds the context from here on and hands it back when the inner
            // future is done.
            Ok(fut) => ResponseFuture { state: State::Running { fut } },
            Err(rejection) => {
                let mut response = rejection.into_response();
                complete(&ctx, &mut response);
                ResponseFuture { state: State::Done { response: Some(response) } }
            }
        }
    }
}

/// Applies the policy, then calls `inner` inside the context: the future to await, or the
/// rejection to send.
fn enter<S>(
    policy: Policy,
    ctx: &Arc<RequestContext>,
    inner: &mut S,
    req: Request<Body>,
) -> Result<Scoped<S::Future>, SessionRejection>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    policy.check(ctx)?;
    let fut = crate::scope::sync_scope(ctx, || inner.call(req));
    Ok(crate::scope(Arc::clone(ctx), fut))
}

pin_project_lite::pin_project! {
    /// The response future of [`SessionContextService`].
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

type BoxedResponse = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        // The inner service runs inside the context; the response is completed on the way out.
        Running { #[pin] fut: Scoped<F> },
        // The store or the body had to be awaited first.
        Waiting { fut: BoxedResponse },
        // Answered by the layer itself (a policy rejection).
        Done { response: Option<Response> },
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Running { mut fut } => {
                let Ok(mut response) = std::task::ready!(fut.as_mut().poll(cx));
                if let Some(ctx) = fut.take_context() {
                    complete(&ctx, &mut response);
                }
                Poll::Ready(Ok(response))
            }
            StateProj::Waiting { fut } => fut.as_mut().poll(cx),
            StateProj::Done { response } => Poll::Ready(Ok(response.take().expect("polled after completion"))),
        }
    }
}

/// Echoes the correlation id and closes the request (span fields, summary event).
fn complete(ctx: &RequestContext, response: &mut Response) {
    echo_correlation_id(response, ctx.correlation_id());
    crate::trace::finish(ctx, response.status());
}

/// The path that waits: for the body to be peeked (`peek`, as `call` decided), or for the
/// store (`call` already asked it for an answer at hand, in vain).
async fn handle<S, L>(
    mut inner: S,
    shared: Arc<Shared<L>>,
    start: Start,
    peek: bool,
    parts: Parts,
    body: Body,
) -> Result<Response, Infallible>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    L: SessionLookup,
{
    let Shared { lookup, config, handoff } = &*shared;
    let (mut ctx, mut found) = start.open(&parts.headers, None);
    let span = ctx.span().clone();
    let body = if peek {
        let body = peek_into(&mut found, body, &config.sources, &span).await;
        if found.invalid_seen {
            ctx.mark_invalid_session_seen();
        }
        body
    } else {
        body
    };
    match found.chosen {
        Some((id, source)) => {
            crate::trace::record_session(&span, &id);
            // An id from the body is new: the store may have it at hand.
            let at_hand = if peek { look_up_now(&**lookup, (id, source), ctx.started_at()) } else { Err((id, source)) };
            let identity = match at_hand {
                Ok(identity) => identity,
                Err((id, source)) => {
                    tracing::Instrument::instrument(look_up(&**lookup, config.timeout, id, source), span.clone()).await
                }
            };
            ctx.settle_identity(identity);
        }
        None => ctx.handoff = Some(handoff.clone()),
    }
    let ctx = Arc::new(ctx);

    let mut response = match enter(config.policy, &ctx, &mut inner, Request::from_parts(parts, body)) {
        Ok(fut) => fut.await?,
        Err(rejection) => rejection.into_response(),
    };
    complete(&ctx, &mut response);
    Ok(response)
}

/// What both entry points read first: the correlation id (the caller's or a new one), the
/// HTTP attributes, and the session id from header, query and cookie.
pub(crate) struct Start {
    started_at: Instant,
    correlation_id: CorrelationId,
    http: HttpAttributes,
    found: Found,
}

impl Start {
    pub(crate) fn read(parts: &Parts, config: &Config) -> Self {
        let started_at = Instant::now();
        Self {
            started_at,
            correlation_id: incoming_correlation_id(parts, config)
                .unwrap_or_else(|| CorrelationId::generate_at(started_at)),
            http: HttpAttributes::from_parts(parts),
            found: config.sources.read_parts(parts),
        }
    }

    /// Opens the request span (with the identity, when it is already known), logs what the
    /// sources noted inside it, and builds the context: its identity settled when given, else
    /// still open.
    pub(crate) fn open(self, headers: &http::HeaderMap, identity: Option<Identity>) -> (RequestContext, Found) {
        let Self { started_at, correlation_id, http, mut found } = self;
        let span = crate::trace::request_span(&correlation_id, &http, headers, identity.as_ref());
        if found.has_notes() {
            span.in_scope(|| found.emit());
        }
        let ctx = RequestContext::for_request(correlation_id, http, span, started_at, identity);
        if found.invalid_seen {
            ctx.mark_invalid_session_seen();
        }
        (ctx, found)
    }
}

fn incoming_correlation_id(parts: &Parts, config: &Config) -> Option<CorrelationId> {
    config.correlation_headers.iter().find_map(|name| CorrelationId::from_bytes(parts.headers.get(name)?.as_bytes()))
}

/// Reads a small JSON body to find the session id, then hands back a body with the very
/// same bytes. A body that fails mid-read is handed on as a body that fails the same way.
async fn peek_into(found: &mut Found, body: Body, sources: &Sources, span: &tracing::Span) -> Body {
    let field = sources.body_field.as_deref().unwrap_or_default();
    match http_body_util::Limited::new(body, sources.body_peek_limit).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let peeked = peek_body(&bytes, field);
            span.in_scope(|| {
                match peeked {
                    BodyPeek::Found(id) => found.offer(SessionSource::Body, Ok(id)),
                    BodyPeek::Invalid(reason) => found.offer(SessionSource::Body, Err(reason)),
                    BodyPeek::Absent | BodyPeek::Malformed => {}
                    // Present but unusable: malformed, like an id that fails validation.
                    BodyPeek::NotAString | BodyPeek::Duplicate => {
                        found.invalid_seen = true;
                        tracing::debug!(target: "sessionscope::source", reason = peek_kind(&peeked), "ignored the body's session id field");
                    }
                }
                found.emit();
            });
            Body::from(bytes)
        }
        Err(error) => {
            let message = error.to_string();
            Body::new(http_body_util::StreamBody::new(futures_util::stream::once(async move {
                Err::<http_body::Frame<bytes::Bytes>, _>(std::io::Error::other(message))
            })))
        }
    }
}

fn peek_kind(peek: &BodyPeek) -> &'static str {
    match peek {
        BodyPeek::NotAString => "not_a_string",
        BodyPeek::Duplicate => "duplicate_field",
        _ => "other",
    }
}

/// The response header, built at compile time.
const ECHO_HEADER: HeaderName = HeaderName::from_static(CORRELATION_ID_HEADER);

/// Sets `x-correlation-id` on a response.
pub(crate) fn echo_correlation_id(response: &mut Response, id: &CorrelationId) {
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(ECHO_HEADER, value);
    }
}
