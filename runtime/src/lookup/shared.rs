//! A type-erased, cloneable handle to any store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use super::{LookupError, SessionLookup, SessionRecord};
use crate::ids::SessionId;

type LookupFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<SessionRecord>, LookupError>> + Send + 'a>>;

trait ErasedLookup: Send + Sync {
    fn lookup_boxed<'a>(&'a self, id: &'a SessionId) -> LookupFuture<'a>;

    fn lookup_now_erased(&self, id: &SessionId, now: Instant) -> Option<Result<Option<SessionRecord>, LookupError>>;
}

impl<L: SessionLookup> ErasedLookup for L {
    fn lookup_boxed<'a>(&'a self, id: &'a SessionId) -> LookupFuture<'a> {
        Box::pin(self.lookup(id))
    }

    fn lookup_now_erased(&self, id: &SessionId, now: Instant) -> Option<Result<Option<SessionRecord>, LookupError>> {
        self.lookup_now(id, now)
    }
}

/// Any [`SessionLookup`] behind one cloneable type, for when the store's type should not
/// appear in signatures (or is chosen at run time).
///
/// ```
/// use sessionscope::{MemoryStore, SharedLookup};
///
/// let shared = SharedLookup::new(MemoryStore::new());
/// let _also = shared.clone();
/// ```
#[derive(Clone)]
pub struct SharedLookup(Arc<dyn ErasedLookup>);

impl SharedLookup {
    /// Erases the type of `lookup`.
    pub fn new(lookup: impl SessionLookup) -> Self {
        Self(Arc::new(lookup))
    }
}

impl std::fmt::Debug for SharedLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedLookup")
    }
}

impl SessionLookup for SharedLookup {
    async fn lookup(&self, id: &SessionId) -> Result<Option<SessionRecord>, LookupError> {
        self.0.lookup_boxed(id).await
    }

    fn lookup_now(&self, id: &SessionId, now: Instant) -> Option<Result<Option<SessionRecord>, LookupError>> {
        self.0.lookup_now_erased(id, now)
    }
}
