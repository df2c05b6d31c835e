//! `cargo xtask bench`: the side-by-side benchmarks (see docs/design.md, "Performance").

/// Runs the benchmarks.
pub fn run(args: &[String]) -> Result<(), String> {
    let _ = args;
    Err("`cargo xtask bench` is not yet implemented".to_owned())
}
