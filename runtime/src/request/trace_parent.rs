//! The caller's W3C trace context (feature `opentelemetry`): the request span joins the
//! caller's trace when the request carries a valid `traceparent`, and the ids its lines
//! carry.
//!
//! The incoming headers are checked against the W3C Trace Context grammar before anything is
//! handed on: exactly one `traceparent` (a repeated one is invalid), version `00` of exactly
//! 55 characters or a later version read for its first four fields (`ff` is invalid),
//! lowercase hex only, trace and parent ids not all zero; every `tracestate` line combined in
//! order, members trimmed of spaces and tabs, empty ones skipped, keys and values to the
//! grammar, at most 32 members, the first of a repeated key kept. An invalid `traceparent`
//! starts a new trace (and its `tracestate` is dropped); an invalid `tracestate` is dropped
//! whole. The valid `tracestate` is kept as received, for outgoing calls, since not every
//! key the grammar allows fits OpenTelemetry's own trace state.

use http::{HeaderMap, HeaderName};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Most `tracestate` members; a header with more is dropped.
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Makes `span` (just created, not yet entered) a child of the caller's trace, when the
/// request carries a valid `traceparent`. Returns the caller's valid `tracestate`, if any.
pub(super) fn join(span: &Span, headers: &HeaderMap) -> Option<Box<str>> {
    let traceparent = incoming_traceparent(headers)?;
    let extractor = Checked { traceparent: &traceparent, headers };
    let cx = TraceContextPropagator::new().extract(&extractor);
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let cx = BaggagePropagator::new().extract_with_context(&cx, &extractor);
    // A disabled span: nothing to join. No layer of this version: say so, once.
    if let Err(tracing_opentelemetry::SetParentError::LayerNotFound) = span.set_parent(cx) {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                target: "sessionscope::otel",
                "a request carried a traceparent, but no tracing-opentelemetry layer of the version sessionscope \
                 uses is installed: request spans do not join their callers' traces (build it with \
                 sessionscope::otel::layer)"
            );
        });
    }
    incoming_tracestate(headers)
}

/// The OpenTelemetry trace and span ids of `span`, when a layer tracks it; read once, for
/// the log lines of the request.
pub(super) fn ids_of(span: &Span) -> Option<(TraceId, SpanId)> {
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let otel_span = cx.span();
    let ids = otel_span.span_context();
    ids.is_valid().then(|| (ids.trace_id(), ids.span_id()))
}

/// The one `traceparent`, checked, as version `00` (its first four fields).
fn incoming_traceparent(headers: &HeaderMap) -> Option<String> {
    let mut lines = headers.get_all(http::header::HeaderName::from_static("traceparent")).iter();
    let (Some(line), None) = (lines.next(), lines.next()) else { return None };
    let value = line.to_str().ok()?.trim_matches([' ', '\t']);
    let bytes = value.as_bytes();
    if bytes.len() < 55 || [2, 35, 52].iter().any(|&at| bytes[at] != b'-') {
        return None;
    }
    let (version, trace_id, parent_id, flags) = (&value[..2], &value[3..35], &value[36..52], &value[53..55]);
    let well_formed = [version, trace_id, parent_id, flags].iter().all(|field| is_lower_hex(field))
        && version != "ff"
        && (if version == "00" { bytes.len() == 55 } else { bytes.len() == 55 || bytes[55] == b'-' })
        && trace_id.bytes().any(|b| b != b'0')
        && parent_id.bytes().any(|b| b != b'0');
    well_formed.then(|| format!("00-{trace_id}-{parent_id}-{flags}"))
}

fn is_lower_hex(field: &str) -> bool {
    field.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Every `tracestate` line combined, checked, trimmed; `None` when absent, empty or invalid.
fn incoming_tracestate(headers: &HeaderMap) -> Option<Box<str>> {
    let mut kept: Vec<(&str, &str)> = Vec::new();
    for line in headers.get_all(http::header::HeaderName::from_static("tracestate")) {
        for member in line.to_str().ok()?.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let (key, value) = member.split_once('=')?;
            if !valid_key(key) || !valid_value(value) {
                return None;
            }
            if !kept.iter().any(|(seen, _)| *seen == key) {
                kept.push((key, value));
            }
            if kept.len() > MAX_TRACESTATE_MEMBERS {
                return None;
            }
        }
    }
    if kept.is_empty() {
        return None;
    }
    let joined: Vec<String> = kept.iter().map(|(key, value)| format!("{key}={value}")).collect();
    Some(joined.join(",").into_boxed_str())
}

/// A key: a lowercase letter or digit, then up to 255 of `a-z 0-9 _ - * / @`.
fn valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    (1..=256).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes[1..].iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/@".contains(&b))
}

/// A value: 1 to 256 printable ASCII characters but `,` and `=`, not ending in a space.
fn valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    (1..=256).contains(&bytes.len())
        && bytes.iter().all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && bytes.last() != Some(&b' ')
}

/// What the propagators read: the checked `traceparent`, no `tracestate` (kept apart), and
/// the request's other headers (`baggage`).
struct Checked<'a> {
    traceparent: &'a str,
    headers: &'a HeaderMap,
}

impl Extractor for Checked<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(self.traceparent),
            "tracestate" => None,
            _ => self.headers.get(key).and_then(|value| value.to_str().ok()),
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.headers.keys().map(HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const TRACE: &str = "12345678901234567890123456789012";
    const PARENT: &str = "1234567890123456";

    fn headers(lines: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn parent(value: &str) -> Option<String> {
        incoming_traceparent(&headers(&[("traceparent", value)]))
    }

    #[test]
    fn traceparent_follows_the_grammar() {
        let valid = format!("00-{TRACE}-{PARENT}-01");
        assert_eq!(parent(&valid), Some(valid.clone()));
        assert_eq!(parent(&format!(" \t{valid}\t ")), Some(valid.clone()), "optional white space");
        assert_eq!(parent(&format!("cc-{TRACE}-{PARENT}-01")), Some(valid.clone()), "a later version");
        assert_eq!(parent(&format!("cc-{TRACE}-{PARENT}-01-what-the-future-will-be-like")), Some(valid.clone()));
        for bad in [
            format!("00-{TRACE}-{PARENT}-01."),
            format!("00-{TRACE}-{PARENT}-01-what-the-future-will-be-like"),
            format!("cc-{TRACE}-{PARENT}-01.what-the-future-will-be-like"),
            format!("ff-{TRACE}-{PARENT}-01"),
            format!("0-{TRACE}-{PARENT}-01"),
            format!("000-{TRACE}-{PARENT}-01"),
            format!("0x-{TRACE}-{PARENT}-01"),
            format!("00-{}-{PARENT}-01", "0".repeat(32)),
            format!("00-{}-{PARENT}-01", TRACE.to_uppercase().replace('1', "A")),
            format!("00-0{TRACE}-{PARENT}-01"),
            format!("00-{}-{PARENT}-01", &TRACE[1..]),
            format!("00-{TRACE}-{}-01", "0".repeat(16)),
            format!("00-{TRACE}-0{PARENT}-01"),
            format!("00-{TRACE}-{}-01", &PARENT[1..]),
            format!("00-{TRACE}-{PARENT}-1"),
            format!("00-{TRACE}-{PARENT}-001"),
            format!("00-{TRACE}-{PARENT}-0x"),
            format!("00-{TRACE}-{PARENT}-AB"),
            format!("+0-{TRACE}-{PARENT}-01"),
        ] {
            assert_eq!(parent(&bad), None, "{bad:?}");
        }
        let twice = headers(&[("traceparent", &valid), ("traceparent", &valid)]);
        assert_eq!(incoming_traceparent(&twice), None, "a repeated traceparent is invalid");
    }

    fn state(lines: &[&str]) -> Option<String> {
        let lines: Vec<(&str, &str)> = lines.iter().map(|line| ("tracestate", *line)).collect();
        incoming_tracestate(&headers(&lines)).map(String::from)
    }

    #[test]
    fn tracestate_lines_combine_and_follow_the_grammar() {
        assert_eq!(
            state(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]).as_deref(),
            Some("foo=1,bar=2,rojo=1,congo=2,baz=3")
        );
        assert_eq!(state(&["foo=1 \t , \t bar=2, \t baz=3"]).as_deref(), Some("foo=1,bar=2,baz=3"));
        assert_eq!(state(&["", "foo=1"]).as_deref(), Some("foo=1"));
        assert_eq!(state(&[""]), None, "an empty tracestate is dropped");
        assert_eq!(state(&["foo=1,foo=2"]).as_deref(), Some("foo=1"), "the first of a repeated key");
        for key in ["foo@", "foo@@bar", "foo@bar@baz", "0foo", "a-z0_*/"] {
            assert!(state(&[&format!("{key}=1")]).is_some(), "{key:?}");
        }
        for bad in ["foo =1", "FOO=1", "foo.bar=1", "@foo=1,bar=2", "foo=1,bar", "foo=a,b=", "foo=a=b", "foo=é"] {
            assert_eq!(state(&[bad]), None, "{bad:?}");
        }
        let value: String = (0x20u8..=0x7e).filter(|b| ![b',', b'='].contains(b)).map(char::from).collect();
        assert!(state(&[&format!("k={value}")]).is_some(), "every allowed value character");
        assert_eq!(state(&["k=ends "]).as_deref(), Some("k=ends"), "trailing space is white space around the member");
        let members: Vec<String> = (0..33).map(|n| format!("k{n}=v")).collect();
        assert!(state(&[&members[..32].join(",")]).is_some());
        assert_eq!(state(&[&members.join(",")]), None, "33 members are too many");
        assert_eq!(state(&[&format!("{}=1", "k".repeat(257))]), None, "a key of 257 characters");
    }
}
