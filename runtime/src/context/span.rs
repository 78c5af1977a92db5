//! The request span's schema: the fields it declares and how they are recorded.
//!
//! Field names follow the OpenTelemetry semantic conventions where one exists:
//! `session.id` holds the fingerprint (never the raw id), `user.id` the looked-up user.

use tracing::Span;
use tracing::field::Empty;

use super::http::HttpAttributes;
use super::identity::Identity;
use crate::ids::{CorrelationId, SessionId};

/// The name of the span that wraps every request.
pub const REQUEST_SPAN: &str = "request";

/// Makes the request span with every field declared, so later `record` calls land, and
/// every field already known given its value at once (one write instead of one per field).
/// A quiet request's span (a health check, say) is at DEBUG, every other at INFO.
pub(crate) fn request_span(
    correlation_id: &CorrelationId,
    http: &HttpAttributes,
    identity: Option<&Identity>,
    quiet: bool,
) -> Span {
    let session = identity.and_then(|i| i.session.as_ref());
    // One macro call per level: a span's level is part of its call site. Fields after the
    // level are the OpenTelemetry conventions' own, declared only with that feature.
    macro_rules! request_span {
        ($level:expr $(, $($extra:tt)+)?) => {
            tracing::span!(
                $level,
                "request",
                correlation_id = %correlation_id,
                session.id = session.map(|(id, _)| tracing::field::display(id.fingerprint())),
                // Plain tokens are given as `display` (printed as they are, no escaping
                // pass); the user id is a `str`, so text formatters quote it. Where the
                // session id came from is told once, by the summary event, not on every line.
                user.id = identity.and_then(|i| i.user_id.as_deref()),
                lookup.outcome = identity.map(|i| tracing::field::display(i.outcome.as_str())),
                http.request.method = http.method.as_ref().map(|m| tracing::field::display(m.as_str())),
                http.route = http.route().map(tracing::field::display),
                client.address = http.client_ip.map(tracing::field::display),
                user_agent.original = http.user_agent.as_ref().map(|ua| ua.as_str()),
                http.response.status_code = Empty,
                investigation.id = Empty,
                agent.phase = Empty,
                operation = Empty,
                $($($extra)+)?
            )
        };
    }
    #[cfg(not(feature = "opentelemetry"))]
    return if quiet { request_span!(tracing::Level::DEBUG) } else { request_span!(tracing::Level::INFO) };
    // With OpenTelemetry, the HTTP server conventions too: the span's name and kind, the
    // URL's path and scheme; `otel.status_code` and `error.type` are recorded on a 5xx.
    #[cfg(feature = "opentelemetry")]
    {
        let method = http.method.as_ref().map_or("HTTP", http::Method::as_str);
        let name = match http.route() {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        let path = http.uri.as_ref().map(http::Uri::path);
        let scheme = http.uri.as_ref().map(|uri| uri.scheme_str().unwrap_or("http"));
        macro_rules! with_conventions {
            ($level:expr) => {
                request_span!(
                    $level,
                    otel.name = name.as_str(),
                    otel.kind = "server",
                    otel.status_code = Empty,
                    url.path = path,
                    url.scheme = scheme,
                    error.type = Empty,
                )
            };
        }
        if quiet { with_conventions!(tracing::Level::DEBUG) } else { with_conventions!(tracing::Level::INFO) }
    }
}

/// Records what the OpenTelemetry HTTP server conventions say of a failed request: on a
/// 5xx, `otel.status_code` `error` and `error.type` the status; a service error, `_OTHER`.
#[cfg(feature = "opentelemetry")]
pub(crate) fn record_server_error(span: &Span, status: Option<u16>) {
    let error_type = match status {
        Some(status) if status >= 500 => status.to_string(),
        Some(_) => return,
        None => "_OTHER".to_owned(),
    };
    span.record("otel.status_code", "error");
    span.record("error.type", error_type.as_str());
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

/// Records a session the handler bound or ended. An ended session's id and user are recorded
/// empty: a span field cannot be taken back, and the old values must not stay.
pub(crate) fn record_change(span: &Span, identity: &Identity) {
    if span.is_disabled() {
        return;
    }
    match &identity.session {
        Some((id, _)) => span.record("session.id", tracing::field::display(id.fingerprint())),
        None => span.record("session.id", ""),
    };
    span.record("user.id", identity.user_id.as_deref().unwrap_or(""));
    span.record("lookup.outcome", tracing::field::display(identity.outcome.as_str()));
}
