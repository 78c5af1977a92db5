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

use crate::ids::{SessionId, sanitize};

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
}

impl SessionRecord {
    /// A session that belongs to `user_id` (control characters escaped).
    pub fn for_user(user_id: impl AsRef<str>) -> Self {
        Self { user_id: Some(Arc::from(sanitize(user_id.as_ref()).as_ref())) }
    }

    /// A session with no user (a visitor before login, say).
    pub fn anonymous() -> Self {
        Self { user_id: None }
    }

    /// The user that owns the session, if any.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    pub(crate) fn into_user_id(self) -> Option<Arc<str>> {
        self.user_id
    }
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
