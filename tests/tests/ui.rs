//! Compile-time diagnostics of `#[duro::object]`, `#[duro::methods]`, `#[rpc]`,
//! `#[timer]` and `#[index]`.
//!
//! `tests/ui/fail/*.rs` each hold one mistake; the expected compiler output sits next to
//! it in a `.stderr` file. Every error the macros emit has one, named by symptom:
//! `attr-*` (attribute arguments), `placement-*` (an attribute on the wrong item),
//! `sig-*`, `timer-*` and `index-*` (signature rules), `wire-*` and `stub-*` (names),
//! `bounds-*` (serde and `Display` bounds, reported by the compiler under the user's
//! type). `tests/ui/pass/*.rs` compile and run: `signatures.rs` holds every accepted
//! signature form. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p duro-tests --test ui` and read the diff; run some
//! with `cargo test -p duro-tests --test ui -- ui trybuild=<file>.rs`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
