//! Closing a request: the correlation id echoed on the response, the status recorded, and
//! one summary event inside the request span.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::context::{Identity, RequestContext};
use crate::ids::{CORRELATION_ID_HEADER, CorrelationId};

/// The response header, built at compile time.
const ECHO_HEADER: HeaderName = HeaderName::from_static(CORRELATION_ID_HEADER);

/// Sets `x-correlation-id` on a response's headers.
pub(crate) fn echo_correlation_id(headers: &mut HeaderMap, id: &CorrelationId) {
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        headers.insert(ECHO_HEADER, value);
    }
}

/// How a request ended, as far as its summary tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// An HTTP response with this status (for gRPC, with the `grpc-status` when one came).
    Response { status: StatusCode, grpc_status: Option<i32> },
    /// The inner service failed without a response (the connection is the server's to close).
    ServiceError,
}

impl Ending {
    /// A plain HTTP response.
    pub(crate) fn status(status: StatusCode) -> Self {
        Self::Response { status, grpc_status: None }
    }
}

/// Whether a response is gRPC (`application/grpc`, `application/grpc+proto`, ...).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The `grpc-status` of a header or trailer map, when it holds a number.
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()
}

/// Closes a request: settles an identity nobody settled, emits the summary event, and
/// records the status on the span.
///
/// The summary carries what the span does not already: status (and the gRPC status of a gRPC
/// call), latency, where the session id came from, then the error count, the slow-operation
/// count and their names when there were any (an absent count is zero). The status goes on
/// the span after the event, so a log line shows it once. Latency is in the summary only: a
/// span exporter's own span duration runs until the last handle to the span is dropped,
/// which work carried past the response (with `in_current_context`) can extend.
pub(crate) fn finish(ctx: &RequestContext, ending: Ending) {
    if !ctx.identity_settled() {
        ctx.settle_identity(Identity::NONE);
    }
    let span = ctx.span();
    let (status, grpc_status) = match ending {
        Ending::Response { status, grpc_status } => (Some(status.as_u16()), grpc_status),
        Ending::ServiceError => (None, None),
    };
    // Field values are only evaluated when the event is enabled: no clock read otherwise.
    tracing::info!(
        target: "sessionscope::request",
        parent: span,
        status,
        rpc.grpc.status_code = grpc_status,
        service_error = (ending == Ending::ServiceError).then_some(true),
        session.source = ctx.session_source().map(|source| tracing::field::display(source.as_str())),
        // Whole microseconds: `0.383`, not `0.38328199999999996`.
        latency_ms = ctx.started_at().elapsed().as_micros() as f64 / 1000.0,
        errors = nonzero(ctx.stats.errors()),
        slow_operations = nonzero(ctx.stats.slow_count()),
        slow = ctx.stats.slow_names().map(tracing::field::display),
        "request finished"
    );
    if let Some(status) = status {
        span.record("http.response.status_code", status);
    }
}

/// `None` for zero, so a count that is zero is left off the event.
fn nonzero(count: u32) -> Option<u32> {
    (count > 0).then_some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_responses_and_their_status() {
        let mut headers = HeaderMap::new();
        assert!(!is_grpc(&headers));
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc+proto"));
        assert!(is_grpc(&headers));
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", HeaderValue::from_static("16"));
        assert_eq!(grpc_status(&headers), Some(16));
        headers.insert("grpc-status", HeaderValue::from_static("sixteen"));
        assert_eq!(grpc_status(&headers), None);
    }
}
