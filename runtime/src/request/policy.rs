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
