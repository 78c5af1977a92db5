//! [`ContextEntry`]: what `#[with_session_context]` extracts in front of a handler's own
//! arguments.

use std::convert::Infallible;
use std::sync::{Arc, LazyLock};

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::extract::SessionContext;
use crate::context::RequestContext;
use crate::lookup::SharedLookup;
use crate::request::sources::Found;
use crate::request::start::Start;
use crate::request::{Config, Handoff};

/// The settings a handler without the layer uses: the layer's defaults.
pub(super) static DEFAULT_CONFIG: LazyLock<Config> = LazyLock::new(Config::default);

/// Where the store and timeout come from.
pub(super) enum Mode {
    /// The layer built the context; it may have left its store for a typed-body id.
    Layer(Option<Handoff>),
    /// No layer: the macro found header/query ids and the store (an `Extension`) itself.
    Standalone { found: Found, lookup: Option<SharedLookup> },
}

/// The extractor `#[with_session_context]` runs before a handler's own: it takes the
/// context [`SessionContextLayer`](crate::layer::SessionContextLayer) opened, or opens one the way
/// the layer would when there is no layer.
///
/// The generated handler takes it paired with its first argument, `(ContextEntry, T)` (alone
/// for a handler without arguments), so the handler keeps the number of arguments it was
/// written with. `#[axum::debug_handler]` above `#[with_session_context]` relies on that; on a
/// handler without arguments, which takes this entry alone, write `debug_handler` below.
/// You never build one: axum extracts it. To call a handler in a test, send
/// it a request through axum (see `#[with_session_context]`, "Testing a handler").
pub struct ContextEntry {
    pub(super) ctx: Arc<RequestContext>,
    pub(super) mode: Mode,
}

impl<S: Send + Sync> FromRequestParts<S> for ContextEntry {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        // Inside the layer, handlers run in its scope.
        if let Some(ctx) = crate::scope::current() {
            let handoff = Handoff::left_on(&ctx);
            return Ok(Self { ctx, mode: Mode::Layer(handoff) });
        }
        Ok(standalone(parts))
    }
}

/// Builds the context the way the layer does, with the layer's default settings.
fn standalone(parts: &mut Parts) -> ContextEntry {
    let (ctx, found) = Start::read(parts, &DEFAULT_CONFIG).open(&parts.headers, None);
    let ctx = Arc::new(ctx);
    // Extractors after this one (`SessionContext`) see the same context.
    parts.extensions.insert(SessionContext(Arc::clone(&ctx)));
    let lookup = parts.extensions.get::<SharedLookup>().cloned();
    ContextEntry { ctx, mode: Mode::Standalone { found, lookup } }
}
