//! Compile tests for the macros: what compiles, and the errors that teach. One trybuild
//! runner per macro; the cases live in `tests/ui/<macro>/{pass,fail}`.

#[test]
fn with_session_context() {
    let cases = trybuild::TestCases::new();
    cases.pass("with_session_context/pass/*.rs");
    cases.compile_fail("with_session_context/fail/*.rs");
}

#[test]
fn session_id_source() {
    let cases = trybuild::TestCases::new();
    cases.pass("session_id_source/pass/*.rs");
    cases.compile_fail("session_id_source/fail/*.rs");
}
