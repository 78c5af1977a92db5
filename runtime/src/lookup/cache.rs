//! A caching wrapper in front of any store: bounded, with TTL and negative caching.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use moka::future::Cache;

use super::{LookupError, SessionLookup, SessionRecord};
use crate::session_id::SessionId;

/// Caches another store's answers so most requests never reach it.
///
/// Known sessions are kept for `ttl` (default 60 s), unknown ones for `negative_ttl`
/// (default 5 s) so a flood of bogus ids does not reach the store, and at most
/// `max_sessions` entries (default 100 000) are held. Errors are never cached. Concurrent
/// misses for the same id share one call to the inner store.
///
/// ```
/// # async fn run() {
/// use std::time::Duration;
/// use sessionscope::{CachedLookup, MemoryStore, SessionLookup, SessionRecord};
///
/// let store = MemoryStore::new();
/// let id = store.create(SessionRecord::for_user("alice"), Duration::from_secs(600));
/// let cached = CachedLookup::builder(store.clone()).ttl(Duration::from_secs(30)).build();
/// assert!(cached.lookup(&id).await.unwrap().is_some());
/// store.delete(&id);
/// // Still served from the cache until invalidated or expired.
/// assert!(cached.lookup(&id).await.unwrap().is_some());
/// cached.invalidate(&id).await;
/// assert!(cached.lookup(&id).await.unwrap().is_none());
/// # }
/// ```
pub struct CachedLookup<L> {
    inner: L,
    cache: Cache<Arc<str>, Option<SessionRecord>>,
}

/// Configures a [`CachedLookup`].
#[derive(Debug)]
pub struct CachedLookupBuilder<L> {
    inner: L,
    ttl: Duration,
    negative_ttl: Duration,
    max_sessions: u64,
}

impl<L: SessionLookup> CachedLookup<L> {
    /// Wraps `inner` with the default limits.
    pub fn new(inner: L) -> Self {
        Self::builder(inner).build()
    }

    /// Starts configuring a cache in front of `inner`.
    pub fn builder(inner: L) -> CachedLookupBuilder<L> {
        CachedLookupBuilder {
            inner,
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
            max_sessions: 100_000,
        }
    }

    /// Forgets what is cached for `id` (call it on logout).
    pub async fn invalidate(&self, id: &SessionId) {
        self.cache.invalidate(id.expose()).await;
    }

    /// The wrapped store.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// How many answers are cached right now.
    pub fn cached_entries(&self) -> u64 {
        self.cache.entry_count()
    }
}

impl<L: SessionLookup> CachedLookupBuilder<L> {
    /// How long a known session is cached.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an unknown session is cached (zero turns negative caching off).
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// The most entries held at once; the least used are evicted first.
    pub fn max_sessions(mut self, max: u64) -> Self {
        self.max_sessions = max;
        self
    }

    /// Builds the cache.
    pub fn build(self) -> CachedLookup<L> {
        let expiry = TtlByAnswer { ttl: self.ttl, negative_ttl: self.negative_ttl };
        let cache = Cache::builder().max_capacity(self.max_sessions).expire_after(expiry).build();
        CachedLookup { inner: self.inner, cache }
    }
}

struct TtlByAnswer {
    ttl: Duration,
    negative_ttl: Duration,
}

impl moka::Expiry<Arc<str>, Option<SessionRecord>> for TtlByAnswer {
    fn expire_after_create(&self, _key: &Arc<str>, value: &Option<SessionRecord>, _at: Instant) -> Option<Duration> {
        Some(if value.is_some() { self.ttl } else { self.negative_ttl })
    }
}

impl<L: SessionLookup> SessionLookup for CachedLookup<L> {
    async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        if let Some(hit) = self.cache.get(id.expose()).await {
            return Ok(hit);
        }
        self.cache
            .try_get_with(Arc::from(id.expose()), self.inner.lookup(id))
            .await
            .map_err(|shared| LookupError::with_source("inner store failed", shared))
    }

    fn lookup_now(&self, id: &SessionId) -> Option<Result<Option<SessionRecord>, LookupError>> {
        // A hit completes on its first poll; a miss (or a rare wait on the cache's own
        // housekeeping) leaves the answer to `lookup`.
        self.cache.get(id.expose()).now_or_never().flatten().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    struct Counting {
        calls: AtomicUsize,
    }

    impl SessionLookup for Counting {
        async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match id.expose() {
                "known" => Ok(Some(SessionRecord::for_user("u"))),
                "broken" => Err(LookupError::new("boom")),
                _ => Ok(None),
            }
        }
    }

    fn id(raw: &str) -> SessionId {
        SessionId::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn hits_do_not_reach_the_store_and_errors_are_not_cached() {
        let cached = CachedLookup::new(Arc::new(Counting::default()));
        for _ in 0..3 {
            assert!(cached.lookup(&id("known")).await.unwrap().is_some());
            assert!(cached.lookup(&id("nobody")).await.unwrap().is_none());
            assert!(cached.lookup(&id("broken")).await.is_err());
        }
        // known once, nobody once (negative cache), broken every time.
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn negative_entries_expire_sooner() {
        let cached =
            CachedLookup::builder(Arc::new(Counting::default())).negative_ttl(Duration::from_millis(20)).build();
        cached.lookup(&id("nobody")).await.unwrap();
        cached.lookup(&id("nobody")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        cached.lookup(&id("nobody")).await.unwrap();
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn lookup_now_answers_hits_only() {
        let cached = CachedLookup::new(Arc::new(Counting::default()));
        assert!(cached.lookup_now(&id("known")).is_none(), "a miss waits for the store");
        cached.lookup(&id("known")).await.unwrap();
        cached.lookup(&id("nobody")).await.unwrap();
        let hit = cached.lookup_now(&id("known")).expect("a hit answers at once").unwrap();
        assert_eq!(hit, Some(SessionRecord::for_user("u")));
        assert_eq!(cached.lookup_now(&id("nobody")).expect("negative hit").unwrap(), None);
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn size_is_bounded() {
        let cached = CachedLookup::builder(Arc::new(Counting::default())).max_sessions(10).build();
        for n in 0..200 {
            cached.lookup(&id(&format!("s{n}"))).await.unwrap();
        }
        cached.cache.run_pending_tasks().await;
        assert!(cached.cached_entries() <= 10, "{}", cached.cached_entries());
    }
}
