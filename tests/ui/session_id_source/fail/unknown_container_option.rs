use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
#[sessionscope(rename_all = "camelCase")]
struct CreateInvestigation {
    #[session_id]
    session_id: String,
}

fn main() {}
