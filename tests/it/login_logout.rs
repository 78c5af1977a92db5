//! A handler that logs a user in or out says so, and the rest of its request (later lines,
//! the summary, spawned tasks) carries the new session and user, or none.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use common::{TestServer, seeded_store};
use sessionscope::testing::{Capture, CapturedEvent};
use sessionscope::{Fingerprint, MemoryStore, SessionContextLayer, SessionRecord};
use tracing_subscriber::layer::SubscriberExt as _;

async fn login(State(store): State<MemoryStore>) -> String {
    tracing::info!("before login");
    let id = store.create(SessionRecord::for_user("bob"), Duration::from_secs(600));
    let raw = id.expose().to_owned();
    assert!(sessionscope::bind_session(id, Some("bob")));
    tracing::info!("after login");
    sessionscope::spawn(async { tracing::info!("welcome mail queued") }).await.unwrap();
    raw
}

async fn logout() -> &'static str {
    tracing::info!("before logout");
    assert!(sessionscope::end_session());
    tracing::info!("after logout");
    sessionscope::spawn(async { tracing::info!("session cleanup queued") }).await.unwrap();
    let ctx = sessionscope::current().unwrap();
    assert_eq!((ctx.session_id(), ctx.user_id()), (None, None), "code reads no session after the logout");
    "bye"
}

fn event<'a>(events: &'a [CapturedEvent], message: &str) -> &'a CapturedEvent {
    events.iter().find(|e| e.message() == message).unwrap_or_else(|| panic!("no {message:?} in {events:?}"))
}

#[tokio::test]
async fn a_login_binds_the_rest_of_the_request_and_a_logout_ends_it() {
    let (capture, capture_layer) = Capture::new();
    // This test's own subscriber, for its thread: the server runs on the test's runtime.
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer));
    let store = seeded_store();
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .with_state(store.clone())
        .layer(SessionContextLayer::new(store));
    let srv = TestServer::start(app).await;

    let response = srv.post("/login").header("x-correlation-id", "login-1").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let new_session = response.text().await.unwrap();
    let fingerprint = Fingerprint::of(&new_session).to_string();
    let events = capture.events_for("login-1");
    let before = event(&events, "before login");
    assert_eq!((before.field("session.id"), before.field("user.id")), (None, None));
    for later in ["after login", "welcome mail queued", "request finished"] {
        let line = event(&events, later);
        assert_eq!(line.field("session.id"), Some(fingerprint.as_str()), "{later}: {}", line.render());
        assert_eq!(line.field("user.id"), Some("bob"), "{later}");
        assert_eq!(line.field("lookup.outcome"), Some("found"), "{later}");
    }
    assert_eq!(event(&events, "request finished").field("session.source"), Some("bound"));
    assert!(events.iter().all(|e| !e.render().contains(&new_session)), "the raw new id is never logged");

    let response = srv.post("/logout").header("x-session-id", "s-alice").header("x-correlation-id", "logout-1").send();
    assert_eq!(response.await.unwrap().status(), 200);
    let events = capture.events_for("logout-1");
    let before = event(&events, "before logout");
    assert_eq!(before.field("user.id"), Some("alice"));
    for later in ["after logout", "session cleanup queued", "request finished"] {
        let line = event(&events, later);
        assert_eq!(line.field("user.id").unwrap_or_default(), "", "{later}: {}", line.render());
        assert_eq!(line.field("session.id").unwrap_or_default(), "", "{later}: {}", line.render());
        assert_eq!(line.field("lookup.outcome"), Some("ended"), "{later}");
    }
    assert_eq!(event(&events, "request finished").field("session.source"), None, "no session at the end");
}

#[test]
fn a_request_changes_its_session_a_bounded_number_of_times() {
    let ctx = sessionscope::RequestContext::builder().build();
    for n in 0..sessionscope::context::MAX_SESSION_CHANGES {
        let changed = if n % 2 == 0 {
            ctx.bind_session(sessionscope::SessionId::parse(&format!("s-{n}")).unwrap(), Some("carol"))
        } else {
            ctx.end_session()
        };
        assert!(changed, "change {n} is taken");
    }
    let last = ctx.session_id().map(|id| id.expose().to_owned());
    assert!(!ctx.bind_session(sessionscope::SessionId::parse("s-late").unwrap(), Some("mallory")));
    assert_eq!(ctx.session_id().map(|id| id.expose().to_owned()), last, "a refused change leaves the last one");
    assert_ne!(ctx.user_id(), Some("mallory"));
    assert!(!sessionscope::end_session(), "outside a request there is nothing to end");
}

// Issue 13, item 10, automatically: a response that sets the session cookie to a new id (a
// login, as tower-sessions' layer sends it) or removes it (a logout) is followed, so the
// request's summary carries the new session and its user, or none, without a call.
mod following_the_session_cookie {
    use super::*;
    use axum::http::header::SET_COOKIE;
    use axum::response::IntoResponse;

    async fn cookie_login(State(store): State<MemoryStore>) -> impl IntoResponse {
        let id = store.create(SessionRecord::for_user("carol"), Duration::from_secs(600));
        [(SET_COOKIE, format!("sid={}; Path=/; HttpOnly", id.expose()))]
    }

    async fn cookie_logout() -> impl IntoResponse {
        [(SET_COOKIE, "sid=; Path=/; Max-Age=0")]
    }

    async fn refresh() -> impl IntoResponse {
        // The same session again (a longer expiry, say): nothing changes.
        [(SET_COOKIE, "sid=s-alice; Path=/; Max-Age=600")]
    }

    #[tokio::test]
    async fn a_response_that_sets_or_removes_the_session_cookie_is_followed() {
        let (capture, capture_layer) = Capture::new();
        let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer));
        let store = seeded_store();
        let app = Router::new()
            .route("/login", post(cookie_login))
            .route("/logout", post(cookie_logout))
            .route("/refresh", post(refresh))
            .with_state(store.clone())
            .layer(SessionContextLayer::new(store).cookie("sid"));
        let srv = TestServer::start(app).await;

        let response = srv.post("/login").header("x-correlation-id", "follow-in").send().await.unwrap();
        let set = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        let raw = set.trim_start_matches("sid=").split(';').next().unwrap().to_owned();
        let summary = event(&capture.events_for("follow-in"), "request finished").clone();
        assert_eq!(summary.field("user.id"), Some("carol"), "{}", summary.render());
        assert_eq!(summary.field("session.id"), Some(Fingerprint::of(&raw).to_string().as_str()));
        assert_eq!(summary.field("session.source"), Some("bound"));
        assert!(!summary.render().contains(&raw), "the raw id is never logged");

        let response = srv
            .post("/logout")
            .header("cookie", format!("sid={raw}"))
            .header("x-correlation-id", "follow-out")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let events = capture.events_for("follow-out");
        let summary = event(&events, "request finished");
        assert_eq!(summary.field("lookup.outcome"), Some("ended"), "{}", summary.render());
        assert_eq!(summary.field("user.id").unwrap_or_default(), "");

        srv.post("/refresh")
            .header("cookie", "sid=s-alice")
            .header("x-correlation-id", "follow-same")
            .send()
            .await
            .unwrap();
        let summary = event(&capture.events_for("follow-same"), "request finished").clone();
        assert_eq!((summary.field("user.id"), summary.field("session.source")), (Some("alice"), Some("cookie")));
    }
}
