//! Compile tests for `#[with_session_context]`: what compiles, and the errors that teach.
//!
//! The `.stderr` files match the README's test command, `cargo test --workspace
//! --all-features`: rustc writes a type's full path (`axum::Json<T>`) when another linked
//! crate has a type of the same name, so other feature sets print some paths differently.
//! Cargo.toml therefore runs this file only with those features on.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/with_session_context/pass/*.rs");
    cases.compile_fail("tests/ui/with_session_context/fail/*.rs");
}
