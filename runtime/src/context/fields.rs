//! Custom fields: values a service chose to carry with every request (a tenant from a
//! header, an organisation from the session record, whatever a hook computes from the
//! request head), on the context, every JSON line and the OpenTelemetry span.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::ids::sanitize;

/// At most this many custom fields per request; further ones are refused.
pub const MAX_CUSTOM_FIELDS: usize = 16;

/// A custom field's name is 1 to this many bytes.
pub const MAX_FIELD_NAME_LEN: usize = 64;

/// A custom field's value is cut to this many bytes (at a character boundary).
pub const MAX_FIELD_VALUE_LEN: usize = 256;

/// The keys sessionscope writes itself (span fields, summary fields, the OpenTelemetry
/// conventions' and the JSON formatter's); a custom field may not take one, or a line would
/// carry a key twice.
const RESERVED: [&str; 33] = [
    "correlation_id",
    "session.id",
    "session.source",
    "user.id",
    "lookup.outcome",
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "client.address",
    "user_agent.original",
    "operation",
    "agent.phase",
    "investigation.id",
    "status",
    "latency_ms",
    "errors",
    "slow",
    "slow_operations",
    "service_error",
    "rpc.grpc.status_code",
    "otel.name",
    "otel.kind",
    "otel.status_code",
    "url.path",
    "url.scheme",
    "error.type",
    "trace_id",
    "span_id",
    "timestamp",
    "level",
    "target",
    "message",
    "name",
];

/// Why a custom field name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldNameError {
    /// Empty, longer than [`MAX_FIELD_NAME_LEN`], or a character outside `[A-Za-z0-9._-]`.
    #[error("a custom field name is 1 to {MAX_FIELD_NAME_LEN} characters of [A-Za-z0-9._-]")]
    Invalid,
    /// A key sessionscope writes itself (`user.id`, `correlation_id`, ...).
    #[error("`{0}` is a key sessionscope writes itself; choose another name")]
    Reserved(&'static str),
}

/// Checks a custom field name: 1 to [`MAX_FIELD_NAME_LEN`] characters of `[A-Za-z0-9._-]`,
/// not one of the keys sessionscope writes itself.
///
/// # Errors
/// The reason the name is refused.
pub fn check_field_name(name: &str) -> Result<(), FieldNameError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_FIELD_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Err(FieldNameError::Invalid);
    }
    match RESERVED.iter().find(|reserved| **reserved == name) {
        Some(reserved) => Err(FieldNameError::Reserved(reserved)),
        None => Ok(()),
    }
}

/// The custom fields of one request, read from its head: what the layer's `fields_with`
/// hooks write.
///
/// Values are escaped like user ids and cut to [`MAX_FIELD_VALUE_LEN`] bytes; at most
/// [`MAX_CUSTOM_FIELDS`] names.
///
/// ```
/// use sessionscope::context::FieldValues;
///
/// let mut fields = FieldValues::default();
/// assert!(fields.insert("tenant.id", "acme"));
/// assert!(!fields.insert("user.id", "mallory"), "a key sessionscope writes itself");
/// assert_eq!(fields.get("tenant.id"), Some("acme"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FieldValues {
    values: Vec<(Arc<str>, Arc<str>)>,
}

impl FieldValues {
    /// Sets `name` to `value`, replacing an earlier value. Returns false, leaving the fields
    /// as they were, for a name [`check_field_name`] refuses or past [`MAX_CUSTOM_FIELDS`].
    pub fn insert(&mut self, name: &str, value: &str) -> bool {
        if check_field_name(name).is_err() {
            return false;
        }
        let value = bounded(value);
        if let Some(slot) = self.values.iter_mut().find(|(n, _)| &**n == name) {
            slot.1 = value;
            return true;
        }
        if self.values.len() >= MAX_CUSTOM_FIELDS {
            return false;
        }
        self.values.push((Arc::from(name), value));
        true
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| &**n == name).map(|(_, v)| &**v)
    }

    /// Every field, in the order first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (&**n, &**v))
    }

    /// How many fields are set.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl fmt::Debug for FieldValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// `value` escaped and cut to [`MAX_FIELD_VALUE_LEN`] bytes.
fn bounded(value: &str) -> Arc<str> {
    let value = sanitize(value);
    let mut end = value.len().min(MAX_FIELD_VALUE_LEN);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Arc::from(&value[..end])
}

/// Set once any layer records custom fields: until then the JSON layer skips looking for
/// them on lines its request span carries already.
static CONFIGURED: AtomicBool = AtomicBool::new(false);

pub(crate) fn mark_configured() {
    CONFIGURED.store(true, Ordering::Relaxed);
}

#[cfg(feature = "json")]
pub(crate) fn any_configured() -> bool {
    CONFIGURED.load(Ordering::Relaxed)
}

/// Which session record attributes become which custom fields: `(attribute, field)`.
pub(crate) type SessionFields = Option<Arc<[(Arc<str>, Arc<str>)]>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_bounds() {
        assert_eq!(check_field_name("tenant.id"), Ok(()));
        assert_eq!(check_field_name(""), Err(FieldNameError::Invalid));
        assert_eq!(check_field_name("a b"), Err(FieldNameError::Invalid));
        assert_eq!(check_field_name(&"a".repeat(65)), Err(FieldNameError::Invalid));
        assert_eq!(check_field_name("session.id"), Err(FieldNameError::Reserved("session.id")));
        for written_by_us in ["status", "session.source", "latency_ms", "otel.name", "url.path", "name"] {
            assert!(matches!(check_field_name(written_by_us), Err(FieldNameError::Reserved(_))), "{written_by_us}");
        }

        let mut fields = FieldValues::default();
        assert!(fields.insert("t", "line\nbreak\u{202e}"));
        assert_eq!(fields.get("t"), Some("line\\u{a}break\\u{202e}"));
        assert!(fields.insert("t", &"é".repeat(200)));
        assert_eq!(fields.get("t").unwrap().len(), MAX_FIELD_VALUE_LEN);
        for i in 1..MAX_CUSTOM_FIELDS {
            assert!(fields.insert(&format!("f{i}"), "v"));
        }
        assert!(!fields.insert("one.more", "v"), "past the cap");
        assert!(fields.insert("t", "replaced"), "replacing is not adding");
        assert_eq!(fields.len(), MAX_CUSTOM_FIELDS);
    }
}
