//! A handler written by a `macro_rules!` macro: its argument names keep their hygiene.
#![deny(warnings, clippy::pedantic)]

use axum::http::HeaderMap;
use sessionscope::with_session_context;

macro_rules! handler {
    ($name:ident, $headers:ident) => {
        #[with_session_context]
        async fn $name($headers: HeaderMap) -> String {
            $headers.len().to_string()
        }
    };
}

handler!(count_headers, headers);

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(count_headers));
}
