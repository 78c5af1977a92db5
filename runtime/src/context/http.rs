//! HTTP facts about a request, captured once when its context is built.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::ids::sanitize;

/// HTTP facts about the request, captured when the context is built.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpAttributes {
    pub(crate) method: Option<http::Method>,
    pub(crate) route: Option<Route>,
    pub(crate) client_ip: Option<std::net::IpAddr>,
    pub(crate) user_agent: Option<Arc<str>>,
}

/// The matched route: the router's own (shared, not copied) or one given by hand.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    Matched(axum::extract::MatchedPath),
    Given(Arc<str>),
}

impl HttpAttributes {
    /// The matched route template.
    pub(crate) fn route(&self) -> Option<&str> {
        self.route.as_ref().map(|route| match route {
            Route::Matched(matched) => matched.as_str(),
            Route::Given(given) => given,
        })
    }

    pub(crate) fn from_parts(parts: &http::request::Parts) -> Self {
        let route = parts.extensions.get::<axum::extract::MatchedPath>().cloned().map(Route::Matched);
        let client_ip = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .map(|v| Arc::from(sanitize(&String::from_utf8_lossy(v.as_bytes())).as_ref()));
        Self { method: Some(parts.method.clone()), route, client_ip, user_agent }
    }
}
