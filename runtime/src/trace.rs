//! The request span and the fields it carries.
//!
//! Field names follow the OpenTelemetry semantic conventions where one exists:
//! `session.id` holds the fingerprint (never the raw id), `user.id` the looked-up user.

use tracing::Span;
use tracing::field::Empty;

use crate::context::{HttpAttributes, Identity, RequestContext};
use crate::correlation::CorrelationId;
use crate::session_id::SessionId;

/// The name of the span that wraps every request.
pub const REQUEST_SPAN: &str = "request";

/// Makes the request span with every field declared, so later `record` calls land, and
/// every field already known given its value at once (one write instead of one per field).
/// With feature `opentelemetry`, a W3C `traceparent` in `headers` makes it join the caller's
/// trace.
pub(crate) fn request_span(
    correlation_id: &CorrelationId,
    http: &HttpAttributes,
    headers: &http::HeaderMap,
    identity: Option<&Identity>,
) -> Span {
    let session = identity.and_then(|i| i.session.as_ref());
    let span = tracing::info_span!(
        "request",
        correlation_id = %correlation_id,
        session.id = session.map(|(id, _)| tracing::field::display(id.fingerprint())),
        // Plain tokens are given as `display` (printed as they are, no escaping pass); the
        // user id is a `str`, so text formatters quote it. Where the session id came from is
        // told once, by the summary event, not on every line.
        user.id = identity.and_then(|i| i.user_id.as_deref()),
        lookup.outcome = identity.map(|i| tracing::field::display(i.outcome.as_str())),
        http.request.method = http.method.as_ref().map(|m| tracing::field::display(m.as_str())),
        http.route = http.route().map(tracing::field::display),
        client.address = http.client_ip.map(tracing::field::display),
        user_agent.original = http.user_agent.as_deref(),
        http.response.status_code = Empty,
        investigation.id = Empty,
        agent.phase = Empty,
        operation = Empty,
    );
    #[cfg(feature = "opentelemetry")]
    crate::otel::set_parent(&span, headers);
    #[cfg(not(feature = "opentelemetry"))]
    let _ = headers;
    span
}

/// Records the session on the span as soon as it is known, before the lookup runs, so the
/// lookup's own warnings already carry it.
pub(crate) fn record_session(span: &Span, id: &SessionId) {
    if !span.is_disabled() {
        span.record("session.id", tracing::field::display(id.fingerprint()));
    }
}

/// Records what the lookup gave on the span.
pub(crate) fn record_lookup(span: &Span, identity: &Identity) {
    if span.is_disabled() {
        return;
    }
    if let Some(user) = &identity.user_id {
        span.record("user.id", &**user);
    }
    span.record("lookup.outcome", tracing::field::display(identity.outcome.as_str()));
}

/// Closes a request: settles an identity nobody settled, emits the summary event, and
/// records the status on the span.
///
/// The summary carries what the span does not already: status, latency, where the session id
/// came from, then the error count, the slow-operation count and their names when there were
/// any (an absent count is zero). The status goes on the span after the event, so a log line
/// shows it once. Latency is in the summary only: a span exporter's own span duration runs
/// until the last handle to the span is dropped, which work carried past the response (with
/// `in_current_context`) can extend.
pub(crate) fn finish(ctx: &RequestContext, status: http::StatusCode) {
    if !ctx.identity_settled() {
        ctx.settle_identity(Identity::NONE);
    }
    let span = ctx.span();
    // Field values are only evaluated when the event is enabled: no clock read otherwise.
    tracing::info!(
        target: "sessionscope::request",
        parent: span,
        status = status.as_u16(),
        session.source = ctx.session_source().map(|source| tracing::field::display(source.as_str())),
        // Whole microseconds: `0.383`, not `0.38328199999999996`.
        latency_ms = ctx.started_at().elapsed().as_micros() as f64 / 1000.0,
        errors = nonzero(ctx.stats.errors()),
        slow_operations = nonzero(ctx.stats.slow_count()),
        slow = ctx.stats.slow_names().map(tracing::field::display),
        "request finished"
    );
    span.record("http.response.status_code", status.as_u16());
}

/// `None` for zero, so a count that is zero is left off the event.
fn nonzero(count: u32) -> Option<u32> {
    (count > 0).then_some(count)
}
