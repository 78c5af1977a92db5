use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
struct CreateInvestigation {
    #[session_id(rename = "sessionId")]
    session_id: String,
}

fn main() {}
