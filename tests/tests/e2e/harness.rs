//! Runs a built worker in `wrangler dev` (workerd) on a free loopback port, and stops it
//! with everything it spawned.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::http::Client;

/// How long wrangler may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long wrangler may take to exit after SIGTERM before its group gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The workspace root.
pub fn root() -> PathBuf {
    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_dir.parent().unwrap_or(tests_dir).to_path_buf()
}

/// An app folder under `apps/`.
pub fn app(name: &str) -> PathBuf {
    root().join("apps").join(name)
}

/// A worker running in `wrangler dev`. Dropping it stops wrangler and workerd.
pub struct Worker {
    app_dir: PathBuf,
    persist_dir: PathBuf,
    test_routes: bool,
    /// Extra `[vars]`, passed as `--var NAME:VALUE`.
    vars: Vec<(String, String)>,
    /// The derived wrangler config and the logs of every start.
    scratch: TempDir,
    config: PathBuf,
    child: Option<Child>,
    port: u16,
    starts: u32,
    /// Whether the next start keeps `port` ([`Worker::start_again`]).
    same_port: bool,
}

impl Worker {
    /// Starts the worker in `app_dir` (built into `app_dir/build/`) with its state in
    /// `persist_dir`, the test-only routes enabled or not (`DURO_TEST_ROUTES=1`), and
    /// extra `[vars]`.
    ///
    /// Panics, with wrangler's output, if the worker does not answer within a minute.
    pub fn start(
        app_dir: &Path,
        persist_dir: &Path,
        test_routes: bool,
        vars: &[(&str, &str)],
    ) -> Worker {
        let scratch = tempfile::Builder::new()
            .prefix("duro-e2e-wrangler-")
            .tempdir()
            .expect("create a temporary folder");
        let config = scratch.path().join("wrangler.toml");
        let original = app_dir.join("wrangler.toml");
        let original = std::fs::read_to_string(&original)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", original.display()));
        std::fs::write(&config, derived_config(&original, app_dir)).expect("write the config");
        let mut worker = Worker {
            app_dir: app_dir.to_path_buf(),
            persist_dir: persist_dir.to_path_buf(),
            test_routes,
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            scratch,
            config,
            child: None,
            port: 0,
            starts: 0,
            same_port: false,
        };
        worker.launch();
        worker
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client for this worker. After [`Worker::restart`] the port changes: take a new one.
    pub fn client(&self) -> Client {
        Client::new(self.base_url())
    }

    /// Stops wrangler and workerd: SIGTERM to the process group, then SIGKILL.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_group(child, STOP_GRACE);
        }
    }

    /// Kills wrangler and workerd at once with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            stop_group(child, Duration::ZERO);
        }
    }

    /// Stops the worker and starts it again on the same state folder (on a new port).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Stops the worker if it runs and starts it again on the same port and state folder:
    /// a server that comes back where it was, for clients that reconnect by themselves (a
    /// browser page, whose origin includes the port).
    // Used by the browser test (tests/tests/browser), which shares this file.
    #[allow(dead_code)]
    pub fn start_again(&mut self) {
        self.stop();
        self.same_port = true;
        self.launch();
    }

    /// What wrangler printed during the current (or last) start.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.scratch
            .path()
            .join(format!("wrangler-{}.log", self.starts))
    }

    fn launch(&mut self) {
        // A Rust worker runs its build; a JavaScript one (no Cargo.toml) its source.
        if self.app_dir.join("Cargo.toml").is_file() {
            let build = self.app_dir.join("build");
            for file in ["index.js", "index_bg.wasm"] {
                let path = build.join(file);
                assert!(
                    path.is_file(),
                    "{} is missing: build the app first (`cargo xtask build`), or run every \
                     test with `cargo xtask test`",
                    path.display()
                );
            }
        }
        let wrangler = root().join("node_modules").join(".bin").join("wrangler");
        assert!(
            wrangler.is_file(),
            "{} is missing: run `cargo xtask setup`",
            wrangler.display()
        );

        adopt_orphans();
        self.starts += 1;
        if !std::mem::take(&mut self.same_port) {
            self.port = free_port();
        }
        let inspector_port = loop {
            let port = free_port();
            if port != self.port {
                break port;
            }
        };
        let log = File::create(self.log_path()).expect("create the log file");
        let mut command = Command::new(&wrangler);
        command
            .current_dir(self.scratch.path())
            .env("WRANGLER_SEND_METRICS", "false")
            .arg("dev")
            .arg("--config")
            .arg(&self.config)
            .args(["--ip", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--inspector-port", &inspector_port.to_string()])
            .arg("--persist-to")
            .arg(&self.persist_dir)
            .args([
                "--log-level",
                // With extra vars (a log level, say) the worker's `console.log` lines are
                // kept: wrangler prints them from its `log` level on.
                if self.vars.is_empty() { "warn" } else { "log" },
                "--show-interactive-dev-session=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            // Its own process group, so that stopping it also stops workerd.
            .process_group(0);
        if self.test_routes {
            command.args(["--var", "DURO_TEST_ROUTES:1"]);
        }
        for (name, value) in &self.vars {
            command.args(["--var", &format!("{name}:{value}")]);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", wrangler.display()));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        let probe = Client::with_timeout(self.base_url(), Duration::from_secs(5));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = self.log();
                    self.stop();
                    panic!(
                        "wrangler dev exited before it was ready ({status}); its output:\n{log}"
                    );
                }
            }
            // Any answer from the worker, even a 404, means it runs. An empty 404 is not
            // one: wrangler's proxy gives that while the worker is still loading (seen as
            // the first call of a test failing with `404 ""`); the apps' own 404s have
            // bodies.
            match probe.try_get("/") {
                Ok(reply) if !(reply.status == 404 && reply.body.is_empty()) => return,
                _ => {}
            }
            if start.elapsed() > READY_TIMEOUT {
                let log = self.log();
                self.stop();
                panic!(
                    "the worker did not answer on {} within {}s; wrangler's output:\n{log}",
                    self.base_url(),
                    READY_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A worker with its own fresh state folder, removed after the worker stops.
pub struct Fixture {
    /// The running worker.
    pub worker: Worker,
    // Declared after `worker` so it is removed only once the worker stopped.
    _state: TempDir,
}

impl Fixture {
    /// The app `name` on a fresh state folder, test routes enabled.
    pub fn new(name: &str) -> Fixture {
        Fixture::start(name, true, &[])
    }

    /// The app `name` on a fresh state folder, test routes enabled, with extra `[vars]`.
    pub fn with_vars(name: &str, vars: &[(&str, &str)]) -> Fixture {
        Fixture::start(name, true, vars)
    }

    /// The app `name` on a fresh state folder.
    pub fn with_test_routes(name: &str, test_routes: bool) -> Fixture {
        Fixture::start(name, test_routes, &[])
    }

    fn start(name: &str, test_routes: bool, vars: &[(&str, &str)]) -> Fixture {
        Fixture::at(&app(name), test_routes, vars)
    }

    /// The worker in `dir` (any worker folder, `apps/<name>` or elsewhere) on a fresh
    /// state folder.
    pub fn at(dir: &Path, test_routes: bool, vars: &[(&str, &str)]) -> Fixture {
        let state = fresh_state();
        let worker = Worker::start(dir, state.path(), test_routes, vars);
        Fixture {
            worker,
            _state: state,
        }
    }
    /// The line of the worker's log holding `needle` and the `following` lines after it,
    /// waiting up to 20 s for wrangler to write it (it may hold a quiet worker's output
    /// back for seconds); `None` if it never appears.
    pub fn wait_for_log(&self, needle: &str, following: usize) -> Option<String> {
        let start = Instant::now();
        loop {
            let log = self.worker.log();
            let lines: Vec<&str> = log.lines().collect();
            if let Some(at) = lines.iter().position(|l| l.contains(needle)) {
                let end = (at + 1 + following).min(lines.len());
                return Some(lines[at..end].join("\n"));
            }
            if start.elapsed() > Duration::from_secs(20) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn fresh_state() -> TempDir {
    tempfile::Builder::new()
        .prefix("duro-e2e-state-")
        .tempdir()
        .expect("create a state folder")
}

/// A copy of an app's wrangler.toml that runs the existing build: without the `[build]`
/// table (so wrangler does not rebuild) and with `main` and the static assets' folder
/// (`[assets] directory`) made absolute.
pub fn derived_config(original: &str, app_dir: &Path) -> String {
    let mut config: toml::Table =
        toml::from_str(original).unwrap_or_else(|e| panic!("wrangler.toml does not parse: {e}"));
    config.remove("build");
    if let Some(main) = config.get("main").and_then(toml::Value::as_str) {
        let absolute = app_dir.join(main).to_string_lossy().into_owned();
        config.insert("main".to_owned(), toml::Value::String(absolute));
    }
    if let Some(assets) = config.get_mut("assets").and_then(toml::Value::as_table_mut) {
        if let Some(directory) = assets.get("directory").and_then(toml::Value::as_str) {
            let absolute = app_dir.join(directory).to_string_lossy().into_owned();
            assets.insert("directory".to_owned(), toml::Value::String(absolute));
        }
    }
    toml::to_string(&config).unwrap_or_else(|e| panic!("cannot write the config: {e}"))
}

/// A port that is free right now on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// Signals the process group led by `child`, waits up to `grace` for the leader to exit,
/// then kills what is left of the group and waits until it is gone.
fn stop_group(mut child: Child, grace: Duration) {
    let Ok(group) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    if !grace.is_zero() {
        signal_group(group, libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < grace {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // workerd may outlive wrangler: kill the whole group.
    signal_group(group, libc::SIGKILL);
    let _ = child.wait();
    // Reap the rest of the group (workerd, adopted by this process, see
    // `adopt_orphans`) so that the next start finds the state folder free and no
    // zombie is left behind.
    let start = Instant::now();
    while !reap_group(group) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Makes this process the parent of its descendants whose parent dies (Linux), so that
/// the workerd processes wrangler leaves behind can be reaped here rather than staying
/// zombies under an init that may not reap them.
fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes integers only and changes
            // only how this process's orphaned descendants are re-parented.
            unsafe {
                libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            }
        });
    }
}

/// Reaps exited members of `group`; true once none is left (or none is our child).
fn reap_group(group: libc::pid_t) -> bool {
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) with a valid pointer to a local; -group selects only the
        // children in the harness's own process group; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-group, &mut status, libc::WNOHANG) };
        match pid {
            0 => return false,      // members remain and have not exited yet
            p if p > 0 => continue, // reaped one; look for more
            _ => return true,       // ECHILD: nothing left
        }
    }
}

fn signal_group(group: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers; a negative pid addresses the process group
    // `group`, which this harness created for the child (`process_group(0)`), so nothing
    // outside it is signalled. Errors (ESRCH: already gone) are fine to ignore.
    unsafe {
        libc::kill(-group, signal);
    }
}

#[test]
fn derived_config_drops_build_and_makes_main_absolute() {
    let original = "\
name = \"counter\"
main = \"build/index.js\"
compatibility_date = \"2025-09-01\"

[build]
command = \"cargo install -q worker-build && worker-build --release\"

[build.upload]
format = \"modules\"

[assets]
directory = \"public\"
binding = \"ASSETS\"

[[durable_objects.bindings]]
name = \"COUNTER\"
class_name = \"Counter\"
";
    let derived: toml::Table =
        toml::from_str(&derived_config(original, Path::new("/w/apps/counter"))).unwrap();
    let expected: toml::Table = toml::from_str(
        "\
name = \"counter\"
main = \"/w/apps/counter/build/index.js\"
compatibility_date = \"2025-09-01\"

[assets]
directory = \"/w/apps/counter/public\"
binding = \"ASSETS\"

[[durable_objects.bindings]]
name = \"COUNTER\"
class_name = \"Counter\"
",
    )
    .unwrap();
    assert_eq!(derived, expected);
}
