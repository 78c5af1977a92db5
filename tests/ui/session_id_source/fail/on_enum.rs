use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
enum Request {
    Create { session_id: String },
}

fn main() {}
