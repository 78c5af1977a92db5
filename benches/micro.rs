//! The pieces: reading the context, entering a scope, making a correlation id, peeking a
//! body against parsing it, the targeted-tracing filter on an enabled event, and what a log
//! line costs inside spans of different widths.
//!
//! `cargo bench --bench micro`
// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sessionscope::targeting::Dimension;
use sessionscope::{CorrelationId, RequestContext, SessionId, SessionSource, TargetedFilter};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

fn context() -> std::sync::Arc<RequestContext> {
    RequestContext::builder()
        .session(SessionId::parse(common::SESSION).unwrap(), SessionSource::Header)
        .user_id("bench-user")
        .build()
}

fn context_access(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut group = c.benchmark_group("context");
    let ctx = context();
    rt.block_on(sessionscope::scope(ctx.clone(), async {
        group.bench_function("current", |b| b.iter(|| black_box(sessionscope::current())));
        group.bench_function("with_current_user_id", |b| {
            b.iter(|| sessionscope::with_current(|c| black_box(c.and_then(|c| c.user_id()).map(str::len))))
        });
    }));
    let arc = ctx.clone();
    group.bench_function("arc_clone_reference", |b| b.iter(|| black_box(arc.clone())));
    group.bench_function("block_on_ready_reference", |b| b.to_async(&rt).iter(|| async { black_box(1) }));
    group.bench_function("scope_ready_future", |b| {
        b.to_async(&rt).iter(|| sessionscope::scope(ctx.clone(), async { black_box(1) }))
    });
    group.bench_function("correlation_id_generate", |b| b.iter(|| black_box(CorrelationId::generate())));
    group.bench_function("fingerprint", |b| {
        b.iter(|| black_box(sessionscope::Fingerprint::of(black_box(common::SESSION))))
    });
    group.finish();
}

#[derive(serde::Deserialize)]
struct OneField<'a> {
    #[serde(borrow)]
    #[allow(dead_code)]
    session_id: Option<std::borrow::Cow<'a, str>>,
}

fn body_peek(c: &mut Criterion) {
    let mut group = c.benchmark_group("body");
    for size in [1024, 64 * 1024] {
        let body = common::json_body(size);
        group.bench_with_input(BenchmarkId::new("peek", size), &body, |b, body| {
            b.iter(|| black_box(sessionscope::testing::peek_body_session_id(black_box(body))))
        });
        group.bench_with_input(BenchmarkId::new("serde_json_value", size), &body, |b, body| {
            b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("one_field_struct", size), &body, |b, body| {
            b.iter(|| black_box(serde_json::from_slice::<OneField<'_>>(black_box(body)).unwrap().session_id.is_some()))
        });
    }
    group.finish();
}

fn targeting(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut group = c.benchmark_group("filter");
    let sink = || tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    let plain = tracing_subscriber::registry().with(sink().with_filter(LevelFilter::INFO));
    let untargeted = TargetedFilter::new(LevelFilter::INFO);
    let no_targets = tracing_subscriber::registry().with(sink().with_filter(untargeted));
    // Other users targeted, not this request's: the decision is made once per request and
    // remembered, so the count of targets must not show.
    let targeting_others = |count: usize| {
        let filter = TargetedFilter::new(LevelFilter::INFO);
        for n in 0..count {
            filter.handle().add(Dimension::User, &format!("someone-else-{n}"), None).unwrap();
        }
        tracing::Dispatch::new(tracing_subscriber::registry().with(sink().with_filter(filter)))
    };
    let subscribers: Vec<(&str, tracing::Dispatch)> = vec![
        ("level_filter", plain.into()),
        ("targeted_no_targets", no_targets.into()),
        ("targeted_with_targets", targeting_others(1)),
        ("targeted_100_targets", targeting_others(100)),
        ("targeted_10000_targets", targeting_others(10_000)),
    ];
    let ctx = context();
    for (name, dispatch) in &subscribers {
        tracing::dispatcher::with_default(dispatch, || {
            rt.block_on(sessionscope::scope(ctx.clone(), async {
                group.bench_function(BenchmarkId::new("info_event", name), |b| {
                    b.iter(|| tracing::info!(n = black_box(1), "enabled event"))
                });
                group.bench_function(BenchmarkId::new("debug_event", name), |b| {
                    b.iter(|| tracing::debug!(n = black_box(1), "verbose event"))
                });
            }));
        });
    }
    group.finish();
}

/// What one log line costs by where it is written: outside any span, inside a span with the
/// request span's six fields (as a header-id request with a cache hit has them), and inside
/// a span with tower-http's `TraceLayer` three. Text, tracing-subscriber JSON and sessionscope JSON
/// (`logging::json_layer`), to a sink.
fn log_line(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_line");
    let text = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
    let json = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().json().with_writer(std::io::sink));
    let sessionscope_json =
        tracing_subscriber::registry().with(sessionscope::logging::json_layer_with_writer(std::io::sink));
    let formats: Vec<(&str, tracing::Dispatch)> =
        vec![("text", text.into()), ("json", json.into()), ("sessionscope_json", sessionscope_json.into())];
    let fingerprint = SessionId::parse(common::SESSION).unwrap().fingerprint();
    for (format, dispatch) in &formats {
        tracing::dispatcher::with_default(dispatch, || {
            let request_like = tracing::info_span!(
                "request",
                correlation_id = %CorrelationId::generate(),
                session.id = %fingerprint,
                user.id = "bench-user",
                lookup.outcome = %"found",
                http.request.method = %"GET",
                http.route = %"/r",
            );
            let three_fields = tracing::debug_span!("request", method = ?http::Method::GET, uri = ?"/r", version = ?http::Version::HTTP_11);
            let spans = [
                ("no_span", tracing::Span::none()),
                ("request_span", request_like),
                ("three_field_span", three_fields),
            ];
            for (name, span) in spans {
                span.in_scope(|| {
                    group.bench_function(BenchmarkId::new(*format, name), |b| {
                        b.iter(|| tracing::info!(n = black_box(1), "hello"))
                    });
                });
            }
        });
    }
    group.finish();
}

criterion_group!(benches, context_access, body_peek, targeting, log_line);
criterion_main!(benches);
