//! The request context: built once at the edge of a request, read everywhere inside it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Instant, SystemTime};

use tracing::Span;

use super::fields::{FieldValues, SessionFields};
use super::http::{HttpAttributes, Route};
use super::identity::{Identity, LookupOutcome, SessionSource};
use super::stats::RequestStats;
use crate::ids::{CorrelationId, SessionId, sanitize};

/// Everything known about one request, shared by every piece of code that runs for it.
///
/// Reach it with `sessionscope::current()` anywhere inside the request (handlers, the
/// functions they call, their `IntoResponse`, tasks started with `sessionscope::spawn`), or
/// with the `SessionContext` extractor.
///
/// ```
/// # async fn run() {
/// use sessionscope::{LookupOutcome, RequestContext};
///
/// let ctx = RequestContext::builder().build();
/// sessionscope::scope(ctx, async {
///     let ctx = sessionscope::current().expect("inside a scope");
///     assert_eq!(ctx.lookup_outcome(), LookupOutcome::NoSession);
///     assert_eq!(ctx.user_id(), None);
/// })
/// .await;
/// # }
/// ```
pub struct RequestContext {
    correlation_id: CorrelationId,
    identity: OnceLock<Identity>,
    /// Sessions the handler bound or ended after the identity was settled (a login, a
    /// logout); the last one is who the request is from then on. Made on the first change.
    rebound: OnceLock<Box<Rebound>>,
    http: HttpAttributes,
    started_at: Instant,
    span: Span,
    investigation_id: RwLock<Option<Arc<str>>>,
    agent_phase: RwLock<Option<Arc<str>>>,
    invalid_session_seen: AtomicBool,
    operation: OnceLock<Arc<str>>,
    pub(crate) stats: RequestStats,
    /// What the entry point that built the context left for the code that settles its
    /// identity later (the layer's store, for `#[with_session_context]`). Opaque here, so the
    /// context does not depend on the modules that fill and read it.
    pub(crate) left_for_handler: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// The targeting filter's decision for this request with the generation of targets it was
    /// made for (`generation << 1 | targeted`); 0 until made, and again whenever what it
    /// depends on (user, operation) changes.
    targeting: AtomicU64,
    /// The request span's OpenTelemetry trace and span ids, when a layer tracks it.
    #[cfg(feature = "opentelemetry")]
    trace: Option<(opentelemetry::trace::TraceId, opentelemetry::trace::SpanId)>,
    /// The caller's `tracestate`, checked, for outgoing calls.
    #[cfg(feature = "opentelemetry")]
    tracestate: Option<Box<str>>,
    /// Custom fields: those read from the request head, and which session record attributes
    /// are fields under which names. Boxed: most layers record none, and every request's
    /// context stays one pointer larger only.
    fields: Option<Box<(FieldValues, SessionFields)>>,
}

impl RequestContext {
    /// Starts building a context by hand (tests, background jobs, non-HTTP entry points).
    pub fn builder() -> RequestContextBuilder {
        RequestContextBuilder::default()
    }

    /// The context of one request, built in place (the layer's hot path): the identity is
    /// settled already when it is known, else left open for the layer or the macro.
    pub(crate) fn for_request(
        correlation_id: CorrelationId,
        http: HttpAttributes,
        span: Span,
        started_at: Instant,
        identity: Option<Identity>,
    ) -> Self {
        Self {
            correlation_id,
            identity: identity.map_or_else(OnceLock::new, OnceLock::from),
            rebound: OnceLock::new(),
            http,
            started_at,
            span,
            investigation_id: RwLock::new(None),
            agent_phase: RwLock::new(None),
            invalid_session_seen: AtomicBool::new(false),
            operation: OnceLock::new(),
            stats: RequestStats::default(),
            left_for_handler: None,
            targeting: AtomicU64::new(0),
            #[cfg(feature = "opentelemetry")]
            trace: None,
            #[cfg(feature = "opentelemetry")]
            tracestate: None,
            fields: None,
        }
    }

    /// Sets the request's custom fields: those read from its head, and which session record
    /// attributes become fields once the session is known.
    pub(crate) fn set_fields(&mut self, fields: Box<(FieldValues, SessionFields)>) {
        self.fields = Some(fields);
        // The identity may be settled already (a cached answer at hand).
        #[cfg(feature = "opentelemetry")]
        otel_attributes(&self.span, self.fields());
    }

    /// The custom field `name`: from the request head (a header, a hook), else from the
    /// session record, as the layer was told (`field_from_header`, `field_from_session`,
    /// `fields_with`).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use sessionscope::{MemoryStore, SessionContextLayer};
    ///
    /// async fn handler() -> String {
    ///     sessionscope::current().and_then(|ctx| ctx.field("tenant.id").map(str::to_owned)).unwrap_or_default()
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/", get(handler))
    ///     .layer(SessionContextLayer::new(MemoryStore::new()).field_from_header("x-tenant-id", "tenant.id"));
    /// ```
    pub fn field(&self, name: &str) -> Option<&str> {
        let (head, _) = self.fields.as_deref()?;
        head.get(name).or_else(|| self.session_field_values().find(|(n, _)| *n == name).map(|(_, v)| v))
    }

    /// Every custom field of the request, those of its head first; a name the head has (a
    /// hook may set one) is not repeated from the session.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        let head = self.fields.as_deref().map(|fields| &fields.0);
        head.into_iter().flat_map(FieldValues::iter).chain(
            self.session_field_values().filter(move |(name, _)| head.is_none_or(|head| head.get(name).is_none())),
        )
    }

    /// The attribute `key` of the session record the store gave, if any (none once the
    /// handler bound or ended a session).
    pub fn session_attribute(&self, key: &str) -> Option<&str> {
        crate::ids::attribute(&self.identity().attributes, key)
    }

    fn session_field_values(&self) -> impl Iterator<Item = (&str, &str)> {
        let attributes = &self.identity().attributes;
        self.fields
            .iter()
            .flat_map(|fields| fields.1.iter().flat_map(|session| session.iter()))
            .filter_map(move |(attribute, field)| Some((&**field, crate::ids::attribute(attributes, attribute)?)))
    }

    /// Sets the request span's OpenTelemetry ids, read once when the span opens, and the
    /// caller's checked `tracestate`.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn set_trace(
        &mut self,
        ids: Option<(opentelemetry::trace::TraceId, opentelemetry::trace::SpanId)>,
        tracestate: Option<Box<str>>,
    ) {
        self.trace = ids;
        self.tracestate = tracestate;
    }

    /// The caller's `tracestate`, checked, to pass on with outgoing calls.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The OpenTelemetry trace id of the request (the caller's when it sent a valid
    /// `traceparent`), when an OpenTelemetry layer tracks the request span (feature
    /// `opentelemetry`).
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn trace_id(&self) -> Option<opentelemetry::trace::TraceId> {
        self.trace.map(|(trace, _)| trace)
    }

    /// The OpenTelemetry span id of the request span, when an OpenTelemetry layer tracks it
    /// (feature `opentelemetry`).
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn span_id(&self) -> Option<opentelemetry::trace::SpanId> {
        self.trace.map(|(_, span)| span)
    }

    /// The correlation id of this request.
    pub fn correlation_id(&self) -> &CorrelationId {
        &self.correlation_id
    }

    /// The session id, if the request carried a valid one.
    pub fn session_id(&self) -> Option<&SessionId> {
        self.identity().session.as_ref().map(|(id, _)| id)
    }

    /// Where the session id came from.
    pub fn session_source(&self) -> Option<SessionSource> {
        self.identity().session.as_ref().map(|(_, source)| *source)
    }

    /// The user the store says owns the session. Never taken from the client.
    pub fn user_id(&self) -> Option<&str> {
        self.identity().user_id.as_deref()
    }

    /// What the session lookup gave.
    pub fn lookup_outcome(&self) -> LookupOutcome {
        self.identity().outcome
    }

    /// The investigation id, if code of this request set one.
    pub fn investigation_id(&self) -> Option<Arc<str>> {
        read(&self.investigation_id)
    }

    /// The agent phase, if code of this request set one.
    pub fn agent_phase(&self) -> Option<Arc<str>> {
        read(&self.agent_phase)
    }

    /// The operation name the handler runs as (`#[with_session_context(operation = ..)]`,
    /// else the handler's name), when a handler declared one.
    pub fn operation(&self) -> Option<&str> {
        self.operation.get().map(|op| &**op)
    }

    /// Names the operation this request runs, once; records it on the span. Later calls
    /// are ignored (the outermost name stands).
    pub fn set_operation(&self, name: impl AsRef<str>) {
        let name: Arc<str> = Arc::from(sanitize(name.as_ref()).as_ref());
        if self.operation.get().is_none() {
            self.span.record("operation", &*name);
        }
        let _ = self.operation.set(name);
        self.forget_targeting();
    }

    /// How many error events were counted for this request so far.
    pub fn errors_logged(&self) -> u32 {
        self.stats.errors()
    }

    /// How many operations of this request ran over their tier's threshold so far.
    pub fn slow_operations(&self) -> u32 {
        self.stats.slow_count()
    }

    /// The request method (absent for contexts built by hand without one).
    pub fn method(&self) -> Option<&http::Method> {
        self.http.method.as_ref()
    }

    /// The matched route template, e.g. `/users/{id}`, when the router knew it.
    pub fn route(&self) -> Option<&str> {
        self.http.route()
    }

    /// The peer address of the connection, when the server recorded it (`ConnectInfo`).
    pub fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.http.client_ip
    }

    /// The `User-Agent` header, with control characters escaped.
    pub fn user_agent(&self) -> Option<&str> {
        self.http.user_agent.as_ref().map(|ua| ua.as_str())
    }

    /// When the request was first read (monotonic clock); latency counts from here.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// When the request was first read (wall clock, derived from the monotonic start so a
    /// request reads the clock once).
    pub fn started_at_wall(&self) -> SystemTime {
        SystemTime::now() - self.started_at.elapsed()
    }

    /// The request span every event of this request is recorded under.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Sets the investigation id for later code of this request and records it on its span.
    pub fn set_investigation_id(&self, id: impl AsRef<str>) {
        let value: Arc<str> = Arc::from(sanitize(id.as_ref()).as_ref());
        self.span.record("investigation.id", &*value);
        write(&self.investigation_id, value);
    }

    /// Sets the agent phase for later code of this request and records it on its span.
    pub fn set_agent_phase(&self, phase: impl AsRef<str>) {
        let value: Arc<str> = Arc::from(sanitize(phase.as_ref()).as_ref());
        self.span.record("agent.phase", &*value);
        write(&self.agent_phase, value);
    }

    fn identity(&self) -> &Identity {
        if let Some(latest) = self.rebound.get().and_then(|rebound| rebound.latest()) {
            return latest;
        }
        self.identity.get().unwrap_or(&Identity::NONE)
    }

    /// Binds the rest of this request to a session the handler just made (a login): later
    /// lines, the summary and tasks spawned from here carry its fingerprint and `user_id`.
    /// The user id is escaped like a store's. Returns false, with a warning, past
    /// [`MAX_SESSION_CHANGES`] changes in one request.
    ///
    /// ```
    /// use sessionscope::{RequestContext, SessionId};
    ///
    /// let ctx = RequestContext::builder().build();
    /// assert!(ctx.bind_session(SessionId::parse("s-new").unwrap(), Some("alice")));
    /// assert_eq!(ctx.user_id(), Some("alice"));
    /// assert_eq!(ctx.session_source(), Some(sessionscope::SessionSource::Bound));
    /// ```
    pub fn bind_session(&self, id: SessionId, user_id: Option<&str>) -> bool {
        let user_id: Option<Arc<str>> = user_id.map(|user| Arc::from(sanitize(user).as_ref()));
        let outcome = if user_id.is_some() { LookupOutcome::Found } else { LookupOutcome::Anonymous };
        self.change_identity(Identity { session: Some((id, SessionSource::Bound)), user_id, outcome, attributes: None })
    }

    /// Ends this request's session (a logout): later lines, the summary and tasks spawned
    /// from here carry no session and no user, and `lookup.outcome` says `ended`. On the
    /// request span, `session.id` and `user.id` are recorded empty (a span field cannot be
    /// removed). Returns false, with a warning, past [`MAX_SESSION_CHANGES`] changes.
    ///
    /// ```
    /// use sessionscope::{RequestContext, SessionId, SessionSource};
    ///
    /// let ctx = RequestContext::builder()
    ///     .session(SessionId::parse("s-1").unwrap(), SessionSource::Header)
    ///     .user_id("alice")
    ///     .build();
    /// assert!(ctx.end_session());
    /// assert_eq!((ctx.session_id(), ctx.user_id()), (None, None));
    /// ```
    pub fn end_session(&self) -> bool {
        self.change_identity(Identity { session: None, user_id: None, outcome: LookupOutcome::Ended, attributes: None })
    }

    /// Binds the session a response set (a login the layer saw in its `Set-Cookie`), with
    /// what the store said of it.
    pub(crate) fn follow(&self, identity: Identity) -> bool {
        self.change_identity(identity)
    }

    fn change_identity(&self, identity: Identity) -> bool {
        let rebound = self.rebound.get_or_init(Box::default);
        if !rebound.push(&self.span, identity) {
            tracing::warn!(
                target: "sessionscope::context",
                limit = MAX_SESSION_CHANGES,
                "session change ignored: a request binds or ends its session at most this many times"
            );
            return false;
        }
        self.forget_targeting();
        true
    }

    /// Whether a session id was offered but rejected as malformed.
    pub(crate) fn invalid_session_seen(&self) -> bool {
        self.invalid_session_seen.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_invalid_session_seen(&self) {
        self.invalid_session_seen.store(true, Ordering::Relaxed);
    }

    /// Whether the session has been settled (by the layer or the macro).
    pub(crate) fn identity_settled(&self) -> bool {
        self.identity.get().is_some()
    }

    /// Settles who the request is, once; records it on the span. Returns false if it was
    /// already settled (the first answer stands).
    pub(crate) fn settle_identity(&self, identity: Identity) -> bool {
        // Once the handler bound or ended a session, that is what the span shows; an identity
        // settled after it (the close of a request whose own was left open) stays off it.
        if self.rebound.get().is_none_or(|rebound| rebound.latest().is_none()) {
            super::span::record_lookup(&self.span, &identity);
        }
        let settled = self.identity.set(identity).is_ok();
        #[cfg(feature = "opentelemetry")]
        if settled {
            otel_attributes(&self.span, self.session_field_values());
        }
        self.forget_targeting();
        settled
    }

    /// The targeting decision remembered for targets of `generation`, if any.
    pub(crate) fn targeting_decision(&self, generation: u64) -> Option<bool> {
        let word = self.targeting.load(Ordering::Relaxed);
        (word != 0 && word >> 1 == generation).then_some(word & 1 == 1)
    }

    /// Remembers the targeting decision made for targets of `generation`.
    pub(crate) fn remember_targeting(&self, generation: u64, targeted: bool) {
        self.targeting.store(generation << 1 | u64::from(targeted), Ordering::Relaxed);
    }

    fn forget_targeting(&self) {
        self.targeting.store(0, Ordering::Relaxed);
    }

    /// A context for background work: same correlation id, no session, no user.
    pub(crate) fn detached(&self, span: Span) -> Self {
        let ctx = Self::builder().correlation_id(self.correlation_id.clone()).span(span).build_inner();
        ctx.settle_identity(Identity::NONE);
        ctx
    }
}

/// How many times one request may bind or end its session (a login, a logout, a login
/// again...); what comes after is refused with a warning, so a loop cannot grow a context.
pub const MAX_SESSION_CHANGES: usize = 4;

/// The identities a handler bound or ended, in order: append-only, so a reference to one
/// stays valid for the life of the context. Writers take turns; readers never wait.
#[derive(Default)]
struct Rebound {
    slots: [OnceLock<Identity>; MAX_SESSION_CHANGES],
    len: std::sync::atomic::AtomicUsize,
    writing: std::sync::Mutex<()>,
}

impl Rebound {
    fn latest(&self) -> Option<&Identity> {
        let len = self.len.load(Ordering::Acquire);
        self.slots.get(len.checked_sub(1)?)?.get()
    }

    /// Appends `identity` and records it on `span`; false when every slot is taken.
    fn push(&self, span: &Span, identity: Identity) -> bool {
        let _turn = self.writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let len = self.len.load(Ordering::Relaxed);
        let Some(slot) = self.slots.get(len) else { return false };
        super::span::record_change(span, &identity);
        let _ = slot.set(identity);
        // Published after the slot is set: a reader that sees the new length finds it filled.
        self.len.store(len + 1, Ordering::Release);
        true
    }
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("correlation_id", &self.correlation_id)
            .field("session_id", &self.session_id())
            .field("session_source", &self.session_source())
            .field("user_id", &self.user_id())
            .field("lookup_outcome", &self.lookup_outcome())
            .field("investigation_id", &self.investigation_id())
            .field("agent_phase", &self.agent_phase())
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

fn read(cell: &RwLock<Option<Arc<str>>>) -> Option<Arc<str>> {
    cell.read().unwrap_or_else(PoisonError::into_inner).clone()
}

fn write(cell: &RwLock<Option<Arc<str>>>, value: Arc<str>) {
    *cell.write().unwrap_or_else(PoisonError::into_inner) = Some(value);
}

/// Builds a [`RequestContext`] by hand. The layer and the macro build theirs for you.
///
/// ```
/// use sessionscope::{RequestContext, SessionId, SessionSource};
///
/// let ctx = RequestContext::builder()
///     .session(SessionId::parse("s-1").unwrap(), SessionSource::Header)
///     .user_id("alice")
///     .agent_phase("planning")
///     .build();
/// assert_eq!(ctx.user_id(), Some("alice"));
/// assert_eq!(ctx.agent_phase().as_deref(), Some("planning"));
/// ```
#[derive(Debug, Default)]
pub struct RequestContextBuilder {
    correlation_id: Option<CorrelationId>,
    session: Option<(SessionId, SessionSource)>,
    user_id: Option<Arc<str>>,
    outcome: Option<LookupOutcome>,
    http: HttpAttributes,
    span: Option<Span>,
    investigation_id: Option<Arc<str>>,
    agent_phase: Option<Arc<str>>,
}

impl RequestContextBuilder {
    /// Uses this correlation id instead of a fresh one.
    pub fn correlation_id(mut self, id: CorrelationId) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Sets the session and where it came from.
    pub fn session(mut self, id: SessionId, source: SessionSource) -> Self {
        self.session = Some((id, source));
        self
    }

    /// Sets the user (outcome `found` unless set otherwise).
    pub fn user_id(mut self, user: impl AsRef<str>) -> Self {
        self.user_id = Some(Arc::from(sanitize(user.as_ref()).as_ref()));
        self
    }

    /// Sets the lookup outcome explicitly.
    pub fn lookup_outcome(mut self, outcome: LookupOutcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Sets the request method.
    pub fn method(mut self, method: http::Method) -> Self {
        self.http.method = Some(method);
        self
    }

    /// Sets the matched route template.
    pub fn route(mut self, route: impl AsRef<str>) -> Self {
        self.http.route = Some(Route::Given(Arc::from(route.as_ref())));
        self
    }

    /// Uses this span as the request span (default: the current span).
    pub fn span(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Sets the initial investigation id.
    pub fn investigation_id(mut self, id: impl AsRef<str>) -> Self {
        self.investigation_id = Some(Arc::from(sanitize(id.as_ref()).as_ref()));
        self
    }

    /// Sets the initial agent phase.
    pub fn agent_phase(mut self, phase: impl AsRef<str>) -> Self {
        self.agent_phase = Some(Arc::from(sanitize(phase.as_ref()).as_ref()));
        self
    }

    /// Builds the context with its identity settled from what was given.
    pub fn build(self) -> Arc<RequestContext> {
        let identity = self.identity();
        let ctx = self.build_inner();
        if let Some((id, _)) = &identity.session {
            super::span::record_session(ctx.span(), id);
        }
        ctx.settle_identity(identity);
        Arc::new(ctx)
    }

    fn identity(&self) -> Identity {
        let outcome = self.outcome.unwrap_or(match (&self.session, &self.user_id) {
            (_, Some(_)) => LookupOutcome::Found,
            (Some(_), None) => LookupOutcome::Skipped,
            (None, None) => LookupOutcome::NoSession,
        });
        Identity { session: self.session.clone(), user_id: self.user_id.clone(), outcome, attributes: None }
    }

    /// Builds the context and leaves its identity open for the layer or macro to settle.
    pub(crate) fn build_inner(self) -> RequestContext {
        let mut ctx = RequestContext::for_request(
            self.correlation_id.unwrap_or_else(CorrelationId::generate),
            self.http,
            self.span.unwrap_or_else(Span::current),
            Instant::now(),
            None,
        );
        ctx.investigation_id = RwLock::new(self.investigation_id);
        ctx.agent_phase = RwLock::new(self.agent_phase);
        ctx
    }
}

/// Puts custom fields on the request's OpenTelemetry span, whose attributes, unlike a
/// `tracing` span's fields, need not be declared in advance.
#[cfg(feature = "opentelemetry")]
fn otel_attributes<'a>(span: &Span, fields: impl Iterator<Item = (&'a str, &'a str)>) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    for (name, value) in fields {
        span.set_attribute(name.to_owned(), value.to_owned());
    }
}
