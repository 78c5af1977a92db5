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

/// Every pass case is also an example of this package (see `Cargo.toml`), so clippy checks it.
#[test]
fn every_pass_case_is_linted_by_clippy() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["with_session_context/pass", "session_id_source/pass"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let path = format!("path = \"{dir}/{name}\"");
            assert!(manifest.contains(&path), "{dir}/{name} has no [[example]] in tests/ui/Cargo.toml");
        }
    }
}
