use sessionscope::with_session_context;

#[with_session_context(require_session = true)]
async fn handler() -> String {
    String::new()
}

fn main() {}
