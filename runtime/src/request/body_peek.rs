//! The JSON body source: read the head of a request body (up to a size limit, before a
//! deadline), find the top-level session id field in it, and hand back every byte read.
//!
//! Bodies with and without a declared length (chunked, HTTP/2) are read alike. Only a body
//! that ends within the limit and the deadline is peeked; any other reaches the handler as
//! the bytes already read followed by the rest of the stream, unpeeked.

use std::fmt;
use std::pin::Pin;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::Body;
use http_body_util::BodyExt as _;

use super::sources::Found;
use crate::context::SessionSource;
use crate::ids::{InvalidSessionId, SessionId};

/// An error of any request body, boxed.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What reading the head of a body gave: the bytes read, in order, and what follows them.
pub(crate) struct Head<B> {
    pub(crate) bytes: Bytes,
    pub(crate) trailers: Option<HeaderMap>,
    pub(crate) rest: Rest<B>,
}

/// What follows the bytes of a [`Head`].
pub(crate) enum Rest<B> {
    /// The body ended within the limit and the deadline: the head is the whole body.
    Ended,
    /// Not read yet: the body went past the limit, or the deadline passed.
    Unread { body: Pin<Box<B>>, reason: Unpeeked },
    /// Reading failed with this error; the handler sees it after the bytes read.
    Failed(BoxError),
}

/// Why a body was handed on without being peeked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unpeeked {
    /// It went past the peek limit.
    OverLimit,
    /// It did not end before the peek deadline.
    Deadline,
}

impl Unpeeked {
    fn as_str(self) -> &'static str {
        match self {
            Self::OverLimit => "over_limit",
            Self::Deadline => "deadline",
        }
    }
}

/// Reads `body` until it ends, goes past `limit` bytes, fails, or `deadline` passes.
pub(crate) async fn read_head<B>(body: B, limit: usize, deadline: Instant) -> Head<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut body = Box::pin(body);
    let mut read = Chunks::default();
    let mut trailers = None;
    loop {
        let frame = match tokio::time::timeout_at(deadline.into(), body.frame()).await {
            Ok(frame) => frame,
            Err(_elapsed) => {
                return Head {
                    bytes: read.into_bytes(),
                    trailers,
                    rest: Rest::Unread { body, reason: Unpeeked::Deadline },
                };
            }
        };
        match frame {
            None => return Head { bytes: read.into_bytes(), trailers, rest: Rest::Ended },
            Some(Err(error)) => return Head { bytes: read.into_bytes(), trailers, rest: Rest::Failed(error.into()) },
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    read.push(data);
                    if read.len > limit {
                        let rest = Rest::Unread { body, reason: Unpeeked::OverLimit };
                        return Head { bytes: read.into_bytes(), trailers, rest };
                    }
                }
                Err(frame) => {
                    if let Ok(map) = frame.into_trailers() {
                        trailers.get_or_insert_with(HeaderMap::new).extend(map);
                    }
                }
            },
        }
    }
}

/// The data read so far: one chunk kept as it came (no copy), more joined into one buffer.
#[derive(Default)]
struct Chunks {
    first: Option<Bytes>,
    joined: Option<BytesMut>,
    len: usize,
}

impl Chunks {
    fn push(&mut self, data: Bytes) {
        self.len += data.len();
        match (&mut self.first, &mut self.joined) {
            (None, None) => self.first = Some(data),
            (first @ Some(_), None) => {
                let first = first.take().unwrap_or_default();
                let mut joined = BytesMut::with_capacity(first.len() + data.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&data);
                self.joined = Some(joined);
            }
            (_, Some(joined)) => joined.extend_from_slice(&data),
        }
    }

    fn into_bytes(self) -> Bytes {
        match (self.first, self.joined) {
            (_, Some(joined)) => joined.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        }
    }
}

/// Offers what a body's head says about the session id to `found`, and logs it (call it
/// inside the request span). A head that is not the whole body offers nothing.
pub(crate) fn offer_head<B>(found: &mut Found, head: &Head<B>, field: &str) {
    match &head.rest {
        Rest::Ended => {}
        Rest::Unread { reason, .. } => {
            tracing::debug!(target: "sessionscope::source", reason = reason.as_str(), bytes_read = head.bytes.len(), "body handed on unpeeked");
            return;
        }
        // The handler sees the error; there is no whole body to peek.
        Rest::Failed(_) => return,
    }
    let peeked = peek_body(&head.bytes, field);
    match peeked {
        BodyPeek::Found(id) => found.offer(SessionSource::Body, Ok(id)),
        BodyPeek::Invalid(reason) => found.offer(SessionSource::Body, Err(reason)),
        BodyPeek::Absent => {}
        // A JSON body that does not parse is a malformed source, as the handler's own
        // parse would find it: `require_session` answers 400, not 401.
        BodyPeek::Malformed => {
            found.invalid_seen = true;
            tracing::debug!(target: "sessionscope::source", reason = "malformed_json", "ignored a body that is not valid JSON");
        }
        // Present but unusable: malformed, like an id that fails validation.
        BodyPeek::NotAString | BodyPeek::Duplicate => {
            found.invalid_seen = true;
            tracing::debug!(target: "sessionscope::source", reason = peeked.kind(), "ignored the body's session id field");
        }
    }
    found.emit();
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

impl BodyPeek {
    /// What was wrong with a field that is present but unusable, for the debug event.
    fn kind(&self) -> &'static str {
        match self {
            Self::NotAString => "not_a_string",
            Self::Duplicate => "duplicate_field",
            _ => "other",
        }
    }
}

/// Finds top-level `field` in a JSON object without building a document tree.
///
/// Keys are compared after unescaping, so `"session\u005fid"` matches `session_id`, the same
/// as the handler's own deserializer would see it. Every other value is checked as a full
/// parse checks it (strings decoded, lone surrogates refused, numbers in range, nesting
/// within serde_json's depth limit), so an id is only ever taken from a body that
/// `serde_json` parses as a whole.
pub(crate) fn peek_body(body: &[u8], field: &str) -> BodyPeek {
    // JSON text is UTF-8. Skipped values are not checked while scanning, so check the whole
    // body once; then a body is only ever peeked if the handler could parse it too.
    let Ok(text) = std::str::from_utf8(body) else {
        return BodyPeek::Malformed;
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let peeked =
        serde::de::DeserializeSeed::deserialize(FieldPeek { field }, &mut de).and_then(|p| de.end().map(|()| p));
    peeked.unwrap_or_else(|error| match error.classify() {
        // Valid JSON that is not an object (an array, a string): it has no such field.
        serde_json::error::Category::Data => BodyPeek::Absent,
        _ => BodyPeek::Malformed,
    })
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
                map.next_value::<Checked>()?;
            } else if result != BodyPeek::Absent {
                map.next_value::<Checked>()?;
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

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<IdValue, A::Error> {
        CheckedVisitor.visit_seq(seq).map(|Checked| IdValue(BodyPeek::NotAString))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<IdValue, A::Error> {
        CheckedVisitor.visit_map(map).map(|Checked| IdValue(BodyPeek::NotAString))
    }
}

/// A value skipped, but checked the way a full parse checks it: strings are decoded (a lone
/// surrogate is refused), numbers must be in range, nested values likewise, within
/// serde_json's depth limit. Nothing is kept. (`IgnoredAny` skips strings and numbers
/// without these checks.)
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::{Full, StreamBody};

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
        assert_eq!(peek(r#"["session_id","s-1"]"#), BodyPeek::Absent, "JSON, but not an object");
        assert_eq!(peek(r#""session_id""#), BodyPeek::Absent);
        assert_eq!(peek(r#"{"session_id":"s-1""#), BodyPeek::Malformed, "cut short");
        // Deep nesting is checked as a full parse checks it: past serde_json's depth limit the
        // body does not parse (for the handler either), so no id is taken; no stack overflow.
        let bomb = format!(r#"{{"a":{}1{},"session_id":"s-1"}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(peek(&bomb), BodyPeek::Malformed);
        let deep_id = format!(r#"{{"session_id":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(peek(&deep_id), BodyPeek::Malformed);
        let shallow = format!(r#"{{"a":{}1{},"session_id":"s-1"}}"#, "[".repeat(100), "]".repeat(100));
        assert_eq!(peek(&shallow), found("s-1"), "nesting a full parse accepts is fine");
    }

    /// Body peek and the handler must agree: an id is taken only from a body that a full
    /// `serde_json` parse accepts (the cases the attack run and the fuzzer found).
    #[test]
    fn body_peek_and_the_handler_must_agree() {
        for body in [
            r#"{"session_id":"s-1","x":"\ud800"}"#,
            r#"{"x":"\udc00","session_id":"s-1"}"#,
            r#"{"session_id":1e999}"#,
            r#"{"sess":1e100000,"session_id":"zQ-QQQ1"}"#,
            r#"{"session_id":"s-1","n":-1e400}"#,
            r#"{"session_id":"s-1","a":[1,"\ud83d"]}"#,
        ] {
            assert!(serde_json::from_str::<serde_json::Value>(body).is_err(), "a full parse refuses {body}");
            assert_eq!(peek(body), BodyPeek::Malformed, "{body}");
        }
        for body in [r#"{"session_id":"s-1","x":"\ud83d\ude00"}"#, r#"{"n":1e308,"session_id":"s-1"}"#] {
            assert!(serde_json::from_str::<serde_json::Value>(body).is_ok(), "{body}");
            assert_eq!(peek(body), found("s-1"), "{body}");
        }
    }

    #[test]
    fn regression_peek_accepted_invalid_utf8_in_a_skipped_value() {
        // Found by fuzzing (fuzz/corpus/body_peek/invalid_utf8_in_skipped_value).
        let body = b"{\"session_id\":\"a\",\"ses3ion_id\":\"\xa3\"}\r";
        assert_eq!(peek_body(body, "session_id"), BodyPeek::Malformed);
        assert!(serde_json::from_slice::<serde_json::Value>(body).is_err());
    }

    type Chunk = Result<http_body::Frame<Bytes>, std::io::Error>;

    fn chunked(parts: &[&'static str]) -> StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Chunk>>> {
        let frames: Vec<Chunk> =
            parts.iter().map(|p| Ok(http_body::Frame::data(Bytes::from_static(p.as_bytes())))).collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn a_chunked_body_within_the_limit_is_read_whole() {
        let head = read_head(chunked(&[r#"{"session_id""#, r#":"s-1"}"#]), 64, later()).await;
        assert!(matches!(head.rest, Rest::Ended));
        assert_eq!(&head.bytes[..], br#"{"session_id":"s-1"}"#);
        assert_eq!(peek_body(&head.bytes, "session_id"), found("s-1"));
    }

    #[tokio::test]
    async fn a_body_past_the_limit_stops_there_with_the_rest_unread() {
        let head = read_head(chunked(&["0123456789", "abcdefghij", "KLMNOPQRST"]), 15, later()).await;
        assert_eq!(&head.bytes[..], b"0123456789abcdefghij", "read up to the chunk that crossed the limit");
        let Rest::Unread { body, reason: Unpeeked::OverLimit } = head.rest else { panic!("unread rest expected") };
        let rest = body.collect().await.unwrap().to_bytes();
        assert_eq!(&rest[..], b"KLMNOPQRST");
    }

    #[tokio::test]
    async fn one_frame_is_kept_without_a_copy() {
        let bytes = Bytes::from_static(b"{}");
        let head = read_head(Full::new(bytes.clone()), 64, later()).await;
        assert_eq!(head.bytes.as_ptr(), bytes.as_ptr());
    }

    #[tokio::test]
    async fn a_stalled_body_is_handed_on_at_the_deadline() {
        use futures_util::StreamExt as _;
        let first: Chunk = Ok(http_body::Frame::data(Bytes::from_static(br#"{"session_id":"#)));
        let never_ends = futures_util::stream::iter(vec![first]).chain(futures_util::stream::pending());
        let started = Instant::now();
        let head = read_head(StreamBody::new(never_ends), 1024, started + Duration::from_millis(100)).await;
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(&head.bytes[..], br#"{"session_id":"#);
        assert!(matches!(head.rest, Rest::Unread { reason: Unpeeked::Deadline, .. }));
    }

    #[tokio::test]
    async fn a_failing_body_keeps_what_was_read_and_the_error() {
        let frames: Vec<Chunk> =
            vec![Ok(http_body::Frame::data(Bytes::from_static(b"{\"a\""))), Err(std::io::Error::other("reset"))];
        let head = read_head(StreamBody::new(futures_util::stream::iter(frames)), 64, later()).await;
        assert_eq!(&head.bytes[..], b"{\"a\"");
        let Rest::Failed(error) = head.rest else { panic!("failure expected") };
        assert_eq!(error.to_string(), "reset");
    }
}
