//! Settling who the request is: the session id looked up in the store, within a timeout.
//! Errors, panics and timeouts become outcomes, never failures of the request.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use tracing::{Instrument as _, Span};

use crate::context::{Identity, LookupOutcome, SessionSource, record_session};
use crate::ids::{SessionId, error_chain, sanitize};
use crate::lookup::{LookupError, SessionLookup, SessionRecord};

/// Default bound on how long a store may take before the request goes on without a user.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_millis(250);

/// What could be settled without waiting.
pub(crate) enum Settled {
    /// The identity is known: no session id, no store to ask, or the store's answer at hand.
    Now(Identity),
    /// The store must be awaited for this session.
    Wait(SessionId, SessionSource),
}

/// Settles what needs no waiting: no session id, no store, or a store that has the answer
/// at hand ([`SessionLookup::lookup_now`], judged at `now`, the request's start). Only a clean
/// answer counts: an error or a panic is left to [`look_up`], which logs it inside the
/// request span.
pub(crate) fn settle_now<L: SessionLookup>(
    lookup: Option<&L>,
    chosen: Option<(SessionId, SessionSource)>,
    now: Instant,
) -> Settled {
    let Some((id, source)) = chosen else {
        return Settled::Now(Identity::NONE);
    };
    let Some(lookup) = lookup else {
        return Settled::Now(Identity { session: Some((id, source)), user_id: None, outcome: LookupOutcome::Skipped });
    };
    match std::panic::catch_unwind(AssertUnwindSafe(|| lookup.lookup_now(&id, now))) {
        Ok(Some(Ok(record))) => Settled::Now(identity_from(Ok(record), id, source)),
        _ => Settled::Wait(id, source),
    }
}

/// Settles the identity of `chosen` in one step: at once when it can be, else by awaiting
/// the store within `timeout`, inside `span` (which gets the session's fingerprint first, so
/// the lookup's own warnings carry it).
pub(crate) async fn settle<L: SessionLookup>(
    lookup: Option<&L>,
    timeout: Duration,
    chosen: Option<(SessionId, SessionSource)>,
    now: Instant,
    span: &Span,
) -> Identity {
    if let Some((id, _)) = &chosen {
        record_session(span, id);
    }
    match (settle_now(lookup, chosen, now), lookup) {
        (Settled::Now(identity), _) => identity,
        (Settled::Wait(id, source), Some(lookup)) => {
            look_up(lookup, timeout, id, source).instrument(span.clone()).await
        }
        // `settle_now` waits only when there is a store.
        (Settled::Wait(id, source), None) => {
            Identity { session: Some((id, source)), user_id: None, outcome: LookupOutcome::Skipped }
        }
    }
}

/// Looks `id` up within `timeout`. A store that errors, panics (while making its future or
/// inside it) or does not answer in time gives a degraded identity and a warning; the raw id
/// is never logged.
pub(crate) async fn look_up<L: SessionLookup>(
    lookup: &L,
    timeout: Duration,
    id: SessionId,
    source: SessionSource,
) -> Identity {
    let answer = match std::panic::catch_unwind(AssertUnwindSafe(|| lookup.lookup(&id))) {
        Ok(fut) => tokio::time::timeout(timeout, AssertUnwindSafe(fut).catch_unwind()).await.map(|r| r.ok()),
        Err(_panic) => Ok(None),
    };
    match answer {
        Ok(Some(answer)) => identity_from(answer, id, source),
        Ok(None) => {
            tracing::warn!(target: "sessionscope::lookup", "session lookup panicked; continuing without a user");
            degraded(id, source, LookupOutcome::Failed)
        }
        Err(_elapsed) => {
            tracing::warn!(
                target: "sessionscope::lookup",
                timeout_ms = timeout.as_millis() as u64,
                "session lookup timed out; continuing without a user"
            );
            degraded(id, source, LookupOutcome::TimedOut)
        }
    }
}

fn identity_from(answer: Result<Option<SessionRecord>, LookupError>, id: SessionId, source: SessionSource) -> Identity {
    let (user_id, outcome) = match answer {
        Ok(Some(record)) => match record.into_user_id() {
            // Escaped when the record was made (`SessionRecord::for_user`).
            Some(user) => (Some(user), LookupOutcome::Found),
            None => (None, LookupOutcome::Anonymous),
        },
        Ok(None) => (None, LookupOutcome::Unknown),
        Err(error) => {
            let error = error_chain(&error);
            tracing::warn!(target: "sessionscope::lookup", error = %sanitize(&error), "session lookup failed; continuing without a user");
            (None, LookupOutcome::Failed)
        }
    };
    Identity { session: Some((id, source)), user_id, outcome }
}

fn degraded(id: SessionId, source: SessionSource, outcome: LookupOutcome) -> Identity {
    Identity { session: Some((id, source)), user_id: None, outcome }
}
