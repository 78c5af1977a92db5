//! Shadowed prelude names and a renamed runtime crate.
#![deny(warnings, clippy::pedantic)]
#![allow(dead_code)]

use sessionscope as kit;

struct Option;
struct Some;
struct None;
mod core {}
mod std {}

#[derive(kit::SessionIdSource)]
#[sessionscope(crate = kit)]
struct Body {
    #[session_id]
    id: String,
    #[investigation_id]
    investigation: ::std::option::Option<String>,
}

fn main() {
    let body = Body { id: "s-1".into(), investigation: ::std::option::Option::None };
    assert_eq!(kit::SessionIdSource::session_id(&body), ::std::option::Option::Some("s-1"));
}
