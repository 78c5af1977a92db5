//! The services the benches compare, built the same way for every bench binary.
#![allow(dead_code, missing_docs)]

use std::time::Duration;

use axum::body::Body;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::{HeaderValue, Request};
use serde::Deserialize;
use sessionscope::{
    CachedLookup, MemoryStore, SessionContextLayer, SessionId, SessionIdSource, SessionRecord, SharedLookup,
    with_session_context,
};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub const SESSION: &str = "bench-session-0123456789abcdef";

async fn hello() -> &'static str {
    "ok"
}

async fn hello_body(body: axum::body::Bytes) -> String {
    body.len().to_string()
}

/// The body `json_body` makes, as a handler would declare it.
#[derive(Deserialize, SessionIdSource)]
pub struct TypedBody {
    #[session_id]
    session_id: String,
    items: Vec<Item>,
    note: String,
}

#[derive(Deserialize)]
struct Item {
    id: i64,
    #[serde(default)]
    name: Option<String>,
}

fn summarize(body: &TypedBody) -> String {
    let ids: i64 = body.items.iter().map(|i| i.id).sum();
    let names = body.items.iter().filter(|i| i.name.is_some()).count();
    format!("{} {ids} {names} {}", body.session_id.len(), body.note.len())
}

async fn typed_plain(Json(body): Json<TypedBody>) -> String {
    summarize(&body)
}

#[with_session_context]
async fn typed_macro(Json(body): Json<TypedBody>) -> String {
    summarize(&body)
}

/// Routes as a served app has them: `with_state` turns handlers into services once, the way
/// `axum::serve` does, instead of on every `oneshot` call.
fn served(router: Router) -> Router {
    router.with_state(())
}

pub fn bare() -> Router {
    served(Router::new().route("/r", get(hello).post(hello_body)).route("/t", post(typed_plain)))
}

/// `#[with_session_context]` alone: the id comes from the typed body, the store from an
/// extension.
pub fn macro_only() -> Router {
    served(Router::new().route("/t", post(typed_macro)).layer(Extension(SharedLookup::new(store()))))
}

/// The layer and the macro together.
pub fn layer_and_macro() -> Router {
    served(Router::new().route("/t", post(typed_macro)).layer(SessionContextLayer::new(store())))
}

/// What services use today: request id set, propagated, and a trace span per request.
pub fn tower_http_stack() -> Router {
    served(
        bare()
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(TraceLayer::new_for_http())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid)),
    )
}

pub fn store() -> CachedLookup<MemoryStore> {
    let store = MemoryStore::new();
    store.insert(&SessionId::parse(SESSION).unwrap(), SessionRecord::for_user("bench-user"), Duration::from_secs(3600));
    CachedLookup::new(store)
}

pub fn layered() -> Router {
    served(bare().layer(SessionContextLayer::new(store())))
}

/// The layer with its summary line switched off.
pub fn layered_summary_off() -> Router {
    served(bare().layer(SessionContextLayer::new(store()).summary(sessionscope::request::Summary::Off)))
}

// Header values as a server hands them on: hyper parses them as slices of the connection's
// read buffer, and cloning one only counts a reference. A static value clones the same way;
// one made with `HeaderValue::from_str` would allocate on its first clone, which a served
// request never does.
pub fn get_with_header() -> Request<Body> {
    Request::get("/r").header("x-session-id", HeaderValue::from_static(SESSION)).body(Body::empty()).unwrap()
}

/// A session header and the caller's own correlation id.
pub fn get_with_header_and_correlation_id() -> Request<Body> {
    Request::get("/r")
        .header("x-session-id", HeaderValue::from_static(SESSION))
        .header("x-correlation-id", HeaderValue::from_static("caller-7f3a9c2e-0b41-4d8e"))
        .body(Body::empty())
        .unwrap()
}

pub fn get_without_session() -> Request<Body> {
    Request::get("/r").body(Body::empty()).unwrap()
}

/// A JSON body of `size` bytes with the session id as its first field.
pub fn json_body(size: usize) -> Vec<u8> {
    let mut body = format!(r#"{{"session_id":"{SESSION}","items":["#).into_bytes();
    let mut n = 0;
    // Leave room for the closing fields below, so the padding never cuts into an item.
    while body.len() + 80 < size {
        body.extend_from_slice(format!(r#"{{"id":{n},"name":"item-{n}","ok":true}},"#).as_bytes());
        n += 1;
    }
    body.extend_from_slice(br#"{"id":-1}],"note":""#);
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    assert_eq!(body.len(), size);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok(), "the bench body is valid JSON");
    body
}

pub fn post_json(body: &'static [u8]) -> Request<Body> {
    post_json_to("/r", body)
}

pub fn post_typed(body: &'static [u8]) -> Request<Body> {
    post_json_to("/t", body)
}

fn post_json_to(path: &str, body: &'static [u8]) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(Body::from(body))
        .unwrap()
}
