//! Serde attributes do not matter: a renamed field still carries the session id.
#![deny(warnings, clippy::pedantic)]

use serde::Deserialize;
use sessionscope::SessionIdSource;

#[derive(Deserialize, SessionIdSource)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateInvestigation {
    #[serde(rename = "sessionId")]
    #[session_id]
    session: String,
    #[investigation_id]
    #[serde(default)]
    investigation_id: Option<String>,
    title: String,
}

fn main() {
    let body: CreateInvestigation =
        serde_json::from_str(r#"{"sessionId":"s-1","investigationId":"i-1","title":"t"}"#).unwrap();
    assert_eq!(body.session_id(), Some("s-1"));
    assert_eq!(body.investigation_id(), Some("i-1"));
    assert_eq!(body.title, "t");
    let wrapped = axum::Json(body);
    assert_eq!(wrapped.session_id(), Some("s-1"));
}
