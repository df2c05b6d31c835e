//! # baseline-rust
//!
//! The benchmark baseline: the counter app's HTTP API as a hand-written workers-rs Durable
//! Object, without duro. `cargo xtask bench` runs it beside the duro counter and the
//! JavaScript baseline (`bench/baselines/js`).

#[cfg(target_arch = "wasm32")]
mod counter;
