//! Settling who the request is: the session id looked up in the store, within a timeout.
//! Errors, panics and timeouts become outcomes, never failures of the request.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use tracing::{Instrument as _, Span};

use crate::context::{Identity, LookupOutcome, SessionSource, record_session};
use crate::ids::{SessionId, Throttle, error_chain, sanitize};
use crate::lookup::{LookupError, SessionLookup, SessionRecord};

/// Default bound on how long a store may take before the request goes on without a user.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_millis(250);

/// What could be settled without waiting.
pub(crate) enum Settled<'l, L> {
    /// The identity is known: no session id, no store to ask, or the store's answer at hand.
    Now(Identity),
    /// This store must be awaited for this session.
    Wait(&'l L, SessionId, SessionSource),
}

/// Settles what needs no waiting: no session id, no store, or a store that has the answer
/// at hand ([`SessionLookup::lookup_now`], judged at `now`, the request's start). Only a clean
/// answer counts: an error or a panic is left to [`look_up`], which logs it inside the
/// request span.
pub(crate) fn settle_now<L: SessionLookup>(
    lookup: Option<&L>,
    chosen: Option<(SessionId, SessionSource)>,
    now: Instant,
) -> Settled<'_, L> {
    let Some((id, source)) = chosen else {
        return Settled::Now(Identity::NONE);
    };
    let Some(lookup) = lookup else {
        return Settled::Now(Identity {
            session: Some((id, source)),
            user_id: None,
            outcome: LookupOutcome::Skipped,
            attributes: None,
        });
    };
    match std::panic::catch_unwind(AssertUnwindSafe(|| lookup.lookup_now(&id, now))) {
        Ok(Some(Ok(record))) => Settled::Now(identity_from(Ok(record), id, source, &NO_WARNINGS)),
        _ => Settled::Wait(lookup, id, source),
    }
}

/// Settles the identity of `chosen` in one step: at once when it can be, else by awaiting
/// the store within `timeout`, inside `span`.
pub(crate) async fn settle<L: SessionLookup>(
    lookup: Option<&L>,
    timeout: Duration,
    warnings: &LookupWarnings,
    chosen: Option<(SessionId, SessionSource)>,
    now: Instant,
    span: &Span,
) -> Identity {
    match settle_now(lookup, chosen, now) {
        Settled::Now(identity) => {
            if let Some((id, _)) = &identity.session {
                record_session(span, id);
            }
            identity
        }
        Settled::Wait(lookup, id, source) => wait_for_store(lookup, timeout, warnings, id, source, span).await,
    }
}

/// Awaits the store for `id` within `timeout`, inside `span`, which gets the session's
/// fingerprint first so the lookup's own warnings carry it.
pub(crate) async fn wait_for_store<L: SessionLookup>(
    lookup: &L,
    timeout: Duration,
    warnings: &LookupWarnings,
    id: SessionId,
    source: SessionSource,
    span: &Span,
) -> Identity {
    record_session(span, &id);
    look_up(lookup, timeout, warnings, id, source).instrument(span.clone()).await
}

/// Looks `id` up within `timeout`. A store that errors, panics (while making its future or
/// inside it) or does not answer in time gives a degraded identity and a warning; the raw id
/// is never logged.
async fn look_up<L: SessionLookup>(
    lookup: &L,
    timeout: Duration,
    warnings: &LookupWarnings,
    id: SessionId,
    source: SessionSource,
) -> Identity {
    let answer = match std::panic::catch_unwind(AssertUnwindSafe(|| lookup.lookup(&id))) {
        Ok(fut) => tokio::time::timeout(timeout, AssertUnwindSafe(fut).catch_unwind()).await.map(|r| r.ok()),
        Err(_panic) => Ok(None),
    };
    match answer {
        Ok(Some(answer)) => identity_from(answer, id, source, warnings),
        Ok(None) => {
            if let Some(suppressed) = warnings.panicked.admit() {
                tracing::warn!(target: "sessionscope::lookup", suppressed, "session lookup panicked; continuing without a user");
            }
            degraded(id, source, LookupOutcome::Failed)
        }
        Err(_elapsed) => {
            if let Some(suppressed) = warnings.timed_out.admit() {
                tracing::warn!(
                    target: "sessionscope::lookup",
                    timeout_ms = timeout.as_millis() as u64,
                    suppressed,
                    "session lookup timed out; continuing without a user"
                );
            }
            degraded(id, source, LookupOutcome::TimedOut)
        }
    }
}

fn identity_from(
    answer: Result<Option<SessionRecord>, LookupError>,
    id: SessionId,
    source: SessionSource,
    warnings: &LookupWarnings,
) -> Identity {
    let (user_id, outcome, attributes) = match answer {
        Ok(Some(record)) => match record.into_parts() {
            // Escaped when the record was made (`SessionRecord::for_user`).
            (Some(user), attributes) => (Some(user), LookupOutcome::Found, attributes),
            (None, attributes) => (None, LookupOutcome::Anonymous, attributes),
        },
        Ok(None) => (None, LookupOutcome::Unknown, None),
        Err(error) => {
            if let Some(suppressed) = warnings.failed.admit() {
                let error = error_chain(&error);
                tracing::warn!(
                    target: "sessionscope::lookup",
                    error = %sanitize(&error),
                    suppressed,
                    "session lookup failed; continuing without a user"
                );
            }
            (None, LookupOutcome::Failed, None)
        }
    };
    Identity { session: Some((id, source)), user_id, outcome, attributes }
}

/// How often each kind of lookup warning is written at most, per layer. Every request
/// still records its own outcome (`lookup.outcome` on its span and summary); the warning
/// says what happens, and `suppressed` how many more times since the last one.
/// For answers that cannot warn (a record at hand).
static NO_WARNINGS: LookupWarnings = LookupWarnings::new();

pub(crate) const LOOKUP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The lookup warnings of one entry point (a layer, or the macro on its own), each kind let
/// through at most once per [`LOOKUP_WARNING_INTERVAL`].
#[derive(Debug)]
pub(crate) struct LookupWarnings {
    failed: Throttle,
    panicked: Throttle,
    timed_out: Throttle,
}

impl LookupWarnings {
    pub(crate) const fn new() -> Self {
        Self {
            failed: Throttle::new(LOOKUP_WARNING_INTERVAL),
            panicked: Throttle::new(LOOKUP_WARNING_INTERVAL),
            timed_out: Throttle::new(LOOKUP_WARNING_INTERVAL),
        }
    }
}

fn degraded(id: SessionId, source: SessionSource, outcome: LookupOutcome) -> Identity {
    Identity { session: Some((id, source)), user_id: None, outcome, attributes: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers by the raw id: `alice`, `anon`, `unknown`, `error`, `panic`, `early-panic`
    /// (panics before making its future) or `slow`; `lookup_now` answers `alice` only.
    struct Scripted;

    impl SessionLookup for Scripted {
        fn lookup(&self, id: &SessionId) -> impl Future<Output = Result<Option<SessionRecord>, LookupError>> + Send {
            let raw = id.expose().to_owned();
            assert_ne!(raw, "early-panic", "broken before returning a future");
            async move {
                match raw.as_str() {
                    "alice" => Ok(Some(SessionRecord::for_user("alice"))),
                    "anon" => Ok(Some(SessionRecord::anonymous())),
                    "error" => Err(LookupError::new("down")),
                    "panic" => panic!("broken inside the future"),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        Ok(None)
                    }
                    _ => Ok(None),
                }
            }
        }

        fn lookup_now(&self, id: &SessionId, _now: Instant) -> Option<Result<Option<SessionRecord>, LookupError>> {
            match id.expose() {
                "alice" => Some(Ok(Some(SessionRecord::for_user("alice")))),
                "panic" => panic!("broken while answering at once"),
                _ => None,
            }
        }
    }

    use std::future::Future;

    fn chosen(raw: &str) -> Option<(SessionId, SessionSource)> {
        Some((SessionId::parse(raw).unwrap(), SessionSource::Header))
    }

    fn outcome_now(lookup: Option<&Scripted>, raw: Option<&str>) -> Result<LookupOutcome, String> {
        match settle_now(lookup, raw.and_then(chosen), Instant::now()) {
            Settled::Now(identity) => Ok(identity.outcome),
            Settled::Wait(_, id, _) => Err(id.expose().to_owned()),
        }
    }

    #[test]
    fn what_settles_without_waiting() {
        assert_eq!(outcome_now(Some(&Scripted), None), Ok(LookupOutcome::NoSession));
        assert_eq!(outcome_now(None, Some("alice")), Ok(LookupOutcome::Skipped), "no store to ask");
        assert_eq!(outcome_now(Some(&Scripted), Some("alice")), Ok(LookupOutcome::Found), "answered at hand");
        assert_eq!(outcome_now(Some(&Scripted), Some("unknown")), Err("unknown".into()), "left to the store");
        assert_eq!(outcome_now(Some(&Scripted), Some("panic")), Err("panic".into()), "a panic is left to `look_up`");
    }

    #[tokio::test]
    async fn every_store_answer_and_fault_becomes_an_outcome() {
        let span = Span::none();
        let timeout = Duration::from_millis(50);
        for (raw, outcome) in [
            ("alice", LookupOutcome::Found),
            ("anon", LookupOutcome::Anonymous),
            ("unknown", LookupOutcome::Unknown),
            ("error", LookupOutcome::Failed),
            ("panic", LookupOutcome::Failed),
            ("early-panic", LookupOutcome::Failed),
            ("slow", LookupOutcome::TimedOut),
        ] {
            let (id, source) = chosen(raw).unwrap();
            let identity = wait_for_store(&Scripted, timeout, &LookupWarnings::new(), id, source, &span).await;
            assert_eq!(identity.outcome, outcome, "{raw}");
            assert_eq!(identity.user_id.is_some(), outcome == LookupOutcome::Found, "{raw}");
            assert_eq!(identity.session.map(|(id, _)| id.expose().to_owned()).as_deref(), Some(raw));
        }
    }
}
