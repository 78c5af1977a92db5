use sessionscope::with_session_context;

#[with_session_context]
fn handler() -> String {
    String::new()
}

fn main() {}
