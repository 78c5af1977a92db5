//! Where session ids come from: header, query, cookie and the JSON body, in that order.

use std::time::Duration;

use http::HeaderName;
use http::request::Parts;

use crate::context::SessionSource;
use crate::ids::{InvalidSessionId, SessionId};

/// Default limit on how much of a JSON body is peeked for the session id.
pub const DEFAULT_BODY_PEEK_LIMIT: usize = 64 * 1024;

/// Default bound on how long the layer waits for a JSON body to arrive before it goes on
/// without the body's session id.
pub const DEFAULT_BODY_PEEK_DEADLINE: Duration = Duration::from_secs(1);

/// Where the layer and the macro look for the session id, and under which names.
#[derive(Debug, Clone)]
pub(crate) struct Sources {
    pub(crate) header: Option<HeaderName>,
    pub(crate) query: Option<Box<str>>,
    pub(crate) cookie: Option<Box<str>>,
    pub(crate) body_field: Option<Box<str>>,
    pub(crate) body_peek_limit: usize,
    pub(crate) body_peek_deadline: Duration,
}

impl Default for Sources {
    fn default() -> Self {
        Self {
            header: Some(HeaderName::from_static("x-session-id")),
            query: Some("session_id".into()),
            cookie: None,
            body_field: Some("session_id".into()),
            body_peek_limit: DEFAULT_BODY_PEEK_LIMIT,
            body_peek_deadline: DEFAULT_BODY_PEEK_DEADLINE,
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
    Invalid {
        source: SessionSource,
        reason: InvalidSessionId,
    },
    Conflict {
        kept: (SessionId, SessionSource),
        ignored: (SessionId, SessionSource),
    },
    /// One source given several times with different values: malformed, none of them taken.
    Repeated {
        source: SessionSource,
        fingerprints: Vec<crate::ids::Fingerprint>,
        values: usize,
    },
}

/// Most values of one repeated source compared; a source repeated more often is malformed.
const MAX_REPEATS: usize = 16;

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

    /// Offers a source that may be repeated (two headers, two query pairs, two cookies of the
    /// same name): values that all agree count as one; values that differ, or more than
    /// [`MAX_REPEATS`], make the source malformed: nothing is taken from it, the request
    /// counts as carrying an invalid id, and a warning names the fingerprints.
    fn offer_repeated<'a>(&mut self, source: SessionSource, mut values: impl Iterator<Item = &'a [u8]>) {
        let Some(first) = values.next() else { return };
        let mut count = 1;
        let mut differing: Option<&[u8]> = None;
        for value in values {
            count += 1;
            if count > MAX_REPEATS {
                break;
            }
            if value != first && differing.is_none() {
                differing = Some(value);
            }
        }
        match differing {
            None if count <= MAX_REPEATS => self.offer(source, SessionId::from_bytes(first)),
            other => {
                self.invalid_seen = true;
                let fingerprints = [Some(first), other]
                    .into_iter()
                    .flatten()
                    .filter_map(|value| SessionId::from_bytes(value).ok().map(|id| id.fingerprint()))
                    .collect();
                self.notes.push(Note::Repeated { source, fingerprints, values: count });
            }
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
                Note::Repeated { source, fingerprints, values } => tracing::warn!(
                    target: "sessionscope::source",
                    source = source.as_str(),
                    values = values.min(MAX_REPEATS + 1),
                    fingerprints = %fingerprints.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
                    "request repeats a session id source with different values; treated as malformed"
                ),
            }
        }
    }
}

impl Sources {
    /// Reads header, query and cookie (never the body) in priority order.
    pub(crate) fn read_parts(&self, parts: &Parts) -> Found {
        let mut found = Found::default();
        if let Some(name) = &self.header {
            let mut values = parts.headers.get_all(name).iter();
            match (values.next(), values.next()) {
                // The usual case: one header, its value shared rather than copied.
                (Some(value), None) => found.offer(SessionSource::Header, SessionId::from_header(value)),
                (Some(first), Some(second)) => found.offer_repeated(
                    SessionSource::Header,
                    [first, second].into_iter().chain(values).map(http::HeaderValue::as_bytes),
                ),
                _ => {}
            }
        }
        if let (Some(name), Some(query)) = (self.query.as_deref(), parts.uri.query()) {
            let values: Vec<_> = query_values(query, name).take(MAX_REPEATS + 1).collect();
            found.offer_repeated(SessionSource::Query, values.iter().map(|v| v.as_bytes()));
        }
        if let Some(name) = self.cookie.as_deref() {
            found.offer_repeated(SessionSource::Cookie, cookie_values(&parts.headers, name));
        }
        found
    }

    /// Whether this request's body may be peeked: a JSON body on a method that carries one,
    /// not known to be empty and not declared larger than the limit (`size` is the body's
    /// size hint). A body without a declared length (chunked, HTTP/2) is peeked too; one that
    /// turns out larger than the limit is handed on unpeeked.
    pub(crate) fn body_peekable(&self, parts: &Parts, size: &http_body::SizeHint) -> bool {
        self.body_field.is_some()
            && matches!(parts.method, http::Method::POST | http::Method::PUT | http::Method::PATCH)
            && size.upper() != Some(0)
            && size.lower() <= self.body_peek_limit as u64
            && parts.headers.get(http::header::CONTENT_TYPE).is_some_and(|v| is_json(v.as_bytes()))
    }
}

/// Every `name=value` pair's value in a query string, percent-decoded, in order.
fn query_values<'a>(query: &'a str, name: &'a str) -> impl Iterator<Item = std::borrow::Cow<'a, str>> {
    form_urlencoded::parse(query.as_bytes()).filter(move |(key, _)| key == name).map(|(_, value)| value)
}

/// Every cookie called `name` across all `Cookie` headers, quotes removed, in order.
fn cookie_values<'a>(headers: &'a http::HeaderMap, name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    headers.get_all(http::header::COOKIE).iter().flat_map(move |header| {
        header.as_bytes().split(|&b| b == b';').filter_map(move |pair| {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let values: Vec<_> = query_values("a=1&session_id=s%2D1&session_id=x", "session_id").collect();
        assert_eq!(values, ["s-1", "x"]);
        assert_eq!(query_values("session_idx=1", "session_id").count(), 0);
        let mut headers = http::HeaderMap::new();
        headers.append(http::header::COOKIE, "a=1; sid=\"abc\"".parse().unwrap());
        headers.append(http::header::COOKIE, "sid=def".parse().unwrap());
        assert_eq!(cookie_values(&headers, "sid").collect::<Vec<_>>(), [&b"abc"[..], &b"def"[..]]);
        assert_eq!(cookie_values(&headers, "si").count(), 0);
    }
}
