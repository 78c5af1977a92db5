//! The layer and its settings.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use tower_layer::Layer;

use super::service::{SessionContextService, Shared};
use crate::lookup::SessionLookup;
use crate::request::{Config, Summary};

/// A tower layer that gives every request its [`RequestContext`](crate::context::RequestContext):
/// an axum `Router`, a tonic server, or any tower service over `http::Request<B>`.
///
/// For each request it takes the correlation id (or makes one), finds the session id
/// (header `x-session-id`, query `session_id`, cookie when enabled, JSON body field
/// `session_id`), looks the user up through the store within a timeout, and runs the rest of
/// the stack inside the context and its `request` span. Every response carries
/// `x-correlation-id`.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use sessionscope::{CachedLookup, MemoryStore, SessionContextLayer};
///
/// async fn hello() -> String {
///     let user = sessionscope::user_id().unwrap_or_else(|| "stranger".into());
///     format!("hello, {user}")
/// }
///
/// let store = MemoryStore::new();
/// let app: Router = Router::new()
///     .route("/hello", get(hello))
///     .layer(
///         SessionContextLayer::new(CachedLookup::new(store))
///             .cookie("sid")
///             .lookup_timeout(Duration::from_millis(100)),
///     );
/// ```
pub struct SessionContextLayer<L> {
    shared: Arc<Shared<L>>,
}

impl<L> Clone for SessionContextLayer<L> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<L> std::fmt::Debug for SessionContextLayer<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionContextLayer").field("config", &self.shared.pipeline.config).finish_non_exhaustive()
    }
}

impl<L: SessionLookup> SessionContextLayer<L> {
    /// A layer that looks sessions up in `lookup`, with the default sources and limits.
    pub fn new(lookup: L) -> Self {
        Self { shared: Arc::new(Shared::new(Arc::new(lookup), Config::default())) }
    }

    fn configure(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.shared.pipeline.config.clone();
        change(&mut config);
        Self { shared: Arc::new(Shared::new(Arc::clone(&self.shared.pipeline.lookup), config)) }
    }

    /// Records the value of request header `header` as the custom field `field` (e.g.
    /// `x-tenant-id` as `tenant.id`): on the context ([`RequestContext::field`](crate::context::RequestContext::field)),
    /// at the top level of every JSON line of the request, and as an attribute of its
    /// OpenTelemetry span. The first value counts; one that is not visible text is left out;
    /// values are escaped and cut to [`MAX_FIELD_VALUE_LEN`](crate::context::MAX_FIELD_VALUE_LEN) bytes.
    ///
    /// A `tracing` span's fields are fixed where it is declared, so the text formatter does
    /// not show custom fields: give it a span of your own with
    /// [`make_span_with`](Self::make_span_with).
    ///
    /// ```
    /// use sessionscope::{MemoryStore, SessionContextLayer};
    ///
    /// let layer = SessionContextLayer::new(MemoryStore::new())
    ///     .field_from_header("x-tenant-id", "tenant.id")
    ///     .field_from_session("org", "org.id");
    /// # drop(layer);
    /// ```
    ///
    /// # Panics
    /// If `header` is not a valid header name, `field` is refused by
    /// [`check_field_name`](crate::context::check_field_name) or already configured, or the
    /// layer has [`MAX_CUSTOM_FIELDS`](crate::context::MAX_CUSTOM_FIELDS) fields already.
    pub fn field_from_header(self, header: &str, field: &str) -> Self {
        let header = HeaderName::try_from(header).expect("a valid header name");
        self.configure(|config| config.fields.add_header(header, field))
    }

    /// Records the session record's attribute `attribute`
    /// ([`SessionRecord::with_attribute`](crate::lookup::SessionRecord::with_attribute); a top-level
    /// member of a Redis or tower-sessions record) as the custom field `field`, once the
    /// store answered, wherever [`field_from_header`](Self::field_from_header) records its
    /// fields. A session the handler binds or ends has none.
    ///
    /// # Panics
    /// As [`field_from_header`](Self::field_from_header), but for `header`.
    pub fn field_from_session(self, attribute: &str, field: &str) -> Self {
        self.configure(|config| config.fields.add_session(attribute, field))
    }

    /// Computes custom fields from the request head with `hook`, after the header fields
    /// (the hook may replace them): the place for anything else, in the spirit of
    /// tower-http's `MakeSpan`. The hook runs once per request before anything is awaited;
    /// keep it cheap. Names [`FieldValues::insert`](crate::context::FieldValues::insert)
    /// refuses are left out.
    ///
    /// ```
    /// use sessionscope::{MemoryStore, SessionContextLayer};
    ///
    /// let layer = SessionContextLayer::new(MemoryStore::new()).fields_with(|head, fields| {
    ///     if let Some(host) = head.uri.host() {
    ///         fields.insert("server.address", host);
    ///     }
    /// });
    /// # drop(layer);
    /// ```
    pub fn fields_with(
        self,
        hook: impl Fn(&http::request::Parts, &mut crate::context::FieldValues) + Send + Sync + 'static,
    ) -> Self {
        let hook: crate::request::fields::FieldsHook = Arc::new(hook);
        self.configure(move |config| config.fields.set_hook(hook))
    }

    /// Makes a span of the service's own for every request, from its head, in the spirit of
    /// tower-http's `MakeSpan`: a child of the request span, entered around the inner service,
    /// so every line the service writes is in it. Its fields are then on those lines in any
    /// formatter, the text one included: the place for fields a `tracing` span must declare
    /// where it is written (custom fields are not, see
    /// [`field_from_header`](Self::field_from_header)), and for anything else.
    ///
    /// ```
    /// use sessionscope::{MemoryStore, SessionContextLayer};
    ///
    /// let layer = SessionContextLayer::new(MemoryStore::new()).make_span_with(|head| {
    ///     let tenant = head.headers.get("x-tenant-id").and_then(|v| v.to_str().ok()).unwrap_or("none");
    ///     tracing::info_span!("tenant", tenant.id = tenant)
    /// });
    /// # drop(layer);
    /// ```
    ///
    /// The request span keeps its own fields, and the summary is written in it, not in this
    /// span. Values taken from headers are the client's: escape them as your formatter needs
    /// (sessionscope's JSON output escapes every string); do not give this span fields the
    /// layer writes itself or records as custom fields, or JSON lines carry them twice.
    pub fn make_span_with(
        self,
        make_span: impl Fn(&http::request::Parts) -> tracing::Span + Send + Sync + 'static,
    ) -> Self {
        let make_span = crate::request::fields::MakeSpan(Arc::new(make_span));
        self.configure(move |config| config.make_span = Some(make_span))
    }

    /// The header the session id is read from (default `x-session-id`).
    ///
    /// # Panics
    /// If `name` is not a valid header name.
    pub fn session_header(self, name: &str) -> Self {
        let name = HeaderName::try_from(name).expect("a valid header name");
        self.configure(|c| c.sources.header = Some(name))
    }

    /// The query parameter the session id is read from (default `session_id`).
    pub fn query_param(self, name: &str) -> Self {
        self.configure(|c| c.sources.query = Some(name.into()))
    }

    /// Reads the session id from the cookie called `name` (off by default).
    ///
    /// The layer then also follows that cookie on the way out: a response that sets it to a
    /// new id (a login; tower-sessions and axum-login send one when their layer saves the
    /// session) binds the request to that session, looked up in the store within the lookup
    /// timeout, and one that removes it (an empty value or `Max-Age=0`: a logout) ends the
    /// request's session. The request's summary, written after, says so
    /// (`session.source = "bound"`, or `lookup.outcome = "ended"`) without a call to
    /// [`bind_session`](crate::context::RequestContext::bind_session) in the handler; lines
    /// the handler wrote before the response stay as they were.
    pub fn cookie(self, name: &str) -> Self {
        self.configure(|c| c.sources.cookie = Some(name.into()))
    }

    /// The top-level JSON body field the session id is read from (default `session_id`).
    pub fn body_field(self, name: &str) -> Self {
        self.configure(|c| c.sources.body_field = Some(name.into()))
    }

    /// Never reads the session id from the header.
    pub fn without_header(self) -> Self {
        self.configure(|c| c.sources.header = None)
    }

    /// Never reads the session id from the query string.
    pub fn without_query(self) -> Self {
        self.configure(|c| c.sources.query = None)
    }

    /// Never peeks at request bodies.
    pub fn without_body(self) -> Self {
        self.configure(|c| c.sources.body_field = None)
    }

    /// The largest JSON body peeked for the session id (default 64 KiB). A body declared
    /// larger is not read; one without a declared length that turns out larger reaches the
    /// handler as the bytes read so far followed by the rest of the stream, unchanged.
    pub fn body_peek_limit(self, bytes: usize) -> Self {
        self.configure(|c| c.sources.body_peek_limit = bytes)
    }

    /// How long the layer waits for a JSON body to arrive whole before it goes on without the
    /// body's session id (default 1 s, counted from the start of the request). The handler
    /// then receives what was read followed by the rest of the stream, unchanged, so a client
    /// that stalls cannot hold a request longer than this.
    pub fn body_peek_deadline(self, deadline: Duration) -> Self {
        self.configure(|c| c.sources.body_peek_deadline = deadline)
    }

    /// How long the store may take before the request goes on without a user (default 250 ms).
    pub fn lookup_timeout(self, timeout: Duration) -> Self {
        self.configure(|c| c.timeout = timeout)
    }

    /// The headers an incoming correlation id is taken from, first match wins (default
    /// `x-correlation-id`, then `x-request-id`). Responses always echo `x-correlation-id`.
    ///
    /// # Panics
    /// If a name is not a valid header name.
    pub fn correlation_headers<'a>(self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let names = names.into_iter().map(|n| HeaderName::try_from(n).expect("a valid header name")).collect();
        self.configure(|c| c.correlation_headers = names)
    }

    /// Answers 401 (400 for a malformed id) to requests without a valid session id.
    pub fn require_session(self) -> Self {
        self.configure(|c| c.policy.require_session = true)
    }

    /// Which requests get a summary event, and at which level (default: every request, at
    /// INFO). See [`Summary`].
    pub fn summary(self, summary: Summary) -> Self {
        self.configure(|c| c.summary = summary)
    }

    /// Quiet routes, for health checks and probes: their requests keep the context and the
    /// `x-correlation-id` echo, but write no summary line (whatever their status), and their
    /// request span is at DEBUG. Lines the handler writes itself still appear at their level.
    ///
    /// A route is compared with the route the router matched, when it set one (axum's
    /// `MatchedPath`: write the route as declared, `/health` or `/users/{id}`); else with the
    /// request's path, exactly. Calls add up.
    ///
    /// ```
    /// # use sessionscope::{MemoryStore, SessionContextLayer};
    /// let layer = SessionContextLayer::new(MemoryStore::new()).quiet_routes(["/health", "/ready"]);
    /// # drop(layer);
    /// ```
    pub fn quiet_routes<'a>(self, routes: impl IntoIterator<Item = &'a str>) -> Self {
        self.configure(|c| c.quiet.add_routes(routes))
    }

    /// Quiet requests chosen by a predicate on the request head, in addition to
    /// [`quiet_routes`](Self::quiet_routes). Runs once per request, before the inner service:
    /// keep it cheap.
    ///
    /// ```
    /// # use sessionscope::{MemoryStore, SessionContextLayer};
    /// let layer = SessionContextLayer::new(MemoryStore::new())
    ///     .quiet_when(|head: &http::request::Parts| head.uri.path().starts_with("/internal/"));
    /// # drop(layer);
    /// ```
    pub fn quiet_when(self, predicate: impl Fn(&http::request::Parts) -> bool + Send + Sync + 'static) -> Self {
        self.configure(|c| c.quiet.set_predicate(Arc::new(predicate)))
    }

    /// Takes `client.address` from the proxies' forwarded header, but only through proxies in
    /// `trusted` (CIDR ranges like `10.0.0.0/8`, or single addresses). Off by default: the
    /// connection's peer is the client.
    ///
    /// The walk starts at the connection's peer (so the server must record it: axum's
    /// `into_make_service_with_connect_info::<SocketAddr>()`). While the address at hand is a
    /// trusted proxy, the next one to the left in `header` is taken; the first untrusted one is
    /// the client. An address that cannot be read, or a chain longer than
    /// [`MAX_FORWARDED_HOPS`](crate::request::MAX_FORWARDED_HOPS), stops the walk at the last
    /// trusted hop. Name only the header your proxies write: the other one is the client's to
    /// forge.
    ///
    /// ```
    /// use sessionscope::request::ForwardedHeader;
    /// # use sessionscope::{MemoryStore, SessionContextLayer};
    /// let layer = SessionContextLayer::new(MemoryStore::new())
    ///     .trusted_proxies(ForwardedHeader::XForwardedFor, ["10.0.0.0/8", "192.0.2.10"]);
    /// # drop(layer);
    /// ```
    ///
    /// # Panics
    /// If an entry is neither a CIDR range nor an IP address.
    pub fn trusted_proxies<'a>(
        self,
        header: crate::request::ForwardedHeader,
        trusted: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let ranges = trusted
            .into_iter()
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .unwrap_or_else(|_| panic!("{entry:?} is neither a CIDR range nor an IP address"))
            })
            .collect();
        self.configure(|c| c.proxies = crate::request::forwarded::TrustedProxies::new(header, ranges))
    }

    /// Answers 401 to requests whose session has no user, 503 when the store failed.
    pub fn require_user(self) -> Self {
        self.configure(|c| c.policy.require_user = true)
    }
}

impl<S, L> Layer<S> for SessionContextLayer<L> {
    type Service = SessionContextService<S, L>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionContextService::new(inner, Arc::clone(&self.shared))
    }
}
