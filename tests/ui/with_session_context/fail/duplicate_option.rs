use sessionscope::with_session_context;

#[with_session_context(operation = "a", require_user, operation = "b")]
async fn handler() -> String {
    String::new()
}

fn main() {}
