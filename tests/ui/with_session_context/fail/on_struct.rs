use sessionscope::with_session_context;

#[with_session_context(require_session)]
struct Handler {
    name: String,
}

fn main() {
    let _ = Handler { name: String::new() }.name;
}
