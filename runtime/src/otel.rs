//! The OpenTelemetry crates sessionscope is built against, and the layer made with them
//! (feature `opentelemetry`).
//!
//! Spans reach OpenTelemetry through a `tracing-opentelemetry` layer. sessionscope finds that
//! layer by its type, so it must come from the same `tracing-opentelemetry` version as
//! sessionscope's: build it with [`layer`] (or with the crates re-exported here), and a
//! mismatched tracer or provider is a compile error instead of request spans that silently
//! never join their caller's trace. A request with a valid `traceparent` arriving while no
//! layer of this version is installed logs a warning, once.
//!
//! ```
//! use sessionscope::otel::{opentelemetry_sdk, opentelemetry::trace::TracerProvider as _};
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let subscriber = tracing_subscriber::registry().with(sessionscope::otel::layer(provider.tracer("orders")));
//! # drop(subscriber);
//! ```

use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

pub use {opentelemetry, opentelemetry_sdk, tracing_opentelemetry};

/// A `tracing-opentelemetry` layer of the version sessionscope uses, sending spans to
/// `tracer` (a tracer of the re-exported `opentelemetry`: one of another version does not
/// compile here).
pub fn layer<S, T>(tracer: T) -> tracing_opentelemetry::OpenTelemetryLayer<S, T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    tracing_opentelemetry::layer().with_tracer(tracer)
}
