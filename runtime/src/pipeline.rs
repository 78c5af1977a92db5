//! The steps both entry points share: look the session up, apply the policy.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;
use http::StatusCode;

use crate::context::{Identity, LookupOutcome, RequestContext, SessionSource};
use crate::lookup::{LookupError, SessionLookup, SessionRecord};
use crate::sanitize::sanitize;
use crate::session_id::SessionId;

/// Default bound on how long a store may take before the request goes on without a user.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_millis(250);

/// Looks `id` up within `timeout`. Errors, panics and timeouts become outcomes, never
/// failures of the request; each is logged as a warning (the raw id never is).
pub(crate) async fn look_up<L: SessionLookup>(
    lookup: &L,
    timeout: Duration,
    id: SessionId,
    source: SessionSource,
) -> Identity {
    match tokio::time::timeout(timeout, AssertUnwindSafe(lookup.lookup(&id)).catch_unwind()).await {
        Ok(Ok(answer)) => identity_from(answer, id, source),
        Ok(Err(_panic)) => {
            tracing::warn!(target: "sessionscope::lookup", "session lookup panicked; continuing without a user");
            degraded(id, source, LookupOutcome::Failed)
        }
        Err(_elapsed) => {
            tracing::warn!(
                target: "sessionscope::lookup",
                timeout_ms = timeout.as_millis() as u64,
                "session lookup timed out; continuing without a user"
            );
            degraded(id, source, LookupOutcome::TimedOut)
        }
    }
}

/// The store's answer when it has one at hand ([`SessionLookup::lookup_now`]), else the
/// session handed back. Only a clean answer counts: an error or a panic leaves the lookup to
/// [`look_up`], which logs it inside the request span.
///
/// `started_at` is the request's start: while the store answers, [`now_for_expiry`] gives it
/// to a cache checking expiry, so a hit reads no clock.
pub(crate) fn look_up_now<L: SessionLookup>(
    lookup: &L,
    (id, source): (SessionId, SessionSource),
    started_at: Instant,
) -> Result<Identity, (SessionId, SessionSource)> {
    let outer = REQUEST_START.replace(Some(started_at));
    let answer = std::panic::catch_unwind(AssertUnwindSafe(|| lookup.lookup_now(&id)));
    REQUEST_START.set(outer);
    match answer {
        Ok(Some(Ok(record))) => Ok(identity_from(Ok(record), id, source)),
        _ => Err((id, source)),
    }
}

thread_local! {
    /// The start of the request whose store is answering on this thread right now.
    static REQUEST_START: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The time an expiry check compares with: the start of the request being looked up on this
/// thread (microseconds ago), else the clock.
pub(crate) fn now_for_expiry() -> Instant {
    REQUEST_START.get().unwrap_or_else(Instant::now)
}

fn identity_from(answer: Result<Option<SessionRecord>, LookupError>, id: SessionId, source: SessionSource) -> Identity {
    let (user_id, outcome) = match answer {
        Ok(Some(record)) => match record.into_user_id() {
            // Escaped when the record was made (`SessionRecord::for_user`).
            Some(user) => (Some(user), LookupOutcome::Found),
            None => (None, LookupOutcome::Anonymous),
        },
        Ok(None) => (None, LookupOutcome::Unknown),
        Err(error) => {
            let error = crate::error_chain(&error);
            tracing::warn!(target: "sessionscope::lookup", error = %sanitize(&error), "session lookup failed; continuing without a user");
            (None, LookupOutcome::Failed)
        }
    };
    Identity { session: Some((id, source)), user_id, outcome }
}

fn degraded(id: SessionId, source: SessionSource, outcome: LookupOutcome) -> Identity {
    Identity { session: Some((id, source)), user_id: None, outcome }
}

/// What a request must carry to reach the handler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) require_session: bool,
    pub(crate) require_user: bool,
}

impl Policy {
    /// `Err` with the response to send when the request does not meet the policy.
    pub(crate) fn check(self, ctx: &RequestContext) -> Result<(), SessionRejection> {
        let outcome = ctx.lookup_outcome();
        let reject = |status, code, message| Err(SessionRejection::new(status, code, message, ctx));
        if (self.require_session || self.require_user) && outcome == LookupOutcome::NoSession {
            return if ctx.invalid_session_seen() {
                reject(StatusCode::BAD_REQUEST, "invalid_session_id", "the session id is malformed")
            } else {
                reject(StatusCode::UNAUTHORIZED, "session_required", "this endpoint needs a session id")
            };
        }
        if !self.require_user {
            return Ok(());
        }
        match outcome {
            LookupOutcome::Found => Ok(()),
            LookupOutcome::Failed | LookupOutcome::TimedOut => reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "session_store_unavailable",
                "the session store could not be reached; try again",
            ),
            _ => reject(StatusCode::UNAUTHORIZED, "user_required", "this endpoint needs a signed-in session"),
        }
    }
}

/// The response sent when a request does not meet `require_session` or `require_user`.
///
/// Its body is a small JSON object: `{"error": "...", "message": "...", "correlation_id": "..."}`.
#[derive(Debug, Clone)]
pub struct SessionRejection {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    correlation_id: crate::CorrelationId,
}

impl SessionRejection {
    fn new(status: StatusCode, code: &'static str, message: &'static str, ctx: &RequestContext) -> Self {
        Self { status, code, message, correlation_id: ctx.correlation_id().clone() }
    }

    /// The HTTP status: 400, 401 or 503.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable error code, e.g. `session_required`.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code,
            "message": self.message,
            "correlation_id": self.correlation_id.as_str(),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        crate::layer::echo_correlation_id(&mut response, &self.correlation_id);
        response
    }
}
