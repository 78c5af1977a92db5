//! Who a request is: its session, where the id came from, and what the store said.

use std::fmt;
use std::sync::Arc;

use crate::ids::Attributes;
use crate::ids::SessionId;

/// Where the session id of a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionSource {
    /// The session header (`x-session-id` by default).
    Header,
    /// The query parameter (`session_id` by default).
    Query,
    /// The session cookie (off unless configured).
    Cookie,
    /// A top-level field of a JSON body (`session_id` by default), peeked by the layer.
    Body,
    /// A `#[session_id]` field of the handler's typed body (`#[with_session_context]`).
    TypedBody,
    /// Bound by the handler to a session it made (a login), with `bind_session`, or by the
    /// layer to the session cookie the response set.
    Bound,
}

impl SessionSource {
    /// The name logs and spans use: `header`, `query`, `cookie`, `body`, `typed_body`,
    /// `bound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Query => "query",
            Self::Cookie => "cookie",
            Self::Body => "body",
            Self::TypedBody => "typed_body",
            Self::Bound => "bound",
        }
    }
}

impl fmt::Display for SessionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What looking the session up gave. Recorded on the context and its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LookupOutcome {
    /// The store knows the session and it belongs to a user.
    Found,
    /// The store knows the session; it has no user.
    Anonymous,
    /// The store does not know the session (or it expired).
    Unknown,
    /// The store returned an error (or panicked); the request went on without a user.
    Failed,
    /// The store did not answer within the timeout; the request went on without a user.
    TimedOut,
    /// A session id was present but no lookup was configured.
    Skipped,
    /// The request carried no valid session id.
    NoSession,
    /// The handler ended the request's session (a logout), with `end_session`.
    Ended,
}

impl LookupOutcome {
    /// The name logs and spans use, e.g. `found`, `timed_out`, `no_session`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::Anonymous => "anonymous",
            Self::Unknown => "unknown",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Skipped => "skipped",
            Self::NoSession => "no_session",
            Self::Ended => "ended",
        }
    }

    /// Whether the store could not give an answer (failed or timed out).
    pub fn is_degraded(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut)
    }
}

impl fmt::Display for LookupOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who the request is: its session, where the id came from, and what the store said.
///
/// Settled once per request, by the layer or by `#[with_session_context]`.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) session: Option<(SessionId, SessionSource)>,
    pub(crate) user_id: Option<Arc<str>>,
    pub(crate) outcome: LookupOutcome,
    /// The session record's attributes, as the store gave them.
    pub(crate) attributes: Attributes,
}

impl Identity {
    /// No session id on the request.
    pub(crate) const NONE: Self =
        Self { session: None, user_id: None, outcome: LookupOutcome::NoSession, attributes: None };
}
