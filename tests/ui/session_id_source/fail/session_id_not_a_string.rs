use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
struct CreateInvestigation {
    #[session_id]
    session_id: u64,
}

fn main() {}
