//! An HTTP router to read and change tracing targets at run time (feature `admin`).
//!
//! Every request must carry `Authorization: Bearer <token>`; the token is compared in
//! constant time. Every change is logged as an audit event (target `sessionscope::audit`),
//! with sessions shown as fingerprints only.
//!
//! | method and path | body | effect |
//! | --- | --- | --- |
//! | `GET /targets` | | the current [`TargetsSnapshot`] |
//! | `POST /targets` | `{"dimension": "user", "value": "alice", "ttl_secs": 600}` | adds a target (`ttl_secs` optional, at most 30 days); 409 past [`MAX_TARGETS`](super::MAX_TARGETS) targets |
//! | `DELETE /targets` | `{"dimension": "user", "value": "alice"}` | removes a target |
//! | `DELETE /targets/all` | | removes every target |
//! | `PUT /targets/disabled` | `{"disabled": true}` | the global off switch |
//!
//! ```
//! use axum::Router;
//! use sessionscope::targeting::TargetingHandle;
//!
//! let handle = TargetingHandle::new();
//! let app: Router = Router::new().nest("/admin", sessionscope::targeting::admin::router(handle, "s3cret-token"));
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use http::StatusCode;
use subtle::ConstantTimeEq;

use super::{Dimension, TargetError, TargetingHandle, TargetsSnapshot, session_key};
use crate::ids::sanitize;

#[derive(Clone)]
struct Admin {
    handle: TargetingHandle,
    token: Arc<[u8]>,
}

/// A target to add or remove.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TargetChange {
    /// `user`, `session` or `operation`.
    pub dimension: Dimension,
    /// The user id, the session (`fp:<fingerprint>`, `raw:<id>` or a raw id; see
    /// [`Dimension::Session`]), or the operation name.
    pub value: String,
    /// Seconds until the target expires (adding only); absent for no expiry.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// The global off switch.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct DisabledSwitch {
    /// `true` switches targeting off.
    pub disabled: bool,
}

/// The admin router over `handle`, guarded by the bearer `token`.
///
/// # Panics
/// If `token` is empty: an empty token would let anyone in.
pub fn router(handle: TargetingHandle, token: &str) -> Router {
    assert!(!token.is_empty(), "the admin token must not be empty");
    let admin = Admin { handle, token: Arc::from(token.as_bytes()) };
    Router::new()
        .route("/targets", get(snapshot).post(add).delete(remove))
        .route("/targets/all", delete(clear))
        .route("/targets/disabled", put(disable))
        .route_layer(axum::middleware::from_fn_with_state(admin.clone(), authorize))
        .with_state(admin)
}

async fn authorize(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let presented =
        request.headers().get(http::header::AUTHORIZATION).and_then(|v| bearer_token(v.as_bytes())).unwrap_or_default();
    if bool::from(presented.ct_eq(&admin.token)) {
        return next.run(request).await;
    }
    tracing::warn!(target: "sessionscope::audit", path = request.uri().path(), "refused an admin request without a valid token");
    (StatusCode::UNAUTHORIZED, [(http::header::WWW_AUTHENTICATE, "Bearer")], "a valid bearer token is required\n")
        .into_response()
}

/// The credentials of a `Bearer` authorization (the scheme is case-insensitive).
fn bearer_token(header: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = header.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(token)
}

async fn snapshot(State(admin): State<Admin>) -> Json<TargetsSnapshot> {
    Json(admin.handle.snapshot())
}

/// The longest TTL a target may be given over HTTP: 30 days.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 60 * 60;

async fn add(State(admin): State<Admin>, Json(change): Json<TargetChange>) -> Response {
    if change.value.trim().is_empty() {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    if change.ttl_secs.is_some_and(|ttl| ttl > MAX_TTL_SECS) {
        let message = format!("ttl_secs must be at most {MAX_TTL_SECS} (30 days); leave it out for no expiry\n");
        return (StatusCode::BAD_REQUEST, message).into_response();
    }
    match admin.handle.add(change.dimension, &change.value, change.ttl_secs.map(Duration::from_secs)) {
        Ok(()) => {
            audit("add", &change);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => {
            // The refused value is not logged: it may be a raw session id.
            tracing::warn!(target: "sessionscope::audit", action = "add", dimension = change.dimension.as_str(), %error, "refused a tracing target");
            match error {
                TargetError::TooMany => (StatusCode::CONFLICT, format!("{error}; remove some first\n")).into_response(),
                _ => (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
            }
        }
    }
}

async fn remove(State(admin): State<Admin>, Json(change): Json<TargetChange>) -> Response {
    if change.dimension == Dimension::Session
        && let Err(error) = session_key(&change.value)
    {
        return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response();
    }
    let removed = admin.handle.remove(change.dimension, &change.value);
    audit("remove", &change);
    if removed { StatusCode::NO_CONTENT.into_response() } else { StatusCode::NOT_FOUND.into_response() }
}

async fn clear(State(admin): State<Admin>) -> StatusCode {
    admin.handle.clear();
    tracing::info!(target: "sessionscope::audit", action = "clear", "tracing targets changed");
    StatusCode::NO_CONTENT
}

async fn disable(State(admin): State<Admin>, Json(switch): Json<DisabledSwitch>) -> StatusCode {
    admin.handle.set_disabled(switch.disabled);
    tracing::info!(target: "sessionscope::audit", action = "set_disabled", disabled = switch.disabled, "tracing targets changed");
    StatusCode::NO_CONTENT
}

fn audit(action: &str, change: &TargetChange) {
    // A session is never written raw, even in the audit trail: only its fingerprint.
    let shown = match change.dimension {
        Dimension::Session => session_key(&change.value).map(|f| f.to_string()).unwrap_or_default(),
        _ => sanitize(&change.value).into_owned(),
    };
    tracing::info!(
        target: "sessionscope::audit",
        action,
        dimension = change.dimension.as_str(),
        value = %shown,
        ttl_secs = change.ttl_secs,
        "tracing targets changed"
    );
}
