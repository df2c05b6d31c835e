//! Paths, process running and progress output shared by the commands.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// `path` relative to the workspace root when it is inside it, for short messages.
pub fn display(path: &Path) -> String {
    let root = root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Prints a step header.
pub fn step(message: impl AsRef<str>) {
    println!("==> {}", message.as_ref());
}

/// Prints a detail line under the current step.
pub fn note(message: impl AsRef<str>) {
    println!("    {}", message.as_ref());
}

/// `cargo`, the same one that runs this command.
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root());
    command
}

/// The directory `cargo install` puts binaries in.
pub fn cargo_bin_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return PathBuf::from(home).join("bin");
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cargo").join("bin")
}

/// A binary installed by `cargo install`, by full path when it is in cargo's bin directory
/// (which may not be on `PATH` in a fresh shell), else by name.
pub fn cargo_tool(name: &str) -> PathBuf {
    let path = cargo_bin_dir().join(name);
    if path.is_file() {
        path
    } else {
        PathBuf::from(name)
    }
}

/// A binary from the root `node_modules/.bin`.
pub fn npm_tool(name: &str) -> PathBuf {
    root().join("node_modules").join(".bin").join(name)
}

/// A command line as the user would type it (without `PATH`, which only makes the
/// installed tools findable).
pub fn command_line(command: &Command) -> String {
    let mut line = String::new();
    for (key, value) in command.get_envs() {
        if key == "PATH" {
            continue;
        }
        if let Some(value) = value {
            let _ = write!(
                line,
                "{}={} ",
                key.to_string_lossy(),
                value.to_string_lossy()
            );
        }
    }
    line.push_str(&short_program(command.get_program()));
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Programs inside the workspace relative to it, others (like `$CARGO`) by file name.
fn short_program(program: &OsStr) -> String {
    let path = Path::new(program);
    if path.starts_with(root()) {
        display(path)
    } else {
        path.file_name()
            .unwrap_or(program)
            .to_string_lossy()
            .into_owned()
    }
}

/// Runs `command` with inherited output and fails unless it succeeds.
pub fn run(command: &mut Command) -> Result<(), String> {
    let line = command_line(command);
    note(format!("$ {line}"));
    let status = command
        .status()
        .map_err(|e| format!("could not start `{line}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status})"))
    }
}

/// Runs `command` quietly and returns its trimmed standard output, or `None` when it
/// cannot start or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The version of `package` recorded in the workspace's Cargo.lock.
pub fn locked_version(package: &str) -> Result<String, String> {
    let lock = root().join("Cargo.lock");
    if !lock.is_file() {
        // A fresh checkout without a lock file: let cargo resolve one.
        output(
            cargo()
                .args(["metadata", "--format-version", "1"])
                .stdout(Stdio::null()),
        );
    }
    let text = std::fs::read_to_string(&lock)
        .map_err(|e| format!("cannot read {}: {e}", lock.display()))?;
    parse_locked_version(&text, package)
        .ok_or_else(|| format!("Cargo.lock has no package `{package}`"))
}

/// The packages of a Cargo.lock.
#[derive(Debug, Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Debug, Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
}

/// The version of the (first) `[[package]]` named `package` in a Cargo.lock text.
fn parse_locked_version(lock: &str, package: &str) -> Option<String> {
    let lock: Lock = toml::from_str(lock).ok()?;
    lock.package
        .into_iter()
        .find(|p| p.name == package)
        .map(|p| p.version)
}

/// A duration as `850ms`, `42.1s` or `3m07s`.
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 1.0 {
        format!("{}ms", duration.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = duration.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// Time since `start`, formatted.
pub fn since(start: Instant) -> String {
    format_duration(start.elapsed())
}

/// A byte count as `123 456 B (120.6 KiB)`.
pub fn format_bytes(bytes: u64) -> String {
    let digits = bytes.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    let kib = bytes as f64 / 1024.0;
    format!("{grouped} B ({kib:.1} KiB)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_locked_versions() {
        let lock = "\
[[package]]
name = \"wasm-bindgen\"
version = \"0.2.130\"
source = \"registry+https://github.com/rust-lang/crates.io-index\"

[[package]]
name = \"wasm-bindgen-backend\"
version = \"0.2.999\"
";
        assert_eq!(
            parse_locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(
            parse_locked_version(lock, "wasm-bindgen-backend").as_deref(),
            Some("0.2.999")
        );
        assert_eq!(parse_locked_version(lock, "wasm"), None);
    }

    #[test]
    fn formats_sizes_and_durations() {
        assert_eq!(format_bytes(0), "0 B (0.0 KiB)");
        assert_eq!(format_bytes(123_456), "123 456 B (120.6 KiB)");
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(42_100)), "42.1s");
        assert_eq!(format_duration(Duration::from_secs(187)), "3m07s");
    }
}
