//! Procedural macros for sessionscope: `#[with_session_context]` and
//! `#[derive(SessionIdSource)]`.
//!
//! Use them through the `sessionscope` crate, which re-exports both and documents them; the
//! code they generate names runtime items only through `::sessionscope::__private` (or the
//! path given with `crate = ...`).

mod errors;
mod handler;
mod source;

use proc_macro::TokenStream;

/// Runs an axum handler inside the request context: its body, the functions it calls, its
/// `IntoResponse` (error types included) and every event they log see the same
/// [`RequestContext`](../sessionscope/struct.RequestContext.html) and carry its fields.
///
/// ```
/// use axum::{Json, Router, routing::post};
/// use serde::Deserialize;
/// use sessionscope::{SessionIdSource, SharedLookup, MemoryStore, with_session_context};
///
/// #[derive(Deserialize, SessionIdSource)]
/// struct CreateInvestigation {
///     #[session_id]
///     session_id: String,
///     #[investigation_id]
///     investigation_id: Option<String>,
///     title: String,
/// }
///
/// /// Opens an investigation for the signed-in user.
/// #[with_session_context(require_user, operation = "create_investigation", phase = "planning")]
/// async fn create(Json(body): Json<CreateInvestigation>) -> String {
///     let user = sessionscope::user_id().expect("require_user guarantees a user");
///     tracing::info!(title = %body.title, "creating"); // carries session, user, phase
///     format!("{user} opened {}", body.title)
/// }
///
/// let store = MemoryStore::new();
/// let app: Router = Router::new()
///     .route("/investigations", post(create))
///     // Without `SessionContextLayer`, the macro finds the store in this extension.
///     .layer(axum::Extension(SharedLookup::new(store)));
/// ```
///
/// # What it does, per request
///
/// 1. **Context.** With [`SessionContextLayer`](../sessionscope/struct.SessionContextLayer.html)
///    on the router, the handler uses the layer's context: no second lookup. Without it, the
///    macro builds the context itself with the layer's defaults (correlation id from
///    `x-correlation-id`/`x-request-id` or a new one, HTTP attributes, the `request` span),
///    echoes `x-correlation-id` on the response and emits the summary event.
/// 2. **Session id.** Header `x-session-id`, then query `session_id` (the layer's cookie and
///    body-peek sources when the layer is installed), then the **typed body**: the handler's
///    body argument, read after axum deserialized it, so the body is never parsed twice. The
///    first valid id wins; when the typed body disagrees with a higher source, a warning
///    records both fingerprints.
/// 3. **Lookup.** Through the layer's store and timeout when the layer is installed (only
///    when the layer found no id itself), else through the [`SharedLookup`](../sessionscope/struct.SharedLookup.html)
///    found in the request extensions (`Router::layer(Extension(SharedLookup::new(store)))`)
///    with the default timeout. With no store anywhere, a found id gets the outcome `skipped`.
/// 4. **Policy.** `require_session` answers 401 without a session id (400 when the id was
///    malformed); `require_user` also answers 401 when the session is unknown or anonymous
///    and 503 when the store failed or timed out. Each is a small JSON body carrying the
///    correlation id.
/// 5. **Scope.** The handler runs inside the context's task-local scope, in a span named
///    after the handler (or `operation`), a child of the `request` span; its output is turned
///    into a response inside that scope.
///
/// # Options
///
/// | option | effect |
/// |---|---|
/// | `require_session` | 401 (400 for a malformed id) when the request has no valid session id |
/// | `require_user` | also 401 when the session has no user, 503 when the store failed or timed out |
/// | `operation = "name"` | names the operation span and the request span's `operation` field (default: the function name) |
/// | `level = "debug"` | level of the operation span: `trace`, `debug`, `info` (default), `warn`, `error` |
/// | `phase = "planning"` | initial agent phase, as if the handler called `set_agent_phase` first |
/// | `crate = path` | where the runtime crate is, for a service that renamed the dependency |
///
/// Unknown and repeated options are compile errors.
///
/// # Where the typed session id comes from
///
/// The macro finds the body by its type, not by how it is written:
///
/// - **The request body** (the last argument, through which axum reads the body) is read
///   when its type implements [`SessionIdSource`](../sessionscope/trait.SessionIdSource.html):
///   `Json<T>`, `Option<Json<T>>`, `Result<Json<T>, JsonRejection>`, a type alias of one, a
///   renamed `Json`, `serde_json::Value` in any of these. Derive `SessionIdSource` on `T`.
///   Only request bodies are read this way: a `Query` in the last position is read only when
///   marked, so query-string ids stay off where the layer turned them off.
/// - A body **written** `Json<T>` (or an `Option` or `Result` of one) must have a `T` that
///   implements it: forgetting the derive is a compile error, never a silent 401. A body that
///   carries no session id says so with `#[session_body(none)]`:
///
/// ```
/// # use axum::Json;
/// # use sessionscope::with_session_context;
/// #[with_session_context]
/// async fn import(#[session_body(none)] Json(items): Json<Vec<String>>) -> String {
///     items.len().to_string()
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::post(import));
/// ```
///
/// - **Another extractor** whose type implements `SessionIdSource` (`Query<T>`, one of your
///   own), in any position, is read when marked `#[session_body]` (one argument at most):
///
/// ```
/// # use axum::extract::Query;
/// # use sessionscope::{SessionIdSource, with_session_context};
/// #[derive(serde::Deserialize, SessionIdSource)]
/// struct Page {
///     #[session_id]
///     sid: Option<String>,
/// }
///
/// #[with_session_context]
/// async fn list(#[session_body] page: Query<Page>, headers: axum::http::HeaderMap) -> String {
///     page.0.sid.unwrap_or_default()
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(list));
/// ```
///
/// Typed ids rank after the header, query, cookie and body-peek sources, in argument order;
/// disagreeing ids are logged with both fingerprints.
///
/// # The generated handler
///
/// It keeps the name, visibility, attributes, doc comments and number of arguments; the
/// function as written becomes an inner function called with the same arguments. The
/// wrapper takes [`ContextEntry`](../sessionscope/handler/struct.ContextEntry.html) paired
/// with its first argument, `(ContextEntry, First)` (alone when it has none), and returns
/// `axum::response::Response`. An unused handler is still reported by `dead_code`.
///
/// `#[axum::debug_handler]` works above or below `#[with_session_context]`, and
/// `#[tracing::instrument]` below it instruments the function as written (its arguments as
/// you named them, inside the request context). Above, a handler without arguments is the
/// one exception to `debug_handler`: it counts the one argument the wrapper takes; write it
/// below there.
///
/// A rejection by one of the handler's own extractors (a malformed JSON body, say) is sent
/// by axum before the handler runs: without the layer, that response has no
/// `x-correlation-id`. Install `SessionContextLayer` to cover every response.
///
/// # Testing a handler
///
/// The handler is an axum handler: call it with a request through axum's
/// [`Handler::call`](https://docs.rs/axum/latest/axum/handler/trait.Handler.html#tymethod.call).
/// Without a layer it opens the context itself, so headers and a store put in the
/// request's extensions behave as in a running service:
///
/// ```
/// use std::time::Duration;
/// use axum::body::Body;
/// use axum::handler::Handler as _;
/// use axum::http::Request;
/// use sessionscope::{MemoryStore, SessionRecord, SharedLookup, with_session_context};
///
/// #[with_session_context(require_user)]
/// async fn whoami() -> String {
///     sessionscope::user_id().unwrap_or_default().to_string()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = MemoryStore::new();
/// let session = store.create(SessionRecord::for_user("alice"), Duration::from_secs(60));
///
/// // No session id: `require_user` answers 401.
/// let response = whoami.call(Request::new(Body::empty()), ()).await;
/// assert_eq!(response.status(), 401);
///
/// let mut request = Request::builder()
///     .header("x-session-id", session.expose())
///     .header("x-correlation-id", "test-1")
///     .body(Body::empty())
///     .unwrap();
/// request.extensions_mut().insert(SharedLookup::new(store));
/// let response = whoami.call(request, ()).await;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["x-correlation-id"], "test-1");
/// # }
/// ```
#[proc_macro_attribute]
pub fn with_session_context(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}

/// Implements `SessionIdSource` for a request body struct: `#[session_id]` marks the field that
/// carries the session id, `#[investigation_id]` (optional) the investigation id.
///
/// Fields may be `String`, `&str`, `Cow<str>`, `Box<str>`, `Arc<str>`, `Rc<str>`, an `Option`
/// of one, or any type implementing
/// [`SessionIdField`](../sessionscope/trait.SessionIdField.html). Named and tuple structs,
/// generics and lifetimes work; serde attributes do not matter (a field renamed with
/// `#[serde(rename = "sessionId")]` is still the session id). `#[sessionscope(crate = path)]`
/// names a renamed runtime crate.
///
/// ```
/// use std::borrow::Cow;
/// use sessionscope::SessionIdSource;
///
/// #[derive(serde::Deserialize, SessionIdSource)]
/// struct Step<'a> {
///     #[serde(rename = "sessionId", borrow)]
///     #[session_id]
///     session: Cow<'a, str>,
///     #[investigation_id]
///     investigation: Option<String>,
/// }
///
/// let step: Step = serde_json::from_str(r#"{"sessionId":"s-1","investigation":null}"#).unwrap();
/// assert_eq!(step.session_id(), Some("s-1"));
/// ```
#[proc_macro_derive(SessionIdSource, attributes(session_id, investigation_id, sessionscope))]
pub fn derive_session_id_source(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    source::expand(&input).into()
}
