//! What a request reports about itself: `log_once!`, errors logged once per request
//! (`log_error`), per-tier timing against thresholds, and the subscriber layer that counts
//! ERROR events. What they count lands in the request's summary.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

use crate::ids::{error_chain, sanitize};
use crate::scope::with_current;

/// `true` the first time `key` is seen in the current request, `false` after that.
/// Outside a request it is always `true`. The engine behind [`log_once!`](crate::log_once).
pub fn first_in_request(key: &str) -> bool {
    with_current(|ctx| ctx.is_none_or(|ctx| ctx.stats.first_time(key)))
}

/// Emits a tracing event at most once per request for a given key.
///
/// ```
/// # async fn run() {
/// let ctx = sessionscope::RequestContext::builder().build();
/// sessionscope::scope(ctx, async {
///     for attempt in 0..3 {
///         // Logged for the first attempt only.
///         sessionscope::log_once!("cache-miss", tracing::warn!(attempt, "cache miss, falling back"));
///     }
/// })
/// .await;
/// # }
/// ```
#[macro_export]
macro_rules! log_once {
    ($key:expr, $($event:tt)+) => {
        if $crate::diagnostics::first_in_request($key) {
            $($event)+
        }
    };
}

/// The layers of a service, each with its own slow-operation threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Handlers and request plumbing (default threshold 100 ms).
    Api,
    /// Business services (default 500 ms).
    Service,
    /// Core logic and computation (default 300 ms).
    Core,
    /// Databases, caches, other services (default 1 s).
    Infrastructure,
}

static THRESHOLDS_MICROS: [AtomicU64; 4] =
    [AtomicU64::new(100_000), AtomicU64::new(500_000), AtomicU64::new(300_000), AtomicU64::new(1_000_000)];

impl Tier {
    /// The name logs use: `api`, `service`, `core`, `infrastructure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Service => "service",
            Self::Core => "core",
            Self::Infrastructure => "infrastructure",
        }
    }

    /// How long an operation of this tier may take before it counts as slow.
    pub fn threshold(self) -> Duration {
        Duration::from_micros(THRESHOLDS_MICROS[self as usize].load(Ordering::Relaxed))
    }

    /// Changes this tier's threshold for the whole process.
    pub fn set_threshold(self, threshold: Duration) {
        let micros = u64::try_from(threshold.as_micros()).unwrap_or(u64::MAX);
        THRESHOLDS_MICROS[self as usize].store(micros, Ordering::Relaxed);
    }
}

/// Records how long an operation took; over its tier's threshold it counts as slow for the
/// request's summary and logs a warning.
pub fn record_timing(tier: Tier, operation: &str, elapsed: Duration) {
    let threshold = tier.threshold();
    if elapsed <= threshold {
        return;
    }
    with_current(|ctx| {
        if let Some(ctx) = ctx {
            ctx.stats.add_slow(operation);
        }
    });
    tracing::warn!(
        target: "sessionscope::timing",
        tier = tier.as_str(),
        operation = %sanitize(operation),
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        threshold_ms = threshold.as_secs_f64() * 1000.0,
        "slow operation"
    );
}

/// Awaits `fut`, timing it against `tier`'s threshold.
///
/// ```
/// # async fn run() {
/// use sessionscope::diagnostics::Tier;
///
/// let rows = sessionscope::diagnostics::timed(Tier::Infrastructure, "load_rows", async { vec![1, 2, 3] }).await;
/// assert_eq!(rows.len(), 3);
/// # }
/// ```
pub async fn timed<F: std::future::Future>(tier: Tier, operation: &str, fut: F) -> F::Output {
    let started = Instant::now();
    let output = fut.await;
    record_timing(tier, operation, started.elapsed());
    output
}

/// Times the code until it is dropped. Returned by [`time()`].
#[derive(Debug)]
#[must_use = "the timer measures until it is dropped"]
pub struct TierTimer<'a> {
    tier: Tier,
    operation: &'a str,
    started: Instant,
}

/// Starts timing synchronous code against `tier`'s threshold.
///
/// ```
/// let _timer = sessionscope::diagnostics::time(sessionscope::diagnostics::Tier::Core, "parse_plan");
/// // ... work ...
/// ```
pub fn time(tier: Tier, operation: &str) -> TierTimer<'_> {
    TierTimer { tier, operation, started: Instant::now() }
}

impl Drop for TierTimer<'_> {
    fn drop(&mut self) {
        record_timing(self.tier, self.operation, self.started.elapsed());
    }
}

/// Logs an error once per request, tagged with the tier it came from.
///
/// Call it at every layer the error passes through: the first call logs it (with its whole
/// chain of sources) and counts it in the request's summary; later calls for the same root
/// cause, even wrapped in other error types, log nothing. Returns whether it logged.
///
/// ```
/// # async fn run() {
/// use sessionscope::diagnostics::Tier;
///
/// let ctx = sessionscope::RequestContext::builder().build();
/// sessionscope::scope(ctx, async {
///     let err = std::io::Error::other("disk full");
///     assert!(sessionscope::diagnostics::log_error(Tier::Infrastructure, &err));
///     assert!(!sessionscope::diagnostics::log_error(Tier::Api, &err));
/// })
/// .await;
/// # }
/// ```
pub fn log_error(tier: Tier, error: &(dyn std::error::Error + 'static)) -> bool {
    let first = with_current(|ctx| match ctx {
        Some(ctx) => {
            let fresh = ctx.stats.first_report(root_cause_key(error));
            if fresh {
                ctx.stats.add_error();
            }
            fresh
        }
        None => true,
    });
    if first {
        tracing::error!(
            target: "sessionscope::error",
            layer = tier.as_str(),
            error = %sanitize(&error_chain(error)),
            counted = true,
            "request error"
        );
    }
    first
}

fn root_cause_key(error: &(dyn std::error::Error + 'static)) -> u64 {
    let mut root = error;
    while let Some(source) = root.source() {
        root = source;
    }
    let mut hasher = DefaultHasher::new();
    root.to_string().hash(&mut hasher);
    hasher.finish()
}

/// A subscriber layer that counts every ERROR event of a request in its summary.
///
/// Without it, the summary counts only errors reported through [`log_error`].
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(sessionscope::diagnostics::RequestStatsLayer);
/// # drop(subscriber);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestStatsLayer;

impl<S: Subscriber> tracing_subscriber::Layer<S> for RequestStatsLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // Errors from log_error are counted there already.
        if *meta.level() == Level::ERROR && meta.fields().field("counted").is_none() {
            with_current(|ctx| {
                if let Some(ctx) = ctx {
                    ctx.stats.add_error();
                }
            });
        }
    }
}
