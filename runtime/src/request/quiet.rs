//! Quiet routes: health checks and the like keep their context and the correlation id echo,
//! but write no summary line, and their request span sits at DEBUG.

use std::sync::Arc;

use http::request::Parts;

/// A user's test of a request head for quietness.
pub(crate) type QuietPredicate = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// Which requests are quiet: by route, by predicate, or both.
#[derive(Clone, Default)]
pub(crate) struct QuietRoutes {
    routes: Vec<Box<str>>,
    predicate: Option<QuietPredicate>,
}

impl QuietRoutes {
    pub(crate) fn add_routes<'a>(&mut self, routes: impl IntoIterator<Item = &'a str>) {
        self.routes.extend(routes.into_iter().map(Box::from));
    }

    pub(crate) fn set_predicate(&mut self, predicate: QuietPredicate) {
        self.predicate = Some(predicate);
    }

    /// Whether this request is quiet. A listed route is compared with the route the router
    /// matched when it set one (so `/health` reaching a `/{*rest}` route is not quiet), else
    /// with the request's path.
    pub(crate) fn matches(&self, matched_route: Option<&str>, parts: &Parts) -> bool {
        if !self.routes.is_empty() {
            let seen = matched_route.unwrap_or_else(|| parts.uri.path());
            if self.routes.iter().any(|route| **route == *seen) {
                return true;
            }
        }
        self.predicate.as_ref().is_some_and(|quiet| quiet(&*parts))
    }
}

impl std::fmt::Debug for QuietRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuietRoutes")
            .field("routes", &self.routes)
            .field("predicate", &self.predicate.as_ref().map(|_| "Fn(&Parts) -> bool"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> Parts {
        http::Request::get(uri).body(()).unwrap().into_parts().0
    }

    #[test]
    fn routes_match_the_matched_route_else_the_path() {
        let mut quiet = QuietRoutes::default();
        quiet.add_routes(["/health", "/ready"]);
        assert!(quiet.matches(None, &parts("/health?probe=1")), "the query is not part of the path");
        assert!(quiet.matches(Some("/ready"), &parts("/ready")));
        assert!(!quiet.matches(Some("/{*rest}"), &parts("/health")), "another route that saw /health is not quiet");
        assert!(!quiet.matches(None, &parts("/health/")), "a different path");
        assert!(!quiet.matches(None, &parts("/Health")), "paths compare exactly");
    }

    #[test]
    fn a_predicate_adds_to_the_routes() {
        let mut quiet = QuietRoutes::default();
        quiet.set_predicate(Arc::new(|parts: &Parts| parts.uri.path().starts_with("/internal/")));
        assert!(quiet.matches(None, &parts("/internal/metrics")));
        assert!(!quiet.matches(None, &parts("/api")));
        assert!(!QuietRoutes::default().matches(Some("/health"), &parts("/health")), "nothing is quiet by default");
    }
}
