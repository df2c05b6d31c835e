//! `cargo xtask build [app] [--dev]`: builds workers with worker-build, and writes the JS
//! entry of each duro app (see `entry.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::entry;
use crate::metadata::{self, AppMetadata};
use crate::page;
use crate::setup::{self, Tools};
use crate::workspace::{self, display, note, root, since, step};

/// Folders whose subfolders are Rust workers (a `wrangler.toml` next to a `Cargo.toml`).
/// Add a folder here and `build` and `test` pick up its workers.
pub const WORKER_PARENTS: &[&str] = &["apps", "bench", "bench/baselines"];

/// Which cargo profile worker-build uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `--release`: optimised, what tests, benchmarks and deploys use.
    Release,
    /// `--dev`: faster to build, larger and slower.
    Dev,
}

/// `cargo xtask build`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut profile = Profile::Release;
    let mut app = None;
    for arg in args {
        match arg.as_str() {
            "--dev" => profile = Profile::Dev,
            "--release" => profile = Profile::Release,
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown option `{flag}`; usage: cargo xtask build [app] [--dev]"
                ))
            }
            name if app.is_none() => app = Some(name.to_owned()),
            extra => return Err(format!("`build` takes one app, got also `{extra}`")),
        }
    }
    let tools = setup::ensure()?;
    match app {
        Some(app) => match build(&tools, &resolve(&app)?, profile)?.over_budget() {
            Some(over) => Err(over),
            None => Ok(()),
        },
        None => build_all(&tools, profile),
    }
}

/// Every worker directory: subfolders of [`WORKER_PARENTS`] with a `wrangler.toml` and a
/// `Cargo.toml`, sorted.
pub fn workers() -> Vec<PathBuf> {
    let root = root();
    let mut found = Vec::new();
    for parent in WORKER_PARENTS {
        let Ok(entries) = std::fs::read_dir(root.join(parent)) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if dir.join("wrangler.toml").is_file() && dir.join("Cargo.toml").is_file() {
                found.push(dir);
            }
        }
    }
    found.sort();
    found
}

/// An app given on the command line: a name under `apps/`, or a path to a worker folder.
pub fn resolve(app: &str) -> Result<PathBuf, String> {
    let root = root();
    let candidates = [
        root.join("apps").join(app),
        root.join(app),
        PathBuf::from(app),
    ];
    for dir in candidates {
        if dir.join("Cargo.toml").is_file() {
            return Ok(dir);
        }
    }
    let known: Vec<String> = workers().iter().map(|w| display(w)).collect();
    Err(format!(
        "no app `{app}` (known workers: {})",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    ))
}

/// Builds every worker, failing on the first build error, then on every app over its
/// size budget.
pub fn build_all(tools: &Tools, profile: Profile) -> Result<(), String> {
    let workers = workers();
    if workers.is_empty() {
        return Err(format!(
            "no worker to build: looked for <dir>/wrangler.toml with a Cargo.toml under {}",
            WORKER_PARENTS.join(", ")
        ));
    }
    let mut over = Vec::new();
    for dir in &workers {
        over.extend(build(tools, dir, profile)?.over_budget());
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(over.join("\n"))
    }
}

/// The wasm file worker-build writes for the worker in `dir`.
pub fn wasm_path(dir: &Path) -> PathBuf {
    dir.join("build").join("index_bg.wasm")
}

/// A built worker.
#[derive(Debug, Clone)]
pub struct Built {
    /// The worker's folder.
    pub dir: PathBuf,
    /// The wasm's size.
    pub size: Size,
    /// What the app declares in its Cargo.toml (its size budget, …).
    pub metadata: AppMetadata,
}

impl Built {
    /// Measures the wasm in `dir/build/` and prints its size against its app's budget.
    pub fn measure(dir: &Path) -> Result<Built, String> {
        let metadata = AppMetadata::read(dir)?;
        let wasm = wasm_path(dir);
        let size = Size::of(&wasm)?;
        note(format!(
            "{}: {} raw, {} gzip; {}",
            display(&wasm),
            workspace::format_bytes(size.raw),
            workspace::format_bytes(size.gzip),
            metadata::budget_note(size.gzip, metadata.size_budget_gzip),
        ));
        Ok(Built {
            dir: dir.to_path_buf(),
            size,
            metadata,
        })
    }

    /// The error to report when the wasm is over its app's budget.
    pub fn over_budget(&self) -> Option<String> {
        metadata::over_budget(&self.dir, self.size.gzip, self.metadata.size_budget_gzip)
    }
}

/// Builds the worker in `dir` into `dir/build/` and prints its wasm size against its
/// app's budget (checking the budget is the caller's: see [`Built::over_budget`]).
pub fn build(tools: &Tools, dir: &Path, profile: Profile) -> Result<Built, String> {
    let start = Instant::now();
    // Read first: a malformed budget fails before the build, not after.
    AppMetadata::read(dir)?;
    let flag = match profile {
        Profile::Release => "--release",
        Profile::Dev => "--dev",
    };
    step(format!("building {} (worker-build {flag})", display(dir)));
    let mut command = Command::new(&tools.worker_build);
    command.arg(flag).current_dir(dir);
    tools.worker_build_env(&mut command);
    workspace::run(&mut command)?;
    let wasm = wasm_path(dir);
    let js = dir.join("build").join("index.js");
    for file in [&js, &wasm] {
        if !file.is_file() {
            return Err(format!(
                "worker-build succeeded but {} is missing",
                display(file)
            ));
        }
    }
    if entry::wanted(dir)? {
        entry::write(dir)?;
    }
    if page::present(dir) {
        page::build(dir)?;
    }
    let built = Built::measure(dir)?;
    note(format!("built in {}", since(start)));
    Ok(built)
}

/// The size of a file, raw and gzipped (level 9, as `gzip -9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub raw: u64,
    pub gzip: u64,
}

impl Size {
    /// The size of the file at `path`.
    pub fn of(path: &Path) -> Result<Size, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", display(path)))?;
        Ok(Size::of_bytes(&bytes))
    }

    /// The size of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Size {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        let compressed = encoder
            .write_all(bytes)
            .and_then(|()| encoder.finish())
            .expect("writing into a Vec cannot fail");
        let gzip = compressed.len() as u64;
        Size {
            raw: bytes.len() as u64,
            gzip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_raw_and_gzip_sizes() {
        let size = Size::of_bytes(&[7u8; 10_000]);
        assert_eq!(size.raw, 10_000);
        assert!(size.gzip > 18 && size.gzip < 100, "{size:?}");
        assert_eq!(Size::of_bytes(b"").raw, 0);
    }
}
