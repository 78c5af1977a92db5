use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
#[session_id]
struct CreateInvestigation {
    #[session_id]
    session_id: String,
}

fn main() {}
