use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
struct CreateInvestigation {
    #[session_id]
    session_id: String,
    #[investigation_id]
    investigation_id: String,
    #[investigation_id]
    parent_investigation_id: Option<String>,
}

fn main() {}
