use sessionscope::with_session_context;

#[with_session_context(operation = "outer")]
#[sessionscope::with_session_context]
async fn handler() -> &'static str {
    "twice"
}

fn main() {}
