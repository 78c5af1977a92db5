//! Entry points for the fuzz targets in `fuzz/` (compiled only under `cfg(fuzzing)`).

use crate::ids::{CorrelationId, SessionId};
use crate::request::body_peek::{BodyPeek, peek_body};
use crate::request::sources::Sources;

/// Runs header, query and cookie extraction (cookie enabled) over arbitrary request parts
/// and checks what it returns: an id only if it is valid, and never one that was not sent.
pub fn sources(uri: &str, headers: &[(&[u8], &[u8])]) {
    let Ok(uri) = uri.parse::<http::Uri>() else { return };
    let mut request = http::Request::builder().uri(uri);
    for (name, value) in headers {
        let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(name), http::HeaderValue::from_bytes(value)) else {
            return;
        };
        request = request.header(name, value);
    }
    let Ok(request) = request.body(()) else { return };
    let (parts, ()) = request.into_parts();
    let sources = Sources { cookie: Some("sid".into()), ..Sources::default() };
    if let Some((id, _)) = sources.read_parts(&parts).chosen {
        assert!(SessionId::parse(id.expose()).is_ok(), "only valid ids are chosen");
        let fingerprint = id.fingerprint().to_string();
        assert_eq!(id.to_string(), fingerprint, "Display shows the fingerprint only");
        assert_eq!(format!("{id:?}"), format!("SessionId({fingerprint})"), "Debug shows the fingerprint only");
    }
}

/// Peeks a body for `session_id` and checks the answer against a full JSON parse.
pub fn body(bytes: &[u8]) {
    match peek_body(bytes, "session_id") {
        BodyPeek::Found(id) => {
            let value: serde_json::Value = serde_json::from_slice(bytes).expect("a body with an id is valid JSON");
            assert_eq!(value["session_id"].as_str(), Some(id.expose()), "the id is the top-level field's value");
        }
        // The peek and a full parse agree both ways: a body the peek calls malformed is one
        // serde_json refuses too.
        BodyPeek::Malformed => {
            assert!(serde_json::from_slice::<serde_json::Value>(bytes).is_err(), "peek called valid JSON malformed");
        }
        _ => {}
    }
}

/// Validates arbitrary bytes as a session id and a correlation id.
pub fn ids(bytes: &[u8]) {
    if let Ok(id) = SessionId::from_bytes(bytes) {
        assert!(!id.expose().is_empty() && id.expose().len() <= 256);
        assert!(id.expose().bytes().all(|b| b.is_ascii_graphic()));
    }
    if let Some(id) = CorrelationId::from_bytes(bytes) {
        assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)));
    }
}
