use sessionscope::with_session_context;

#[with_session_context]
async unsafe fn handler() -> String {
    String::new()
}

fn main() {}
