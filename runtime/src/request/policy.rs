//! Admission: what a request must carry to reach the handler, and the answer when it does not.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;

use super::close::echo_correlation_id;
use crate::context::{LookupOutcome, RequestContext};
use crate::ids::CorrelationId;

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
    correlation_id: CorrelationId,
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

    /// The JSON body: `{"error": "...", "message": "...", "correlation_id": "..."}`.
    pub fn json(&self) -> Bytes {
        let body = serde_json::json!({
            "error": self.code,
            "message": self.message,
            "correlation_id": self.correlation_id.as_str(),
        });
        Bytes::from(body.to_string())
    }

    /// The response, with any body type that can be made from bytes: status, JSON body,
    /// `content-type` and `x-correlation-id`.
    pub(crate) fn into_http<B>(self, make_body: impl FnOnce(Bytes) -> B) -> http::Response<B> {
        let mut response = http::Response::new(make_body(self.json()));
        *response.status_mut() = self.status;
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        echo_correlation_id(response.headers_mut(), &self.correlation_id);
        response
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        self.into_http(axum::body::Body::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SessionSource;
    use crate::ids::SessionId;

    fn ctx(outcome: LookupOutcome, invalid_seen: bool) -> std::sync::Arc<RequestContext> {
        let mut builder = RequestContext::builder().lookup_outcome(outcome);
        if outcome != LookupOutcome::NoSession {
            builder = builder.session(SessionId::parse("s-1").unwrap(), SessionSource::Header);
        }
        if outcome == LookupOutcome::Found {
            builder = builder.user_id("alice");
        }
        let ctx = builder.build();
        if invalid_seen {
            ctx.mark_invalid_session_seen();
        }
        ctx
    }

    fn answer(policy: Policy, outcome: LookupOutcome, invalid_seen: bool) -> Result<(), (u16, &'static str)> {
        policy.check(&ctx(outcome, invalid_seen)).map_err(|r| (r.status().as_u16(), r.code()))
    }

    #[test]
    fn the_policy_matrix() {
        let open = Policy::default();
        let session = Policy { require_session: true, require_user: false };
        let user = Policy { require_session: false, require_user: true };
        assert_eq!(answer(open, LookupOutcome::NoSession, true), Ok(()));
        assert_eq!(answer(session, LookupOutcome::NoSession, false), Err((401, "session_required")));
        assert_eq!(answer(session, LookupOutcome::NoSession, true), Err((400, "invalid_session_id")));
        assert_eq!(answer(session, LookupOutcome::Unknown, false), Ok(()));
        assert_eq!(answer(user, LookupOutcome::NoSession, false), Err((401, "session_required")));
        assert_eq!(answer(user, LookupOutcome::Found, false), Ok(()));
        for outcome in [LookupOutcome::Anonymous, LookupOutcome::Unknown, LookupOutcome::Skipped] {
            assert_eq!(answer(user, outcome, false), Err((401, "user_required")), "{outcome}");
        }
        for outcome in [LookupOutcome::Failed, LookupOutcome::TimedOut] {
            assert_eq!(answer(user, outcome, false), Err((503, "session_store_unavailable")), "{outcome}");
        }
    }

    #[test]
    fn the_rejection_body_carries_the_correlation_id() {
        let rejection = Policy { require_session: true, require_user: false }
            .check(&ctx(LookupOutcome::NoSession, false))
            .unwrap_err();
        let correlation_id = rejection.correlation_id.to_string();
        let response = rejection.into_http(|bytes| bytes);
        assert_eq!(response.headers()["x-correlation-id"], correlation_id.as_str());
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["error"], "session_required");
        assert_eq!(body["correlation_id"], correlation_id.as_str());
    }
}
