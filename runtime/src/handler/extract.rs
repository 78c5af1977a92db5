//! The extractor that hands a handler its request context.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::context::RequestContext;

/// The request context, as a handler argument.
///
/// ```
/// use sessionscope::SessionContext;
///
/// async fn whoami(ctx: SessionContext) -> String {
///     format!("{} as {:?}", ctx.correlation_id(), ctx.user_id())
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(whoami));
/// ```
///
/// Fails with a 500 when neither [`SessionContextLayer`](crate::layer::SessionContextLayer) nor
/// `#[with_session_context]` set a context up; use `Option<SessionContext>` to allow that.
#[derive(Debug, Clone)]
pub struct SessionContext(pub Arc<RequestContext>);

impl Deref for SessionContext {
    type Target = RequestContext;

    fn deref(&self) -> &RequestContext {
        &self.0
    }
}

/// No request context was set up for this request: a wiring mistake in the service.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no request context: add SessionContextLayer to the router or #[with_session_context] to the handler")]
pub struct MissingContext;

impl IntoResponse for MissingContext {
    fn into_response(self) -> Response {
        tracing::error!(target: "sessionscope::extract", "{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

fn find(parts: &Parts) -> Option<SessionContext> {
    parts.extensions.get::<SessionContext>().cloned().or_else(|| crate::scope::current().map(SessionContext))
}

impl<S: Send + Sync> FromRequestParts<S> for SessionContext {
    type Rejection = MissingContext;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, MissingContext> {
        find(parts).ok_or(MissingContext)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for SessionContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(find(parts))
    }
}
