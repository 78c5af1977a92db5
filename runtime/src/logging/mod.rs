//! JSON log lines that carry the request context at the top level (feature `json`).
//!
//! [`json_layer`] is a [`json_subscriber`] layer set up the way sessionscope's context is
//! meant to be read: one JSON object per line, the event's own fields at the top level, and
//! on every line written inside a request these keys, whichever span the line is written in
//! (the handler, a service it calls, an `#[instrument]`ed function, a task started with
//! [`spawn`](crate::scope::spawn), the summary):
//!
//! | key | what |
//! | --- | --- |
//! | `correlation_id` | the request's correlation id |
//! | `session.id` | the session's fingerprint (never the raw id) |
//! | `user.id` | the user the store says owns the session |
//! | `lookup.outcome` | what the store said (`found`, `unknown`, `timed_out`, ...) |
//! | `http.request.method`, `http.route` | the method and the matched route |
//! | `operation`, `agent.phase`, `investigation.id` | once set |
//! | custom fields (`tenant.id`, ...) | those the layer records: [`field_from_header`](crate::layer::SessionContextLayer::field_from_header), [`field_from_session`](crate::layer::SessionContextLayer::field_from_session), [`fields_with`](crate::layer::SessionContextLayer::fields_with) |
//! | `trace_id`, `span_id` | with feature `opentelemetry` and an OpenTelemetry layer installed: the request's trace (the caller's, when it sent a `traceparent`) and the request span (32 and 16 lowercase hex digits) |
//!
//! plus `timestamp`, `level`, `target`, `message` and the event's fields. A line written
//! directly in the request span takes these from the span, which the formatter keeps
//! serialized; a line written in a span inside it (which the formatter shows instead, with
//! its `name` and fields at the top level) takes them from the request context itself, one
//! task-local read. Keys are written once per line: do not give your own spans or events
//! fields with these names.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let subscriber = tracing_subscriber::registry().with(sessionscope::logging::json_layer());
//! # drop(subscriber);
//! ```

use std::io;

use json_subscriber::{FieldWriter, JsonLayer};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::context::{REQUEST_SPAN, RequestContext, any_custom_fields};
use crate::scope::with_current;

pub use json_subscriber;

/// The JSON layer, writing to standard output. See the [module docs](self).
pub fn json_layer<S>() -> JsonLayer<S, fn() -> io::Stdout>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    json_layer_with_writer(io::stdout)
}

/// The JSON layer, writing to `make_writer` (a file, standard error, a buffer in a test).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let layer = sessionscope::logging::json_layer_with_writer(std::io::stderr);
/// let subscriber = tracing_subscriber::registry().with(layer);
/// # drop(subscriber);
/// ```
pub fn json_layer_with_writer<S, W>(make_writer: W) -> JsonLayer<S, W>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    let mut layer = JsonLayer::new(make_writer);
    layer
        .with_timer("timestamp", SystemTime)
        .with_level("level")
        .with_target("target")
        .with_flattened_event()
        .with_top_level_flattened_current_span();
    layer.add_multiple_dynamic_fields(write_request_context::<S>);
    layer
}

/// Writes the request context's keys on a line written inside a request but not directly in
/// its request span (whose flattened fields carry them already), and on every line of a
/// request the OpenTelemetry ids and the custom fields (which no span field carries).
fn write_request_context<S>(event: &Event<'_>, ctx: &Context<'_, S>, writer: &mut FieldWriter<'_>)
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    let in_request_span = ctx.event_span(event).is_some_and(|span| is_request_span(span.metadata()));
    if in_request_span && cfg!(not(feature = "opentelemetry")) && !any_custom_fields() {
        return;
    }
    with_current(|current| {
        let Some(request) = current else { return };
        #[cfg(feature = "opentelemetry")]
        write_trace_ids(request, writer);
        if !in_request_span {
            write_context(request, writer);
        }
        // No span carries them: written on every line.
        for (name, value) in request.fields() {
            let _ = writer.write_field(name, value);
        }
    });
}

/// Writes `trace_id` and `span_id`: the request's trace (the caller's when it sent a
/// `traceparent`) and the request span.
#[cfg(feature = "opentelemetry")]
fn write_trace_ids(request: &RequestContext, writer: &mut FieldWriter<'_>) {
    if let (Some(trace), Some(span)) = (request.trace_id(), request.span_id()) {
        let _ = writer.write_field("trace_id", AsText(trace));
        let _ = writer.write_field("span_id", AsText(span));
    }
}

/// The request span sessionscope opens, not another span of the same name.
fn is_request_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.name() == REQUEST_SPAN && metadata.target().starts_with("sessionscope")
}

fn write_context(request: &RequestContext, writer: &mut FieldWriter<'_>) {
    // A field that cannot be written is left out; the line stays valid JSON.
    let _ = writer.write_field("correlation_id", request.correlation_id().as_str());
    if let Some(id) = request.session_id() {
        let _ = writer.write_field("session.id", AsText(id.fingerprint()));
    }
    if let Some(user) = request.user_id() {
        let _ = writer.write_field("user.id", user);
    }
    let _ = writer.write_field("lookup.outcome", request.lookup_outcome().as_str());
    if let Some(method) = request.method() {
        let _ = writer.write_field("http.request.method", method.as_str());
    }
    if let Some(route) = request.route() {
        let _ = writer.write_field("http.route", route);
    }
    if let Some(operation) = request.operation() {
        let _ = writer.write_field("operation", operation);
    }
    if let Some(phase) = request.agent_phase() {
        let _ = writer.write_field("agent.phase", &*phase);
    }
    if let Some(investigation) = request.investigation_id() {
        let _ = writer.write_field("investigation.id", &*investigation);
    }
}

/// A `Display` value written as a JSON string straight into the line, without a `String`.
struct AsText<T>(T);

impl<T: std::fmt::Display> serde::Serialize for AsText<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}
