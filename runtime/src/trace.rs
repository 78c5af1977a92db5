//! The request span and the fields it carries.
//!
//! Field names follow the OpenTelemetry semantic conventions where one exists:
//! `session.id` holds the fingerprint (never the raw id), `user.id` the looked-up user.

use tracing::Span;
use tracing::field::Empty;

use crate::context::{HttpAttributes, Identity, RequestContext, SessionSource};
use crate::correlation::CorrelationId;
use crate::session_id::SessionId;

/// The name of the span that wraps every request.
pub const REQUEST_SPAN: &str = "request";

/// Makes the request span with every field declared, so later `record` calls land. With
/// feature `opentelemetry`, a W3C `traceparent` in `headers` makes it join the caller's trace.
pub(crate) fn request_span(correlation_id: &CorrelationId, http: &HttpAttributes, headers: &http::HeaderMap) -> Span {
    let span = tracing::info_span!(
        "request",
        correlation_id = %correlation_id,
        session.id = Empty,
        session.source = Empty,
        user.id = Empty,
        lookup.outcome = Empty,
        http.request.method = Empty,
        http.route = Empty,
        client.address = Empty,
        user_agent.original = Empty,
        http.response.status_code = Empty,
        latency_ms = Empty,
        investigation.id = Empty,
        agent.phase = Empty,
        operation = Empty,
    );
    if !span.is_disabled() {
        record_http(&span, http);
    }
    #[cfg(feature = "opentelemetry")]
    crate::otel::set_parent(&span, headers);
    #[cfg(not(feature = "opentelemetry"))]
    let _ = headers;
    span
}

fn record_http(span: &Span, http: &HttpAttributes) {
    if let Some(method) = &http.method {
        span.record("http.request.method", method.as_str());
    }
    if let Some(route) = &http.route {
        span.record("http.route", &**route);
    }
    if let Some(ip) = &http.client_ip {
        span.record("client.address", tracing::field::display(ip));
    }
    if let Some(agent) = &http.user_agent {
        span.record("user_agent.original", &**agent);
    }
}

/// Records the session on the span as soon as it is known, before the lookup runs, so the
/// lookup's own warnings already carry it.
pub(crate) fn record_session(span: &Span, id: &SessionId, source: SessionSource) {
    if !span.is_disabled() {
        span.record("session.id", tracing::field::display(id.fingerprint()));
        span.record("session.source", source.as_str());
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
    span.record("lookup.outcome", identity.outcome.as_str());
}

/// Closes a request: settles an identity nobody settled, records status and latency, and
/// emits the summary event.
pub(crate) fn finish(ctx: &RequestContext, status: http::StatusCode) {
    if !ctx.identity_settled() {
        ctx.settle_identity(Identity::NONE);
    }
    let latency_ms = ctx.started_at().elapsed().as_secs_f64() * 1000.0;
    let span = ctx.span();
    span.record("http.response.status_code", status.as_u16());
    span.record("latency_ms", latency_ms);
    tracing::info!(
        target: "sessionscope::request",
        parent: span,
        status = status.as_u16(),
        latency_ms,
        lookup_outcome = ctx.lookup_outcome().as_str(),
        errors = ctx.stats.errors(),
        slow_operations = ctx.stats.slow_count(),
        slow = %ctx.stats.slow_names(),
        "request finished"
    );
}
