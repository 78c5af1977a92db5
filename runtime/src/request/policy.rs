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

    /// The gRPC status code a gRPC client gets instead of the HTTP status: 3
    /// (`INVALID_ARGUMENT`) for 400, 16 (`UNAUTHENTICATED`) for 401, 14 (`UNAVAILABLE`) for 503.
    pub fn grpc_status(&self) -> i32 {
        match self.status {
            StatusCode::BAD_REQUEST => 3,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            _ => 16,
        }
    }

    /// The answer to a gRPC call: a trailers-only response (HTTP 200, `content-type:
    /// application/grpc`, `grpc-status`, `grpc-message` with the message, and
    /// `x-correlation-id`), with an empty body, so gRPC clients read it as a status.
    pub(crate) fn into_grpc<B>(self, empty_body: B) -> http::Response<B> {
        let mut response = http::Response::new(empty_body);
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-status", http::HeaderValue::from(self.grpc_status()));
        // The messages are fixed printable ASCII: nothing to percent-encode.
        headers.insert("grpc-message", http::HeaderValue::from_static(self.message));
        echo_correlation_id(headers, &self.correlation_id);
        response
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
    fn a_grpc_call_gets_a_trailers_only_status() {
        let user = Policy { require_session: false, require_user: true };
        for (outcome, invalid_seen, grpc_status) in [
            (LookupOutcome::NoSession, true, "3"),
            (LookupOutcome::Anonymous, false, "16"),
            (LookupOutcome::Failed, false, "14"),
        ] {
            let session = Policy { require_session: true, require_user: false };
            let policy = if invalid_seen { session } else { user };
            let rejection = policy.check(&ctx(outcome, invalid_seen)).unwrap_err();
            let correlation_id = rejection.correlation_id.to_string();
            let response = rejection.into_grpc(());
            assert_eq!(response.status(), 200, "gRPC carries its status in grpc-status");
            assert_eq!(response.headers()["content-type"], "application/grpc");
            assert_eq!(response.headers()["grpc-status"], grpc_status, "{outcome}");
            assert!(!response.headers()["grpc-message"].is_empty());
            assert_eq!(response.headers()["x-correlation-id"], correlation_id.as_str());
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
