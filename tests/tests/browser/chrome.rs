//! Headless Chromium through chromedriver (Debian's `chromium` and `chromium-driver`,
//! which `cargo xtask setup` installs), driven over WebDriver with fantoccini.

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long chromedriver may take to answer.
const DRIVER_READY: Duration = Duration::from_secs(30);

/// The executables, from `CHROMIUM` and `CHROMEDRIVER` or found on `PATH`.
pub struct Browser {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl Browser {
    /// Finds both executables, or panics saying how to install them.
    pub fn find() -> Browser {
        let chromium = executable("CHROMIUM", &["chromium", "chromium-browser"]);
        let chromedriver = executable("CHROMEDRIVER", &["chromedriver"]);
        match (chromium, chromedriver) {
            (Some(chromium), Some(chromedriver)) => Browser {
                chromium,
                chromedriver,
            },
            (chromium, chromedriver) => panic!(
                "the browser test needs headless Chromium and its WebDriver; missing: {}. \
                 Install them with `cargo xtask setup` (on Debian: `apt-get install chromium \
                 chromium-driver`), or point CHROMIUM and CHROMEDRIVER at them.",
                [
                    chromium.is_none().then_some("chromium"),
                    chromedriver.is_none().then_some("chromedriver"),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" and ")
            ),
        }
    }

    /// Starts chromedriver on a free loopback port.
    pub fn start(&self) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("find a free port");
        let log = tempfile::NamedTempFile::new().expect("a file for chromedriver's log");
        let child = Command::new(&self.chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.path().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that stopping it also stops the browsers it started.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.chromedriver.display()));
        let driver = Driver {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            chromium: self.chromium.clone(),
            log,
        };
        driver.wait_ready();
        driver
    }
}

/// A running chromedriver. Dropping it stops chromedriver and its browsers.
pub struct Driver {
    child: Option<Child>,
    url: String,
    chromium: PathBuf,
    log: tempfile::NamedTempFile,
}

impl Driver {
    fn wait_ready(&self) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let start = Instant::now();
        loop {
            let ready = agent
                .get(format!("{}/status", self.url))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
                .is_some_and(|status| status["value"]["ready"] == true);
            if ready {
                return;
            }
            assert!(
                start.elapsed() < DRIVER_READY,
                "chromedriver did not answer on {} within {}s; its log:\n{}",
                self.url,
                DRIVER_READY.as_secs(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What chromedriver logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// A new browser: its own profile, so its own storage and cookies.
    pub async fn session(&self) -> Client {
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": [
                    "--headless=new",
                    // Chromium's sandbox needs user namespaces, which containers (and
                    // root) often lack; the pages are the test's own, on loopback.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    "--window-size=1000,720",
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start Chromium: {e}\nchromedriver's log:\n{}",
                    self.log()
                )
            })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(group) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill(2) on the process group this test created for chromedriver
                // (`process_group(0)`); nothing outside it is signalled.
                unsafe {
                    libc::kill(-group, libc::SIGKILL);
                }
            }
            let _ = child.wait();
        }
    }
}

/// `$variable` if set, else the first of `names` found on `PATH`.
fn executable(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Polls `probe` every 100 ms until it returns `Some`, or panics after `limit` with
/// `what` and the last value seen.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        let last = match probe().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            start.elapsed() < limit,
            "{what}: not within {}s; last seen: {last}",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
