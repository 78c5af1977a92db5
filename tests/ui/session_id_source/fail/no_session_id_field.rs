use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
struct CreateInvestigation {
    session_id: String,
    title: String,
}

fn main() {}
