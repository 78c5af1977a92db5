//! The bodies the layer hands on: the request body, byte-identical after a peek, and the
//! response body, which closes a gRPC call when its trailers pass.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body::{Body, Frame, SizeHint};

use crate::context::RequestContext;
use crate::request::body_peek::{BoxError, Head, Rest};
use crate::request::close::{Ending, Summary, finish, grpc_status};

pin_project_lite::pin_project! {
    /// The request body the inner service receives: the client's body as it is, or, when the
    /// layer read its head to find a JSON session id, the bytes read followed by the rest of
    /// the stream. Either way the same bytes, in the same order, with the same trailers and
    /// the same error if the client's body failed.
    pub struct RequestBody<B> {
        #[pin]
        state: RequestState<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = RequestStateProj]
    enum RequestState<B> {
        Untouched { #[pin] body: B },
        Replayed { head: Option<Bytes>, trailers: Option<HeaderMap>, rest: Rest<B> },
    }
}

impl<B> RequestBody<B> {
    /// The client's body, not read by the layer.
    pub(crate) fn untouched(body: B) -> Self {
        Self { state: RequestState::Untouched { body } }
    }

    /// What the layer read, followed by what it did not.
    pub(crate) fn replayed(head: Head<B>) -> Self {
        let bytes = (!head.bytes.is_empty()).then_some(head.bytes);
        Self { state: RequestState::Replayed { head: bytes, trailers: head.trailers, rest: head.rest } }
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().state.project() {
            RequestStateProj::Untouched { body } => body.poll_frame(cx).map_err(Into::into),
            RequestStateProj::Replayed { head, trailers, rest } => {
                if let Some(bytes) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                if let Some(trailers) = trailers.take() {
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
                match rest {
                    Rest::Ended => Poll::Ready(None),
                    Rest::Unread { body, .. } => body.as_mut().poll_frame(cx).map_err(Into::into),
                    Rest::Failed(_) => match std::mem::replace(rest, Rest::Ended) {
                        Rest::Failed(error) => Poll::Ready(Some(Err(error))),
                        _ => Poll::Ready(None),
                    },
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            RequestState::Untouched { body } => body.is_end_stream(),
            RequestState::Replayed { head, trailers, rest } => {
                head.is_none()
                    && trailers.is_none()
                    && match rest {
                        Rest::Ended => true,
                        Rest::Unread { body, .. } => body.is_end_stream(),
                        Rest::Failed(_) => false,
                    }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            RequestState::Untouched { body } => body.size_hint(),
            RequestState::Replayed { head, rest, .. } => {
                let read = head.as_ref().map_or(0, |b| b.len() as u64);
                match rest {
                    Rest::Unread { body, .. } => {
                        let rest = body.size_hint();
                        let mut hint = SizeHint::new();
                        hint.set_lower(rest.lower().saturating_add(read));
                        if let Some(upper) = rest.upper() {
                            hint.set_upper(upper.saturating_add(read));
                        }
                        hint
                    }
                    Rest::Ended | Rest::Failed(_) => SizeHint::with_exact(read),
                }
            }
        }
    }
}

impl<B> std::fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            RequestState::Untouched { .. } => "untouched",
            RequestState::Replayed { .. } => "replayed",
        };
        f.debug_struct("RequestBody").field("state", &state).finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// The response body the layer returns: the inner service's, or the layer's own JSON
    /// rejection. For a gRPC call whose status comes in trailers, the request is closed (its
    /// summary written with the `grpc-status`) when the trailers pass or the body ends.
    pub struct ResponseBody<B> {
        #[pin]
        kind: ResponseKind<B>,
        closing: Option<GrpcClosing>,
    }
}

pin_project_lite::pin_project! {
    #[project = ResponseKindProj]
    enum ResponseKind<B> {
        Inner { #[pin] body: B },
        Rejection { json: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// The inner service's body, passed through.
    pub(crate) fn inner(body: B) -> Self {
        Self { kind: ResponseKind::Inner { body }, closing: None }
    }

    /// The inner service's gRPC body: the request closes when its trailers pass.
    pub(crate) fn closing_at_trailers(body: B, ctx: Arc<RequestContext>, status: StatusCode, summary: Summary) -> Self {
        let closing = GrpcClosing { ctx, status, grpc_status: None, summary };
        Self { kind: ResponseKind::Inner { body }, closing: Some(closing) }
    }

    /// The layer's own answer (a JSON body, or nothing for a gRPC status).
    pub(crate) fn rejection(json: Bytes) -> Self {
        let json = (!json.is_empty()).then_some(json);
        Self { kind: ResponseKind::Rejection { json }, closing: None }
    }
}

impl<B: Body<Data = Bytes>> Body for ResponseBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = match this.kind.project() {
            ResponseKindProj::Inner { body } => std::task::ready!(body.poll_frame(cx)),
            ResponseKindProj::Rejection { json } => json.take().map(|json| Ok(Frame::data(json))),
        };
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    if let Some(closing) = this.closing.take() {
                        closing.close(grpc_status(trailers));
                    }
                }
            }
            // The stream ended (or failed) without trailers: close with what is known.
            None | Some(Err(_)) => {
                if let Some(closing) = this.closing.take() {
                    closing.close(None);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            ResponseKind::Inner { body } => body.is_end_stream(),
            ResponseKind::Rejection { json } => json.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            ResponseKind::Inner { body } => body.size_hint(),
            ResponseKind::Rejection { json } => SizeHint::with_exact(json.as_ref().map_or(0, |j| j.len() as u64)),
        }
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

/// A gRPC call that closes when its trailers pass; one dropped before that (the client went
/// away) closes without a gRPC status.
struct GrpcClosing {
    ctx: Arc<RequestContext>,
    status: StatusCode,
    grpc_status: Option<i32>,
    summary: Summary,
}

impl GrpcClosing {
    fn close(mut self, grpc_status: Option<i32>) {
        self.grpc_status = grpc_status;
        // Dropped here: `drop` writes the summary.
    }
}

impl Drop for GrpcClosing {
    fn drop(&mut self) {
        finish(&self.ctx, Ending::Response { status: self.status, grpc_status: self.grpc_status }, self.summary);
    }
}
