//! Opening a request: the correlation id (the caller's or a new one), the HTTP attributes,
//! the session id candidates of the request head, the request span and the context.

use std::time::Instant;

use http::HeaderMap;
use http::request::Parts;

use super::Config;
use super::close::Summary;
use super::sources::Found;
use crate::context::{
    FieldValues, HttpAttributes, Identity, RequestContext, SessionFields, peer_address, request_span,
};
use crate::ids::CorrelationId;

/// What is read from the request head before anything is awaited.
pub(crate) struct Start {
    pub(crate) started_at: Instant,
    correlation_id: CorrelationId,
    http: HttpAttributes,
    /// The session id candidates of header, query and cookie, best first.
    pub(crate) found: Found,
    /// A quiet route's request: its span at DEBUG, no summary.
    pub(crate) quiet: bool,
    /// The custom fields of the head, and which session attributes become fields.
    fields: Option<Box<(FieldValues, SessionFields)>>,
}

impl Start {
    /// Reads the request head.
    pub(crate) fn read(parts: &Parts, config: &Config) -> Self {
        let started_at = Instant::now();
        let client_ip = config.proxies.client_address(peer_address(parts), &parts.headers);
        let http = HttpAttributes::from_parts(parts, client_ip);
        Self {
            started_at,
            correlation_id: incoming_correlation_id(parts, config)
                .unwrap_or_else(|| CorrelationId::generate_at(started_at)),
            quiet: config.quiet.matches(http.route(), parts),
            http,
            found: config.sources.read_parts(parts),
            fields: (!config.fields.is_empty()).then(|| Box::new((config.fields.read(parts), config.fields.session()))),
        }
    }

    /// The summary this request gets: none on a quiet route.
    pub(crate) fn summary(&self, config: &Config) -> Summary {
        if self.quiet { Summary::Off } else { config.summary }
    }

    /// Opens the request span (with the identity, when it is already known, and as a child of
    /// the caller's trace with feature `opentelemetry`), logs what the sources noted inside
    /// it, and builds the context: its identity settled when given, else left open.
    pub(crate) fn open(self, headers: &HeaderMap, identity: Option<Identity>) -> (RequestContext, Found) {
        let Self { started_at, correlation_id, http, mut found, quiet, fields } = self;
        let span = request_span(&correlation_id, &http, identity.as_ref(), quiet);
        #[cfg(feature = "opentelemetry")]
        let tracestate = super::trace_parent::join(&span, headers);
        #[cfg(not(feature = "opentelemetry"))]
        let _ = headers;
        if found.has_notes() {
            span.in_scope(|| found.emit());
        }
        #[cfg(feature = "opentelemetry")]
        let trace = super::trace_parent::ids_of(&span);
        let mut ctx = RequestContext::for_request(correlation_id, http, span, started_at, identity);
        if let Some(fields) = fields {
            ctx.set_fields(fields);
        }
        #[cfg(feature = "opentelemetry")]
        ctx.set_trace(trace, tracestate);
        if found.invalid_seen {
            ctx.mark_invalid_session_seen();
        }
        (ctx, found)
    }
}

fn incoming_correlation_id(parts: &Parts, config: &Config) -> Option<CorrelationId> {
    config.correlation_headers.iter().find_map(|name| CorrelationId::from_header(parts.headers.get(name)?))
}
