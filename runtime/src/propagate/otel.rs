//! W3C trace context and baggage (feature `opentelemetry`).
//!
//! Outgoing: [`Propagation`](super::Propagation) writes
//! `traceparent`/`tracestate` for the span current at the call and `baggage` with the
//! correlation id. The W3C formats are used directly, whatever global propagator is set.
//! The request span joins the caller's trace on the way in (`request`'s trace parent step).
//! Spans reach OpenTelemetry through a `tracing-opentelemetry` layer installed by the
//! application; without it, nothing here has any effect beyond the `baggage` header.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::{BaggageExt as _, KeyValueMetadata};
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::context::RequestContext;

/// The baggage entry that carries the correlation id.
pub(crate) const BAGGAGE_CORRELATION_ID: &str = "correlation_id";

/// Writes the trace context of the span current for `ctx` and baggage with its correlation id.
pub(crate) fn inject(ctx: &RequestContext, headers: &mut HeaderMap) {
    // Inside the request the current span is the request span or one of its children;
    // for a context handed over from elsewhere, its own request span.
    let is_current = crate::scope::with_current(|current| current.is_some_and(|c| std::ptr::eq(c, ctx)));
    let span = if is_current { Span::current() } else { ctx.span().clone() };
    let cx = span.context();
    let mut entries: Vec<KeyValueMetadata> = cx
        .baggage()
        .iter()
        .filter(|(key, _)| key.as_str() != BAGGAGE_CORRELATION_ID)
        .map(|(key, (value, metadata))| KeyValueMetadata::new(key.clone(), value.clone(), metadata.clone()))
        .collect();
    entries.push(KeyValueMetadata::new(BAGGAGE_CORRELATION_ID, ctx.correlation_id().as_str().to_owned(), ""));
    let cx = cx.with_baggage(entries);
    let mut injector = HeaderInjector(headers);
    TraceContextPropagator::new().inject_context(&cx, &mut injector);
    BaggagePropagator::new().inject_context(&cx, &mut injector);
    // The caller's `tracestate` as it came (checked on the way in), never an empty one.
    if let Some(tracestate) = ctx.tracestate() {
        injector.set(TRACESTATE, tracestate.to_owned());
    }
}

const TRACESTATE: &str = "tracestate";

/// Sets headers that are not set yet; a caller's own values win.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator writes `tracestate` even when there is none; an empty one is noise.
        if key == TRACESTATE && value.is_empty() {
            return;
        }
        let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) else { return };
        if !self.0.contains_key(&name) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baggage_carries_the_correlation_id_even_without_a_trace() {
        let ctx = RequestContext::builder().build();
        let mut headers = HeaderMap::new();
        inject(&ctx, &mut headers);
        let baggage = headers["baggage"].to_str().unwrap();
        assert_eq!(baggage, format!("{BAGGAGE_CORRELATION_ID}={}", ctx.correlation_id()));
        assert!(!headers.contains_key("traceparent"), "no span, no trace context");
    }
}
