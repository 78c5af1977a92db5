use sessionscope::with_session_context;

#[with_session_context(level = "verbose")]
async fn handler() -> String {
    String::new()
}

fn main() {}
