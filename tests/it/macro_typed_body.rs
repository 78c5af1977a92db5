//! The typed body source: the session id read from the handler's deserialized `Json<T>`,
//! in priority after header and query, with conflicts logged by fingerprint only.

use crate::common;
use crate::macro_common;

use axum::routing::post;
use axum::{Extension, Json, Router};
use common::{Counting, TestServer, correlation_header, seeded_store};
use macro_common::{Seen, Step};
use sessionscope::{Fingerprint, SharedLookup, with_session_context};

#[with_session_context(operation = "step")]
async fn step(Json(body): Json<Step>) -> Json<Seen> {
    tracing::info!(note = %body.note, "step");
    Seen::now()
}

fn app(store: &Counting<sessionscope::MemoryStore>) -> Router {
    Router::new().route("/step", post(step)).layer(Extension(SharedLookup::new(store.clone())))
}

#[tokio::test]
async fn session_id_comes_from_the_typed_body() {
    let store = Counting::new(seeded_store());
    let server = TestServer::start(app(&store)).await;
    let body = serde_json::json!({"sessionId": "s-alice", "investigationId": "inv-7", "note": "n"});
    let response = server.post("/step").json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let seen: Seen = response.json().await.unwrap();
    assert_eq!(seen.source.as_deref(), Some("typed_body"));
    assert_eq!(seen.user_id.as_deref(), Some("alice"));
    assert_eq!(seen.investigation.as_deref(), Some("inv-7"));
    assert_eq!(store.calls(), 1);
}

#[tokio::test]
async fn header_beats_body_and_the_conflict_is_logged_by_fingerprint() {
    let capture = sessionscope::testing::capture();
    let store = Counting::new(seeded_store());
    let server = TestServer::start(app(&store)).await;
    let response = server
        .post("/step")
        .header("x-session-id", "s-bob")
        .json(&serde_json::json!({"sessionId": "s-alice"}))
        .send()
        .await
        .unwrap();
    let correlation_id = correlation_header(&response);
    let seen: Seen = response.json().await.unwrap();
    assert_eq!((seen.source.as_deref(), seen.user_id.as_deref()), (Some("header"), Some("bob")));
    assert_eq!(store.calls(), 1, "only the winning id is looked up");

    let events = capture.events_for(&correlation_id);
    let conflict = events
        .iter()
        .find(|e| e.level == tracing::Level::WARN && e.field("ignored_source") == Some("typed_body"))
        .expect("a warning records the conflict");
    assert_eq!(conflict.field("kept_source"), Some("header"));
    assert_eq!(conflict.field("kept_fingerprint"), Some(Fingerprint::of("s-bob").to_string().as_str()));
    assert_eq!(conflict.field("ignored_fingerprint"), Some(Fingerprint::of("s-alice").to_string().as_str()));
    for event in &events {
        let line = event.render();
        assert!(!line.contains("s-alice") && !line.contains("s-bob"), "raw id in a log: {line}");
    }
}

#[tokio::test]
async fn a_missing_body_id_leaves_no_session() {
    let store = Counting::new(seeded_store());
    let server = TestServer::start(app(&store)).await;
    let response = server.post("/step").json(&serde_json::json!({"note": "no id"})).send().await.unwrap();
    let seen: Seen = response.json().await.unwrap();
    assert_eq!((seen.outcome.as_str(), seen.source), ("no_session", None));
    assert_eq!(store.calls(), 0);
}

// Issue 14, item 9: the body is found by its type, however the handler writes it.
mod body_found_by_type {
    use super::*;
    use axum::Json as JsonBody;
    use axum::extract::Query;
    use axum::extract::rejection::JsonRejection;
    use axum::routing::get;
    use macro_common::Seen;

    type StepRequest = Json<Step>;

    #[with_session_context(require_user)]
    async fn optional(_body: Option<Json<Step>>) -> Json<Seen> {
        Seen::now()
    }

    #[with_session_context(require_user)]
    async fn result(_body: Result<Json<Step>, JsonRejection>) -> Json<Seen> {
        Seen::now()
    }

    #[with_session_context(require_user)]
    async fn renamed(JsonBody(_body): JsonBody<Step>) -> Json<Seen> {
        Seen::now()
    }

    #[with_session_context(require_user)]
    async fn aliased(_body: StepRequest) -> Json<Seen> {
        Seen::now()
    }

    #[derive(serde::Deserialize, sessionscope::SessionIdSource)]
    struct Page {
        #[session_id]
        sid: Option<String>,
    }

    // Item 11: a marked query before other extractors is a source, not the body.
    #[with_session_context(require_user)]
    async fn marked_query(#[session_body] _page: Query<Page>, _headers: axum::http::HeaderMap) -> Json<Seen> {
        Seen::now()
    }

    // An unmarked `Query` in the last position is not a body: it is never read, so query
    // ids stay where the sources put them (a layer's `without_query` holds).
    #[with_session_context(require_user)]
    async fn query_last(_headers: axum::http::HeaderMap, _page: Query<Page>) -> Json<Seen> {
        Seen::now()
    }

    // Item 10: a body of a type no one can derive on, opted out.
    #[with_session_context]
    async fn opted_out(#[session_body(none)] Json(items): Json<Vec<serde_json::Value>>) -> Json<Seen> {
        tracing::info!(items = items.len(), "import");
        Seen::now()
    }

    fn app(store: &Counting<sessionscope::MemoryStore>) -> Router {
        Router::new()
            .route("/optional", post(optional))
            .route("/result", post(result))
            .route("/renamed", post(renamed))
            .route("/aliased", post(aliased))
            .route("/marked", get(marked_query))
            .route("/query-last", get(query_last))
            .route("/opted-out", post(opted_out))
            .layer(Extension(SharedLookup::new(store.clone())))
    }

    #[tokio::test]
    async fn body_found_by_type_in_every_written_form() {
        let store = Counting::new(seeded_store());
        let server = TestServer::start(app(&store)).await;
        for path in ["/optional", "/result", "/renamed", "/aliased"] {
            let body = serde_json::json!({"sessionId": "s-alice", "note": path});
            let response = server.post(path).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}: the body's id is read, not a 401");
            let seen: Seen = response.json().await.unwrap();
            assert_eq!(
                (seen.source.as_deref(), seen.user_id.as_deref()),
                (Some("typed_body"), Some("alice")),
                "{path}"
            );
        }
        // No body or a rejected body: no id, so `require_user` answers 401 (not a panic).
        for path in ["/optional", "/result"] {
            let response = server.post(path).body("not json").send().await.unwrap();
            assert_eq!(response.status(), 401, "{path}");
        }
    }

    #[tokio::test]
    async fn session_body_marks_a_source_anywhere() {
        let store = Counting::new(seeded_store());
        let server = TestServer::start(app(&store)).await;
        let response = server.get("/marked?sid=s-bob").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let seen: Seen = response.json().await.unwrap();
        // The query source of the macro itself reads `session_id`, so `sid` is the typed one.
        assert_eq!((seen.source.as_deref(), seen.user_id.as_deref()), (Some("typed_body"), Some("bob")));
    }

    #[tokio::test]
    async fn an_unmarked_query_is_not_read_as_a_body() {
        let store = Counting::new(seeded_store());
        let server = TestServer::start(app(&store)).await;
        let response = server.get("/query-last?sid=s-bob").send().await.unwrap();
        assert_eq!(response.status(), 401, "only `#[session_body]` makes a query a session source");
    }

    #[tokio::test]
    async fn session_body_none_reads_nothing_from_the_body() {
        let store = Counting::new(seeded_store());
        let server = TestServer::start(app(&store)).await;
        let response = server
            .post("/opted-out")
            .header("x-session-id", "s-alice")
            .json(&serde_json::json!([{"session_id": "s-bob"}]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let seen: Seen = response.json().await.unwrap();
        assert_eq!((seen.source.as_deref(), seen.user_id.as_deref()), (Some("header"), Some("alice")));
    }
}
