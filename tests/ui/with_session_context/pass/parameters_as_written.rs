//! Parameter patterns, `mut` and `_` bindings, docs, visibility and attributes stay as written;
//! fifteen extractors plus the macro's own fit axum's sixteen.
#![deny(warnings, clippy::pedantic, missing_docs)]
//! Crate docs.

use axum::extract::{Query, RawQuery};
use axum::routing::get;
use http::{HeaderMap, Method, Uri, Version};
use sessionscope::{SessionContext, with_session_context};

/// Reads its arguments in every shape.
#[with_session_context(level = "trace")]
#[allow(clippy::similar_names)]
pub(crate) async fn shapes(
    mut headers: HeaderMap,
    _method: Method,
    (uri, version): (Uri, Version),
    ctx: SessionContext,
    Query(query): Query<Vec<(String, String)>>,
) -> String {
    headers.remove("x-ignored");
    format!("{uri} {version:?} {} {} {}", headers.len(), query.len(), ctx.correlation_id())
}

/// The most arguments a wrapped handler can take.
#[with_session_context(level = "warn")]
#[allow(clippy::too_many_arguments, clippy::similar_names)]
pub async fn fifteen(
    a1: Method,
    a2: Uri,
    a3: Version,
    a4: HeaderMap,
    a5: RawQuery,
    a6: Method,
    a7: Uri,
    a8: Version,
    a9: HeaderMap,
    a10: RawQuery,
    a11: Method,
    a12: Uri,
    a13: Version,
    a14: HeaderMap,
    a15: String,
) -> String {
    drop((a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14));
    a15
}

#[with_session_context(level = "error")]
async fn unit() {}

fn main() {
    let _app: axum::Router =
        axum::Router::new().route("/shapes", get(shapes)).route("/fifteen", get(fifteen)).route("/unit", get(unit));
}
