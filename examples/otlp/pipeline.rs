//! What `examples/otlp` and its test share: a tracer provider over any span exporter, the
//! subscriber that feeds it, the service, and the check for a collector.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sessionscope::otel::opentelemetry::trace::TracerProvider as _;
use sessionscope::otel::opentelemetry_sdk::Resource;
use sessionscope::otel::opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use sessionscope::{MemoryStore, SessionContextLayer};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// The `service.name` the spans are exported under.
pub const SERVICE_NAME: &str = "orders";

/// The collector address when `OTEL_EXPORTER_OTLP_ENDPOINT` is not set: OTLP over gRPC on
/// this machine.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4317";

/// Spans batched to `exporter`, under [`SERVICE_NAME`].
pub fn provider(exporter: impl SpanExporter + 'static) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
        .build()
}

/// Log lines on standard error, spans to `provider` through sessionscope's OpenTelemetry
/// layer (of the version sessionscope is built with).
pub fn subscriber(provider: &SdkTracerProvider) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
        .with(sessionscope::otel::layer(provider.tracer(SERVICE_NAME)))
}

async fn order(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    tracing::info!(order = id, "loading order");
    format!("order {id} for {}", sessionscope::user_id().unwrap_or_else(|| "nobody".into()))
}

/// The service: one route behind the layer, which also records the tenant header.
pub fn app(store: MemoryStore) -> Router {
    Router::new()
        .route("/orders/{id}", get(order))
        .layer(SessionContextLayer::new(store).field_from_header("x-tenant-id", "tenant.id"))
}

/// Whether something accepts connections at `endpoint` (`http://host:port`), within a
/// second: a collector's absence is said up front rather than after an export times out.
pub async fn collector_listening(endpoint: &str) -> bool {
    let Ok(uri) = endpoint.parse::<http::Uri>() else { return false };
    let (Some(host), port) = (uri.host(), uri.port_u16().unwrap_or(4317)) else { return false };
    let connect = tokio::net::TcpStream::connect((host, port));
    matches!(tokio::time::timeout(Duration::from_secs(1), connect).await, Ok(Ok(_)))
}
