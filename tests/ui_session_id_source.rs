//! Compile tests for `#[derive(SessionIdSource)]`: what compiles, and the errors that teach.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/session_id_source/pass/*.rs");
    cases.compile_fail("tests/ui/session_id_source/fail/*.rs");
}
