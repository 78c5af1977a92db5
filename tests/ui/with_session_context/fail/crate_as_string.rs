use sessionscope::with_session_context;

#[with_session_context(crate = "sessionscope")]
async fn handler() -> String {
    String::new()
}

fn main() {}
