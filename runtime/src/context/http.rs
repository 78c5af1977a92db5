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
    pub(crate) user_agent: Option<UserAgent>,
    /// The request's URI, for `url.path` and `url.scheme` (feature `opentelemetry`): shared
    /// with the request, not copied.
    #[cfg(feature = "opentelemetry")]
    pub(crate) uri: Option<http::Uri>,
}

/// The `User-Agent` header: the header value itself (shared, not copied) when it is plain
/// printable ASCII, else a sanitized copy.
#[derive(Debug, Clone)]
pub(crate) enum UserAgent {
    Header(http::HeaderValue),
    Escaped(Arc<str>),
}

impl UserAgent {
    fn from_header(value: &http::HeaderValue) -> Self {
        // Printable ASCII needs no escaping; a tab or any byte past ASCII goes through
        // `sanitize` (which escapes the tab and any control or invisible character).
        if value.as_bytes().iter().all(|b| (0x20..0x7f).contains(b)) {
            return Self::Header(value.clone());
        }
        Self::Escaped(Arc::from(sanitize(&String::from_utf8_lossy(value.as_bytes())).as_ref()))
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Printable ASCII only (see `from_header`), so this never falls back.
            Self::Header(value) => std::str::from_utf8(value.as_bytes()).unwrap_or_default(),
            Self::Escaped(text) => text,
        }
    }
}

/// The matched route: the router's own (shared, not copied) or one given by hand.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    Matched(axum::extract::MatchedPath),
    Given(Arc<str>),
}

/// The connection's peer address, when the server recorded it (axum's `ConnectInfo`).
pub(crate) fn peer_address(parts: &http::request::Parts) -> Option<std::net::IpAddr> {
    parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|info| info.0.ip())
}

impl HttpAttributes {
    /// The matched route template.
    pub(crate) fn route(&self) -> Option<&str> {
        self.route.as_ref().map(|route| match route {
            Route::Matched(matched) => matched.as_str(),
            Route::Given(given) => given,
        })
    }

    /// The facts of `parts`, with the client's address as the caller worked it out.
    pub(crate) fn from_parts(parts: &http::request::Parts, client_ip: Option<std::net::IpAddr>) -> Self {
        let route = parts.extensions.get::<axum::extract::MatchedPath>().cloned().map(Route::Matched);
        let user_agent = parts.headers.get(http::header::USER_AGENT).map(UserAgent::from_header);
        Self {
            method: Some(parts.method.clone()),
            route,
            client_ip,
            user_agent,
            #[cfg(feature = "opentelemetry")]
            uri: Some(parts.uri.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::UserAgent;

    #[test]
    fn plain_user_agents_are_shared_and_others_escaped() {
        let plain = UserAgent::from_header(&HeaderValue::from_static("curl/8.5.0 (x86_64)"));
        assert!(matches!(plain, UserAgent::Header(_)), "printable ASCII is kept as the header value");
        assert_eq!(plain.as_str(), "curl/8.5.0 (x86_64)");

        let tab = UserAgent::from_header(&HeaderValue::from_static("a\tb"));
        assert_eq!(tab.as_str(), "a\\u{9}b");

        let latin1 = UserAgent::from_header(&HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(latin1.as_str(), "caf\u{fffd}", "bytes past ASCII that are not UTF-8 are replaced");
    }
}
