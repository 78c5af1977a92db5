use sessionscope::with_session_context;

#[with_session_context(operation = "")]
async fn handler() -> String {
    String::new()
}

fn main() {}
