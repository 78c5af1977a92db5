//! The OTLP example's pipeline (`examples/otlp`), with an in-memory exporter in place of the
//! collector: the request spans it exports, and its check for a collector.

use crate::common;

// The example's own endpoint default is not needed here.
#[allow(dead_code)]
#[path = "../../examples/otlp/pipeline.rs"]
mod pipeline;

use std::time::Duration;

use common::TestServer;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use sessionscope::{MemoryStore, SessionRecord};

#[tokio::test]
async fn the_example_pipeline_exports_request_spans_with_the_context() {
    let _ = sessionscope::testing::capture();
    let exporter = InMemorySpanExporter::default();
    let provider = pipeline::provider(exporter.clone());
    let _subscriber = tracing::subscriber::set_default(pipeline::subscriber(&provider));

    let store = MemoryStore::new();
    let session = store.create(SessionRecord::for_user("alice"), Duration::from_secs(60));
    let srv = TestServer::start(pipeline::app(store)).await;
    let response = srv
        .get("/orders/7")
        .header("x-session-id", session.expose())
        .header("x-tenant-id", "acme")
        .header("x-correlation-id", "otlp-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "order 7 for alice");

    provider.force_flush().expect("the in-memory exporter takes every batch");
    let spans = exporter.get_finished_spans().unwrap();
    let span = spans.iter().find(|s| s.span_kind == SpanKind::Server).expect("the request span");
    let attribute = |key: &str| span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string());
    assert_eq!(span.name, "GET /orders/{id}");
    assert_eq!(attribute("correlation_id").as_deref(), Some("otlp-1"));
    assert_eq!(attribute("user.id").as_deref(), Some("alice"));
    assert_eq!(attribute("tenant.id").as_deref(), Some("acme"));
    assert_eq!(attribute("session.id").as_deref(), Some(session.fingerprint().to_string().as_str()));
    assert!(span.attributes.iter().all(|kv| !kv.value.to_string().contains(session.expose())), "no raw id");
    let _ = provider.shutdown();
}

#[tokio::test]
async fn the_example_says_when_no_collector_listens() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap();
    assert!(pipeline::collector_listening(&format!("http://{open}")).await);
    drop(listener);
    assert!(!pipeline::collector_listening(&format!("http://{open}")).await, "nothing listens once it is closed");
    assert!(!pipeline::collector_listening("not a uri").await);
}

mod collector {
    //! A collector of our own: the OTLP trace service over gRPC, keeping what it receives.

    use std::sync::{Arc, Mutex, PoisonError};

    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
    use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};

    #[derive(Clone, Default)]
    pub struct Collector(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

    impl Collector {
        pub fn received(&self) -> Vec<ExportTraceServiceRequest> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
        }

        /// Serves on loopback; returns the endpoint.
        pub async fn start(&self) -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(self.clone()))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
            tokio::spawn(server);
            format!("http://{addr}")
        }
    }

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(request.into_inner());
            Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
        }
    }
}

// The example's exporter, as it builds it, against a collector on loopback: spans leave over
// real OTLP/gRPC with the request's context and the service's name.
#[tokio::test]
async fn the_example_exports_over_otlp_to_a_collector() {
    use opentelemetry_otlp::WithExportConfig as _;

    let _ = sessionscope::testing::capture();
    let collector = collector::Collector::default();
    let endpoint = collector.start().await;
    assert!(pipeline::collector_listening(&endpoint).await);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let provider = pipeline::provider(exporter);
    let _subscriber = tracing::subscriber::set_default(pipeline::subscriber(&provider));

    let store = MemoryStore::new();
    let session = store.create(SessionRecord::for_user("alice"), Duration::from_secs(60));
    let srv = TestServer::start(pipeline::app(store)).await;
    let response = srv
        .get("/orders/9")
        .header("x-session-id", session.expose())
        .header("x-correlation-id", "otlp-grpc-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "order 9 for alice");

    // Flushing blocks until the collector answered; the collector runs on this runtime.
    let flushed = tokio::task::spawn_blocking(move || {
        let flushed = provider.force_flush();
        let _ = provider.shutdown();
        flushed
    });
    flushed.await.unwrap().expect("the collector took the spans");
    let spans: Vec<_> = collector
        .received()
        .into_iter()
        .flat_map(|request| request.resource_spans)
        .flat_map(|resource| {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name").and_then(|kv| kv.value.clone()));
            resource.scope_spans.into_iter().flat_map(|scope| scope.spans).map(move |span| (service.clone(), span))
        })
        .collect();
    let (service, span) = spans.iter().find(|(_, span)| span.name == "GET /orders/{id}").expect("the request span");
    assert!(format!("{service:?}").contains(pipeline::SERVICE_NAME), "{service:?}");
    let value = |key: &str| span.attributes.iter().find(|kv| kv.key == key).map(|kv| format!("{:?}", kv.value));
    assert!(value("correlation_id").is_some_and(|v| v.contains("otlp-grpc-1")), "{:?}", span.attributes);
    assert!(value("user.id").is_some_and(|v| v.contains("alice")));
}
