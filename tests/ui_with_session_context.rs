//! Compile tests for `#[with_session_context]`: what compiles, and the errors that teach.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/with_session_context/pass/*.rs");
    cases.compile_fail("tests/ui/with_session_context/fail/*.rs");
}
