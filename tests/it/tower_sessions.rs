//! Feature `tower-sessions`: a service that already runs tower-sessions and axum-login gives
//! sessionscope its sessions. A real login over HTTP, then requests whose every line carries
//! the signed-in user; the same store read by both; and a tower-sessions Redis store on a
//! real `redis-server`.

use crate::common;

use std::collections::HashMap;
use std::convert::Infallible;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum_login::{AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend, UserId};
use common::{TestServer, correlation_header};
use sessionscope::SessionContextLayer;
use sessionscope::lookup::{TOWER_SESSIONS_COOKIE, TowerSessionsLookup};
use sessionscope::testing::Capture;
use tower_sessions::{MemoryStore, SessionManagerLayer, SessionStore};
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(Clone, Debug)]
struct User {
    id: i64,
    password: String,
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password.as_bytes()
    }
}

/// Two users, by name: alice (42) and bob (7).
#[derive(Clone)]
struct Users(HashMap<String, User>);

impl Users {
    fn new() -> Self {
        let user = |id, password: &str| User { id, password: password.to_owned() };
        Self(HashMap::from([("alice".to_owned(), user(42, "wonderland")), ("bob".to_owned(), user(7, "builder"))]))
    }
}

#[derive(Clone, serde::Deserialize)]
struct Credentials {
    name: String,
    password: String,
}

impl AuthnBackend for Users {
    type User = User;
    type Credentials = Credentials;
    type Error = Infallible;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, Infallible> {
        Ok(self.0.get(&creds.name).filter(|user| user.password == creds.password).cloned())
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Infallible> {
        Ok(self.0.values().find(|user| user.id == *id).cloned())
    }
}

async fn login(mut auth: AuthSession<Users>, axum::Json(creds): axum::Json<Credentials>) -> StatusCode {
    match auth.authenticate(creds).await {
        Ok(Some(user)) if auth.login(&user).await.is_ok() => StatusCode::OK,
        _ => StatusCode::UNAUTHORIZED,
    }
}

mod orders {
    pub async fn list() -> usize {
        tracing::info!("listing orders");
        3
    }
}

async fn logout(mut auth: AuthSession<Users>) -> StatusCode {
    match auth.logout().await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn me(auth: AuthSession<Users>) -> String {
    tracing::info!("who am I");
    let count = orders::list().await;
    let logged_in = auth.user.map(|u| u.id.to_string()).unwrap_or_default();
    format!("{} {logged_in} {count}", sessionscope::user_id().unwrap_or_default())
}

/// The session cookie a response sets, as `id=value` for the next request.
fn session_cookie(response: &reqwest::Response) -> String {
    let set_cookie = response.headers().get("set-cookie").expect("a session cookie").to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn after_an_axum_login_every_line_carries_the_user() {
    let (capture, capture_layer) = Capture::new();
    // This test's own subscriber, for its thread: the server runs on the test's runtime.
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture_layer));

    let store = MemoryStore::default();
    // Plain http on loopback: the cookie must not be `Secure`-only for this client to send it.
    let sessions = SessionManagerLayer::new(store.clone()).with_secure(false);
    let auth = AuthManagerLayerBuilder::new(Users::new(), sessions).build();
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .layer(auth)
        .layer(SessionContextLayer::new(TowerSessionsLookup::new(store)).cookie(TOWER_SESSIONS_COOKIE));
    let srv = TestServer::start(app).await;

    let refused = srv.post("/login").json(&serde_json::json!({"name": "alice", "password": "nope"})).send();
    assert_eq!(refused.await.unwrap().status(), 401);

    let response = srv
        .post("/login")
        .header("x-correlation-id", "ts-login")
        .json(&serde_json::json!({"name": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = session_cookie(&response);
    assert!(cookie.starts_with("id="), "{cookie}");
    // The login request itself: its summary follows the cookie tower-sessions set.
    let events = capture.events_for("ts-login");
    let summary = events.iter().find(|e| e.message() == "request finished").expect("a summary");
    assert_eq!(summary.field("user.id"), Some("42"), "{}", summary.render());
    assert_eq!(summary.field("session.source"), Some("bound"));
    let fingerprint = sessionscope::Fingerprint::of(cookie.trim_start_matches("id=")).to_string();
    assert_eq!(summary.field("session.id"), Some(fingerprint.as_str()));

    let response = srv.get("/me").header("cookie", &cookie).header("x-correlation-id", "ts-me-1").send().await.unwrap();
    assert_eq!(correlation_header(&response), "ts-me-1");
    assert_eq!(response.text().await.unwrap(), "42 42 3", "sessionscope and axum-login agree on the user");
    let events = capture.events_for("ts-me-1");
    let messages: Vec<&str> = events.iter().map(|e| e.message()).collect();
    for expected in ["who am I", "listing orders", "request finished"] {
        assert!(messages.contains(&expected), "{expected:?} missing from {messages:?}");
    }
    let raw_id = cookie.trim_start_matches("id=");
    for event in &events {
        assert_eq!(event.field("user.id"), Some("42"), "{}", event.render());
        assert_eq!(event.field("session.id"), Some(sessionscope::Fingerprint::of(raw_id).to_string().as_str()));
        assert!(!event.render().contains(raw_id), "the raw session id is never logged");
    }
    assert_eq!(
        events.iter().find(|e| e.message() == "request finished").unwrap().field("session.source"),
        Some("cookie")
    );

    // Logging out: the summary of the logout request says the session ended.
    let out = srv.post("/logout").header("cookie", &cookie).header("x-correlation-id", "ts-logout").send();
    assert_eq!(out.await.unwrap().status(), 200);
    let events = capture.events_for("ts-logout");
    let summary = events.iter().find(|e| e.message() == "request finished").expect("a summary");
    assert_eq!(summary.field("lookup.outcome"), Some("ended"), "{}", summary.render());

    // Issue 13, item 6: a top-level entry of the session data is an attribute, and a
    // custom field when the layer says so.
    let store_with_fields = MemoryStore::default();
    let sessions = SessionManagerLayer::new(store_with_fields.clone()).with_secure(false);
    let auth = AuthManagerLayerBuilder::new(Users::new(), sessions).build();
    async fn tenant(session: tower_sessions::Session) -> String {
        session.insert("tenant", "acme").await.unwrap();
        sessionscope::current().and_then(|ctx| ctx.field("tenant.id").map(str::to_owned)).unwrap_or_default()
    }
    let app = Router::new().route("/login", post(login)).route("/tenant", get(tenant)).layer(auth).layer(
        SessionContextLayer::new(TowerSessionsLookup::new(store_with_fields))
            .cookie(TOWER_SESSIONS_COOKIE)
            .field_from_session("tenant", "tenant.id"),
    );
    let fields_srv = TestServer::start(app).await;
    let response = fields_srv.post("/login").json(&serde_json::json!({"name": "alice", "password": "wonderland"}));
    let cookie = session_cookie(&response.send().await.unwrap());
    let first = fields_srv.get("/tenant").header("cookie", &cookie).send().await.unwrap();
    assert_eq!(first.text().await.unwrap(), "", "the entry is written by this request, after the lookup");
    let second = fields_srv.get("/tenant").header("cookie", &cookie).send().await.unwrap();
    assert_eq!(second.text().await.unwrap(), "acme", "the next request reads it from the store");

    // Without the cookie, or with one tower-sessions never issued: no user.
    let anonymous = srv.get("/me").header("x-correlation-id", "ts-me-2").send().await.unwrap();
    assert_eq!(anonymous.text().await.unwrap(), "  3", "no user, and axum-login agrees");
    let forged = srv.get("/me").header("cookie", "id=AAAAAAAAAAAAAAAAAAAAAA").send().await.unwrap();
    assert_eq!(forged.text().await.unwrap(), "  3");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_tower_sessions_redis_store_on_a_real_redis_server() {
    use tower_sessions_redis_store::RedisStore;
    use tower_sessions_redis_store::fred::prelude::{ClientLike as _, Config, Pool};

    let Some(redis) = crate::redis_support::start() else { return };
    let pool = Pool::new(Config::from_url(&redis.url()).unwrap(), None, None, None, 1).unwrap();
    let _connection = pool.connect();
    pool.wait_for_connect().await.unwrap();
    let store = RedisStore::new(pool);

    // A session as axum-login leaves it after a login, saved the way tower-sessions saves it.
    let mut record = tower_sessions::session::Record {
        id: tower_sessions::session::Id::default(),
        data: HashMap::from([("axum-login.data".to_owned(), serde_json::json!({"user_id": 7, "auth_hash": [1]}))]),
        expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
            + tower_sessions::cookie::time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();

    let app = Router::new()
        .route("/who", get(|| async { sessionscope::user_id().unwrap_or_default() }))
        .layer(SessionContextLayer::new(TowerSessionsLookup::new(store.clone())).cookie(TOWER_SESSIONS_COOKIE));
    let srv = TestServer::start(app).await;
    let cookie = format!("id={}", record.id);
    let answer = srv.get("/who").header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert_eq!(answer, "7");

    // Deleted in the store: the next request has no user.
    store.delete(&record.id).await.unwrap();
    let answer = srv.get("/who").header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert_eq!(answer, "");
}
