//! `cargo xtask build [app] [--dev]`: builds workers with worker-build.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::setup::{self, Tools};
use crate::workspace::{self, display, note, root, since, step};

/// Folders whose subfolders are Rust workers (a `wrangler.toml` next to a `Cargo.toml`).
/// Add a folder here and `build` and `test` pick up its workers.
pub const WORKER_PARENTS: &[&str] = &["apps", "bench/baselines"];

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
        Some(app) => build(&tools, &resolve(&app)?, profile).map(|_| ()),
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

/// Builds every worker, failing on the first error.
pub fn build_all(tools: &Tools, profile: Profile) -> Result<(), String> {
    let workers = workers();
    if workers.is_empty() {
        return Err(format!(
            "no worker to build: looked for <dir>/wrangler.toml with a Cargo.toml under {}",
            WORKER_PARENTS.join(", ")
        ));
    }
    for dir in &workers {
        build(tools, dir, profile)?;
    }
    Ok(())
}

/// The wasm file worker-build writes for the worker in `dir`.
pub fn wasm_path(dir: &Path) -> PathBuf {
    dir.join("build").join("index_bg.wasm")
}

/// Builds the worker in `dir` into `dir/build/` and returns the wasm file's path.
pub fn build(tools: &Tools, dir: &Path, profile: Profile) -> Result<PathBuf, String> {
    let start = Instant::now();
    let flag = match profile {
        Profile::Release => "--release",
        Profile::Dev => "--dev",
    };
    step(format!("building {} (worker-build {flag})", display(dir)));
    let mut command = Command::new(&tools.worker_build);
    command
        .arg(flag)
        .current_dir(dir)
        .env("WASM_BINDGEN_BIN", &tools.wasm_bindgen)
        .env("WASM_OPT_BIN", &tools.wasm_opt);
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
    let (raw, gzip) = wasm_size(&wasm)?;
    note(format!(
        "{}: {} raw, {} gzip -9",
        display(&wasm),
        workspace::format_bytes(raw),
        gzip.map_or_else(|| "? (gzip not found)".to_owned(), workspace::format_bytes),
    ));
    note(format!("built in {}", since(start)));
    Ok(wasm)
}

/// The size of a file, raw and compressed with `gzip -9` (None when gzip is missing).
pub fn wasm_size(path: &Path) -> Result<(u64, Option<u64>), String> {
    let raw = path
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", display(path)))?
        .len();
    let gzip = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
        .and_then(|mut child| {
            let mut compressed = 0u64;
            let mut buf = [0u8; 64 * 1024];
            let mut stdout = child.stdout.take()?;
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => compressed += n as u64,
                    Err(_) => return None,
                }
            }
            child
                .wait()
                .ok()
                .filter(|s| s.success())
                .map(|_| compressed)
        });
    Ok((raw, gzip))
}
