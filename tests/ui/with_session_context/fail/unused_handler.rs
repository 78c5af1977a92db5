#![deny(dead_code)]

use sessionscope::with_session_context;

#[with_session_context]
async fn never_routed() -> &'static str {
    "ok"
}

fn main() {}
