//! Following the session cookie a response sets: a response that sets the session cookie to
//! a new id logged someone in (tower-sessions and axum-login do it when their layer saves
//! the session), one that removes it logged them out. The request's summary, written after,
//! then carries the new session and its user, or none.

use std::future::Future;
use std::pin::Pin;

use std::time::SystemTime;

use http::HeaderMap;
use http::header::SET_COOKIE;

use super::Handoff;
use super::settle::{Settled, settle, settle_now};
use crate::context::{Identity, RequestContext, SessionSource};
use crate::ids::SessionId;

/// A lookup of the session a response set, still running.
pub(crate) type Following = Pin<Box<dyn Future<Output = Identity> + Send>>;

/// What a response did to the session cookie.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Set(SessionId),
    Removed,
}

/// Follows what the response did to the session cookie `handoff`'s settings read: ends the
/// context's session, binds a session whose record is at hand, or returns the lookup to
/// await before binding it with [`RequestContext::follow`].
pub(crate) fn follow(ctx: &RequestContext, headers: &HeaderMap, handoff: &Handoff) -> Option<Following> {
    let name = handoff.pipeline().config.sources.cookie.as_deref()?;
    match change(headers, name)? {
        Change::Removed => {
            if ctx.session_id().is_some() {
                ctx.end_session();
            }
            None
        }
        Change::Set(id) if ctx.session_id() == Some(&id) => None,
        Change::Set(id) => {
            let pipeline = handoff.pipeline();
            let chosen = Some((id, SessionSource::Bound));
            match settle_now(Some(&pipeline.lookup), chosen, ctx.started_at()) {
                Settled::Now(identity) => {
                    ctx.follow(identity);
                    None
                }
                Settled::Wait(_, id, source) => {
                    let (handoff, started_at, span) = (handoff.clone(), ctx.started_at(), ctx.span().clone());
                    Some(Box::pin(async move {
                        let Handoff(pipeline) = &handoff;
                        let config = &pipeline.config;
                        let chosen = Some((id, source));
                        settle(
                            Some(&pipeline.lookup),
                            config.timeout,
                            &config.lookup_warnings,
                            chosen,
                            started_at,
                            &span,
                        )
                        .await
                    }))
                }
            }
        }
    }
}

/// The last `Set-Cookie` of `name`: a valid id, or a removal (an empty value, a `Max-Age`
/// of zero or less, or with no `Max-Age` an `Expires` in the past). Anything else (an
/// invalid id) changes nothing. `Path` and `Domain` are not compared: a removal meant for
/// another path is taken as a logout.
fn change(headers: &HeaderMap, name: &str) -> Option<Change> {
    let mut last = None;
    for value in headers.get_all(SET_COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        let mut parts = text.split(';');
        let Some((cookie_name, cookie_value)) = parts.next().and_then(|pair| pair.split_once('=')) else { continue };
        if cookie_name.trim() != name {
            continue;
        }
        let cookie_value = cookie_value.trim().trim_matches('"');
        // `Max-Age` wins over `Expires` (RFC 6265 5.3); of several, the last counts.
        let (mut max_age, mut expires) = (None, None);
        for attribute in parts {
            let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
            if key.trim().eq_ignore_ascii_case("max-age") {
                max_age = value.trim().parse::<i64>().ok().or(max_age);
            } else if key.trim().eq_ignore_ascii_case("expires") {
                expires = httpdate::parse_http_date(value.trim()).ok().or(expires);
            }
        }
        let expired = match (max_age, expires) {
            (Some(age), _) => age <= 0,
            (None, Some(at)) => at <= SystemTime::now(),
            (None, None) => false,
        };
        last = if cookie_value.is_empty() || expired {
            Some(Change::Removed)
        } else {
            SessionId::parse(cookie_value).ok().map(Change::Set)
        };
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(SET_COOKIE, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn set_and_removed_cookies() {
        let set = |v: &[&str]| change(&headers(v), "id");
        assert_eq!(set(&["id=abc; Path=/; HttpOnly"]), Some(Change::Set(SessionId::parse("abc").unwrap())));
        assert_eq!(set(&["id=; Max-Age=0"]), Some(Change::Removed));
        assert_eq!(set(&["id=abc; max-age=0; Path=/"]), Some(Change::Removed));
        assert_eq!(set(&["id=\"\""]), Some(Change::Removed));
        assert_eq!(set(&["other=abc", "idx=1"]), None, "another cookie");
        assert_eq!(set(&["id=a", "id=b"]), Some(Change::Set(SessionId::parse("b").unwrap())), "the last one counts");
        assert_eq!(set(&["id=bad value"]), None, "an invalid id changes nothing");
        assert_eq!(set(&["id=abc; Max-Age=3600"]), Some(Change::Set(SessionId::parse("abc").unwrap())));
        assert_eq!(set(&["id=deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"]), Some(Change::Removed));
        assert_eq!(
            set(&["id=abc; Expires=Fri, 01 Jan 2100 00:00:00 GMT"]),
            Some(Change::Set(SessionId::parse("abc").unwrap()))
        );
        assert_eq!(set(&["id=abc; Max-Age=0; Max-Age=3600"]), Some(Change::Set(SessionId::parse("abc").unwrap())));
        assert_eq!(
            set(&["id=abc; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]),
            Some(Change::Set(SessionId::parse("abc").unwrap())),
            "Max-Age wins"
        );
    }
}
