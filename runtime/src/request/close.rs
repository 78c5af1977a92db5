//! Closing a request: the correlation id echoed on the response, the status recorded, and
//! one summary event inside the request span.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, StatusCode};
use tracing::Level;

use crate::context::{Identity, RequestContext};
use crate::ids::{CORRELATION_ID_HEADER, CorrelationId};
use crate::scope::sync_scope;

/// The response header, built at compile time.
const ECHO_HEADER: HeaderName = HeaderName::from_static(CORRELATION_ID_HEADER);

/// Sets `x-correlation-id` on a response's headers.
pub(crate) fn echo_correlation_id(headers: &mut HeaderMap, id: &CorrelationId) {
    headers.insert(ECHO_HEADER, id.to_header_value());
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

/// Whether a request or response is gRPC (`application/grpc`, `application/grpc+proto`, ...).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The `grpc-status` of a header or trailer map, when it holds a number.
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()
}

/// Which requests get a summary event (`request finished`), and at which level.
///
/// Whatever is chosen, the status still goes on the request span.
///
/// ```
/// use std::time::Duration;
/// use sessionscope::SessionContextLayer;
/// use sessionscope::layer::Summary;
///
/// let layer = SessionContextLayer::new(sessionscope::MemoryStore::new())
///     .summary(Summary::SlowOrFailed { slower_than: Duration::from_millis(500) });
/// # drop(layer);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Summary {
    /// Every request, at INFO (the default).
    #[default]
    Info,
    /// Every request, at DEBUG: kept out of an INFO log, there for a targeted request.
    Debug,
    /// Only requests that failed (a 5xx, a gRPC status other than OK, an error from the inner
    /// service, or an error counted with `log_error` or at ERROR level) or took longer than
    /// `slower_than`; at INFO.
    SlowOrFailed {
        /// How long a request may take before its summary is written anyway.
        slower_than: Duration,
    },
    /// No summary event.
    Off,
}

impl Summary {
    /// The level of this request's summary, if it gets one.
    fn level(self, ctx: &RequestContext, ending: Ending) -> Option<Level> {
        match self {
            Self::Info => Some(Level::INFO),
            Self::Debug => Some(Level::DEBUG),
            Self::Off => None,
            Self::SlowOrFailed { slower_than } => {
                let failed = match ending {
                    Ending::Response { status, grpc_status } => {
                        status.is_server_error() || grpc_status.is_some_and(|code| code != 0)
                    }
                    Ending::ServiceError => true,
                };
                let slow = || ctx.started_at().elapsed() > slower_than;
                (failed || ctx.stats.errors() > 0 || slow()).then_some(Level::INFO)
            }
        }
    }
}

/// Closes a request: settles an identity nobody settled, emits the summary event (as
/// `summary` says), and records the status on the span.
///
/// The summary carries what the span does not already: status (and the gRPC status of a gRPC
/// call), latency, where the session id came from, then the error count, the slow-operation
/// count and their names when there were any (an absent count is zero). The status goes on
/// the span after the event, so a log line shows it once. Latency is in the summary only: a
/// span exporter's own span duration runs until the last handle to the span is dropped,
/// which work carried past the response (with `in_current_context`) can extend.
pub(crate) fn finish(ctx: &Arc<RequestContext>, ending: Ending, summary: Summary) {
    if !ctx.identity_settled() {
        ctx.settle_identity(Identity::NONE);
    }
    let span = ctx.span();
    let (status, grpc_status) = match ending {
        Ending::Response { status, grpc_status } => (Some(status.as_u16()), grpc_status),
        Ending::ServiceError => (None, None),
    };
    // One event, at the level chosen; field values are evaluated only when it is enabled,
    // so a disabled summary reads no clock.
    macro_rules! summary_event {
        ($level:expr) => {
            tracing::event!(
                target: "sessionscope::request",
                parent: span,
                $level,
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
            )
        };
    }
    // Written with the request span entered, not only as its parent, so a formatter that
    // lists the entered spans shows the request span on the summary line too; and with the
    // context current, so what reads the context while the line is written (the JSON
    // output's trace ids, a user's own layer) finds it.
    match summary.level(ctx, ending) {
        Some(Level::INFO) => sync_scope(ctx, || summary_event!(Level::INFO)),
        Some(Level::DEBUG) => sync_scope(ctx, || summary_event!(Level::DEBUG)),
        _ => {}
    }
    if let Some(status) = status {
        span.record("http.response.status_code", status);
    }
    #[cfg(feature = "opentelemetry")]
    crate::context::record_server_error(span, status);
}

/// `None` for zero, so a count that is zero is left off the event.
fn nonzero(count: u32) -> Option<u32> {
    (count > 0).then_some(count)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

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

    #[test]
    fn slow_or_failed_keeps_what_failed_by_any_measure() {
        let ctx = RequestContext::builder().build();
        let summary = Summary::SlowOrFailed { slower_than: Duration::from_secs(60) };
        let http = |code: u16| Ending::status(StatusCode::from_u16(code).unwrap());
        let grpc = |code: i32| Ending::Response { status: StatusCode::OK, grpc_status: Some(code) };
        for (ending, kept) in [
            (http(200), false),
            (http(404), false),
            (http(503), true),
            (grpc(0), false),
            (grpc(14), true),
            (Ending::ServiceError, true),
        ] {
            assert_eq!(summary.level(&ctx, ending).is_some(), kept, "{ending:?}");
        }
        ctx.stats.add_error();
        assert_eq!(summary.level(&ctx, http(200)), Some(Level::INFO), "an error counted in the request");
        let quick = Summary::SlowOrFailed { slower_than: Duration::ZERO };
        assert_eq!(quick.level(&RequestContext::builder().build(), http(200)), Some(Level::INFO), "slow");
    }
}
