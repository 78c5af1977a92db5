use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
struct CreateInvestigation(#[session_id] String, #[investigation_id] Vec<u8>);

fn main() {}
