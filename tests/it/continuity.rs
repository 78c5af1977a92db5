//! One context for every line of a request: handler, the code it calls, its IntoResponse,
//! the tasks it spawns on purpose, and nothing else.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{Probe, Seen, TestServer, correlation_header, json, probe_routes, seeded_store};
use serde::{Deserialize, Serialize};
use sessionscope::{SessionContext, SessionContextLayer, SessionId, SessionRecord};

#[derive(Debug, Serialize, Deserialize)]
struct Views {
    handler: Seen,
    service: Seen,
    spawned: Seen,
    blocking: Seen,
    plain_tokio_spawn: Seen,
    background: Seen,
    extractor_correlation_id: String,
    after_phase_change: Seen,
    spawned_after_phase_change: Seen,
}

/// A service function several calls away from the handler.
async fn load_report() -> Seen {
    tokio::task::yield_now().await;
    inner_service().await
}

async fn inner_service() -> Seen {
    tokio::time::sleep(Duration::from_millis(1)).await;
    Seen::now()
}

async fn views(ctx: SessionContext) -> axum::Json<Views> {
    let handler = Seen::now();
    let service = load_report().await;
    let spawned = sessionscope::spawn(async { Seen::now() }).await.unwrap();
    let blocking = sessionscope::spawn_blocking(Seen::now).await.unwrap();
    let plain_tokio_spawn = tokio::spawn(async { Seen::now() }).await.unwrap();
    let background = sessionscope::spawn_background(async { Seen::now() }).await.unwrap();
    sessionscope::set_agent_phase("executing");
    sessionscope::set_investigation_id("inv-7");
    let after_phase_change = load_report().await;
    let spawned_after_phase_change = sessionscope::spawn(async { Seen::now() }).await.unwrap();
    axum::Json(Views {
        handler,
        service,
        spawned,
        blocking,
        plain_tokio_spawn,
        background,
        extractor_correlation_id: ctx.correlation_id().to_string(),
        after_phase_change,
        spawned_after_phase_change,
    })
}

/// An application error whose response is built from the context.
struct AppError;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let seen = Seen::now();
        (http::StatusCode::UNPROCESSABLE_ENTITY, axum::Json(seen)).into_response()
    }
}

async fn failing() -> Result<String, AppError> {
    Err(AppError)
}

async fn server() -> TestServer {
    let app = Router::new()
        .route("/views", get(views))
        .route("/fail", get(failing))
        .merge(probe_routes())
        .layer(SessionContextLayer::new(seeded_store()));
    TestServer::start(app).await
}

#[tokio::test]
async fn every_line_of_the_request_sees_the_same_context() {
    let srv = server().await;
    let response = srv.get("/views").header("x-session-id", "s-alice").header("x-correlation-id", "cont-1").send();
    let views: Views = json(response.await.unwrap()).await;

    for (name, seen) in [
        ("handler", &views.handler),
        ("service", &views.service),
        ("spawned", &views.spawned),
        ("blocking", &views.blocking),
    ] {
        assert_eq!(seen.correlation_id.as_deref(), Some("cont-1"), "{name}");
        assert_eq!(seen.session_id.as_deref(), Some("s-alice"), "{name}");
        assert_eq!(seen.user_id.as_deref(), Some("alice"), "{name}");
        assert_eq!(seen.outcome.as_deref(), Some("found"), "{name}");
        assert_eq!(seen.route.as_deref(), Some("/views"), "{name}");
    }
    assert_eq!(views.extractor_correlation_id, "cont-1");
    assert_eq!(views.plain_tokio_spawn, Seen::of(None), "plain tokio::spawn does not carry the context");

    assert_eq!(views.background.correlation_id.as_deref(), Some("cont-1"), "background keeps the correlation id");
    assert_eq!(views.background.session_id, None, "background drops the session");
    assert_eq!(views.background.user_id, None, "background drops the user");
}

#[tokio::test]
async fn phase_and_investigation_changes_reach_later_code() {
    let srv = server().await;
    let views: Views = json(srv.get("/views").header("x-session-id", "s-alice").send().await.unwrap()).await;
    assert_eq!(views.handler.phase, None);
    for seen in [&views.after_phase_change, &views.spawned_after_phase_change] {
        assert_eq!(seen.phase.as_deref(), Some("executing"));
        assert_eq!(seen.investigation.as_deref(), Some("inv-7"));
    }
}

#[tokio::test]
async fn error_into_response_runs_inside_the_context() {
    let srv = server().await;
    let response =
        srv.get("/fail").header("x-session-id", "s-bob").header("x-correlation-id", "err-1").send().await.unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(correlation_header(&response), "err-1");
    let seen: Seen = json(response).await;
    assert_eq!(seen.user_id.as_deref(), Some("bob"));
    assert_eq!(seen.correlation_id.as_deref(), Some("err-1"));
}

#[tokio::test]
async fn http_attributes_are_captured() {
    let srv = server().await;
    let probe: Probe = json(srv.get("/probe/42").header("user-agent", "tester/1.0").send().await.unwrap()).await;
    assert_eq!(probe.handler.method.as_deref(), Some("GET"));
    assert_eq!(probe.handler.route.as_deref(), Some("/probe/{id}"));
    assert_eq!(probe.handler.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(probe.handler.user_agent.as_deref(), Some("tester/1.0"));
}

#[tokio::test]
async fn correlation_id_is_echoed_or_generated_on_every_response() {
    let srv = server().await;
    let echoed = srv.get("/probe").header("x-correlation-id", "abc.DEF_1:2-3").send().await.unwrap();
    assert_eq!(correlation_header(&echoed), "abc.DEF_1:2-3");
    let from_request_id = srv.get("/probe").header("x-request-id", "rid-9").send().await.unwrap();
    assert_eq!(correlation_header(&from_request_id), "rid-9");
    let preferred = srv.get("/probe").header("x-request-id", "rid-9").header("x-correlation-id", "cid-9").send();
    assert_eq!(correlation_header(&preferred.await.unwrap()), "cid-9");

    for bad in ["has space", "quote\"d", &"x".repeat(129)] {
        let response = srv.get("/probe").header("x-correlation-id", bad).send().await.unwrap();
        let generated = correlation_header(&response);
        assert_ne!(generated, bad);
        let uuid = generated.parse::<uuid_text::Uuid>().expect("a UUID");
        assert_eq!(uuid.version, 7, "{generated}");
    }
    let not_found = srv.get("/no-such-route").header("x-correlation-id", "nf-1").send().await.unwrap();
    assert_eq!(not_found.status(), 404);
    assert_eq!(correlation_header(&not_found), "nf-1");
    let fresh_a = correlation_header(&srv.get("/probe").send().await.unwrap());
    let fresh_b = correlation_header(&srv.get("/probe").send().await.unwrap());
    assert_ne!(fresh_a, fresh_b);
}

/// Reads the version nibble of a hyphenated UUID without another dependency.
mod uuid_text {
    pub struct Uuid {
        pub version: u8,
    }

    impl std::str::FromStr for Uuid {
        type Err = String;

        fn from_str(s: &str) -> Result<Self, String> {
            let groups: Vec<&str> = s.split('-').collect();
            let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
            if lengths != [8, 4, 4, 4, 12] || !s.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
                return Err(format!("not a UUID: {s}"));
            }
            let version = u8::from_str_radix(&groups[2][..1], 16).map_err(|e| e.to_string())?;
            Ok(Self { version })
        }
    }
}

#[tokio::test]
async fn nothing_leaks_into_the_next_request_or_outside() {
    let srv = server().await;
    // Same keep-alive connection, so likely the same worker thread.
    let first: Probe = json(srv.get("/probe").header("x-session-id", "s-alice").send().await.unwrap()).await;
    assert_eq!(first.handler.user_id.as_deref(), Some("alice"));
    let second: Probe = json(srv.get("/probe").send().await.unwrap()).await;
    assert_eq!(second.handler.session_id, None);
    assert_eq!(second.handler.user_id, None);
    assert_ne!(second.handler.correlation_id, first.handler.correlation_id);
    assert!(sessionscope::current().is_none(), "the test task itself has no context");
}

#[tokio::test]
async fn concurrent_requests_each_see_only_their_own_context() {
    const SESSIONS: usize = 300;
    let store = seeded_store();
    let ids: Vec<SessionId> = (0..SESSIONS)
        .map(|n| store.create(SessionRecord::for_user(format!("user-{n}")), Duration::from_secs(600)))
        .collect();
    let app = Router::new().route("/views", get(views)).layer(SessionContextLayer::new(store));
    let srv = TestServer::start(app).await;

    let requests = ids.iter().enumerate().map(|(n, id)| {
        let request =
            srv.get("/views").header("x-session-id", id.expose()).header("x-correlation-id", format!("conc-{n}"));
        async move { (n, json::<Views>(request.send().await.unwrap()).await) }
    });
    let results = futures_util::future::join_all(requests).await;
    assert_eq!(results.len(), SESSIONS);
    for (n, views) in results {
        let user = format!("user-{n}");
        let cid = format!("conc-{n}");
        for seen in [&views.handler, &views.service, &views.spawned, &views.blocking, &views.after_phase_change] {
            assert_eq!(seen.user_id.as_deref(), Some(user.as_str()));
            assert_eq!(seen.correlation_id.as_deref(), Some(cid.as_str()));
            assert_eq!(seen.session_id.as_deref(), Some(ids[n].expose()));
        }
    }
}
