//! The response future: closes the request (correlation id echoed, summary written) on the
//! way out, whichever path the request took.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Response;

use super::body::ResponseBody;
use crate::context::RequestContext;
use crate::request::close::{Ending, Summary, echo_correlation_id, finish, grpc_status, is_grpc};
use crate::request::follow::{Following, follow};
use crate::request::{Handoff, SessionRejection};
use crate::scope::Scoped;

/// What the inner part of a request gave: the inner service's answer, or the layer's
/// rejection.
pub(super) enum Answer<T> {
    Inner(T),
    Rejected(Rejected),
}

/// The layer's rejection, and whether the request was a gRPC call (answered as a status).
pub(super) struct Rejected {
    pub(super) rejection: SessionRejection,
    pub(super) grpc: bool,
}

/// What the waiting path ends with: the context, and what answered the request.
pub(super) type Waited<F> = (Arc<RequestContext>, Answer<<F as Future>::Output>);

type BoxedWaiting<F> = Pin<Box<dyn Future<Output = Waited<F>> + Send>>;

pin_project_lite::pin_project! {
    /// The response future of [`SessionContextService`](super::SessionContextService).
    pub struct ResponseFuture<F>
    where
        F: Future,
    {
        #[pin]
        state: State<F>,
        summary: Summary,
        // The layer's store and settings when it reads a session cookie: a response that
        // sets or removes it is followed before the summary.
        follow: Option<Handoff>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F>
    where
        F: Future,
    {
        // The inner service runs inside the context; the scope hands the context back.
        Running { #[pin] fut: Scoped<F> },
        // The body or the store had to be awaited first.
        Waiting { fut: BoxedWaiting<F> },
        // Answered by the layer itself (a policy rejection).
        Rejected { answer: Option<(Arc<RequestContext>, Rejected)> },
        // The response set a new session cookie: its session is looked up before closing.
        // Boxed, so that the rare case does not make every request's future larger.
        Following { lookup: Following, held: Option<Box<(Arc<RequestContext>, Answer<F::Output>)>> },
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(super) fn running(fut: Scoped<F>, summary: Summary, follow: Option<Handoff>) -> Self {
        Self { state: State::Running { fut }, summary, follow }
    }

    pub(super) fn waiting(fut: BoxedWaiting<F>, summary: Summary, follow: Option<Handoff>) -> Self {
        Self { state: State::Waiting { fut }, summary, follow }
    }

    pub(super) fn rejected(ctx: Arc<RequestContext>, rejection: Rejected, summary: Summary) -> Self {
        Self { state: State::Rejected { answer: Some((ctx, rejection)) }, summary, follow: None }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let summary = *this.summary;
        let mut state = this.state;
        let (ctx, answer) = match state.as_mut().project() {
            StateProj::Running { mut fut } => {
                let output = std::task::ready!(fut.as_mut().poll(cx));
                match fut.take_context() {
                    Some(ctx) => (ctx, Answer::Inner(output)),
                    // Taken already: only a future polled after completion gets here.
                    None => return Poll::Ready(output.map(|response| response.map(ResponseBody::inner))),
                }
            }
            StateProj::Waiting { fut } => std::task::ready!(fut.as_mut().poll(cx)),
            StateProj::Rejected { answer } => {
                let (ctx, rejection) = answer.take().expect("polled after completion");
                (ctx, Answer::Rejected(rejection))
            }
            StateProj::Following { lookup, held } => {
                let identity = std::task::ready!(lookup.as_mut().poll(cx));
                let (ctx, answer) = *held.take().expect("polled after completion");
                ctx.follow(identity);
                return Poll::Ready(complete(ctx, answer, summary));
            }
        };
        if let (Some(handoff), Answer::Inner(Ok(response))) = (this.follow.as_ref(), &answer) {
            if let Some(mut lookup) = follow(&ctx, response.headers(), handoff) {
                if let Poll::Ready(identity) = lookup.as_mut().poll(cx) {
                    ctx.follow(identity);
                } else {
                    state.set(State::Following { lookup, held: Some(Box::new((ctx, answer))) });
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(complete(ctx, answer, summary))
    }
}

/// Echoes the correlation id and closes the request: now, or for a gRPC call whose status
/// comes in trailers, when they pass.
fn complete<ResBody, E>(
    ctx: Arc<RequestContext>,
    answer: Answer<Result<Response<ResBody>, E>>,
    summary: Summary,
) -> Result<Response<ResponseBody<ResBody>>, E> {
    let mut response = match answer {
        Answer::Rejected(Rejected { rejection, grpc: false }) => {
            let response = rejection.into_http(ResponseBody::rejection);
            finish(&ctx, Ending::status(response.status()), summary);
            return Ok(response);
        }
        Answer::Rejected(Rejected { rejection, grpc: true }) => {
            let grpc_status = Some(rejection.grpc_status());
            let response = rejection.into_grpc(ResponseBody::rejection(bytes::Bytes::new()));
            finish(&ctx, Ending::Response { status: response.status(), grpc_status }, summary);
            return Ok(response);
        }
        Answer::Inner(Err(error)) => {
            finish(&ctx, Ending::ServiceError, summary);
            return Err(error);
        }
        Answer::Inner(Ok(response)) => response,
    };
    echo_correlation_id(response.headers_mut(), ctx.correlation_id());
    let status = response.status();
    if !is_grpc(response.headers()) {
        finish(&ctx, Ending::status(status), summary);
        return Ok(response.map(ResponseBody::inner));
    }
    match grpc_status(response.headers()) {
        // Trailers-only: the status came with the headers.
        Some(code) => {
            finish(&ctx, Ending::Response { status, grpc_status: Some(code) }, summary);
            Ok(response.map(ResponseBody::inner))
        }
        None => Ok(response.map(|body| ResponseBody::closing_at_trailers(body, ctx, status, summary))),
    }
}
