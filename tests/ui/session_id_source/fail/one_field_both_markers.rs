use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
struct CreateInvestigation {
    #[session_id]
    #[investigation_id]
    id: String,
}

fn main() {}
