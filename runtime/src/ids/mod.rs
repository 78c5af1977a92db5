//! The ids of a request: the session id and its fingerprint, the correlation id, and the
//! escaping that keeps any value safe to write to a log line.
//!
//! Nothing here knows about requests, stores or spans; every other module builds on it.

mod correlation;
mod sanitize;
mod session_id;

pub use correlation::{CORRELATION_ID_HEADER, CorrelationId, MAX_CORRELATION_ID_LEN};
pub(crate) use sanitize::{error_chain, sanitize};
pub use session_id::{
    Fingerprint, FingerprintKeyError, InvalidSessionId, MAX_FINGERPRINT_KEY_LEN, MAX_SESSION_ID_LEN,
    MIN_FINGERPRINT_KEY_LEN, SessionId, set_fingerprint_key,
};
