//! sessionscope with OpenTelemetry: every request span, with its correlation id, user,
//! route and custom fields, exported over OTLP (gRPC) to a collector. Self-driving: serves a
//! route, sends it a few requests, flushes the spans and says whether the collector took
//! them.
//!
//! ```sh
//! docker run --rm -p 4317:4317 otel/opentelemetry-collector   # or Jaeger, Tempo, ...
//! cargo run --example otlp --features otlp
//! ```
//!
//! `OTEL_EXPORTER_OTLP_ENDPOINT` names another collector (default `http://localhost:4317`).
//! With none listening it says so and exits with status 2: spans would only be dropped.

mod pipeline;

use std::time::Duration;

use opentelemetry_otlp::WithExportConfig as _;
use sessionscope::{MemoryStore, SessionRecord};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint =
        std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_else(|_| pipeline::DEFAULT_ENDPOINT.to_owned());
    if !pipeline::collector_listening(&endpoint).await {
        eprintln!(
            "No OTLP collector is listening at {endpoint}, so there is nowhere to send spans.\n\
             Start one (for example `docker run --rm -p 4317:4317 otel/opentelemetry-collector`)\n\
             or point OTEL_EXPORTER_OTLP_ENDPOINT at yours, then run this again."
        );
        std::process::exit(2);
    }

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()?;
    let provider = pipeline::provider(exporter);
    tracing::subscriber::set_global_default(pipeline::subscriber(&provider))?;

    let store = MemoryStore::new();
    let session = store.create(SessionRecord::for_user("alice"), Duration::from_secs(600));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, pipeline::app(store)).await });

    let client = reqwest::Client::builder().no_proxy().build()?;
    for id in 1..=3 {
        let response = client
            .get(format!("http://{addr}/orders/{id}"))
            .header("x-session-id", session.expose())
            .header("x-tenant-id", "acme")
            .send()
            .await?;
        let correlation_id = response.headers()["x-correlation-id"].to_str()?.to_owned();
        println!("{} ({correlation_id})", response.text().await?);
    }

    // The batch goes out now rather than on the next tick, and a failure is reported.
    let flushed = tokio::task::spawn_blocking(move || {
        let flushed = provider.force_flush();
        let _ = provider.shutdown();
        flushed
    })
    .await?;
    match flushed {
        Ok(()) => println!("spans exported to {endpoint} as service `{}`", pipeline::SERVICE_NAME),
        Err(error) => {
            eprintln!("the collector at {endpoint} did not take the spans: {error}");
            std::process::exit(1);
        }
    }
    Ok(())
}
