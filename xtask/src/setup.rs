//! `cargo xtask setup`: installs what a fresh machine is missing, and nothing else.
//!
//! worker-build would download wasm-bindgen and wasm-opt from GitHub at build time; the
//! machines this runs on reach only the package registries, so the setup installs both
//! from there (crates.io and npm) and the build points worker-build at them.
//!
//! The browser test drives Debian's `chromium` through its `chromedriver` (package
//! `chromium-driver`); the setup installs both with apt when they are missing, never a
//! browser build from elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use crate::workspace::{self, note, root, since, step};

/// The worker-build release the apps are built with.
pub const WORKER_BUILD_VERSION: &str = "0.8.7";
/// The oldest Node.js that runs wrangler 4.
const MIN_NODE_MAJOR: u32 = 20;
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The tools a build needs, as paths to run.
#[derive(Debug, Clone)]
pub struct Tools {
    /// `worker-build`.
    pub worker_build: PathBuf,
    /// `wasm-bindgen`, at the Cargo.lock version (for `WASM_BINDGEN_BIN`).
    pub wasm_bindgen: PathBuf,
    /// `wasm-opt` from the npm package binaryen (for `WASM_OPT_BIN`).
    pub wasm_opt: PathBuf,
    /// `wrangler` from node_modules.
    pub wrangler: PathBuf,
}

impl Tools {
    /// Points `command`, which runs worker-build directly or through wrangler's `[build]`,
    /// at these tools: wasm-bindgen and wasm-opt by their variables, worker-build first on
    /// `PATH` (cargo's bin folder may not be on it in a fresh shell).
    pub fn worker_build_env(&self, command: &mut Command) {
        let mut path: Vec<PathBuf> = self
            .worker_build
            .parent()
            .into_iter()
            .map(Path::to_path_buf)
            .collect();
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        if let Ok(path) = std::env::join_paths(path) {
            command.env("PATH", path);
        }
        command
            .env("WASM_BINDGEN_BIN", &self.wasm_bindgen)
            .env("WASM_OPT_BIN", &self.wasm_opt);
    }
}

/// `cargo xtask setup`.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`setup` takes no arguments (got `{extra}`)"));
    }
    ensure().map(|_| ())
}

/// Installs whatever is missing and returns the tools. Cheap when everything is there.
pub fn ensure() -> Result<Tools, String> {
    let start = Instant::now();
    step("setup: checking the toolchain");
    check_node()?;
    ensure_rust_target()?;
    let worker_build = ensure_worker_build()?;
    let wasm_bindgen = ensure_wasm_bindgen()?;
    ensure_npm_packages()?;
    ensure_browser()?;
    let tools = Tools {
        worker_build,
        wasm_bindgen,
        wasm_opt: workspace::npm_tool("wasm-opt"),
        wrangler: workspace::npm_tool("wrangler"),
    };
    for path in [&tools.wasm_opt, &tools.wrangler] {
        if !path.is_file() {
            return Err(format!(
                "{} is missing after `npm ci`; delete node_modules and run `cargo xtask setup` again",
                workspace::display(path)
            ));
        }
    }
    step(format!("setup: ready ({})", since(start)));
    Ok(tools)
}

fn check_node() -> Result<(), String> {
    let Some(version) = workspace::output(Command::new("node").arg("--version")) else {
        return Err(format!(
            "Node.js is not installed (or `node` is not on PATH). Install Node {MIN_NODE_MAJOR} \
             or newer with npm (https://nodejs.org), then run this again."
        ));
    };
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if major < MIN_NODE_MAJOR {
        return Err(format!(
            "Node.js {version} is too old: wrangler needs Node {MIN_NODE_MAJOR} or newer"
        ));
    }
    let Some(npm) = workspace::output(Command::new("npm").arg("--version")) else {
        return Err(
            "npm is not installed (or not on PATH); it ships with Node.js, install both".to_owned(),
        );
    };
    note(format!("node {version}, npm {npm}"));
    Ok(())
}

fn rustup() -> Command {
    let mut command = Command::new("rustup");
    // rust-toolchain.toml in the root selects the toolchain.
    command.current_dir(root());
    command
}

fn ensure_rust_target() -> Result<(), String> {
    let Some(installed) = workspace::output(rustup().args(["target", "list", "--installed"]))
    else {
        return Err(
            "`rustup` is not available; install Rust with rustup (https://rustup.rs)".to_owned(),
        );
    };
    if installed.lines().any(|t| t.trim() == WASM_TARGET) {
        note(format!("rust target {WASM_TARGET}: installed"));
    } else {
        step(format!("installing the rust target {WASM_TARGET}"));
        workspace::run(rustup().args(["target", "add", WASM_TARGET]))?;
    }
    // Toolchains installed without these (a minimal profile) cannot run the checks.
    let components =
        workspace::output(rustup().args(["component", "list", "--installed"])).unwrap_or_default();
    let missing: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|c| !components.lines().any(|l| l.starts_with(&format!("{c}-"))))
        .collect();
    if !missing.is_empty() {
        step(format!("installing rust components {}", missing.join(", ")));
        workspace::run(rustup().args(["component", "add"]).args(&missing))?;
    }
    Ok(())
}

/// The version a `<tool> --version` line ends with (`wasm-bindgen 0.2.130` → `0.2.130`;
/// worker-build prints the bare version).
fn reported_version(tool: &Path) -> Option<String> {
    let line = workspace::output(Command::new(tool).arg("--version"))?;
    line.split_whitespace().last().map(str::to_owned)
}

fn ensure_worker_build() -> Result<PathBuf, String> {
    let tool = workspace::cargo_tool("worker-build");
    if reported_version(&tool).as_deref() == Some(WORKER_BUILD_VERSION) {
        note(format!("worker-build {WORKER_BUILD_VERSION}: installed"));
        return Ok(tool);
    }
    let start = Instant::now();
    step(format!(
        "installing worker-build {WORKER_BUILD_VERSION} (this takes a few minutes)"
    ));
    workspace::run(workspace::cargo().args([
        "install",
        "worker-build",
        "--version",
        WORKER_BUILD_VERSION,
    ]))?;
    note(format!("installed in {}", since(start)));
    installed("worker-build", WORKER_BUILD_VERSION)
}

fn ensure_wasm_bindgen() -> Result<PathBuf, String> {
    let version = workspace::locked_version("wasm-bindgen")?;
    let tool = workspace::cargo_tool("wasm-bindgen");
    if reported_version(&tool).as_deref() == Some(version.as_str()) {
        note(format!("wasm-bindgen-cli {version}: installed"));
        return Ok(tool);
    }
    let start = Instant::now();
    step(format!(
        "installing wasm-bindgen-cli {version} (this takes a few minutes)"
    ));
    // Not `--locked`: the CLI's own lock file does not resolve against this index.
    workspace::run(workspace::cargo().args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={version}"),
    ]))?;
    note(format!("installed in {}", since(start)));
    installed("wasm-bindgen", &version)
}

/// Checks that `cargo install` left the expected version where we look for it.
fn installed(tool: &str, version: &str) -> Result<PathBuf, String> {
    let path = workspace::cargo_tool(tool);
    match reported_version(&path) {
        Some(found) if found == version => Ok(path),
        found => Err(format!(
            "after installing, `{} --version` reports {found:?}, expected {version}; \
             is another {tool} earlier on PATH?",
            path.display()
        )),
    }
}

/// The Debian packages of the browser test, and the executable each one provides.
const BROWSER_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "chromium"),
    ("chromium-driver", "chromedriver"),
];

/// Whether `name` is an executable on `PATH`.
fn on_path(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(name).is_file())
}

fn ensure_browser() -> Result<(), String> {
    let missing: Vec<&str> = BROWSER_PACKAGES
        .iter()
        .filter(|(_, tool)| !on_path(tool))
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        let version = workspace::output(Command::new("chromium").arg("--version"))
            .unwrap_or_else(|| "chromium".to_owned());
        note(format!("{version} and chromedriver: installed"));
        return Ok(());
    }
    let how = format!("apt-get install {}", missing.join(" "));
    if !on_path("apt-get") {
        return Err(format!(
            "the browser test needs {} and there is no apt-get here: install them with your \
             package manager (Debian: `{how}`) and run this again",
            missing.join(" and ")
        ));
    }
    // apt-get needs root: run it directly as root, else through sudo if there is one.
    let root = workspace::output(Command::new("id").arg("-u")).as_deref() == Some("0");
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    if !root && !on_path("sudo") {
        return Err(format!(
            "the browser test needs {}: run `sudo {how}` (or `{how}` as root) and run this \
             again",
            missing.join(" and ")
        ));
    }
    let start = Instant::now();
    step(format!(
        "installing {} with apt-get (this takes a few minutes)",
        missing.join(" and ")
    ));
    workspace::run(&mut apt(&["update"]))?;
    let mut install = apt(&["install", "-y"]);
    install.args(&missing);
    workspace::run(&mut install)?;
    note(format!("installed in {}", since(start)));
    for (package, tool) in BROWSER_PACKAGES {
        if !on_path(tool) {
            return Err(format!(
                "`{tool}` is still missing after installing the package {package}"
            ));
        }
    }
    Ok(())
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

fn ensure_npm_packages() -> Result<(), String> {
    let root = root();
    let lock = root.join("package-lock.json");
    // npm writes this copy of the lock file into node_modules on every install.
    let installed_lock = root.join("node_modules").join(".package-lock.json");
    let tools_present = ["wrangler", "wasm-opt", "tsc"]
        .iter()
        .all(|t| workspace::npm_tool(t).is_file());
    let current = match (modified(&lock), modified(&installed_lock)) {
        (Some(wanted), Some(have)) => have >= wanted,
        _ => false,
    };
    if tools_present && current {
        note("npm packages (wrangler, binaryen, typescript): installed");
        return Ok(());
    }
    let start = Instant::now();
    let mut npm = Command::new("npm");
    npm.current_dir(&root);
    if lock.is_file() {
        step("installing npm packages (npm ci)");
        npm.args(["ci", "--no-audit", "--no-fund"]);
    } else {
        step("installing npm packages (npm install, creates package-lock.json)");
        npm.args(["install", "--no-audit", "--no-fund"]);
    }
    workspace::run(&mut npm)?;
    note(format!("installed in {}", since(start)));
    Ok(())
}
