use sessionscope::with_session_context;

#[with_session_context]
const fn handler() -> u16 {
    204
}

fn main() {}
