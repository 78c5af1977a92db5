//! Looking a session up: the [`SessionLookup`] trait, its record and error, and the stores.

mod cache;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod revocations;
mod shared;
#[cfg(feature = "tower-sessions")]
mod tower_sessions;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RecordFormat, RedisStore, RedisStoreBuilder, RedisStoreError};
pub use cache::{CachedLookup, CachedLookupBuilder};
pub use memory::MemoryStore;
pub use revocations::{Revocations, Revoked};
pub use shared::SharedLookup;
#[cfg(feature = "tower-sessions")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower-sessions")))]
pub use tower_sessions::{AXUM_LOGIN_USER_PATH, TOWER_SESSIONS_COOKIE, TowerSessionsLookup};

use crate::ids::{Attributes, SessionId, attribute, sanitize};

/// What a store knows about a session.
///
/// The user id is made safe to log once, here: control characters (CR, LF, escapes) are
/// escaped, so a cached record serves every request without being checked again.
///
/// ```
/// use sessionscope::SessionRecord;
///
/// assert_eq!(SessionRecord::for_user("alice").user_id(), Some("alice"));
/// assert_eq!(SessionRecord::for_user("eve\nadmin").user_id(), Some("eve\\u{a}admin"));
/// assert_eq!(SessionRecord::anonymous().user_id(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    user_id: Option<Arc<str>>,
    attributes: Attributes,
}

/// At most this many attributes per record; further ones are left out.
pub const MAX_SESSION_ATTRIBUTES: usize = 16;

/// Attribute keys longer than this (in bytes) are left out.
pub const MAX_ATTRIBUTE_KEY_LEN: usize = 64;

/// Attribute values are cut to this many bytes (at a character boundary).
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 256;

impl SessionRecord {
    /// A session that belongs to `user_id` (control characters escaped).
    pub fn for_user(user_id: impl AsRef<str>) -> Self {
        Self { user_id: Some(Arc::from(sanitize(user_id.as_ref()).as_ref())), attributes: None }
    }

    /// A session with no user (a visitor before login, say).
    pub fn anonymous() -> Self {
        Self { user_id: None, attributes: None }
    }

    /// The record with one more attribute (a tenant, an organisation, roles), which the layer
    /// can put on the request's context and log lines (its `field_from_session`).
    ///
    /// Keys and values are escaped like user ids; a value is cut to
    /// [`MAX_ATTRIBUTE_VALUE_LEN`] bytes. A key over [`MAX_ATTRIBUTE_KEY_LEN`] bytes, a key
    /// already present, and any attribute past [`MAX_SESSION_ATTRIBUTES`] are left out.
    ///
    /// ```
    /// use sessionscope::SessionRecord;
    ///
    /// let record = SessionRecord::for_user("alice").with_attribute("tenant", "acme");
    /// assert_eq!(record.attribute("tenant"), Some("acme"));
    /// assert_eq!(record.attribute("org"), None);
    /// ```
    #[must_use]
    pub fn with_attribute(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let present = self.attributes.as_deref().unwrap_or_default();
        if present.len() >= MAX_SESSION_ATTRIBUTES {
            return self;
        }
        // Judged as stored: escaped.
        let (key, value) = (sanitize(key.as_ref()), value.as_ref());
        if key.len() > MAX_ATTRIBUTE_KEY_LEN || present.iter().any(|(k, _)| **k == *key) {
            return self;
        }
        let value = sanitize(value);
        let mut end = value.len().min(MAX_ATTRIBUTE_VALUE_LEN);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let mut attributes = present.to_vec();
        attributes.push((Arc::from(key.as_ref()), Arc::from(&value[..end])));
        self.attributes = Some(attributes.into());
        self
    }

    /// The user that owns the session, if any.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The attribute under `key`, if the record has it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        attribute(&self.attributes, key)
    }

    /// Every attribute, in the order they were added.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes.iter().flat_map(|all| all.iter()).map(|(k, v)| (&**k, &**v))
    }

    pub(crate) fn into_parts(self) -> (Option<Arc<str>>, Attributes) {
        (self.user_id, self.attributes)
    }
}

/// The record a JSON session holds, as the Redis store's JSON format and tower-sessions
/// keep one: the user id `user` (a string or an integer; absent, `null` or empty means no
/// user) and, as attributes, the top-level strings, numbers and booleans of `members` (the
/// other members: the caller leaves the user's out). `None` when the user id is of another
/// type.
#[cfg_attr(not(any(feature = "redis", feature = "tower-sessions")), allow(dead_code))]
pub(crate) fn json_record<'a>(
    user: Option<&serde_json::Value>,
    members: impl Iterator<Item = (&'a String, &'a serde_json::Value)>,
) -> Option<SessionRecord> {
    let record = match user {
        None | Some(serde_json::Value::Null) => SessionRecord::anonymous(),
        Some(serde_json::Value::String(user)) if user.is_empty() => SessionRecord::anonymous(),
        Some(serde_json::Value::String(user)) => SessionRecord::for_user(user),
        Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => SessionRecord::for_user(n.to_string()),
        Some(_) => return None,
    };
    let scalars: Vec<(&str, String)> =
        members.filter_map(|(key, value)| Some((key.as_str(), scalar_text(value)?))).collect();
    Some(with_attributes(record, scalars.iter().map(|(key, value)| (*key, value.as_str()))))
}

/// A JSON string, number or boolean as attribute text; anything else is not an attribute.
#[cfg_attr(not(any(feature = "redis", feature = "tower-sessions")), allow(dead_code))]
fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `record` with `attributes` added in key order, so which ones the cap keeps does not
/// depend on the order the store listed them in.
#[cfg_attr(not(any(feature = "redis", feature = "tower-sessions")), allow(dead_code))]
pub(crate) fn with_attributes<'a>(
    record: SessionRecord,
    attributes: impl Iterator<Item = (&'a str, &'a str)>,
) -> SessionRecord {
    let mut attributes: Vec<(&str, &str)> = attributes.collect();
    attributes.sort_unstable();
    attributes.into_iter().fold(record, |record, (key, value)| record.with_attribute(key, value))
}

/// A store could not answer. The request goes on without a user; the error is logged.
///
/// ```
/// use sessionscope::LookupError;
///
/// let err = LookupError::new("connection refused");
/// assert_eq!(err.to_string(), "session lookup failed: connection refused");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("session lookup failed: {message}")]
pub struct LookupError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl LookupError {
    /// An error with a message (which must not contain the raw session id).
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), source: None }
    }

    /// An error caused by `source`.
    pub fn with_source(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self { message: message.into(), source: Some(Box::new(source)) }
    }
}

/// Finds the user that owns a session.
///
/// Implement it with a plain `async fn` (no extra crate needed). `Ok(None)` means the store
/// does not know the session; `Ok(Some(SessionRecord::anonymous()))` means it does but it has
/// no user; `Err` means the store could not answer. A lookup that errors, panics or does not
/// answer within the layer's timeout never fails the request by default.
///
/// **Never block the thread in `lookup`.** The timeout bounds a lookup that *waits*; one that
/// blocks its thread (synchronous I/O, a blocking client, a long computation) cannot be cut
/// short: it holds that runtime worker, and every other request scheduled on it waits too.
/// Run blocking work with `tokio::task::spawn_blocking` inside `lookup`, as the second example
/// shows; the layer's timeout then bounds it like any other wait.
///
/// ```
/// use sessionscope::{LookupError, SessionId, SessionLookup, SessionRecord};
///
/// struct Fixed;
///
/// impl SessionLookup for Fixed {
///     async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
///         Ok((id.expose() == "s-1").then(|| SessionRecord::for_user("alice")))
///     }
/// }
/// ```
///
/// A store with a blocking client, kept off the async workers:
///
/// ```
/// use std::sync::Arc;
/// use sessionscope::{LookupError, SessionId, SessionLookup, SessionRecord};
///
/// /// A client whose calls block the thread (a synchronous database driver, say).
/// struct BlockingClient;
///
/// impl BlockingClient {
///     fn user_of(&self, session: &str) -> std::io::Result<Option<String>> {
///         Ok((session == "s-1").then(|| "alice".to_owned()))
///     }
/// }
///
/// struct BlockingStore(Arc<BlockingClient>);
///
/// impl SessionLookup for BlockingStore {
///     async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
///         let (client, session) = (Arc::clone(&self.0), id.clone());
///         // On tokio's blocking pool: the async worker stays free, and the layer's timeout
///         // bounds the wait (the blocking call itself finishes in the background).
///         let user = tokio::task::spawn_blocking(move || client.user_of(session.expose()))
///             .await
///             .map_err(|e| LookupError::with_source("the lookup task failed", e))?
///             .map_err(|e| LookupError::with_source("the database failed", e))?;
///         Ok(user.map(SessionRecord::for_user))
///     }
/// }
/// ```
pub trait SessionLookup: Send + Sync + 'static {
    /// Looks `id` up.
    fn lookup(&self, id: &SessionId) -> impl Future<Output = Result<Option<SessionRecord>, LookupError>> + Send;

    /// The answer, when the store has it at hand without waiting (an in-memory map, a cache
    /// hit); `None` otherwise, which is the default.
    ///
    /// The layer asks this first and awaits [`lookup`](Self::lookup) only on `None`, so a
    /// request answered from memory runs without a boxed future or a timer. It must not
    /// block. `now` is the moment the request started: judge expiry against it instead of
    /// reading the clock again.
    fn lookup_now(&self, id: &SessionId, now: Instant) -> Option<Result<Option<SessionRecord>, LookupError>> {
        let _ = (id, now);
        None
    }

    /// The store's feed of ended sessions, if it has one, so a cache in front of it drops a
    /// deleted session at once. `None` (the default) leaves caches to expire entries.
    fn revocations(&self) -> Option<Revocations> {
        None
    }
}

impl<L: SessionLookup> SessionLookup for Arc<L> {
    fn lookup(&self, id: &SessionId) -> impl Future<Output = Result<Option<SessionRecord>, LookupError>> + Send {
        (**self).lookup(id)
    }

    fn lookup_now(&self, id: &SessionId, now: Instant) -> Option<Result<Option<SessionRecord>, LookupError>> {
        (**self).lookup_now(id, now)
    }

    fn revocations(&self) -> Option<Revocations> {
        (**self).revocations()
    }
}
