//! Compile errors users can act on: each case under `tests/ui/` is one
//! mistake, and its `.stderr` pins the message and where it points. The cases
//! under `tests/ui/pass/` compile and run.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui`
//! and read every changed `.stderr` before committing it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
