//! The embedded in-memory session store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;

use super::{LookupError, Revocations, SessionLookup, SessionRecord};
use crate::ids::SessionId;

/// An in-memory session store with a time-to-live per session: the embedded default.
///
/// Cloning it gives another handle to the same sessions. Expired sessions are not returned
/// and are evicted in the background.
///
/// ```
/// # async fn run() {
/// use std::time::Duration;
/// use sessionscope::{MemoryStore, SessionLookup, SessionRecord};
///
/// let store = MemoryStore::new();
/// let id = store.create(SessionRecord::for_user("alice"), Duration::from_secs(600));
/// let found = store.lookup(&id).await.unwrap();
/// assert_eq!(found.unwrap().user_id(), Some("alice"));
/// store.delete(&id);
/// assert_eq!(store.get(&id), None);
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    sessions: Cache<Arc<str>, Entry>,
    // Tells the caches in front of this store (and its clones) which sessions were deleted.
    revocations: Revocations,
}

#[derive(Clone)]
struct Entry {
    record: SessionRecord,
    expires_at: Instant,
}

struct PerEntryTtl;

impl moka::Expiry<Arc<str>, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &Arc<str>, value: &Entry, created_at: Instant) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _key: &Arc<str>,
        value: &Entry,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(updated_at))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self { sessions: Cache::builder().expire_after(PerEntryTtl).build(), revocations: Revocations::new() }
    }

    /// Creates a session with a fresh random id ([`SessionId::generate`]) and returns the id.
    pub fn create(&self, record: SessionRecord, ttl: Duration) -> SessionId {
        let id = SessionId::generate();
        self.insert(&id, record, ttl);
        id
    }

    /// Stores `record` under `id` for `ttl`, replacing any earlier record.
    pub fn insert(&self, id: &SessionId, record: SessionRecord, ttl: Duration) {
        let expires_at = Instant::now() + ttl;
        self.sessions.insert(Arc::from(id.expose()), Entry { record, expires_at });
    }

    /// The record under `id`, unless missing or expired.
    pub fn get(&self, id: &SessionId) -> Option<SessionRecord> {
        self.get_at(id, Instant::now())
    }

    fn get_at(&self, id: &SessionId, now: Instant) -> Option<SessionRecord> {
        self.sessions.get(id.expose()).filter(|entry| entry.expires_at > now).map(|entry| entry.record)
    }

    /// Removes the session; later lookups report it unknown, through a
    /// [`CachedLookup`](super::CachedLookup) in front of it too.
    pub fn delete(&self, id: &SessionId) {
        self.sessions.invalidate(id.expose());
        self.revocations.revoke(id);
    }

    /// How many sessions are stored (expired ones may linger until evicted).
    pub fn len(&self) -> u64 {
        self.sessions.run_pending_tasks();
        self.sessions.entry_count()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionLookup for MemoryStore {
    async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        Ok(self.get(id))
    }

    fn lookup_now(&self, id: &SessionId, now: Instant) -> Option<Result<Option<SessionRecord>, LookupError>> {
        Some(Ok(self.get_at(id, now)))
    }

    fn revocations(&self) -> Option<Revocations> {
        Some(self.revocations.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_after_their_ttl() {
        let store = MemoryStore::new();
        let short = store.create(SessionRecord::for_user("a"), Duration::from_millis(30));
        let long = store.create(SessionRecord::for_user("b"), Duration::from_secs(60));
        assert!(store.get(&short).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(store.get(&short), None);
        assert_eq!(store.get(&long), Some(SessionRecord::for_user("b")));
    }

    #[test]
    fn created_ids_are_distinct() {
        let store = MemoryStore::new();
        let a = store.create(SessionRecord::anonymous(), Duration::from_secs(1));
        let b = store.create(SessionRecord::anonymous(), Duration::from_secs(1));
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 32);
    }
}
