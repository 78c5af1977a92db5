//! The correlation id: the caller's, when it is well formed, else a fresh UUID v7.

use std::fmt;
use std::sync::Arc;

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
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CorrelationId(Arc<str>);

impl CorrelationId {
    /// Accepts `value` when it is well formed.
    pub fn parse(value: &str) -> Option<Self> {
        Self::from_bytes(value.as_bytes())
    }

    /// Accepts raw header bytes when they are well formed.
    pub fn from_bytes(value: &[u8]) -> Option<Self> {
        let well_formed = (1..=MAX_CORRELATION_ID_LEN).contains(&value.len())
            && value.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        // The charset check above guarantees UTF-8.
        well_formed.then(|| Self(Arc::from(std::str::from_utf8(value).unwrap_or_default())))
    }

    /// A fresh UUID v7: the Unix time in milliseconds, then 74 random bits from a user-space
    /// generator. Time-ordered across milliseconds; within one, ordered by chance only (no
    /// shared counter to contend on).
    pub fn generate() -> Self {
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let random = uuid::Uuid::new_v4().into_bytes();
        let mut tail = [0u8; 10];
        tail.copy_from_slice(&random[6..]);
        let id = uuid::Builder::from_unix_timestamp_millis(millis as u64, &tail).into_uuid();
        let mut buf = uuid::Uuid::encode_buffer();
        Self(Arc::from(&*id.hyphenated().encode_lower(&mut buf)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorrelationId({})", self.0)
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
    }
}
