//! Targeted tracing: verbose logs for chosen users, sessions or operations only, switched at
//! run time without a restart.
//!
//! [`TargetedFilter`] is a per-layer filter for `tracing-subscriber`. Events at or above the
//! base level always pass. More verbose events (down to the verbose level, TRACE by default)
//! pass only inside a request whose context matches the targets: any of the targeted users,
//! AND any of the targeted sessions, AND any of the targeted operations, where an empty
//! dimension does not constrain. With no target set, or with targeting disabled, the filter
//! costs one atomic load per verbose call site.
//!
//! ```
//! use tracing_subscriber::{Layer, filter::LevelFilter, layer::SubscriberExt};
//! use sessionscope::TargetedFilter;
//! use sessionscope::targeting::Dimension;
//!
//! let filter = TargetedFilter::from_env(LevelFilter::INFO);
//! let handle = filter.handle();
//! let subscriber = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_filter(filter));
//! # drop(subscriber);
//! // Later, from an admin endpoint or a signal handler:
//! handle.add(Dimension::User, "alice", None).unwrap();
//! ```
//!
//! Environment variables read by [`TargetedFilter::from_env`]: `SESSIONSCOPE_TRACE_USERS`,
//! `SESSIONSCOPE_TRACE_SESSIONS` (`fp:<fingerprint>` or raw ids), `SESSIONSCOPE_TRACE_OPERATIONS`
//! (operation names or route templates), each comma-separated; `SESSIONSCOPE_TRACE_LEVEL`
//! (the verbose level, default `trace`); `SESSIONSCOPE_TRACE_DISABLE` (`1` or `true`).

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};

use crate::context::RequestContext;
use crate::ids::Fingerprint;
use crate::scope::with_current;

/// A kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// A user id, as the store returns it.
    User,
    /// A session: `fp:` and its 16-hex-digit fingerprint (as logs show it), or its raw id
    /// (`raw:` and the id, or the id alone unless it is 16 hex digits, which is refused as
    /// ambiguous). Only the fingerprint is kept; the raw id is never shown.
    Session,
    /// An operation name (`#[with_session_context(operation = ..)]`) or a route template.
    Operation,
}

impl Dimension {
    /// `user`, `session` or `operation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Session => "session",
            Self::Operation => "operation",
        }
    }
}

/// The most targets one handle holds, all dimensions together.
pub const MAX_TARGETS: usize = 10_000;

/// Why a target was not added; nothing was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Adding it would go past [`MAX_TARGETS`].
    #[error("at most {MAX_TARGETS} tracing targets can be set at once")]
    TooMany,
    /// A bare session value of 16 hex digits: a fingerprint, or a raw id that looks like one?
    #[error(
        "a session value of 16 hex digits is ambiguous: write `fp:<fingerprint>` for a fingerprint or `raw:<id>` for a raw id"
    )]
    AmbiguousSession,
    /// `fp:` followed by something that is not a 16-hex-digit fingerprint.
    #[error("`fp:` must be followed by a fingerprint of 16 hex digits, as logs show it")]
    NotAFingerprint,
}

type Expiry = Option<Instant>;

#[derive(Debug, Default)]
struct Targets {
    users: HashMap<Box<str>, Expiry>,
    sessions: HashMap<Fingerprint, Expiry>,
    operations: HashMap<Box<str>, Expiry>,
    disabled: bool,
}

impl Targets {
    fn len(&self) -> usize {
        self.users.len() + self.sessions.len() + self.operations.len()
    }

    fn prune(&mut self, now: Instant) {
        let live = |expiry: &Expiry| expiry.is_none_or(|at| at > now);
        self.users.retain(|_, e| live(e));
        self.sessions.retain(|_, e| live(e));
        self.operations.retain(|_, e| live(e));
    }

    /// When the first target with a TTL expires.
    fn next_expiry(&self) -> Option<Instant> {
        let users = self.users.values();
        users.chain(self.sessions.values()).chain(self.operations.values()).flatten().min().copied()
    }

    fn is_active(&self) -> bool {
        !self.disabled && self.len() > 0
    }

    /// Whether `ctx` matches: any target of a dimension, in every dimension that has one. A
    /// few hash lookups, whatever the number of targets; expired targets are pruned before a
    /// decision is made.
    fn matches(&self, ctx: &RequestContext) -> bool {
        let users = self.users.is_empty() || ctx.user_id().is_some_and(|user| self.users.contains_key(user));
        let sessions = self.sessions.is_empty()
            || ctx.session_id().is_some_and(|id| self.sessions.contains_key(&id.fingerprint()));
        let operations = self.operations.is_empty()
            || ctx.operation().is_some_and(|op| self.operations.contains_key(op))
            || ctx.route().is_some_and(|route| self.operations.contains_key(route));
        self.len() > 0 && users && sessions && operations
    }
}

/// Generations are unique across handles, so a request's remembered decision is never taken
/// for another handle's.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// No target has a TTL.
const NO_EXPIRY: u64 = u64::MAX;

/// The moment the expiry times are counted from.
fn clock_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

fn nanos_since_origin(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(clock_origin()).as_nanos()).unwrap_or(NO_EXPIRY - 1)
}

/// A cloneable handle that reads and changes the targets while the service runs.
///
/// Every change is effective for the next event. Whether a request is targeted is decided
/// once and remembered on its context until the targets change (or one expires), so a
/// verbose call site costs the same whatever the number of targets.
#[derive(Debug, Clone, Default)]
pub struct TargetingHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    active: AtomicBool,
    /// Changes with every change of the targets.
    generation: AtomicU64,
    /// When the first target with a TTL expires, in nanoseconds since the clock origin.
    next_expiry: AtomicU64,
    targets: RwLock<Targets>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            active: AtomicBool::new(false),
            generation: AtomicU64::new(GENERATIONS.fetch_add(1, Ordering::Relaxed)),
            next_expiry: AtomicU64::new(NO_EXPIRY),
            targets: RwLock::default(),
        }
    }
}

/// What is targeted right now, for display (sessions as fingerprints only).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetsSnapshot {
    /// Targeted users.
    pub users: Vec<TargetEntry>,
    /// Targeted sessions, as fingerprints.
    pub sessions: Vec<TargetEntry>,
    /// Targeted operations or routes.
    pub operations: Vec<TargetEntry>,
    /// Whether targeting is switched off as a whole.
    pub disabled: bool,
}

/// One target and how long it has left.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct TargetEntry {
    /// The user, fingerprint or operation.
    pub value: String,
    /// Seconds until it expires (rounded up), or `None` for no expiry.
    pub expires_in_secs: Option<u64>,
}

impl TargetingHandle {
    /// A handle with no targets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Targets `value` in `dimension`, for `ttl` if given, else until removed. See
    /// [`Dimension::Session`] for how a session is written.
    ///
    /// # Errors
    /// [`TargetError::TooMany`] past [`MAX_TARGETS`]; for a session,
    /// [`TargetError::AmbiguousSession`] or [`TargetError::NotAFingerprint`].
    pub fn add(&self, dimension: Dimension, value: &str, ttl: Option<Duration>) -> Result<(), TargetError> {
        let session = match dimension {
            Dimension::Session => Some(session_key(value)?),
            _ => None,
        };
        let expiry = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
        self.write(|t| {
            let new = match (dimension, session) {
                (Dimension::User, _) => !t.users.contains_key(value),
                (Dimension::Session, Some(fingerprint)) => !t.sessions.contains_key(&fingerprint),
                _ => !t.operations.contains_key(value),
            };
            if new && t.len() >= MAX_TARGETS {
                return Err(TargetError::TooMany);
            }
            match (dimension, session) {
                (Dimension::User, _) => drop(t.users.insert(value.into(), expiry)),
                (Dimension::Session, Some(fingerprint)) => drop(t.sessions.insert(fingerprint, expiry)),
                _ => drop(t.operations.insert(value.into(), expiry)),
            }
            Ok(())
        })
    }

    /// Stops targeting `value` in `dimension`, written as for [`add`](Self::add). Returns
    /// whether it was targeted.
    pub fn remove(&self, dimension: Dimension, value: &str) -> bool {
        let session = match dimension {
            Dimension::Session => match session_key(value) {
                Ok(fingerprint) => Some(fingerprint),
                Err(_) => return false,
            },
            _ => None,
        };
        self.write(|t| match (dimension, session) {
            (Dimension::User, _) => t.users.remove(value).is_some(),
            (Dimension::Session, Some(fingerprint)) => t.sessions.remove(&fingerprint).is_some(),
            _ => t.operations.remove(value).is_some(),
        })
    }

    /// Removes every target (the disabled switch stays as it is).
    pub fn clear(&self) {
        self.write(|t| {
            t.users.clear();
            t.sessions.clear();
            t.operations.clear();
        });
    }

    /// Switches targeting off (`true`) or back on (`false`) without forgetting targets.
    pub fn set_disabled(&self, disabled: bool) {
        self.write(|t| t.disabled = disabled);
    }

    /// Whether targeting is switched off.
    pub fn is_disabled(&self) -> bool {
        self.read(|t| t.disabled)
    }

    /// What is targeted now.
    pub fn snapshot(&self) -> TargetsSnapshot {
        let now = Instant::now();
        self.write(|t| t.prune(now));
        let entries = |pairs: Vec<(String, Expiry)>| {
            let mut list: Vec<TargetEntry> = pairs
                .into_iter()
                .map(|(value, expiry)| TargetEntry {
                    value,
                    expires_in_secs: expiry.map(|at| at.saturating_duration_since(now).as_secs_f64().ceil() as u64),
                })
                .collect();
            list.sort();
            list
        };
        self.read(|t| TargetsSnapshot {
            users: entries(t.users.iter().map(|(k, e)| (k.to_string(), *e)).collect()),
            sessions: entries(t.sessions.iter().map(|(k, e)| (k.to_string(), *e)).collect()),
            operations: entries(t.operations.iter().map(|(k, e)| (k.to_string(), *e)).collect()),
            disabled: t.disabled,
        })
    }

    /// Whether `ctx` is targeted now.
    ///
    /// Decided once per request and remembered on its context until the targets change, a
    /// target expires, or the request's user or operation is settled.
    pub fn matches(&self, ctx: &RequestContext) -> bool {
        if !self.is_active() {
            return false;
        }
        self.expire_due();
        if let Some(decided) = ctx.targeting_decision(self.shared.generation.load(Ordering::Acquire)) {
            return decided;
        }
        // The generation read under the lock is the one these targets belong to.
        let (generation, decided) =
            self.read(|t| (self.shared.generation.load(Ordering::Acquire), !t.disabled && t.matches(ctx)));
        ctx.remember_targeting(generation, decided);
        decided
    }

    /// Prunes the targets when one has expired: a clock read only while some target has a TTL.
    fn expire_due(&self) {
        let next = self.shared.next_expiry.load(Ordering::Relaxed);
        if next != NO_EXPIRY {
            let now = Instant::now();
            if nanos_since_origin(now) >= next {
                self.write(|t| t.prune(now));
            }
        }
    }

    /// Whether any target is set and targeting is on: the fast-path check.
    pub fn is_active(&self) -> bool {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Reads targets from variables supplied by `var` (the environment, in production).
    pub fn load_vars(&self, var: impl Fn(&str) -> Option<String>) {
        let list = |name: &str| var(name).unwrap_or_default();
        for (name, dimension) in [
            ("SESSIONSCOPE_TRACE_USERS", Dimension::User),
            ("SESSIONSCOPE_TRACE_SESSIONS", Dimension::Session),
            ("SESSIONSCOPE_TRACE_OPERATIONS", Dimension::Operation),
        ] {
            for value in list(name).split(',').map(str::trim).filter(|v| !v.is_empty()) {
                match self.add(dimension, value, None) {
                    Ok(()) => {}
                    Err(TargetError::TooMany) => {
                        tracing::warn!(target: "sessionscope::targeting", variable = name, error = %TargetError::TooMany, "ignored the rest of the targets");
                        return;
                    }
                    // The value itself is not logged: it may be a raw session id.
                    Err(error) => {
                        tracing::warn!(target: "sessionscope::targeting", variable = name, %error, "ignored a target")
                    }
                }
            }
        }
        let disable = list("SESSIONSCOPE_TRACE_DISABLE");
        if matches!(disable.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on") {
            self.set_disabled(true);
        }
    }

    fn read<R>(&self, f: impl FnOnce(&Targets) -> R) -> R {
        f(&self.shared.targets.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Changes the targets; every change gets a new generation, so decisions remembered on
    /// requests are made again.
    fn write<R>(&self, f: impl FnOnce(&mut Targets) -> R) -> R {
        let mut targets = self.shared.targets.write().unwrap_or_else(PoisonError::into_inner);
        let result = f(&mut targets);
        let next = targets.next_expiry().map_or(NO_EXPIRY, nanos_since_origin);
        self.shared.next_expiry.store(next, Ordering::Relaxed);
        self.shared.active.store(targets.is_active(), Ordering::Relaxed);
        self.shared.generation.store(GENERATIONS.fetch_add(1, Ordering::Relaxed), Ordering::Release);
        result
    }
}

/// The fingerprint a session target stands for: `fp:<fingerprint>`, `raw:<id>`, or a bare
/// raw id that cannot be taken for a fingerprint.
pub(crate) fn session_key(value: &str) -> Result<Fingerprint, TargetError> {
    if let Some(fingerprint) = value.strip_prefix("fp:") {
        return Fingerprint::parse(fingerprint).ok_or(TargetError::NotAFingerprint);
    }
    if let Some(raw) = value.strip_prefix("raw:") {
        return Ok(Fingerprint::of(raw));
    }
    match Fingerprint::parse(value) {
        Some(_) => Err(TargetError::AmbiguousSession),
        None => Ok(Fingerprint::of(value)),
    }
}

/// A `tracing-subscriber` per-layer filter: base level for everyone, verbose level for the
/// targeted requests. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct TargetedFilter {
    base: LevelFilter,
    verbose: LevelFilter,
    handle: TargetingHandle,
}

impl TargetedFilter {
    /// Everyone at `base`; targeted requests at TRACE. No targets yet.
    pub fn new(base: impl Into<LevelFilter>) -> Self {
        Self { base: base.into(), verbose: LevelFilter::TRACE, handle: TargetingHandle::new() }
    }

    /// Like [`new`](Self::new), with targets and verbose level from the environment.
    pub fn from_env(base: impl Into<LevelFilter>) -> Self {
        let filter = Self::new(base);
        filter.handle.load_vars(|name| std::env::var(name).ok());
        let level = std::env::var("SESSIONSCOPE_TRACE_LEVEL").ok().and_then(|l| l.parse::<LevelFilter>().ok());
        match level {
            Some(level) => filter.verbose(level),
            None => filter,
        }
    }

    /// The level targeted requests get (never less verbose than the base level).
    pub fn verbose(mut self, level: impl Into<LevelFilter>) -> Self {
        self.verbose = level.into().max(self.base);
        self
    }

    /// Shares targets with another filter or an admin router.
    pub fn with_handle(mut self, handle: TargetingHandle) -> Self {
        self.handle = handle;
        self
    }

    /// The handle that changes this filter's targets at run time.
    pub fn handle(&self) -> TargetingHandle {
        self.handle.clone()
    }

    fn decide(&self, level: &tracing::Level) -> bool {
        if self.base >= *level {
            return true;
        }
        self.verbose >= *level
            && self.handle.is_active()
            && with_current(|ctx| ctx.is_some_and(|ctx| self.handle.matches(ctx)))
    }
}

impl<S> Filter<S> for TargetedFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        self.decide(meta.level())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.base >= *meta.level() {
            Interest::always()
        } else if self.verbose >= *meta.level() {
            // Targets change at run time: ask again for every event.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.verbose.max(self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SessionSource;
    use crate::ids::SessionId;

    fn ctx(user: Option<&str>, session: &str, route: &str) -> Arc<RequestContext> {
        let mut builder =
            RequestContext::builder().session(SessionId::parse(session).unwrap(), SessionSource::Header).route(route);
        if let Some(user) = user {
            builder = builder.user_id(user);
        }
        builder.build()
    }

    #[test]
    fn or_within_and_across_dimensions() {
        let handle = TargetingHandle::new();
        let alice = ctx(Some("alice"), "s-1", "/a");
        let bob = ctx(Some("bob"), "s-2", "/b");
        assert!(!handle.matches(&alice), "no targets, nothing matches");

        handle.add(Dimension::User, "alice", None).unwrap();
        handle.add(Dimension::User, "carol", None).unwrap();
        assert!(handle.matches(&alice) && !handle.matches(&bob));

        handle.add(Dimension::Operation, "/b", None).unwrap();
        assert!(!handle.matches(&alice), "alice, but not on /b");
        handle.add(Dimension::User, "bob", None).unwrap();
        assert!(handle.matches(&bob));

        handle.set_disabled(true);
        assert!(!handle.matches(&bob));
        handle.set_disabled(false);
        assert!(handle.matches(&bob));
    }

    #[test]
    fn sessions_by_raw_id_or_fingerprint() {
        let handle = TargetingHandle::new();
        let c = ctx(None, "s-1", "/a");
        handle.add(Dimension::Session, &format!("fp:{}", Fingerprint::of("s-1")), None).unwrap();
        assert!(handle.matches(&c));
        assert!(handle.remove(Dimension::Session, &format!("fp:{}", Fingerprint::of("s-1"))));
        assert!(!handle.matches(&c));
        handle.add(Dimension::Session, "s-1", None).unwrap();
        assert!(handle.matches(&c));
        assert_eq!(handle.snapshot().sessions.len(), 1, "a raw id that is not hex adds one key");
    }

    #[test]
    fn expired_targets_stop_matching_and_do_not_widen() {
        let handle = TargetingHandle::new();
        let alice = ctx(Some("alice"), "s-1", "/a");
        let bob = ctx(Some("bob"), "s-2", "/b");
        handle.add(Dimension::User, "alice", Some(Duration::from_millis(20))).unwrap();
        handle.add(Dimension::Operation, "/a", None).unwrap();
        assert!(handle.matches(&alice));
        std::thread::sleep(Duration::from_millis(40));
        // The user dimension expired: only the operation constrains now.
        assert!(handle.matches(&alice) && !handle.matches(&bob));
        assert!(handle.snapshot().users.is_empty());
    }

    #[test]
    fn the_decision_is_remembered_and_made_again_when_targets_or_the_request_change() {
        let handle = TargetingHandle::new();
        let alice = ctx(Some("alice"), "s-1", "/a");
        handle.add(Dimension::User, "alice", None).unwrap();
        assert!(handle.matches(&alice));
        let generation = handle.shared.generation.load(Ordering::Acquire);
        assert_eq!(alice.targeting_decision(generation), Some(true), "remembered on the context");
        handle.remove(Dimension::User, "alice");
        assert_eq!(
            alice.targeting_decision(handle.shared.generation.load(Ordering::Acquire)),
            None,
            "a change forgets it"
        );
        assert!(!handle.matches(&alice));

        // The operation is named after the first decision: it is made again.
        handle.add(Dimension::Operation, "checkout", None).unwrap();
        assert!(!handle.matches(&alice));
        alice.set_operation("checkout");
        assert!(handle.matches(&alice));
    }

    #[test]
    fn ten_thousand_targets_match_and_the_limit_holds() {
        let handle = TargetingHandle::new();
        for n in 0..MAX_TARGETS - 1 {
            handle.add(Dimension::User, &format!("user-{n}"), None).unwrap();
        }
        handle.add(Dimension::Operation, "/a", None).unwrap();
        let last = ctx(Some(&format!("user-{}", MAX_TARGETS - 2)), "s-1", "/a");
        let nobody = ctx(Some("nobody"), "s-2", "/a");
        assert!(handle.matches(&last) && !handle.matches(&nobody));
        assert_eq!(handle.add(Dimension::User, "one-too-many", None), Err(TargetError::TooMany));
        assert!(handle.add(Dimension::User, "user-0", Some(Duration::from_secs(5))).is_ok(), "replacing adds none");
        assert_eq!(handle.snapshot().users.len(), MAX_TARGETS - 1);
        // A TTL the clock cannot hold is no expiry, not a panic.
        handle.remove(Dimension::User, "user-1");
        assert!(handle.add(Dimension::User, "forever", Some(Duration::MAX)).is_ok());
    }

    #[test]
    fn env_vars_past_the_limit_are_cut_off() {
        let handle = TargetingHandle::new();
        let many = (0..MAX_TARGETS + 5).map(|n| format!("u{n}")).collect::<Vec<_>>().join(",");
        handle.load_vars(|name| (name == "SESSIONSCOPE_TRACE_USERS").then(|| many.clone()));
        assert_eq!(handle.snapshot().users.len(), MAX_TARGETS);
    }

    #[test]
    fn env_vars() {
        let handle = TargetingHandle::new();
        handle.load_vars(|name| match name {
            "SESSIONSCOPE_TRACE_USERS" => Some(" alice, bob ,".into()),
            "SESSIONSCOPE_TRACE_OPERATIONS" => Some("checkout".into()),
            "SESSIONSCOPE_TRACE_DISABLE" => Some("TRUE".into()),
            _ => None,
        });
        let snap = handle.snapshot();
        let users: Vec<_> = snap.users.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(users, ["alice", "bob"]);
        assert_eq!(snap.operations[0].value, "checkout");
        assert!(snap.disabled && !handle.is_active());
    }
}
