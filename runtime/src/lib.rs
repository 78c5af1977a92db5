//! One request context for every line of a tokio/tower request.
//!
//! sessionscope builds a [`RequestContext`] once at the edge of each request (correlation
//! id, session id, the user the session belongs to, HTTP attributes, investigation id and
//! agent phase) and makes it visible to every line of code that runs for that request, and to
//! every tracing span and log line it writes.
//!
//! ```
//! use axum::{Router, routing::get};
//! use sessionscope::{MemoryStore, SessionContextLayer};
//!
//! async fn handler() -> String {
//!     // Anywhere inside the request, however deep:
//!     let ctx = sessionscope::current().expect("inside a request");
//!     format!("{} {:?}", ctx.correlation_id(), ctx.user_id())
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(handler))
//!     .layer(SessionContextLayer::new(MemoryStore::new()));
//! ```
//!
//! - Sources, in priority order: header `x-session-id`, query `session_id`, a cookie (when
//!   enabled), the top-level JSON body field `session_id`. The first valid value wins.
//! - The user id comes only from a [`SessionLookup`]; no client input can set it.
//! - The raw session id is never logged: spans and events carry its [`Fingerprint`].
//! - Every response carries `x-correlation-id`.
//!
//! The crate root holds what most services touch. The modules follow the path of a request,
//! each using only those listed before it:
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`ids`] | session id, fingerprint, correlation id |
//! | [`context`] | the request context, its outcome and source enums, the span schema |
//! | [`scope`](mod@scope) | the task-local scope, `current()`, the `spawn` family |
//! | [`lookup`] | the store trait and the stores: memory, cache, Redis |
//! | [`request`] | the steps of one request: sources, body peek, lookup, policy, close |
//! | [`layer`] | the tower layer, its service, bodies and response future |
//! | [`handler`] | the extractor, the typed body source, the panic response |
//! | [`propagate`] | the context on outgoing calls |
//! | [`targeting`] | verbose tracing for chosen users, sessions or operations |
//! | [`diagnostics`] | `log_once!`, errors logged once, per-tier timing |
//! | `logging` | JSON log lines with the context at the top level (feature `json`) |

#![warn(unreachable_pub)]
// docs.rs builds with every feature and `--cfg docsrs`: gated items show their feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod context;
pub mod diagnostics;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
pub mod ids;
pub mod layer;
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub mod logging;
pub mod lookup;
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub mod otel;
pub mod propagate;
pub mod request;
pub mod scope;
pub mod targeting;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[doc(hidden)]
pub use handler::private as __private;

pub use context::{LookupOutcome, RequestContext, SessionSource};
pub use handler::{SessionContext, SessionIdSource};
pub use ids::{CorrelationId, Fingerprint, SessionId};
pub use layer::SessionContextLayer;
pub use lookup::{CachedLookup, LookupError, MemoryStore, SessionLookup, SessionRecord, SharedLookup};
pub use scope::{
    FutureExt, bind_session, correlation_id, current, end_session, scope, set_agent_phase, set_investigation_id, spawn,
    spawn_background, spawn_blocking, user_id, with_current,
};
pub use targeting::TargetedFilter;

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use sessionscope_macros::{SessionIdSource, with_session_context};

/// The README's examples, compiled as doctests so they stay true: with every integration
/// the README shows, as its test command builds it.
#[cfg(all(
    doctest,
    feature = "macros",
    feature = "json",
    feature = "redis",
    feature = "reqwest-middleware",
    feature = "opentelemetry",
    feature = "tower-sessions"
))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
