use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
union Raw {
    bytes: u64,
}

fn main() {}
