//! Where session ids come from: header, query, cookie and the JSON body, in that order.

use std::fmt;

use http::HeaderName;
use http::request::Parts;

use crate::context::SessionSource;
use crate::session_id::{InvalidSessionId, SessionId};

/// Default limit on how much of a JSON body is peeked for the session id.
pub const DEFAULT_BODY_PEEK_LIMIT: usize = 64 * 1024;

/// Where the layer and the macro look for the session id, and under which names.
#[derive(Debug, Clone)]
pub(crate) struct Sources {
    pub(crate) header: Option<HeaderName>,
    pub(crate) query: Option<Box<str>>,
    pub(crate) cookie: Option<Box<str>>,
    pub(crate) body_field: Option<Box<str>>,
    pub(crate) body_peek_limit: usize,
}

impl Default for Sources {
    fn default() -> Self {
        Self {
            header: Some(HeaderName::from_static("x-session-id")),
            query: Some("session_id".into()),
            cookie: None,
            body_field: Some("session_id".into()),
            body_peek_limit: DEFAULT_BODY_PEEK_LIMIT,
        }
    }
}

/// The session id chosen for a request, if any, whether a bad one was seen, and what is
/// worth logging about the candidates (logged by [`Found::emit`], inside the request span).
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) chosen: Option<(SessionId, SessionSource)>,
    pub(crate) invalid_seen: bool,
    notes: Vec<Note>,
}

#[derive(Debug)]
enum Note {
    Invalid { source: SessionSource, reason: InvalidSessionId },
    Conflict { kept: (SessionId, SessionSource), ignored: (SessionId, SessionSource) },
}

impl Found {
    /// What the layer already chose, for a later source to be compared with.
    pub(crate) fn with_chosen(id: SessionId, source: SessionSource) -> Self {
        Self { chosen: Some((id, source)), ..Self::default() }
    }

    /// Offers a candidate from a lower-priority source: it wins only if nothing won yet;
    /// otherwise a differing value is a conflict, noted with its fingerprint only.
    pub(crate) fn offer(&mut self, source: SessionSource, value: Result<SessionId, InvalidSessionId>) {
        let id = match value {
            Ok(id) => id,
            Err(reason) => {
                self.invalid_seen = true;
                self.notes.push(Note::Invalid { source, reason });
                return;
            }
        };
        match &self.chosen {
            None => self.chosen = Some((id, source)),
            Some(kept) if kept.0 != id => self.notes.push(Note::Conflict { kept: kept.clone(), ignored: (id, source) }),
            Some(_) => {}
        }
    }

    /// Whether anything was noted for [`emit`](Self::emit) to log.
    pub(crate) fn has_notes(&self) -> bool {
        !self.notes.is_empty()
    }

    /// Logs the notes taken so far (call it inside the request span). Invalid values are
    /// never logged, conflicting ones by fingerprint only.
    pub(crate) fn emit(&mut self) {
        for note in self.notes.drain(..) {
            match note {
                Note::Invalid { source, reason } => tracing::debug!(
                    target: "sessionscope::source",
                    source = source.as_str(),
                    %reason,
                    "ignored an invalid session id"
                ),
                Note::Conflict { kept, ignored } => tracing::warn!(
                    target: "sessionscope::source",
                    kept_source = kept.1.as_str(),
                    kept_fingerprint = %kept.0.fingerprint(),
                    ignored_source = ignored.1.as_str(),
                    ignored_fingerprint = %ignored.0.fingerprint(),
                    "request carries two different session ids; the higher-priority source wins"
                ),
            }
        }
    }
}

impl Sources {
    /// Reads header, query and cookie (never the body) in priority order.
    pub(crate) fn read_parts(&self, parts: &Parts) -> Found {
        let mut found = Found::default();
        if let Some(value) = self.header.as_ref().and_then(|name| parts.headers.get(name)) {
            found.offer(SessionSource::Header, SessionId::from_bytes(value.as_bytes()));
        }
        if let Some(value) = self.query.as_deref().and_then(|name| query_value(parts.uri.query()?, name)) {
            found.offer(SessionSource::Query, SessionId::parse(&value));
        }
        if let Some(value) = self.cookie.as_deref().and_then(|name| cookie_value(&parts.headers, name)) {
            found.offer(SessionSource::Cookie, SessionId::from_bytes(value));
        }
        found
    }

    /// Whether this request's body may be peeked: a JSON body of known size within the limit,
    /// on a method that carries one. Chunked or oversized bodies are never touched.
    pub(crate) fn body_peekable(&self, parts: &Parts, size_upper: Option<u64>) -> bool {
        self.body_field.is_some()
            && matches!(parts.method, http::Method::POST | http::Method::PUT | http::Method::PATCH)
            && size_upper.is_some_and(|n| n > 0 && n <= self.body_peek_limit as u64)
            && parts.headers.get(http::header::CONTENT_TYPE).is_some_and(|v| is_json(v.as_bytes()))
    }
}

/// The first `name=value` pair of a query string, percent-decoded.
fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// The first cookie called `name` across all `Cookie` headers, quotes removed.
fn cookie_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a [u8]> {
    headers.get_all(http::header::COOKIE).iter().find_map(|header| {
        header.as_bytes().split(|&b| b == b';').find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            (key == name.as_bytes())
                .then(|| value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value))
        })
    })
}

/// `application/json` or `application/<anything>+json`, parameters allowed.
fn is_json(content_type: &[u8]) -> bool {
    let essence = content_type.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    let Some(subtype) = strip_prefix_ignore_case(essence, b"application/") else {
        return false;
    };
    subtype.eq_ignore_ascii_case(b"json")
        || (subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

fn strip_prefix_ignore_case<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (value.len() >= prefix.len() && value[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &value[prefix.len()..])
}

/// What peeking a JSON body for the session id field gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyPeek {
    /// The field holds a valid id.
    Found(SessionId),
    /// The field holds a string that is not a valid id.
    Invalid(InvalidSessionId),
    /// No top-level field of that name.
    Absent,
    /// The field holds a number, array, object, bool or null.
    NotAString,
    /// The field appears twice: ambiguous, so no id is taken from the body.
    Duplicate,
    /// Not a JSON object (or not JSON at all).
    Malformed,
}

/// Finds top-level `field` in a JSON object without building a document tree.
///
/// Keys are compared after unescaping, so `"session\u005fid"` matches `session_id`, the same
/// as the handler's own deserializer would see it.
pub(crate) fn peek_body(body: &[u8], field: &str) -> BodyPeek {
    // JSON text is UTF-8. Skipped values are not checked while scanning, so check the whole
    // body once; then a body is only ever peeked if the handler could parse it too.
    let Ok(text) = std::str::from_utf8(body) else {
        return BodyPeek::Malformed;
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let peeked =
        serde::de::DeserializeSeed::deserialize(FieldPeek { field }, &mut de).and_then(|p| de.end().map(|()| p));
    peeked.unwrap_or(BodyPeek::Malformed)
}

struct FieldPeek<'f> {
    field: &'f str,
}

impl<'de> serde::de::DeserializeSeed<'de> for FieldPeek<'_> {
    type Value = BodyPeek;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<BodyPeek, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FieldPeek<'_> {
    type Value = BodyPeek;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<BodyPeek, A::Error> {
        let mut result = BodyPeek::Absent;
        while let Some(matches) = map.next_key_seed(KeyIs(self.field))? {
            if !matches {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else if result != BodyPeek::Absent {
                map.next_value::<serde::de::IgnoredAny>()?;
                result = BodyPeek::Duplicate;
            } else {
                result = map.next_value::<IdValue>()?.0;
            }
        }
        Ok(result)
    }
}

/// Compares a key with the field name without allocating for unescaped keys.
struct KeyIs<'f>(&'f str);

impl<'de> serde::de::DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// The value of the session id field: a string is checked, anything else is skipped.
struct IdValue(BodyPeek);

impl<'de> serde::Deserialize<'de> for IdValue {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(IdValueVisitor)
    }
}

struct IdValueVisitor;

impl<'de> serde::de::Visitor<'de> for IdValueVisitor {
    type Value = IdValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdValue, E> {
        Ok(IdValue(match SessionId::parse(v) {
            Ok(id) => BodyPeek::Found(id),
            Err(reason) => BodyPeek::Invalid(reason),
        }))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<IdValue, E> {
        Ok(IdValue(BodyPeek::NotAString))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<IdValue, E> {
        Ok(IdValue(BodyPeek::NotAString))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<IdValue, E> {
        Ok(IdValue(BodyPeek::NotAString))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<IdValue, E> {
        Ok(IdValue(BodyPeek::NotAString))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<IdValue, E> {
        Ok(IdValue(BodyPeek::NotAString))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<IdValue, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(IdValue(BodyPeek::NotAString))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<IdValue, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(IdValue(BodyPeek::NotAString))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(body: &str) -> BodyPeek {
        peek_body(body.as_bytes(), "session_id")
    }

    fn found(raw: &str) -> BodyPeek {
        BodyPeek::Found(SessionId::parse(raw).unwrap())
    }

    #[test]
    fn body_peek_rules() {
        assert_eq!(peek(r#"{"a":1,"session_id":"s-1"}"#), found("s-1"));
        assert_eq!(peek(r#"{"session\u005fid":"s-1"}"#), found("s-1"));
        assert_eq!(peek(r#"{"session_id":"s\u002d1"}"#), found("s-1"));
        assert_eq!(peek(r#"{"nested":{"session_id":"s-1"}}"#), BodyPeek::Absent);
        assert_eq!(peek(r#"{"session_id":"s-1","session_id":"s-2"}"#), BodyPeek::Duplicate);
        assert_eq!(peek(r#"{"session_id":42}"#), BodyPeek::NotAString);
        assert_eq!(peek(r#"{"session_id":{"x":[1,2]}}"#), BodyPeek::NotAString);
        assert_eq!(peek(r#"{"session_id":"a b"}"#), BodyPeek::Invalid(InvalidSessionId::BadByte(1)));
        assert_eq!(peek(r#"{"session_id":"s-1"} trailing"#), BodyPeek::Malformed);
        assert_eq!(peek(r#"["session_id","s-1"]"#), BodyPeek::Malformed);
        assert_eq!(peek(&format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))), BodyPeek::Malformed);
        // Deep nesting in another field is skipped without recursion: no stack overflow, and
        // the object is still well formed, so its id counts.
        let bomb = format!(r#"{{"a":{}1{},"session_id":"s-1"}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(peek(&bomb), found("s-1"));
        let deep_id = format!(r#"{{"session_id":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(peek(&deep_id), BodyPeek::NotAString);
    }

    #[test]
    fn regression_peek_accepted_invalid_utf8_in_a_skipped_value() {
        // Found by fuzzing (fuzz/corpus/body_peek/invalid_utf8_in_skipped_value).
        let body = b"{\"session_id\":\"a\",\"ses3ion_id\":\"\xa3\"}\r";
        assert_eq!(peek_body(body, "session_id"), BodyPeek::Malformed);
        assert!(serde_json::from_slice::<serde_json::Value>(body).is_err());
    }

    #[test]
    fn content_types() {
        for ok in ["application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json"] {
            assert!(is_json(ok.as_bytes()), "{ok}");
        }
        for no in ["text/plain", "application/jsonp", "application/x-www-form-urlencoded", "+json", "application/+json"]
        {
            assert!(!is_json(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn query_and_cookie_parsing() {
        assert_eq!(query_value("a=1&session_id=s%2D1&session_id=x", "session_id").as_deref(), Some("s-1"));
        assert_eq!(query_value("session_idx=1", "session_id"), None);
        let mut headers = http::HeaderMap::new();
        headers.append(http::header::COOKIE, "a=1; sid=\"abc\"".parse().unwrap());
        assert_eq!(cookie_value(&headers, "sid"), Some(&b"abc"[..]));
        assert_eq!(cookie_value(&headers, "si"), None);
    }
}
