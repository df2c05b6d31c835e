//! `cargo xtask new <name>`, then exactly what its output says to do: the new app's native
//! tests, a release build (with its size budget), and `cargo xtask dev <name>` answering
//! its routes. The app is a scratch one written into this workspace and removed afterwards
//! (the workspace's Cargo.toml and Cargo.lock are put back as they were, even when the test
//! fails).
//!
//! `#[ignore]`d in a plain `cargo test` (it builds a worker and runs wrangler);
//! `cargo xtask test` runs it, or alone:
//! `cargo test -p duro-tests --test new_app -- --ignored`.

#[path = "support/run.rs"]
mod run;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The scratch app's name.
const NAME: &str = "scratch-new-app";
/// How long one cargo command (a build, the tests) may take.
const CARGO_TIMEOUT: Duration = Duration::from_secs(900);
/// How long `cargo xtask dev` may take to serve (wrangler builds the app first).
const DEV_TIMEOUT: Duration = Duration::from_secs(300);

fn root() -> PathBuf {
    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_dir.parent().unwrap_or(tests_dir).to_path_buf()
}

/// Puts the workspace back as it was when dropped: removes the scratch app and restores
/// the root Cargo.toml and Cargo.lock.
struct Restore {
    manifest: String,
    lock: Option<String>,
}

impl Restore {
    fn new() -> Restore {
        let app = root().join("apps").join(NAME);
        assert!(
            !app.exists(),
            "{} exists, probably left by an interrupted run of this test: remove it and \
             its line in the root Cargo.toml's members, then run again",
            app.display()
        );
        Restore {
            manifest: std::fs::read_to_string(root().join("Cargo.toml")).unwrap(),
            lock: std::fs::read_to_string(root().join("Cargo.lock")).ok(),
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(root().join("apps").join(NAME));
        let _ = std::fs::write(root().join("Cargo.toml"), &self.manifest);
        if let Some(lock) = &self.lock {
            let _ = std::fs::write(root().join("Cargo.lock"), lock);
        }
    }
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args(args)
        .current_dir(root())
        .env("WRANGLER_SEND_METRICS", "false");
    command
}

/// `cargo xtask <args>`.
fn xtask(args: &[&str]) -> Command {
    let mut command = cargo(&["run", "--quiet", "--package", "xtask", "--"]);
    command.args(args);
    command
}

/// [`run::run`], with the command and its output printed (shown when the test fails).
fn run(command: Command, timeout: Duration) -> (bool, String) {
    let line = format!("{command:?}");
    let (ok, output) = run::run(command, timeout);
    eprintln!("$ {line}\n{output}");
    (ok, output)
}

fn succeeds(command: Command) -> String {
    let line = format!("{command:?}");
    let (ok, output) = run(command, CARGO_TIMEOUT);
    assert!(ok, "{line} failed:\n{output}");
    output
}

/// `cargo xtask dev` in its own process group, killed with the group when dropped.
struct Dev {
    child: Child,
    log: PathBuf,
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(group) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: signals a process group this test started; no memory is involved.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn post(url: &str, body: &str) -> String {
    ureq::post(url)
        .send(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
        .body_mut()
        .read_to_string()
        .unwrap()
}

fn get(url: &str) -> String {
    ureq::get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .read_to_string()
        .unwrap()
}

#[test]
#[ignore = "builds a worker and runs wrangler; `cargo xtask test` runs it"]
fn a_new_app_builds_passes_its_tests_and_runs_in_dev() {
    let restore = Restore::new();
    let manifest_before = restore.manifest.clone();

    // Refused: a bad name, an existing folder; nothing written.
    let (ok, out) = run(xtask(&["new", "Bad_Name"]), CARGO_TIMEOUT);
    assert!(!ok && out.contains("not a valid app name"), "{out}");
    let (ok, out) = run(xtask(&["new", "counter"]), CARGO_TIMEOUT);
    assert!(!ok && out.contains("apps/counter already exists"), "{out}");
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert_eq!(manifest, manifest_before);

    let out = succeeds(xtask(&["new", NAME]));
    assert!(out.contains(&format!("cargo xtask dev {NAME}")), "{out}");
    let app = root().join("apps").join(NAME);
    for file in [
        "Cargo.toml",
        "wrangler.toml",
        "README.md",
        "src/lib.rs",
        "src/routes.rs",
        "src/worker.rs",
        "tests/app.rs",
    ] {
        assert!(app.join(file).is_file(), "{file} is missing");
    }
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!("\"apps/{NAME}\"")), "{manifest}");
    let wrangler = std::fs::read_to_string(app.join("wrangler.toml")).unwrap();
    assert!(wrangler.contains("new_sqlite_classes = [\"ScratchNewApp\"]"));
    assert!(wrangler.contains("binding = \"INDEX\""));
    let (ok, out) = run(xtask(&["new", NAME]), CARGO_TIMEOUT);
    assert!(!ok && out.contains("already exists"), "{out}");

    // What CI runs over every member: formatted, clippy-clean, and its native tests pass.
    succeeds(cargo(&["fmt", "-p", NAME, "--", "--check"]));
    succeeds(cargo(&[
        "clippy",
        "-p",
        NAME,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]));
    let out = succeeds(cargo(&["test", "-p", NAME]));
    assert!(
        out.contains("test adds_persist_across_restarts_and_reach_the_index ... ok"),
        "{out}"
    );
    assert!(out.contains("test ids_are_checked ... ok"), "{out}");

    // A release build within its size budget.
    let out = succeeds(xtask(&["build", NAME]));
    assert!(out.contains("within its budget"), "{out}");

    // `cargo xtask dev <name>`, unchanged, serves the app.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let log = std::env::temp_dir().join(format!("duro-new-app-dev-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).unwrap();
    let mut command = xtask(&["dev", NAME, "--port", &port.to_string()]);
    command
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .process_group(0);
    let dev = Dev {
        child: command.spawn().expect("start cargo xtask dev"),
        log,
    };
    let start = Instant::now();
    let url = format!("http://127.0.0.1:{port}");
    loop {
        let text = std::fs::read_to_string(&dev.log).unwrap_or_default();
        if text.contains(&format!("{NAME} is running at {url}")) {
            break;
        }
        assert!(
            start.elapsed() < DEV_TIMEOUT,
            "cargo xtask dev did not serve within {DEV_TIMEOUT:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // `.duro/state` persists between dev runs: a fresh id each time.
    let id = format!(
        "t{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    assert_eq!(
        post(&format!("{url}/items/{id}/add"), r#"{"by":2}"#),
        r#"{"total":2}"#
    );
    assert_eq!(
        post(&format!("{url}/items/{id}/add"), r#"{"by":3}"#),
        r#"{"total":5}"#
    );
    assert_eq!(get(&format!("{url}/items/{id}")), r#"{"total":5}"#);
    drop(dev);
    drop(restore);
    assert!(!app.exists());
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert_eq!(manifest, manifest_before);
}
