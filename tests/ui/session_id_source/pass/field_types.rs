//! Every supported field type, read back through the trait.
#![deny(warnings, clippy::pedantic)]

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use sessionscope::SessionIdSource;

#[derive(SessionIdSource)]
struct Owned {
    #[session_id]
    id: String,
    #[investigation_id]
    investigation: Option<String>,
}

#[derive(SessionIdSource)]
struct Borrowed<'a> {
    #[session_id]
    id: &'a str,
    #[investigation_id]
    investigation: Option<&'a str>,
}

#[derive(SessionIdSource)]
struct Shared<'a> {
    #[session_id]
    id: Cow<'a, str>,
    #[investigation_id]
    investigation: Arc<str>,
    other: Box<str>,
}

#[derive(SessionIdSource)]
struct Boxed {
    #[session_id]
    id: Option<Box<str>>,
    #[investigation_id]
    investigation: Rc<str>,
}

// Nested on purpose: the derive must see through both layers.
#[derive(SessionIdSource)]
#[allow(clippy::option_option)]
struct Nested {
    #[session_id]
    id: Option<Option<Cow<'static, str>>>,
}

fn main() {
    let owned = Owned { id: "s-1".into(), investigation: None };
    assert_eq!((owned.session_id(), owned.investigation_id()), (Some("s-1"), None));
    let borrowed = Borrowed { id: "s-2", investigation: Some("i-2") };
    assert_eq!((borrowed.session_id(), borrowed.investigation_id()), (Some("s-2"), Some("i-2")));
    let shared = Shared { id: Cow::Borrowed("s-3"), investigation: Arc::from("i-3"), other: "x".into() };
    assert_eq!((shared.session_id(), shared.investigation_id(), &*shared.other), (Some("s-3"), Some("i-3"), "x"));
    let boxed = Boxed { id: None, investigation: Rc::from("i-4") };
    assert_eq!((boxed.session_id(), boxed.investigation_id()), (None, Some("i-4")));
    let nested = Nested { id: Some(Some(Cow::Borrowed("s-5"))) };
    assert_eq!(nested.session_id(), Some("s-5"));
}
