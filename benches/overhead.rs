//! What the layer costs per request, next to the bare handler and the tower-http stack,
//! with spans off (subscriber at WARN) and on (DEBUG, written to a sink), in one run.
//!
//! `cargo bench --bench overhead`
// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use tower::ServiceExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

fn subscriber(level: LevelFilter) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_writer(std::io::sink).with_filter(level))
}

/// A variant: its name, the service, and how to make its request (given a 1 KiB JSON body).
type Variant = (&'static str, Router, fn(&'static [u8]) -> Request<Body>);

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let body_1k: &'static [u8] = common::json_body(1024).leak();
    let variants: Vec<Variant> = vec![
        ("bare", common::bare(), |_| common::get_with_header()),
        ("tower_http_stack", common::tower_http_stack(), |_| common::get_with_header()),
        ("layer_header_cache_hit", common::layered(), |_| common::get_with_header()),
        ("layer_no_session", common::layered(), |_| common::get_without_session()),
        ("bare_post_1k", common::bare(), common::post_json),
        ("layer_body_peek_1k", common::layered(), common::post_json),
        ("bare_typed_json_1k", common::bare(), common::post_typed),
        ("macro_typed_body_1k", common::macro_only(), common::post_typed),
        ("layer_macro_typed_body_1k", common::layer_and_macro(), common::post_typed),
    ];
    for (name, app, request) in &variants {
        let response = rt.block_on(app.clone().oneshot(request(body_1k))).unwrap();
        assert_eq!(response.status(), 200, "variant {name} must measure a successful request");
    }
    for (spans, level) in [("spans_off", LevelFilter::WARN), ("spans_on", LevelFilter::DEBUG)] {
        tracing::subscriber::with_default(subscriber(level), || {
            let mut group = c.benchmark_group(format!("request/{spans}"));
            for (name, app, request) in &variants {
                group.bench_function(*name, |b| {
                    b.to_async(&rt).iter(|| {
                        let app = app.clone();
                        let req = request(body_1k);
                        async move { black_box(app.oneshot(req).await.unwrap()) }
                    });
                });
            }
            group.finish();
        });
    }
}

criterion_group!(benches, requests);
criterion_main!(benches);
