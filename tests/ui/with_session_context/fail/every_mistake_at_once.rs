use sessionscope::with_session_context;

struct Service;

impl Service {
    #[with_session_context(require_sesion, level = "loud", phase = 3)]
    fn handler(self) -> String {
        String::new()
    }
}

fn main() {}
