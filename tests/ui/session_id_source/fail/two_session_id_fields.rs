use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
struct CreateInvestigation {
    #[session_id]
    session_id: String,
    #[session_id]
    parent_session_id: String,
}

fn main() {}
