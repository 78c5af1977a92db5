//! Any tower-sessions `SessionStore` as sessionscope's store (feature `tower-sessions`): the
//! session id is tower-sessions' cookie value, the user is read from the session's data,
//! where axum-login keeps it unless told otherwise.

use tower_sessions_core::SessionStore;
use tower_sessions_core::session::Id;

use super::{LookupError, SessionLookup, SessionRecord, json_record};

/// A session's data as tower-sessions keeps it (its own alias is private).
type SessionData = std::collections::HashMap<String, serde_json::Value>;
use crate::ids::SessionId;

/// The cookie tower-sessions keeps its session id in, unless configured otherwise; give it
/// to the layer's `cookie` setting.
pub const TOWER_SESSIONS_COOKIE: &str = "id";

/// Where axum-login keeps the signed-in user's id in the session data: `user_id` inside the
/// `axum-login.data` entry.
pub const AXUM_LOGIN_USER_PATH: [&str; 2] = ["axum-login.data", "user_id"];

/// A tower-sessions store (tower-sessions 0.14: the in-memory store, Redis, SQL, ...) read
/// as sessionscope's [`SessionLookup`].
///
/// The session record's user is the string or integer found at a path in the session's data:
/// by default [`AXUM_LOGIN_USER_PATH`], where axum-login keeps the signed-in user; a session
/// without it is anonymous. A cookie value that is not a tower-sessions id is an unknown
/// session (no store call), an expired record too.
///
/// tower-sessions' plain cookies only: with `with_signed` or `with_private` the cookie value
/// is not the session id.
///
/// The session data's top-level strings, numbers and booleans are the record's attributes,
/// which the layer's `field_from_session` can make custom fields.
///
/// ```
/// use sessionscope::SessionContextLayer;
/// use sessionscope::lookup::{TOWER_SESSIONS_COOKIE, TowerSessionsLookup};
/// use tower_sessions::MemoryStore;
///
/// let store = MemoryStore::default();
/// let layer = SessionContextLayer::new(TowerSessionsLookup::new(store.clone())).cookie(TOWER_SESSIONS_COOKIE);
/// let sessions = tower_sessions::SessionManagerLayer::new(store);
/// // Router::new()...layer(sessions).layer(layer): either order works.
/// # drop((layer, sessions));
/// ```
#[derive(Debug, Clone)]
pub struct TowerSessionsLookup<S> {
    store: S,
    user_path: Vec<String>,
}

impl<S: SessionStore> TowerSessionsLookup<S> {
    /// Reads sessions from `store`, the user where axum-login keeps it.
    pub fn new(store: S) -> Self {
        Self { store, user_path: AXUM_LOGIN_USER_PATH.iter().map(|key| (*key).to_owned()).collect() }
    }

    /// Reads the user id at `path` in the session data instead: `["user_id"]` for a
    /// top-level entry, `["auth", "uid"]` for a member of one.
    ///
    /// # Panics
    /// If `path` is empty.
    pub fn user_path<'a>(mut self, path: impl IntoIterator<Item = &'a str>) -> Self {
        self.user_path = path.into_iter().map(str::to_owned).collect();
        assert!(!self.user_path.is_empty(), "a user path names at least one key");
        self
    }

    fn record_of(&self, data: &SessionData) -> Result<SessionRecord, LookupError> {
        let (first, rest) = self.user_path.split_first().expect("checked when set");
        let mut value = data.get(first);
        for key in rest {
            value = value.and_then(|v| v.get(key));
        }
        // The other top-level entries: the user's own, when it is one, is not an attribute.
        let others = data.iter().filter(|(key, _)| self.user_path.len() > 1 || *key != first);
        json_record(value, others)
            .ok_or_else(|| LookupError::new("the session's user id is neither a string nor an integer"))
    }
}

impl<S: SessionStore> SessionLookup for TowerSessionsLookup<S> {
    async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        let Ok(store_id) = id.expose().parse::<Id>() else {
            return Ok(None);
        };
        let record = self.store.load(&store_id).await.map_err(|error| {
            // A store's message may quote its key, which holds the id: show the fingerprint.
            let message = error.to_string().replace(id.expose(), &id.fingerprint().to_string());
            LookupError::new(format!("tower-sessions store: {message}"))
        })?;
        match record {
            Some(record) if record.expiry_date > time::OffsetDateTime::now_utc() => {
                self.record_of(&record.data).map(Some)
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(value: serde_json::Value) -> SessionData {
        serde_json::from_value(value).unwrap()
    }

    #[derive(Debug, Clone)]
    struct NoStore;

    #[async_trait::async_trait]
    impl SessionStore for NoStore {
        async fn save(
            &self,
            _: &tower_sessions_core::session::Record,
        ) -> tower_sessions_core::session_store::Result<()> {
            Ok(())
        }
        async fn load(
            &self,
            _: &Id,
        ) -> tower_sessions_core::session_store::Result<Option<tower_sessions_core::session::Record>> {
            Ok(None)
        }
        async fn delete(&self, _: &Id) -> tower_sessions_core::session_store::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_user_is_read_where_axum_login_keeps_it_or_where_told() {
        let lookup = TowerSessionsLookup::new(NoStore);
        let login = data(serde_json::json!({"axum-login.data": {"user_id": 42, "auth_hash": [1, 2]}}));
        assert_eq!(lookup.record_of(&login).unwrap().user_id(), Some("42"));
        let named = data(serde_json::json!({"axum-login.data": {"user_id": "alice\nadmin"}}));
        assert_eq!(lookup.record_of(&named).unwrap().user_id(), Some("alice\\u{a}admin"), "escaped like any user id");
        assert_eq!(lookup.record_of(&data(serde_json::json!({}))).unwrap().user_id(), None);
        assert!(lookup.record_of(&data(serde_json::json!({"axum-login.data": {"user_id": [1]}}))).is_err());

        let custom = TowerSessionsLookup::new(NoStore).user_path(["uid"]);
        assert_eq!(custom.record_of(&data(serde_json::json!({"uid": "bob"}))).unwrap().user_id(), Some("bob"));
    }
}
