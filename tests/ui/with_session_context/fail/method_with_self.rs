use sessionscope::with_session_context;

struct Service;

impl Service {
    #[with_session_context]
    async fn handler(&self) -> String {
        String::new()
    }
}

fn main() {}
