//! Compile-time diagnostics of `#[duro::object]`, `#[duro::methods]` and `#[rpc]`.
//!
//! `tests/ui/fail/*.rs` each hold one mistake; the expected compiler output sits next to
//! it in a `.stderr` file. Regenerate those with
//! `TRYBUILD=overwrite cargo test -p duro-tests --test ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
