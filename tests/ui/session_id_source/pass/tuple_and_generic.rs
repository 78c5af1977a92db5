//! Tuple structs, type parameters, lifetimes and where clauses.
#![deny(warnings, clippy::pedantic)]

use std::fmt::Debug;

use sessionscope::SessionIdSource;
use sessionscope::handler::SessionIdField;

#[derive(SessionIdSource)]
struct Pair(u32, #[session_id] String, #[investigation_id] Option<String>);

#[derive(SessionIdSource)]
struct Generic<'a, S, T: Debug>
where
    T: Clone,
{
    #[session_id]
    id: S,
    payload: &'a T,
}

fn read<B: SessionIdSource>(body: &B) -> Option<&str> {
    body.session_id()
}

fn assert_field<F: SessionIdField>() {}

fn main() {
    let pair = Pair(7, "s-1".into(), Some("i-1".into()));
    assert_eq!((pair.0, pair.session_id(), pair.investigation_id()), (7, Some("s-1"), Some("i-1")));
    let payload = vec![1u8];
    let generic = Generic { id: String::from("s-2"), payload: &payload };
    assert_eq!(read(&generic), Some("s-2"));
    assert_eq!(generic.payload.len(), 1);
    assert_field::<Option<&str>>();
}
