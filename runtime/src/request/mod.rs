//! The steps of one request, in the order they run. The layer and `#[with_session_context]`
//! both call them; each is written once.
//!
//! 1. `start`: read the request head (correlation id, HTTP attributes, session id from
//!    header, query and cookie), open the request span and the context.
//! 2. `body_peek`: when no earlier source gave an id, read the head of a JSON body (up to a
//!    limit, before a deadline) and take the top-level session id field from it.
//! 3. `settle`: look the session up in the store (at once when it has the answer at hand,
//!    else within a timeout), turning errors, panics and timeouts into outcomes.
//! 4. `policy`: admit the request, or answer it with a rejection.
//! 5. `close`: echo the correlation id, record the status, write the summary event.

pub(crate) mod body_peek;
pub(crate) mod close;
pub(crate) mod fields;
pub(crate) mod follow;
pub(crate) mod forwarded;
pub(crate) mod policy;
pub(crate) mod quiet;
pub(crate) mod settle;
pub(crate) mod sources;
pub(crate) mod start;
#[cfg(feature = "opentelemetry")]
mod trace_parent;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use crate::context::RequestContext;
use crate::ids::CORRELATION_ID_HEADER;
use crate::lookup::SharedLookup;

pub use close::Summary;
pub use forwarded::{ForwardedHeader, MAX_FORWARDED_HOPS};
pub use policy::SessionRejection;
pub use settle::DEFAULT_LOOKUP_TIMEOUT;
pub use sources::{DEFAULT_BODY_PEEK_DEADLINE, DEFAULT_BODY_PEEK_LIMIT};

/// The settings one entry point runs its requests with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) sources: sources::Sources,
    pub(crate) timeout: Duration,
    pub(crate) correlation_headers: Vec<HeaderName>,
    pub(crate) policy: policy::Policy,
    pub(crate) summary: close::Summary,
    pub(crate) quiet: quiet::QuietRoutes,
    pub(crate) proxies: forwarded::TrustedProxies,
    pub(crate) fields: fields::FieldSources,
    /// A span of the service's own, made inside the request span and entered around the inner
    /// service.
    pub(crate) make_span: Option<fields::MakeSpan>,
    /// This entry point's lookup warnings, rate-limited together.
    pub(crate) lookup_warnings: Arc<settle::LookupWarnings>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sources: sources::Sources::default(),
            timeout: DEFAULT_LOOKUP_TIMEOUT,
            correlation_headers: vec![
                HeaderName::from_static(CORRELATION_ID_HEADER),
                HeaderName::from_static("x-request-id"),
            ],
            policy: policy::Policy::default(),
            summary: close::Summary::default(),
            quiet: quiet::QuietRoutes::default(),
            proxies: forwarded::TrustedProxies::default(),
            fields: fields::FieldSources::default(),
            make_span: None,
            lookup_warnings: Arc::new(settle::LookupWarnings::new()),
        }
    }
}

/// A store and the settings its requests run with.
#[derive(Debug)]
pub(crate) struct Pipeline<L> {
    pub(crate) lookup: L,
    pub(crate) config: Config,
}

/// What the layer leaves on a context whose identity it could not settle (no session id in
/// the request head or body): its store, type-erased, and its settings, so
/// `#[with_session_context]` looks a typed-body id up the same way.
#[derive(Debug, Clone)]
pub(crate) struct Handoff(pub(crate) Arc<Pipeline<SharedLookup>>);

impl Handoff {
    pub(crate) fn new(pipeline: Pipeline<SharedLookup>) -> Self {
        Self(Arc::new(pipeline))
    }

    pub(crate) fn pipeline(&self) -> &Pipeline<SharedLookup> {
        &self.0
    }

    /// Leaves it on `ctx`: an `Arc` clone, no allocation.
    pub(crate) fn leave_on(&self, ctx: &mut RequestContext) {
        ctx.left_for_handler = Some(Arc::clone(&self.0) as Arc<dyn Any + Send + Sync>);
    }

    /// What the layer left on `ctx`, if anything.
    pub(crate) fn left_on(ctx: &RequestContext) -> Option<Self> {
        let left = Arc::clone(ctx.left_for_handler.as_ref()?);
        left.downcast::<Pipeline<SharedLookup>>().ok().map(Self)
    }
}
