//! duro's cross-crate tests (not published). The library is empty; the tests live in
//! `tests/`:
//!
//! - `tests/ui.rs` with `tests/ui/`: compile-time errors of the macros (trybuild).
//! - `tests/e2e/`: the built apps in workerd (`wrangler dev`), over HTTP. They are
//!   `#[ignore]`d in a plain `cargo test`; `cargo xtask test` builds the apps and runs them.
