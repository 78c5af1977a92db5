//! The session id: validated once, printed only as a fingerprint.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use http::HeaderValue;

use sha2::{Digest, Sha256};

/// Longest session id accepted, in bytes.
pub const MAX_SESSION_ID_LEN: usize = 256;

/// A validated session id.
///
/// Valid ids are 1..=256 bytes of visible ASCII (`!` to `~`): no whitespace, no control
/// characters. `Display` and `Debug` print the [`Fingerprint`], never the raw value; call
/// [`expose`](SessionId::expose) when the raw id is needed on purpose (to query a store).
///
/// ```
/// use sessionscope::SessionId;
///
/// let id = SessionId::parse("sess-42").unwrap();
/// assert_eq!(id.expose(), "sess-42");
/// assert!(!format!("{id} {id:?}").contains("sess-42"));
/// assert!(SessionId::parse("has space").is_err());
/// ```
pub struct SessionId {
    // Kept as a header value: an id read from a request header shares the header's bytes
    // (no copy); one made from text is copied once. Always visible ASCII (checked on the way
    // in), so it is valid UTF-8.
    raw: HeaderValue,
    // The fingerprint once computed (or handed over by a cache hit), 0 until then: a plain
    // load and store, no lock. Clones made after that carry it along. A fingerprint that
    // really is 0 is computed again on each call, which is still right.
    fingerprint: AtomicU64,
}

impl Clone for SessionId {
    fn clone(&self) -> Self {
        Self { raw: self.raw.clone(), fingerprint: AtomicU64::new(self.fingerprint.load(Ordering::Relaxed)) }
    }
}

/// Why a value was not accepted as a session id. Never carries the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSessionId {
    /// The value was empty.
    #[error("session id is empty")]
    Empty,
    /// The value was longer than [`MAX_SESSION_ID_LEN`] bytes.
    #[error("session id is longer than {MAX_SESSION_ID_LEN} bytes ({0} bytes)")]
    TooLong(usize),
    /// The value held whitespace, a control character or a non-ASCII byte.
    #[error("session id holds a byte outside visible ASCII at position {0}")]
    BadByte(usize),
}

impl SessionId {
    /// Validates `value` and wraps it.
    pub fn parse(value: &str) -> Result<Self, InvalidSessionId> {
        validate(value.as_bytes())?;
        Ok(Self::from_valid(value))
    }

    /// Validates raw bytes (a cookie's value, say) and copies them.
    pub fn from_bytes(value: &[u8]) -> Result<Self, InvalidSessionId> {
        validate(value)?;
        Ok(Self::from_valid_bytes(value))
    }

    /// Validates a header value and keeps it: the id shares the header's bytes instead of
    /// copying them.
    ///
    /// ```
    /// use http::HeaderValue;
    /// use sessionscope::SessionId;
    ///
    /// let id = SessionId::from_header(&HeaderValue::from_static("sess-42")).unwrap();
    /// assert_eq!(id.expose(), "sess-42");
    /// assert!(SessionId::from_header(&HeaderValue::from_static("two words")).is_err());
    /// ```
    pub fn from_header(value: &HeaderValue) -> Result<Self, InvalidSessionId> {
        validate(value.as_bytes())?;
        Ok(Self { raw: value.clone(), fingerprint: AtomicU64::new(0) })
    }

    /// A fresh random id: 32 lowercase hex digits from a UUID v4 (122 random bits, from a
    /// cryptographically secure generator). What the stores hand out on `create`.
    ///
    /// ```
    /// let id = sessionscope::SessionId::generate();
    /// assert_eq!(id.expose().len(), 32);
    /// ```
    pub fn generate() -> Self {
        let mut buf = uuid::Uuid::encode_buffer();
        Self::from_valid(uuid::Uuid::new_v4().simple().encode_lower(&mut buf))
    }

    fn from_valid(value: &str) -> Self {
        Self::from_valid_bytes(value.as_bytes())
    }

    fn from_valid_bytes(value: &[u8]) -> Self {
        // `validate` admitted only visible ASCII, which a header value always accepts.
        let raw = HeaderValue::from_bytes(value).unwrap_or_else(|_| HeaderValue::from_static(""));
        Self { raw, fingerprint: AtomicU64::new(0) }
    }

    /// The raw session id. Use it to query a store; never log it.
    pub fn expose(&self) -> &str {
        // Visible ASCII only (see `raw`), so this never falls back.
        std::str::from_utf8(self.raw.as_bytes()).unwrap_or_default()
    }

    /// The raw id's bytes, for keying a map without a UTF-8 check.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.raw.as_bytes()
    }

    /// Gives the id its fingerprint when it is already known (a cache hit for the same raw
    /// id), so it is not hashed again.
    pub(crate) fn seed_fingerprint(&self, fingerprint: Fingerprint) {
        debug_assert_eq!(fingerprint, Fingerprint::of(self.expose()), "seeded with another id's fingerprint");
        self.fingerprint.store(fingerprint.0, Ordering::Relaxed);
    }

    /// The stable, non-reversible fingerprint logs and spans carry instead of the raw id.
    pub fn fingerprint(&self) -> Fingerprint {
        match self.fingerprint.load(Ordering::Relaxed) {
            0 => {
                let computed = Fingerprint::of(self.expose());
                self.fingerprint.store(computed.0, Ordering::Relaxed);
                computed
            }
            known => Fingerprint(known),
        }
    }
}

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        self.raw.as_bytes() == other.raw.as_bytes()
    }
}

impl Eq for SessionId {}

impl std::hash::Hash for SessionId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.as_bytes().hash(state);
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fingerprint(), f)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.fingerprint())
    }
}

fn validate(value: &[u8]) -> Result<(), InvalidSessionId> {
    if value.is_empty() {
        return Err(InvalidSessionId::Empty);
    }
    if value.len() > MAX_SESSION_ID_LEN {
        return Err(InvalidSessionId::TooLong(value.len()));
    }
    // Checked without an early exit so the compiler can test many bytes at a time; the
    // position is searched only for an id that fails.
    if value.iter().fold(true, |ok, b| ok & b.is_ascii_graphic()) {
        return Ok(());
    }
    Err(InvalidSessionId::BadByte(value.iter().position(|b| !b.is_ascii_graphic()).unwrap_or_default()))
}

/// The first 64 bits of the SHA-256 of a session id, shown as 16 lowercase hex digits; of
/// HMAC-SHA-256 under a shared key once [`set_fingerprint_key`] was called.
///
/// Stable across processes and machines (that share the key), so an operator can copy it from
/// a log line and use it to target tracing at that session.
///
/// ```
/// use sessionscope::Fingerprint;
///
/// let fp = Fingerprint::of("sess-42");
/// assert_eq!(fp.to_string().len(), 16);
/// assert_eq!(Fingerprint::parse(&fp.to_string()), Some(fp));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// The fingerprint of a raw session id.
    pub fn of(raw: &str) -> Self {
        let digest = match FINGERPRINT_KEY.get() {
            Some(keyed) => {
                let mut mac = keyed.clone();
                mac.update(raw.as_bytes());
                mac.finalize().into_bytes()
            }
            None => {
                if !UNKEYED_USED.load(Ordering::Relaxed) {
                    UNKEYED_USED.store(true, Ordering::Relaxed);
                }
                Sha256::digest(raw.as_bytes())
            }
        };
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        Self(u64::from_be_bytes(head))
    }

    /// Reads a fingerprint back from its 16-hex-digit form.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 16 {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(Self)
    }
}

/// The shared key of keyed fingerprints, ready to take a session id.
static FINGERPRINT_KEY: OnceLock<Hmac<Sha256>> = OnceLock::new();
/// Whether an unkeyed fingerprint was made: a key set after that would split the process's
/// fingerprints in two.
static UNKEYED_USED: AtomicBool = AtomicBool::new(false);

/// Shortest fingerprint key accepted, in bytes.
pub const MIN_FINGERPRINT_KEY_LEN: usize = 16;
/// Longest fingerprint key accepted, in bytes.
pub const MAX_FINGERPRINT_KEY_LEN: usize = 1024;

/// Why a fingerprint key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintKeyError {
    /// Shorter than [`MIN_FINGERPRINT_KEY_LEN`] bytes (or longer than
    /// [`MAX_FINGERPRINT_KEY_LEN`]).
    #[error("a fingerprint key must be {MIN_FINGERPRINT_KEY_LEN} to {MAX_FINGERPRINT_KEY_LEN} bytes, not {0}")]
    Length(usize),
    /// A key was set already; it cannot change while the process runs.
    #[error("a fingerprint key is set already")]
    AlreadySet,
    /// Fingerprints were made without a key already; set the key before serving.
    #[error("fingerprints were made before the key was set; set it at start, before serving")]
    TooLate,
}

/// Makes every fingerprint of this process a keyed hash (HMAC-SHA-256 under `key`), so a
/// low-entropy session id cannot be recovered from logs by hashing candidates. Every instance
/// (and every operator tool) that must agree on fingerprints needs the same key. Call it once,
/// at start, before any fingerprint is made; the key is kept for the life of the process.
///
/// ```no_run
/// let key = std::env::var("SESSIONSCOPE_FINGERPRINT_KEY").expect("the shared key");
/// sessionscope::ids::set_fingerprint_key(key.as_bytes()).expect("set before serving");
/// ```
pub fn set_fingerprint_key(key: &[u8]) -> Result<(), FingerprintKeyError> {
    if !(MIN_FINGERPRINT_KEY_LEN..=MAX_FINGERPRINT_KEY_LEN).contains(&key.len()) {
        return Err(FingerprintKeyError::Length(key.len()));
    }
    if UNKEYED_USED.load(Ordering::Relaxed) {
        return Err(FingerprintKeyError::TooLate);
    }
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| FingerprintKeyError::Length(key.len()))?;
    FINGERPRINT_KEY.set(keyed).map_err(|_| FingerprintKeyError::AlreadySet)
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_the_documented_rule() {
        assert!(SessionId::parse("a").is_ok());
        assert!(SessionId::parse(&"x".repeat(256)).is_ok());
        assert_eq!(SessionId::parse(&"x".repeat(257)), Err(InvalidSessionId::TooLong(257)));
        assert_eq!(SessionId::parse(""), Err(InvalidSessionId::Empty));
        assert_eq!(SessionId::parse("a b"), Err(InvalidSessionId::BadByte(1)));
        assert_eq!(SessionId::parse("ab\r\n"), Err(InvalidSessionId::BadByte(2)));
        assert_eq!(SessionId::parse("é"), Err(InvalidSessionId::BadByte(0)));
        assert_eq!(SessionId::from_bytes(b"ok\xff"), Err(InvalidSessionId::BadByte(2)));
    }

    #[test]
    fn raw_value_never_printed() {
        let id = SessionId::parse("secret-session-value").unwrap();
        let shown = format!("{id} {id:?} {:?}", Some(&id));
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains(&id.fingerprint().to_string()));
    }

    #[test]
    fn fingerprint_is_stable() {
        // Pinned so that fingerprints copied from old logs keep matching.
        assert_eq!(Fingerprint::of("abc").to_string(), "ba7816bf8f01cfea");
    }
}
