//! The task-local scope that makes the context visible to every line of a request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::task::futures::TaskLocalFuture;
use tracing::Instrument;
use tracing::Span;
use tracing::instrument::Instrumented;

use crate::context::RequestContext;

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

/// The context of the request this code runs for, or `None` outside any request.
///
/// Never panics. Costs one `Arc` clone; use [`with_current`] to read without it.
///
/// ```
/// assert!(sessionscope::current().is_none());
/// ```
pub fn current() -> Option<Arc<RequestContext>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Runs `f` with a reference to the current context (`None` outside a request).
///
/// ```
/// let user = sessionscope::with_current(|ctx| ctx.and_then(|c| c.user_id().map(str::to_owned)));
/// assert_eq!(user, None);
/// ```
pub fn with_current<R>(f: impl FnOnce(Option<&RequestContext>) -> R) -> R {
    let mut f = Some(f);
    match CURRENT.try_with(|ctx| (f.take().expect("called once"))(Some(ctx))) {
        Ok(value) => value,
        Err(_) => (f.take().expect("not called yet"))(None),
    }
}

/// The current correlation id as text, or `None` outside a request.
pub fn correlation_id() -> Option<crate::ids::CorrelationId> {
    with_current(|ctx| ctx.map(|c| c.correlation_id().clone()))
}

/// The current user id, or `None` outside a request or for a request without a user.
pub fn user_id() -> Option<String> {
    with_current(|ctx| ctx.and_then(|c| c.user_id().map(str::to_owned)))
}

/// Binds the rest of the current request to a session the handler just made (a login), so
/// its later lines, its summary and the tasks it spawns carry the new session's fingerprint
/// and user. False outside a request or past
/// [`MAX_SESSION_CHANGES`](crate::context::MAX_SESSION_CHANGES) changes. See
/// [`RequestContext::bind_session`].
///
/// ```
/// use sessionscope::{MemoryStore, SessionRecord};
///
/// async fn login(store: MemoryStore) {
///     let id = store.create(SessionRecord::for_user("alice"), std::time::Duration::from_secs(3600));
///     sessionscope::bind_session(id, Some("alice"));
///     tracing::info!("logged in"); // carries the new session and `user.id = "alice"`
/// }
/// # drop(login(MemoryStore::new()));
/// ```
pub fn bind_session(id: crate::ids::SessionId, user_id: Option<&str>) -> bool {
    with_current(|ctx| ctx.is_some_and(|c| c.bind_session(id, user_id)))
}

/// Ends the current request's session (a logout): its later lines, its summary and the tasks
/// it spawns carry no session and no user. False outside a request or past
/// [`MAX_SESSION_CHANGES`](crate::context::MAX_SESSION_CHANGES) changes. See
/// [`RequestContext::end_session`].
pub fn end_session() -> bool {
    with_current(|ctx| ctx.is_some_and(|c| c.end_session()))
}

/// Sets the agent phase of the current request; does nothing outside a request.
///
/// Later code of the same request reads the new value, and it is recorded on the request span.
pub fn set_agent_phase(phase: impl AsRef<str>) {
    with_current(|ctx| {
        if let Some(ctx) = ctx {
            ctx.set_agent_phase(phase);
        }
    });
}

/// Sets the investigation id of the current request; does nothing outside a request.
pub fn set_investigation_id(id: impl AsRef<str>) {
    with_current(|ctx| {
        if let Some(ctx) = ctx {
            ctx.set_investigation_id(id);
        }
    });
}

/// Runs synchronous `f` with `ctx` as the current context, inside its request span.
pub(crate) fn sync_scope<R>(ctx: &Arc<RequestContext>, f: impl FnOnce() -> R) -> R {
    sync_scope_in(ctx, ctx.span(), f)
}

/// Runs synchronous `f` with `ctx` as the current context, inside `span` (the request span,
/// or a span inside it).
pub(crate) fn sync_scope_in<R>(ctx: &Arc<RequestContext>, span: &Span, f: impl FnOnce() -> R) -> R {
    let _entered = span.enter();
    CURRENT.sync_scope(Arc::clone(ctx), f)
}

/// Runs `fut` with `ctx` as the current context, inside `span` (the request span, or a span
/// inside it).
pub(crate) fn scope_in<F: Future>(ctx: Arc<RequestContext>, span: Span, fut: F) -> Scoped<F> {
    Scoped { inner: CURRENT.scope(ctx, fut).instrument(span) }
}

/// Runs `fut` with `ctx` as the current context, inside the context's request span.
///
/// ```
/// # async fn run() {
/// use sessionscope::RequestContext;
///
/// let ctx = RequestContext::builder().user_id("alice").build();
/// let user = sessionscope::scope(ctx, async { sessionscope::user_id() }).await;
/// assert_eq!(user.as_deref(), Some("alice"));
/// assert!(sessionscope::current().is_none());
/// # }
/// ```
pub fn scope<F: Future>(ctx: Arc<RequestContext>, fut: F) -> Scoped<F> {
    let span = ctx.span().clone();
    scope_in(ctx, span, fut)
}

pin_project_lite::pin_project! {
    /// A future running inside a request context. Returned by [`scope`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        #[pin]
        inner: Instrumented<TaskLocalFuture<Arc<RequestContext>, F>>,
    }
}

impl<F> Scoped<F> {
    /// Takes the context back once the future is done (`None` if taken already).
    pub(crate) fn take_context(self: Pin<&mut Self>) -> Option<Arc<RequestContext>> {
        self.project().inner.inner_pin_mut().take_value()
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

pin_project_lite::pin_project! {
    /// A future that carries the context (and span) that was current when it was made.
    /// Returned by [`FutureExt::in_current_context`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Carried<F> {
        #[pin]
        inner: CarriedInner<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = CarriedProj]
    enum CarriedInner<F> {
        // A context was current: the future runs inside it.
        Scoped { #[pin] fut: Scoped<F> },
        // No context was current: the future runs as it is, in the current span.
        Plain { #[pin] fut: Instrumented<F> },
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project().inner.project() {
            CarriedProj::Scoped { fut } => fut.poll(cx),
            CarriedProj::Plain { fut } => fut.poll(cx),
        }
    }
}

/// Carries the current request context into a future that will run elsewhere.
///
/// ```
/// # async fn run() {
/// use sessionscope::{FutureExt, RequestContext};
///
/// let ctx = RequestContext::builder().user_id("alice").build();
/// let handle = sessionscope::scope(ctx, async {
///     // A future handed to another executor keeps the request's context.
///     tokio::spawn(async { sessionscope::user_id() }.in_current_context())
/// })
/// .await;
/// assert_eq!(handle.await.unwrap().as_deref(), Some("alice"));
/// # }
/// ```
pub trait FutureExt: Future + Sized {
    /// Wraps `self` so it runs in the context and span current now.
    fn in_current_context(self) -> Carried<Self> {
        match current() {
            Some(ctx) => Carried { inner: CarriedInner::Scoped { fut: scope(ctx, self) } },
            None => Carried { inner: CarriedInner::Plain { fut: self.in_current_span() } },
        }
    }
}

impl<F: Future> FutureExt for F {}

/// Spawns a task that sees the current request context and runs in the current span.
///
/// Outside a request it behaves like `tokio::spawn`. Tasks started with plain
/// `tokio::spawn` do not see the context: carrying it is always a choice.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut.in_current_context())
}

/// Runs blocking code on tokio's blocking pool with the current context and span.
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let ctx = current();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        match ctx {
            Some(ctx) => CURRENT.sync_scope(ctx, f),
            None => f(),
        }
    })
}

/// Spawns background work that keeps the correlation id but **not** the session or user.
///
/// Use it for work that outlives the request or acts for the system (cache refresh, audit
/// flush): its log lines can still be tied to the request that caused them, without
/// claiming to act for that user. Its span `background` follows from the request span.
pub fn spawn_background<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current() {
        Some(ctx) => {
            let span = tracing::info_span!(parent: None, "background", correlation_id = %ctx.correlation_id());
            span.follows_from(ctx.span());
            tokio::spawn(scope(Arc::new(ctx.detached(span)), fut))
        }
        None => tokio::spawn(fut),
    }
}
