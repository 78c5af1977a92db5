//! The correlation id: the caller's, when it is well formed, else a fresh UUID v7.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// The header that carries the correlation id in (first choice) and out (always).
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";

/// Longest incoming correlation id accepted, in bytes.
pub const MAX_CORRELATION_ID_LEN: usize = 128;

/// The id that ties together every line of one request, and of the requests it causes.
///
/// An incoming value is kept when it is 1..=128 characters of `[A-Za-z0-9._:-]`, so it is
/// always safe to print and to echo in a header.
///
/// ```
/// use sessionscope::CorrelationId;
///
/// assert_eq!(CorrelationId::parse("req-1.a:b_c").unwrap().as_str(), "req-1.a:b_c");
/// assert!(CorrelationId::parse("no spaces").is_none());
/// assert_eq!(CorrelationId::generate().as_str().len(), 36);
/// ```
#[derive(Clone)]
pub struct CorrelationId(Repr);

/// A generated id is kept inline (no allocation per request); a caller's keeps the header
/// value it came in (shared with the request, not copied), which the response echoes as is.
#[derive(Clone)]
enum Repr {
    Generated([u8; 36]),
    Given(HeaderValue),
}

impl CorrelationId {
    /// Accepts `value` when it is well formed.
    pub fn parse(value: &str) -> Option<Self> {
        Self::from_bytes(value.as_bytes())
    }

    /// Accepts raw bytes when they are well formed, and copies them.
    pub fn from_bytes(value: &[u8]) -> Option<Self> {
        if !well_formed(value) {
            return None;
        }
        HeaderValue::from_bytes(value).ok().map(|value| Self(Repr::Given(value)))
    }

    /// Accepts a header value when it is well formed, and keeps it (no copy).
    ///
    /// ```
    /// use http::HeaderValue;
    /// use sessionscope::ids::CorrelationId;
    ///
    /// let id = CorrelationId::from_header(&HeaderValue::from_static("req-7")).unwrap();
    /// assert_eq!(id.as_str(), "req-7");
    /// assert!(CorrelationId::from_header(&HeaderValue::from_static("a b")).is_none());
    /// ```
    pub fn from_header(value: &HeaderValue) -> Option<Self> {
        well_formed(value.as_bytes()).then(|| Self(Repr::Given(value.clone())))
    }

    /// The id as a header value, for the response's echo: a caller's id is its own header
    /// value again; a generated one is copied into a new one.
    pub(crate) fn to_header_value(&self) -> HeaderValue {
        match &self.0 {
            Repr::Given(value) => value.clone(),
            Repr::Generated(text) => HeaderValue::from_bytes(text).unwrap_or_else(|_| HeaderValue::from_static("")),
        }
    }

    /// A fresh UUID v7: the Unix time in milliseconds, then 74 random bits from a user-space
    /// generator. Time-ordered across milliseconds; within one, ordered by chance only (no
    /// shared counter to contend on). Within a second the time comes off the monotonic clock,
    /// from the wall clock read at most once a second per thread.
    pub fn generate() -> Self {
        Self::generate_at(Instant::now())
    }

    /// A fresh UUID v7 stamped with the time of `at`: the request's start, so a request reads
    /// the clock once.
    pub(crate) fn generate_at(at: Instant) -> Self {
        let random = uuid::Uuid::new_v4().into_bytes();
        let mut tail = [0u8; 10];
        tail.copy_from_slice(&random[6..]);
        let id = uuid::Builder::from_unix_timestamp_millis(unix_millis(at), &tail).into_uuid();
        let mut text = [0u8; 36];
        id.hyphenated().encode_lower(&mut text);
        Self(Repr::Generated(text))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Always the 36 ASCII characters `encode_lower` wrote.
            Repr::Generated(text) => std::str::from_utf8(text).unwrap_or_default(),
            // Checked by `well_formed`: ASCII only.
            Repr::Given(value) => std::str::from_utf8(value.as_bytes()).unwrap_or_default(),
        }
    }
}

/// 1..=128 bytes of letters, digits, `.`, `_`, `:` and `-`: nothing that could break a log
/// line or a header, and always UTF-8.
fn well_formed(value: &[u8]) -> bool {
    (1..=MAX_CORRELATION_ID_LEN).contains(&value.len())
        && value.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Milliseconds since the Unix epoch at `at`: the wall clock read once a second per thread,
/// the monotonic clock in between. Re-reading it every second keeps ids within about a second
/// of the wall clock after a suspend or a clock correction.
fn unix_millis(at: Instant) -> u64 {
    const REANCHOR: Duration = Duration::from_secs(1);
    thread_local! {
        static ANCHOR: Cell<Option<(Instant, u64)>> = const { Cell::new(None) };
    }
    ANCHOR.with(|anchor| {
        if let Some((instant, millis)) = anchor.get() {
            match at.checked_duration_since(instant) {
                Some(after) if after < REANCHOR => return millis + after.as_millis() as u64,
                _ => {}
            }
        }
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        anchor.set(Some((at, millis)));
        millis
    })
}

impl PartialEq for CorrelationId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CorrelationId {}

impl std::hash::Hash for CorrelationId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorrelationId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_could_break_a_log_line() {
        for bad in ["", "a b", "a\r\nb", "a\"b", "ä", &"x".repeat(129)] {
            assert!(CorrelationId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(CorrelationId::parse(&"x".repeat(128)).is_some());
    }

    #[test]
    fn generated_ids_are_v7_and_distinct() {
        let a = CorrelationId::generate();
        let b = CorrelationId::generate();
        assert_ne!(a, b);
        assert_eq!(uuid::Uuid::parse_str(a.as_str()).unwrap().get_version_num(), 7);
        assert_eq!(a, CorrelationId::parse(a.as_str()).unwrap(), "equal by text, however made");
    }

    #[test]
    fn generated_ids_carry_the_wall_clock_time() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let id = uuid::Uuid::parse_str(CorrelationId::generate().as_str()).unwrap();
        let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
        let stamped = secs * 1000 + u64::from(nanos) / 1_000_000;
        // The wall clock is re-read once a second: the stamp is within that of the clock.
        assert!(stamped.abs_diff(before) < 1_000, "stamped {stamped}, wall clock {before}");
    }
}
