//! Sessions ended in a store, told to every cache in front of it: a deleted session stops
//! being served from a cache at once instead of when its entry expires.

use std::fmt;
use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;

use crate::ids::SessionId;

/// What a store tells the caches in front of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// This session (its raw id's bytes) ended: drop it.
    Session(Arc<[u8]>),
    /// Some revocations may have been missed (a feed that reconnected): drop everything.
    All,
}

/// How many revocations wait for a slow cache before it is told to drop everything instead.
const BACKLOG: usize = 1024;

/// A store's feed of ended sessions. [`CachedLookup`](super::CachedLookup) follows the feed
/// of the store it wraps ([`SessionLookup::revocations`](super::SessionLookup::revocations));
/// a store of your own makes one, hands out clones, and calls [`revoke`](Self::revoke) when
/// a session ends.
///
/// ```
/// use sessionscope::SessionId;
/// use sessionscope::lookup::{Revocations, Revoked};
///
/// let feed = Revocations::new();
/// let mut ended = feed.subscribe();
/// let id = SessionId::parse("s-1").unwrap();
/// feed.revoke(&id);
/// assert_eq!(ended.try_recv().unwrap(), Revoked::Session(b"s-1".as_slice().into()));
/// ```
#[derive(Clone)]
pub struct Revocations {
    sender: broadcast::Sender<Revoked>,
    // What starts the feed's source (a Redis subscription), on the first subscriber.
    start: Arc<OnceLock<()>>,
    starter: Option<Arc<dyn Fn(broadcast::Sender<Revoked>) + Send + Sync>>,
}

impl Revocations {
    /// A feed with no subscriber yet.
    pub fn new() -> Self {
        Self { sender: broadcast::channel(BACKLOG).0, start: Arc::default(), starter: None }
    }

    /// A feed whose source `starter` starts when the first cache subscribes (inside the
    /// tokio runtime, so it may spawn), with the sender to publish to.
    #[cfg(feature = "redis")]
    pub(crate) fn started_by(starter: impl Fn(broadcast::Sender<Revoked>) + Send + Sync + 'static) -> Self {
        Self { starter: Some(Arc::new(starter)), ..Self::new() }
    }

    /// Tells every subscriber that `id` ended.
    pub fn revoke(&self, id: &SessionId) {
        // No subscriber is not an error: no cache to tell.
        let _ = self.sender.send(Revoked::Session(Arc::from(id.as_bytes())));
    }

    /// Tells every subscriber to drop everything it holds.
    pub fn revoke_all(&self) {
        let _ = self.sender.send(Revoked::All);
    }

    /// Follows the feed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Revoked> {
        let receiver = self.sender.subscribe();
        if let Some(starter) = &self.starter {
            self.start.get_or_init(|| starter(self.sender.clone()));
        }
        receiver
    }
}

impl Default for Revocations {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocations").field("subscribers", &self.sender.receiver_count()).finish_non_exhaustive()
    }
}
