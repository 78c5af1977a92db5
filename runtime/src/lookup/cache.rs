//! A caching wrapper in front of any store: bounded, with TTL and negative caching.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use tokio::sync::broadcast::error::RecvError;

use super::{LookupError, Revocations, Revoked, SessionLookup, SessionRecord};
use crate::ids::{Fingerprint, SessionId};

/// Caches another store's answers so most requests never reach it.
///
/// Known sessions are kept for `ttl` (default 60 s), unknown ones for `negative_ttl`
/// (default 5 s), and about `max_sessions` entries (default 100 000) are held, the least
/// useful evicted first. What negative caching does and does not do: an unknown id asked
/// again and again reaches the store once per `negative_ttl`; a flood of *distinct* bogus ids
/// reaches the store once per id, like any miss (each becomes a short-lived entry, within the
/// same bound). Keep that load off the store with rate limiting in front of the service, or
/// with ids the store can reject without a query (a signature, a format check in `lookup`). Errors are never
/// cached. Concurrent misses for the same id share one call to the inner store. A hit is
/// answered without awaiting anything ([`SessionLookup::lookup_now`]).
///
/// When the inner store has a feed of ended sessions ([`SessionLookup::revocations`]: the
/// in-memory store and the Redis store do), the cache follows it from its first lookup on
/// (or from when it is built, inside a tokio runtime): a session deleted through the store,
/// on this instance or, with Redis, on any other, is dropped from the cache at once. A feed
/// that may have missed some (a reconnect, a backlog) drops everything.
/// [`invalidate`](Self::invalidate) drops one entry by hand, for stores without a feed.
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
/// store.delete(&id); // the cache hears of it and drops the entry
/// # tokio::time::sleep(Duration::from_millis(50)).await;
/// assert!(cached.lookup(&id).await.unwrap().is_none());
/// # }
/// ```
pub struct CachedLookup<L> {
    inner: L,
    // Keyed by the id's bytes: a lookup needs no UTF-8 check of the id. Shared with the task
    // that follows the store's revocations, which holds it weakly and ends with the cache.
    cache: Arc<Cache<Vec<u8>, Entry>>,
    // Bumped on every revocation: an answer loaded while one arrived is not cached, so a
    // lookup that read the store just before a delete cannot put the session back.
    revoked: Arc<AtomicU64>,
    revocations: Option<Revocations>,
    following: OnceLock<()>,
    ttl: Duration,
    negative_ttl: Duration,
}

/// A cached answer, when it stops counting, and the id's fingerprint (so a hit does not
/// hash the id again for the request span).
#[derive(Clone)]
struct Entry {
    record: Option<SessionRecord>,
    expires_at: Instant,
    fingerprint: Fingerprint,
}

/// Configures a [`CachedLookup`].
#[derive(Debug)]
pub struct CachedLookupBuilder<L> {
    inner: L,
    ttl: Duration,
    negative_ttl: Duration,
    max_sessions: usize,
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
    pub fn invalidate(&self, id: &SessionId) {
        self.cache.remove(id.as_bytes());
    }

    /// The wrapped store.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// How many answers are held right now (expired ones until they are read or evicted).
    pub fn cached_entries(&self) -> usize {
        self.cache.len()
    }

    /// The cached answer for `id`, unless missing or expired at `now` (an expired one is
    /// dropped).
    /// Starts following the inner store's revocations, once, from inside the runtime.
    fn follow_revocations(&self) {
        let Some(revocations) = &self.revocations else { return };
        self.following.get_or_init(|| {
            let feed = revocations.subscribe();
            tokio::spawn(follow(feed, Arc::downgrade(&self.cache), Arc::downgrade(&self.revoked)));
        });
    }

    fn fresh(&self, id: &SessionId, now: Instant) -> Option<Option<SessionRecord>> {
        let entry = self.cache.get(id.as_bytes())?;
        if entry.expires_at > now {
            id.seed_fingerprint(entry.fingerprint);
            return Some(entry.record);
        }
        self.cache.remove(id.as_bytes());
        None
    }

    fn entry(&self, id: &SessionId, record: Option<SessionRecord>) -> Entry {
        let ttl = if record.is_some() { self.ttl } else { self.negative_ttl };
        Entry { record, expires_at: Instant::now() + ttl, fingerprint: id.fingerprint() }
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

    /// About how many entries are held at once; the least useful are evicted first.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// Builds the cache.
    pub fn build(self) -> CachedLookup<L> {
        let revocations = self.inner.revocations();
        let cached = CachedLookup {
            inner: self.inner,
            cache: Arc::new(Cache::new(self.max_sessions.max(1))),
            revoked: Arc::default(),
            revocations,
            following: OnceLock::new(),
            ttl: self.ttl,
            negative_ttl: self.negative_ttl,
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            cached.follow_revocations();
        }
        cached
    }
}

/// Drops what the store says ended, until the cache is gone or the feed closes.
async fn follow(
    mut feed: tokio::sync::broadcast::Receiver<Revoked>,
    cache: Weak<Cache<Vec<u8>, Entry>>,
    revoked: Weak<AtomicU64>,
) {
    loop {
        let message = feed.recv().await;
        let (Some(cache), Some(revoked)) = (cache.upgrade(), revoked.upgrade()) else { return };
        revoked.fetch_add(1, Ordering::AcqRel);
        match message {
            Ok(Revoked::Session(id)) => {
                cache.remove(&*id);
            }
            // Missed some: nothing cached can be trusted to be still valid.
            Ok(Revoked::All) | Err(RecvError::Lagged(_)) => cache.clear(),
            Err(RecvError::Closed) => return,
        }
    }
}

impl<L: SessionLookup> SessionLookup for CachedLookup<L> {
    async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        if self.following.get().is_none() {
            self.follow_revocations();
        }
        if let Some(hit) = self.fresh(id, Instant::now()) {
            return Ok(hit);
        }
        match self.cache.get_value_or_guard_async(id.as_bytes()).await {
            // Another task loaded it while this one waited.
            Ok(entry) if entry.expires_at > Instant::now() => Ok(entry.record),
            Ok(_expired) => {
                let before = self.revoked.load(Ordering::Acquire);
                let record = self.inner.lookup(id).await?;
                if self.revoked.load(Ordering::Acquire) == before {
                    self.cache.insert(id.as_bytes().to_vec(), self.entry(id, record.clone()));
                }
                Ok(record)
            }
            // This task loads; an error drops the guard unfilled, so nothing is cached and
            // the next waiter tries the store itself. So does a revocation during the load.
            Err(guard) => {
                let before = self.revoked.load(Ordering::Acquire);
                let record = self.inner.lookup(id).await?;
                if self.revoked.load(Ordering::Acquire) == before {
                    let _ = guard.insert(self.entry(id, record.clone()));
                }
                Ok(record)
            }
        }
    }

    fn lookup_now(&self, id: &SessionId, now: Instant) -> Option<Result<Option<SessionRecord>, LookupError>> {
        self.fresh(id, now).map(Ok)
    }

    fn revocations(&self) -> Option<Revocations> {
        self.revocations.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
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
        assert!(cached.lookup_now(&id("known"), Instant::now()).is_none(), "a miss waits for the store");
        cached.lookup(&id("known")).await.unwrap();
        cached.lookup(&id("nobody")).await.unwrap();
        let hit = cached.lookup_now(&id("known"), Instant::now()).expect("a hit answers at once").unwrap();
        assert_eq!(hit, Some(SessionRecord::for_user("u")));
        assert_eq!(cached.lookup_now(&id("nobody"), Instant::now()).expect("negative hit").unwrap(), None);
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_hit_judges_expiry_at_the_moment_it_is_given() {
        let cached = CachedLookup::builder(Arc::new(Counting::default())).ttl(Duration::from_millis(30)).build();
        let filled_at = Instant::now();
        cached.lookup(&id("known")).await.unwrap();
        let hit = cached.lookup_now(&id("known"), Instant::now()).expect("a fresh entry answers at once").unwrap();
        assert_eq!(hit.unwrap().user_id(), Some("u"));
        tokio::time::sleep(Duration::from_millis(60)).await;
        // A request that started while the entry was fresh is answered from it...
        assert!(cached.lookup_now(&id("known"), filled_at).is_some());
        // ...one that started after it expired is not.
        assert!(cached.lookup_now(&id("known"), Instant::now()).is_none());
    }

    /// Answers slowly, counting calls.
    #[derive(Default)]
    struct Slow {
        calls: AtomicUsize,
    }

    impl SessionLookup for Slow {
        async fn lookup(&self, _id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(Some(SessionRecord::for_user("u")))
        }
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_store_call() {
        let cached = Arc::new(CachedLookup::new(Slow::default()));
        let lookups = (0..20).map(|_| {
            let cached = Arc::clone(&cached);
            tokio::spawn(async move { cached.lookup(&id("same")).await.unwrap() })
        });
        for answer in futures_util::future::join_all(lookups).await {
            assert_eq!(answer.unwrap(), Some(SessionRecord::for_user("u")));
        }
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn size_is_bounded() {
        let cached = CachedLookup::builder(Arc::new(Counting::default())).max_sessions(10).build();
        for n in 0..200 {
            cached.lookup(&id(&format!("s{n}"))).await.unwrap();
        }
        assert!(cached.cached_entries() <= 10, "{}", cached.cached_entries());
    }
}
