use http::{HeaderMap, Method, Uri, Version};
use sessionscope::with_session_context;

#[with_session_context]
async fn handler(
    a1: Method,
    a2: Uri,
    a3: Version,
    a4: HeaderMap,
    a5: Method,
    a6: Uri,
    a7: Version,
    a8: HeaderMap,
    a9: Method,
    a10: Uri,
    a11: Version,
    a12: HeaderMap,
    a13: Method,
    a14: Uri,
    a15: Version,
    a16: HeaderMap,
    a17: Method,
) -> String {
    format!("{a1}{a2}{a3:?}{a4:?}{a5}{a6}{a7:?}{a8:?}{a9}{a10}{a11:?}{a12:?}{a13}{a14}{a15:?}{a16:?}{a17}")
}

fn main() {}
