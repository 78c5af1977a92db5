//! One request context for every line of an axum/tokio request.
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

#[cfg(feature = "admin")]
pub mod admin;
mod context;
mod correlation;
mod extract;
#[doc(hidden)]
pub mod fuzzing;
mod layer;
mod lifecycle;
mod lookup;
#[cfg(feature = "opentelemetry")]
mod otel;
mod panic;
mod pipeline;
mod propagate;
mod sanitize;
mod scope;
mod session_id;
mod source;
pub mod targeting;
mod trace;
mod typed_body;

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;

#[cfg(feature = "testing")]
pub mod testing;

pub use context::{LookupOutcome, RequestContext, RequestContextBuilder, SessionSource};
pub use correlation::{CorrelationId, MAX_CORRELATION_ID_LEN};
pub use extract::{MissingContext, SessionContext};
pub use layer::{CORRELATION_ID_HEADER, ResponseFuture, SessionContextLayer, SessionContextService};
pub use lifecycle::{RequestStatsLayer, Tier, TierTimer, first_in_request, log_error, record_timing, time, timed};
pub use lookup::{
    CachedLookup, CachedLookupBuilder, LookupError, MemoryStore, SessionLookup, SessionRecord, SharedLookup,
};
#[cfg(feature = "redis")]
pub use lookup::{RecordFormat, RedisStore, RedisStoreBuilder, RedisStoreError};
pub use panic::panic_response;
pub use pipeline::{DEFAULT_LOOKUP_TIMEOUT, SessionRejection};
#[cfg(feature = "reqwest")]
pub use propagate::RequestBuilderExt;
pub use propagate::{PropagateContextLayer, PropagateContextService, Propagation, SESSION_ID_HEADER, inject_current};
pub use scope::{
    Carried, FutureExt, Scoped, correlation_id, current, scope, set_agent_phase, set_investigation_id, spawn,
    spawn_background, spawn_blocking, user_id, with_current,
};
pub use session_id::{Fingerprint, InvalidSessionId, MAX_SESSION_ID_LEN, SessionId};
pub use source::DEFAULT_BODY_PEEK_LIMIT;
pub use targeting::{Dimension, TargetedFilter, TargetingHandle};
pub use trace::REQUEST_SPAN;
pub use typed_body::{SessionIdField, SessionIdSource};

#[cfg(feature = "macros")]
pub use sessionscope_macros::{SessionIdSource, with_session_context};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// An error and its sources, joined with `: `, for one log field.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
