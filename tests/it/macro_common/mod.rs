//! What the `#[with_session_context]` behaviour tests add to `tests/common`: handlers that
//! report what they saw, and a body whose session id only the typed body source finds.
#![allow(dead_code, missing_docs)]

use axum::Json;
use serde::{Deserialize, Serialize};
use sessionscope::SessionIdSource;

/// What the handler saw of its context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub correlation_id: String,
    pub session_id: Option<String>,
    pub source: Option<String>,
    pub user_id: Option<String>,
    pub outcome: String,
    pub route: Option<String>,
    pub phase: Option<String>,
    pub investigation: Option<String>,
}

impl Seen {
    pub fn now() -> Json<Self> {
        let ctx = sessionscope::current().expect("the handler runs inside the request context");
        Json(Self {
            correlation_id: ctx.correlation_id().to_string(),
            session_id: ctx.session_id().map(|s| s.expose().to_owned()),
            source: ctx.session_source().map(|s| s.to_string()),
            user_id: ctx.user_id().map(str::to_owned),
            outcome: ctx.lookup_outcome().to_string(),
            route: ctx.route().map(str::to_owned),
            phase: ctx.agent_phase().map(|p| p.to_string()),
            investigation: ctx.investigation_id().map(|i| i.to_string()),
        })
    }
}

/// A body whose session id field is renamed on the wire, so only the typed body finds it.
#[derive(Debug, Deserialize, SessionIdSource)]
pub struct Step {
    #[serde(rename = "sessionId")]
    #[session_id]
    pub session: Option<String>,
    #[serde(rename = "investigationId", default)]
    #[investigation_id]
    pub investigation: Option<String>,
    #[serde(default)]
    pub note: String,
}
