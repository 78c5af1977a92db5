//! The caller's W3C trace context (feature `opentelemetry`): the request span joins the
//! caller's trace when the request carries a valid `traceparent`.

use http::{HeaderMap, HeaderName};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
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
