//! Allocations and bytes allocated per request, for each variant, spans off and on.
//!
//! `cargo bench --bench alloc_per_request` prints a table. Counts include building the
//! request and the router's own work, so compare each row with `bare`.

mod common;

use std::alloc::System;

use axum::Router;
use axum::body::Body;
use http::Request;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::ServiceExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const REQUESTS: usize = 2000;

fn measure(rt: &tokio::runtime::Runtime, app: &Router, request: &dyn Fn() -> Request<Body>) -> (f64, f64) {
    let run = |n: usize| {
        for _ in 0..n {
            let response = rt.block_on(app.clone().oneshot(request())).unwrap();
            drop(response);
        }
    };
    let status = rt.block_on(app.clone().oneshot(request())).unwrap().status();
    assert_eq!(status, 200, "a variant must measure a successful request");
    run(200);
    let region = Region::new(GLOBAL);
    run(REQUESTS);
    let change = region.change();
    (change.allocations as f64 / REQUESTS as f64, change.bytes_allocated as f64 / REQUESTS as f64)
}

/// A variant: its name, the service, and how to make its request.
type Variant = (&'static str, Router, Box<dyn Fn() -> Request<Body>>);

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent: stay quick there.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let body_1k: &'static [u8] = common::json_body(1024).leak();
    let variants: Vec<Variant> = vec![
        ("bare", common::bare(), Box::new(common::get_with_header)),
        ("bare_with_correlation_id", common::bare(), Box::new(common::get_with_header_and_correlation_id)),
        ("tower_http_stack", common::tower_http_stack(), Box::new(common::get_with_header)),
        ("layer_header_cache_hit", common::layered(), Box::new(common::get_with_header)),
        ("layer_header_summary_off", common::layered_summary_off(), Box::new(common::get_with_header)),
        ("layer_header_and_correlation_id", common::layered(), Box::new(common::get_with_header_and_correlation_id)),
        ("layer_no_session", common::layered(), Box::new(common::get_without_session)),
        ("bare_post_1k", common::bare(), Box::new(move || common::post_json(body_1k))),
        ("layer_body_peek_1k", common::layered(), Box::new(move || common::post_json(body_1k))),
        ("bare_typed_json_1k", common::bare(), Box::new(move || common::post_typed(body_1k))),
        ("macro_typed_body_1k", common::macro_only(), Box::new(move || common::post_typed(body_1k))),
        ("layer_macro_typed_body_1k", common::layer_and_macro(), Box::new(move || common::post_typed(body_1k))),
    ];
    // A positional argument keeps only the variants whose name contains it, as criterion's
    // filter does (`cargo bench --bench alloc_per_request -- layer_header`).
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let variants: Vec<Variant> =
        variants.into_iter().filter(|(name, ..)| filter.as_ref().is_none_or(|f| name.contains(f.as_str()))).collect();
    println!("| variant | spans | allocations/request | bytes/request |");
    println!("| --- | --- | ---: | ---: |");
    for (spans, level) in [("off", LevelFilter::WARN), ("on", LevelFilter::DEBUG)] {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink).with_filter(level));
        tracing::subscriber::with_default(subscriber, || {
            for (name, app, request) in &variants {
                let (allocs, bytes) = measure(&rt, app, request.as_ref());
                println!("| {name} | {spans} | {allocs:.1} | {bytes:.0} |");
            }
        });
    }
}
