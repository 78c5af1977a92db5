//! The caller's W3C trace context (feature `opentelemetry`): the request span joins the
//! caller's trace when the request carries a valid `traceparent`, and the ids its lines
//! carry.

use http::{HeaderMap, HeaderName};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Makes `span` (just created, not yet entered) a child of the caller's trace, when the
/// request carries a valid `traceparent`.
pub(super) fn join(span: &Span, headers: &HeaderMap) {
    let extractor = HeaderExtractor(headers);
    let cx = TraceContextPropagator::new().extract(&extractor);
    if !cx.span().span_context().is_valid() {
        return;
    }
    let cx = BaggagePropagator::new().extract_with_context(&cx, &extractor);
    // A disabled span or no OpenTelemetry layer: nothing to join.
    let _ = span.set_parent(cx);
}

/// The OpenTelemetry trace and span ids of `span`, when a layer tracks it; read once, for
/// the log lines of the request.
pub(super) fn ids_of(span: &Span) -> Option<(TraceId, SpanId)> {
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let otel_span = cx.span();
    let ids = otel_span.span_context();
    ids.is_valid().then(|| (ids.trace_id(), ids.span_id()))
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn a_malformed_traceparent_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static("00-zz-not-a-trace-01"));
        join(&Span::none(), &headers);
    }
}
