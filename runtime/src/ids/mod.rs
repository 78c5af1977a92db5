//! The ids of a request: the session id and its fingerprint, the correlation id, and what
//! keeps log lines safe: the escaping of any value written to one, and the throttle that
//! keeps a warning every request could write from flooding them.
//!
//! Nothing here knows about requests, stores or spans; every other module builds on it.

mod attributes;
mod correlation;
mod sanitize;
mod session_id;
mod throttle;

pub(crate) use attributes::{Attributes, attribute};
pub use correlation::{CORRELATION_ID_HEADER, CorrelationId, MAX_CORRELATION_ID_LEN};
pub(crate) use sanitize::{error_chain, sanitize};
pub use session_id::{
    Fingerprint, FingerprintKeyError, InvalidSessionId, MAX_FINGERPRINT_KEY_LEN, MAX_SESSION_ID_LEN,
    MIN_FINGERPRINT_KEY_LEN, SessionId, set_fingerprint_key,
};
pub(crate) use throttle::Throttle;
