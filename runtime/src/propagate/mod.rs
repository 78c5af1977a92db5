//! Carrying the request context on outgoing calls, so the next service continues it.
//!
//! The receiving service's [`SessionContextLayer`](crate::layer::SessionContextLayer) takes the
//! correlation id from `x-correlation-id` and the session from `x-session-id`, and looks the
//! user up in the store both services share: one user action can be followed across services.
//! With feature `opentelemetry`, W3C `traceparent` and `baggage` (holding the correlation id)
//! travel too, so the receiving request span joins the caller's trace.

use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName, HeaderValue};
use tower_layer::Layer;
use tower_service::Service;

#[cfg(feature = "opentelemetry")]
mod otel;

use crate::context::RequestContext;
use crate::ids::CORRELATION_ID_HEADER;

/// The header the session id travels in when [`Propagation::with_session_id`] is set.
pub const SESSION_ID_HEADER: &str = "x-session-id";

/// Which parts of the context go out with a call.
///
/// By default only the correlation id (and, with feature `opentelemetry`, the trace context
/// and baggage). The session id is opt-in: it is a credential, so send it only to services
/// you trust with it. Headers already present are never replaced.
///
/// ```
/// use http::HeaderMap;
/// use sessionscope::propagate::Propagation;
/// use sessionscope::{RequestContext, SessionId, SessionSource};
///
/// let ctx = RequestContext::builder()
///     .session(SessionId::parse("s-1").unwrap(), SessionSource::Header)
///     .build();
/// let mut headers = HeaderMap::new();
/// Propagation::new().with_session_id().inject(&ctx, &mut headers);
/// assert_eq!(headers["x-correlation-id"], ctx.correlation_id().as_str());
/// assert_eq!(headers["x-session-id"], "s-1");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Propagation {
    session_header: Option<HeaderName>,
}

impl Propagation {
    /// Propagates the correlation id only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also sends the raw session id in `x-session-id`.
    pub fn with_session_id(self) -> Self {
        Self { session_header: Some(HeaderName::from_static(SESSION_ID_HEADER)) }
    }

    /// Also sends the raw session id, in the header called `name`.
    ///
    /// # Panics
    /// If `name` is not a valid header name.
    pub fn session_header(self, name: &str) -> Self {
        Self { session_header: Some(HeaderName::try_from(name).expect("a valid header name")) }
    }

    /// Writes `ctx` into `headers`, leaving headers that are already set alone.
    pub fn inject(&self, ctx: &RequestContext, headers: &mut HeaderMap) {
        insert_absent(headers, HeaderName::from_static(CORRELATION_ID_HEADER), ctx.correlation_id().as_str());
        if let (Some(name), Some(id)) = (&self.session_header, ctx.session_id()) {
            insert_absent(headers, name.clone(), id.expose());
        }
        #[cfg(feature = "opentelemetry")]
        otel::inject(ctx, headers);
    }

    /// Writes the current request's context into `headers`; returns `false` (and writes
    /// nothing) outside a request.
    pub fn inject_current(&self, headers: &mut HeaderMap) -> bool {
        crate::scope::with_current(|ctx| ctx.map(|ctx| self.inject(ctx, headers)).is_some())
    }
}

/// Writes the current request's correlation id into `headers` (see [`Propagation`] for
/// more); returns `false` outside a request.
///
/// ```
/// # async fn run() {
/// use sessionscope::RequestContext;
///
/// let ctx = RequestContext::builder().build();
/// let expected = ctx.correlation_id().clone();
/// let headers = sessionscope::scope(ctx, async {
///     let mut headers = http::HeaderMap::new();
///     assert!(sessionscope::propagate::inject_current(&mut headers));
///     headers
/// })
/// .await;
/// assert_eq!(headers["x-correlation-id"], expected.as_str());
/// # }
/// ```
pub fn inject_current(headers: &mut HeaderMap) -> bool {
    Propagation::new().inject_current(headers)
}

fn insert_absent(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if headers.contains_key(&name) {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// A tower layer for HTTP clients: every request made inside a request context carries it.
///
/// Works with any client service over `http::Request<B>`; requests made outside a request
/// context pass unchanged.
///
/// ```
/// # async fn run() {
/// use sessionscope::RequestContext;
/// use sessionscope::propagate::{PropagateContextLayer, Propagation};
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// // Stands in for a real HTTP client service.
/// let client = service_fn(|req: http::Request<()>| async move {
///     Ok::<_, std::convert::Infallible>(req.headers().get("x-correlation-id").cloned())
/// });
/// let mut client = PropagateContextLayer::new(Propagation::new()).layer(client);
///
/// let ctx = RequestContext::builder().build();
/// let expected = ctx.correlation_id().clone();
/// let sent = sessionscope::scope(ctx, async move {
///     client.ready().await.unwrap().call(http::Request::new(())).await.unwrap()
/// })
/// .await;
/// assert_eq!(sent.unwrap(), expected.as_str());
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct PropagateContextLayer {
    propagation: Propagation,
}

impl PropagateContextLayer {
    /// A layer that injects what `propagation` selects.
    pub fn new(propagation: Propagation) -> Self {
        Self { propagation }
    }
}

impl<S> Layer<S> for PropagateContextLayer {
    type Service = PropagateContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateContextService { inner, propagation: self.propagation.clone() }
    }
}

/// The client service [`PropagateContextLayer`] wraps.
#[derive(Debug, Clone)]
pub struct PropagateContextService<S> {
    inner: S,
    propagation: Propagation,
}

impl<S, B> Service<http::Request<B>> for PropagateContextService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        // `call` runs in the caller's task, where the request context is current.
        self.propagation.inject_current(req.headers_mut());
        self.inner.call(req)
    }
}

/// Carries the current request context on a reqwest call (feature `reqwest`).
///
/// The context's headers replace same-named headers set earlier on the builder, so set a
/// header of your own after this call only if you mean to send both values.
///
/// ```no_run
/// # async fn run() -> Result<(), reqwest::Error> {
/// use sessionscope::propagate::{Propagation, RequestBuilderExt};
///
/// let client = reqwest::Client::new();
/// // Inside a request handler:
/// let answer = client.get("http://127.0.0.1:8081/orders").with_context().send().await?;
/// let with_session =
///     client.get("http://127.0.0.1:8081/cart").with_context_using(&Propagation::new().with_session_id());
/// # Ok(()) }
/// ```
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub trait RequestBuilderExt: Sized {
    /// Adds the current correlation id (and trace context with feature `opentelemetry`).
    fn with_context(self) -> Self {
        self.with_context_using(&Propagation::new())
    }

    /// Adds what `propagation` selects from the current context.
    fn with_context_using(self, propagation: &Propagation) -> Self;
}

#[cfg(feature = "reqwest")]
impl RequestBuilderExt for reqwest::RequestBuilder {
    fn with_context_using(self, propagation: &Propagation) -> Self {
        let mut headers = HeaderMap::new();
        if propagation.inject_current(&mut headers) { self.headers(headers) } else { self }
    }
}

/// Carries the current request context on every call of a reqwest-middleware client
/// (feature `reqwest-middleware`): no call site has to remember it.
///
/// Calls made inside a request get the headers [`Propagation`] selects (the correlation id by
/// default); headers the call sets itself are kept. Calls made outside a request pass
/// unchanged.
///
/// ```
/// use sessionscope::propagate::{PropagateContextMiddleware, Propagation};
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(PropagateContextMiddleware::new())
///     .build();
/// // Only for services trusted with the session id:
/// let trusted = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(PropagateContextMiddleware::using(Propagation::new().with_session_id()))
///     .build();
/// # drop((client, trusted));
/// ```
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
#[derive(Debug, Clone, Default)]
pub struct PropagateContextMiddleware {
    propagation: Propagation,
}

#[cfg(feature = "reqwest-middleware")]
impl PropagateContextMiddleware {
    /// Propagates the correlation id (and the trace context with feature `opentelemetry`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Propagates what `propagation` selects.
    pub fn using(propagation: Propagation) -> Self {
        Self { propagation }
    }
}

#[cfg(feature = "reqwest-middleware")]
#[async_trait::async_trait]
impl reqwest_middleware::Middleware for PropagateContextMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        // Runs in the caller's task, where its request context is current.
        self.propagation.inject_current(request.headers_mut());
        next.run(request, extensions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SessionSource;
    use crate::ids::SessionId;

    fn ctx_with_session() -> std::sync::Arc<RequestContext> {
        RequestContext::builder().session(SessionId::parse("s-42").unwrap(), SessionSource::Header).build()
    }

    #[test]
    fn the_session_id_is_sent_only_when_asked() {
        let ctx = ctx_with_session();
        let mut plain = HeaderMap::new();
        Propagation::new().inject(&ctx, &mut plain);
        assert!(plain.contains_key(CORRELATION_ID_HEADER));
        assert!(!plain.contains_key(SESSION_ID_HEADER));

        let mut custom = HeaderMap::new();
        Propagation::new().session_header("x-sid").inject(&ctx, &mut custom);
        assert_eq!(custom["x-sid"], "s-42");
    }

    #[test]
    fn headers_already_set_win() {
        let ctx = ctx_with_session();
        let mut headers = HeaderMap::new();
        headers.insert(CORRELATION_ID_HEADER, HeaderValue::from_static("mine"));
        Propagation::new().inject(&ctx, &mut headers);
        assert_eq!(headers[CORRELATION_ID_HEADER], "mine");
    }

    #[test]
    fn nothing_is_written_outside_a_request() {
        let mut headers = HeaderMap::new();
        assert!(!inject_current(&mut headers));
        assert!(headers.is_empty());
    }
}
