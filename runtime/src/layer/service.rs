//! The service the layer wraps around the inner stack: the request steps in order, without
//! waiting when nothing needs waiting for.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::{RequestBody, ResponseBody};
use super::future::{Answer, Rejected, ResponseFuture, Waited};
use crate::context::{Identity, RequestContext, SessionSource};
use crate::ids::SessionId;
use crate::lookup::{SessionLookup, SharedLookup};
use crate::request::body_peek::{BoxError, offer_head, read_head};
use crate::request::close::is_grpc;
use crate::request::fields::MakeSpan;
use crate::request::settle::{Settled, settle, settle_now, wait_for_store};
use crate::request::start::Start;
use crate::request::{Config, Handoff, Pipeline};
use crate::scope::{Scoped, scope_in, sync_scope_in};

/// The service `SessionContextLayer` wraps around the inner stack.
pub struct SessionContextService<S, L> {
    inner: S,
    shared: Arc<Shared<L>>,
}

impl<S, L> SessionContextService<S, L> {
    pub(super) fn new(inner: S, shared: Arc<Shared<L>>) -> Self {
        Self { inner, shared }
    }
}

impl<S: Clone, L> Clone for SessionContextService<S, L> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: Arc::clone(&self.shared) }
    }
}

impl<S: std::fmt::Debug, L> std::fmt::Debug for SessionContextService<S, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionContextService").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// What every request through one layer reads, behind one `Arc`: the router clones its
/// service for every request, so one count to bump instead of several.
pub(super) struct Shared<L> {
    pub(super) pipeline: Pipeline<Arc<L>>,
    // The same store, type-erased once, with the settings: what the layer leaves for
    // `#[with_session_context]` when it finds no session id itself.
    pub(super) handoff: Handoff,
}

impl<L: SessionLookup> Shared<L> {
    pub(super) fn new(lookup: Arc<L>, config: Config) -> Self {
        let handoff = Handoff::new(Pipeline { lookup: SharedLookup::new(Arc::clone(&lookup)), config: config.clone() });
        Self { pipeline: Pipeline { lookup, config }, handoff }
    }
}

/// What a request needs before the inner service can be called, decided without waiting.
enum Plan {
    /// No session id in the request head and no body to peek: the identity stays open, for
    /// `#[with_session_context]` to settle from the handler's typed body.
    NoSession,
    /// Settled already (the store had the answer at hand).
    Settled(Identity),
    /// Something must be awaited first.
    Wait(Wait),
}

/// What the waiting path awaits.
enum Wait {
    /// The head of the JSON body, then the store if it held an id.
    Body,
    /// The store, for the id of the request head.
    Store(SessionId, SessionSource),
}

impl<S, L, B, ResBody> Service<Request<B>> for SessionContextService<S, L>
where
    S: Service<Request<RequestBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: Send + 'static,
    L: SessionLookup,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let Pipeline { lookup, config } = &self.shared.pipeline;
        let mut start = Start::read(&parts, config);
        let summary = start.summary(config);
        // Only a layer that reads a session cookie follows one a response sets.
        let follow = config.sources.cookie.is_some().then(|| self.shared.handoff.clone());
        let plan = plan(&mut start, &parts, &body, lookup, config);
        let ctx = match plan {
            Plan::Wait(wait) => {
                // The clone is the one not yet polled ready; keep the ready one for this call.
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                let waited = waiting(ready, Arc::clone(&self.shared), start, wait, parts, body);
                return ResponseFuture::waiting(Box::pin(waited), summary, follow);
            }
            Plan::NoSession => {
                let (mut ctx, _) = start.open(&parts.headers, None);
                self.shared.handoff.leave_on(&mut ctx);
                ctx
            }
            Plan::Settled(identity) => start.open(&parts.headers, Some(identity)).0,
        };
        let ctx = Arc::new(ctx);
        match config.policy.check(&ctx) {
            Ok(()) => {
                let entered = enter(&ctx, &mut self.inner, parts, RequestBody::untouched(body), config);
                ResponseFuture::running(entered, summary, follow)
            }
            Err(rejection) => {
                let rejected = Rejected { rejection, grpc: is_grpc(&parts.headers) };
                ResponseFuture::rejected(ctx, rejected, summary)
            }
        }
    }
}

/// Decides what the request needs: the head's session id settled at once, looked up, or
/// the body's head read first.
fn plan<L: SessionLookup, B: Body>(
    start: &mut Start,
    parts: &Parts,
    body: &B,
    lookup: &Arc<L>,
    config: &Config,
) -> Plan {
    match start.found.chosen.take() {
        None if config.sources.body_peekable(parts, &body.size_hint()) => Plan::Wait(Wait::Body),
        None => Plan::NoSession,
        chosen => match settle_now(Some(lookup), chosen, start.started_at) {
            Settled::Now(identity) => Plan::Settled(identity),
            Settled::Wait(_, id, source) => Plan::Wait(Wait::Store(id, source)),
        },
    }
}

/// Calls `inner` inside the context and its span; the future runs in the context's scope,
/// which hands the context back when it is done.
// Inlined: out of line, the inner future it returns is copied once more.
#[inline(always)]
fn enter<S, B>(
    ctx: &Arc<RequestContext>,
    inner: &mut S,
    parts: Parts,
    body: RequestBody<B>,
    config: &Config,
) -> Scoped<S::Future>
where
    S: Service<Request<RequestBody<B>>>,
{
    // The service's own span, when it has one, inside the request span: every line of the
    // inner service is written in it.
    let span = match &config.make_span {
        Some(make) => own_span(make, ctx, &parts),
        None => ctx.span().clone(),
    };
    let fut = sync_scope_in(ctx, &span, || inner.call(Request::from_parts(parts, body)));
    scope_in(Arc::clone(ctx), span, fut)
}

/// The service's own span; out of line, so the common path stays small.
#[inline(never)]
fn own_span(make: &MakeSpan, ctx: &RequestContext, parts: &Parts) -> tracing::Span {
    make.make(ctx.span(), parts)
}

/// The path that waits: for the body's head (then the store, if it held an id), or for the
/// store (`call` asked it for an answer at hand, in vain).
async fn waiting<S, L, B>(
    mut inner: S,
    shared: Arc<Shared<L>>,
    start: Start,
    wait: Wait,
    parts: Parts,
    body: B,
) -> Waited<S::Future>
where
    S: Service<Request<RequestBody<B>>>,
    L: SessionLookup,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let Pipeline { lookup, config } = &shared.pipeline;
    let started_at = start.started_at;
    let (mut ctx, mut found) = start.open(&parts.headers, None);
    let span = ctx.span();
    let body = match wait {
        Wait::Body => {
            let sources = &config.sources;
            let head = read_head(body, sources.body_peek_limit, started_at + sources.body_peek_deadline).await;
            span.in_scope(|| offer_head(&mut found, &head, sources.body_field.as_deref().unwrap_or_default()));
            if found.invalid_seen {
                ctx.mark_invalid_session_seen();
            }
            match found.chosen.take() {
                // An id from the body is new: the store may have it at hand.
                chosen @ Some(_) => {
                    ctx.settle_identity(
                        settle(Some(lookup), config.timeout, &config.lookup_warnings, chosen, started_at, span).await,
                    );
                }
                None => shared.handoff.leave_on(&mut ctx),
            }
            RequestBody::replayed(head)
        }
        Wait::Store(id, source) => {
            ctx.settle_identity(
                wait_for_store(&**lookup, config.timeout, &config.lookup_warnings, id, source, span).await,
            );
            RequestBody::untouched(body)
        }
    };
    let ctx = Arc::new(ctx);
    let answer = match config.policy.check(&ctx) {
        Ok(()) => Answer::Inner(enter(&ctx, &mut inner, parts, body, config).await),
        Err(rejection) => Answer::Rejected(Rejected { rejection, grpc: is_grpc(&parts.headers) }),
    };
    (ctx, answer)
}
