//! `cargo xtask dev [app] [--port N] [--ip ADDR]`: builds and runs a worker locally in
//! `wrangler dev` (workerd), with state persisted under `.duro/state`.
//!
//! wrangler runs in the folder of the config it serves, because it runs the config's
//! `[build]` command there (an app's `worker-build` must find the app's Cargo.toml, not
//! the workspace's), with the tools the setup installed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ureq::Agent;

use crate::build::{self, Built, Profile};
use crate::metadata::{AppMetadata, TABLE};
use crate::setup::{self, Tools};
use crate::workspace::{self, display, note, root, step};

const DEFAULT_IP: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 8787;
/// How long the first start (an app's own `[build]`, which may compile everything the
/// first time, bundling, workerd start) may take before we give up waiting to print the
/// URL; wrangler keeps running either way.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// The showcase's config, written when the root has none yet.
const SHOWCASE_CONFIG: &str = r#"# The showcase worker that `cargo xtask dev` runs: the chat app.
name = "duro-showcase"
main = "apps/chat/build/entry.js"
compatibility_date = "2025-09-01"

[assets]
directory = "apps/chat/public"
binding = "ASSETS"
run_worker_first = true

[[durable_objects.bindings]]
name = "ROOM"
class_name = "Room"

[[kv_namespaces]]
binding = "INDEX"
id = "00000000000000000000000000000000"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Room"]
"#;

/// `cargo xtask dev`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut app = None;
    let mut ip = DEFAULT_IP.to_owned();
    let mut port = DEFAULT_PORT;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a port number")?;
            }
            "--ip" => ip = args.next().ok_or("--ip needs an address")?.clone(),
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown option `{flag}`; usage: cargo xtask dev [app] [--port N] [--ip ADDR]"
                ))
            }
            name if app.is_none() => app = Some(name.to_owned()),
            extra => return Err(format!("`dev` takes one app, got also `{extra}`")),
        }
    }

    let root = root();
    let showcase = app.is_none();
    let (app_dir, config) = match app {
        Some(app) => {
            let dir = build::resolve(&app)?;
            let config = dir.join("wrangler.toml");
            if !config.is_file() {
                return Err(format!("{} has no wrangler.toml", display(&dir)));
            }
            (dir, config)
        }
        None => {
            let config = root.join("wrangler.toml");
            if !config.is_file() {
                step("writing wrangler.toml for the showcase (the chat app)");
                std::fs::write(&config, SHOWCASE_CONFIG)
                    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
            }
            (showcase_app(&config)?, config)
        }
    };

    if TcpListener::bind((ip.as_str(), port)).is_err() {
        return Err(format!(
            "{ip}:{port} is already in use; stop what runs there or pass --port <another>"
        ));
    }
    let tools = setup::ensure()?;
    // A config with its own `[build]` is built by wrangler before it serves (and again
    // when sources change); building it here first would only do the same work twice.
    let metadata = AppMetadata::read(&app_dir)?;
    let wrangler_builds = has_build_command(&read_config(&config)?);
    if wrangler_builds {
        step(format!(
            "wrangler builds {} with the `[build]` command of {}",
            display(&app_dir),
            display(&config)
        ));
    } else {
        warn_over_budget(&build::build(&tools, &app_dir, Profile::Release)?);
    }

    let persist = root.join(".duro").join("state");
    step(format!(
        "starting wrangler dev ({}), state in {}",
        display(&config),
        display(&persist)
    ));
    let mut command = wrangler_dev(&tools, &config, &ip, port, &persist);
    note(format!("$ {}", workspace::command_line(&command)));
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start wrangler: {e}"))?;

    match wait_ready(&mut child, &ip, port) {
        Ok(()) => {
            if wrangler_builds {
                match Built::measure(&app_dir) {
                    Ok(built) => warn_over_budget(&built),
                    Err(e) => note(format!("warning: {e}")),
                }
            }
            let (headline, lines) = banner(
                &metadata,
                &display(&app_dir),
                showcase,
                &format!("http://{ip}:{port}"),
            );
            step(headline);
            for line in lines {
                note(line);
            }
        }
        Err(message) => {
            // Still running: leave it to wrangler's own output to say what is wrong.
            if child.try_wait().ok().flatten().is_none() {
                note(message);
            } else {
                return Err(message);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for wrangler: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("wrangler dev exited ({status})"))
    }
}

/// `build` fails on an app over its size budget; a local run is still useful.
fn warn_over_budget(built: &Built) {
    if let Some(over) = built.over_budget() {
        note(format!("warning: {over}"));
    }
}

/// A wrangler config, parsed.
fn read_config(config: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(config)
        .map_err(|e| format!("cannot read {}: {e}", display(config)))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", display(config)))
}

/// Whether a wrangler config has a custom build (`[build] command`), which wrangler runs
/// before it serves.
fn has_build_command(config: &toml::Table) -> bool {
    config
        .get("build")
        .and_then(|build| build.get("command"))
        .is_some()
}

/// `wrangler dev` for `config`, listening on `ip:port`, with its state in `persist`.
fn wrangler_dev(tools: &Tools, config: &Path, ip: &str, port: u16, persist: &Path) -> Command {
    let mut command = Command::new(&tools.wrangler);
    tools.worker_build_env(&mut command);
    command
        .current_dir(config.parent().unwrap_or(Path::new(".")))
        .env("WRANGLER_SEND_METRICS", "false")
        .arg("dev")
        .arg("--config")
        .arg(config)
        .args(["--ip", ip, "--port", &port.to_string()])
        .arg("--persist-to")
        .arg(persist);
    command
}

/// What `dev` prints once the worker answers: a headline, then the app's `try` lines
/// (from its Cargo.toml, `{url}` replaced) or where its routes are described.
fn banner(app: &AppMetadata, app_dir: &str, showcase: bool, url: &str) -> (String, Vec<String>) {
    let what = if showcase {
        format!("the showcase ({app_dir})")
    } else {
        app.name.clone()
    };
    let mut lines = Vec::new();
    if app.try_lines.is_empty() {
        lines.push(format!(
            "its routes: see {app_dir}/README.md (`try` lines under {TABLE} in its Cargo.toml \
             are printed here)"
        ));
    } else {
        lines.push("try:".to_owned());
        lines.extend(app.try_lines.iter().map(|line| line.replace("{url}", url)));
    }
    lines.push("stop with Ctrl-C".to_owned());
    (format!("{what} is running at {url}"), lines)
}

/// The app folder a config's `main = "<app>/build/entry.js"` points into.
fn showcase_app(config: &Path) -> Result<PathBuf, String> {
    let table = read_config(config)?;
    let main = table
        .get("main")
        .and_then(toml::Value::as_str)
        .ok_or_else(|| format!("{} has no `main`", display(config)))?;
    let app = main
        .split_once("/build/")
        .map(|(app, _)| app)
        .ok_or_else(|| {
            format!(
                "`main = \"{main}\"` in {} does not point into an app's build/ folder",
                display(config)
            )
        })?;
    let dir = config.parent().unwrap_or(Path::new(".")).join(app);
    if dir.join("Cargo.toml").is_file() {
        Ok(dir)
    } else {
        Err(format!("{} is not a Rust crate", display(&dir)))
    }
}

/// Waits until the worker answers an HTTP request (any status) or wrangler exits.
fn wait_ready(child: &mut Child, ip: &str, port: u16) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < READY_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "wrangler dev exited before it was ready ({status})"
            ));
        }
        if answers_http(ip, port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!(
        "no answer on {ip}:{port} after {}s",
        READY_TIMEOUT.as_secs()
    ))
}

/// Whether anything answers HTTP on `ip:port` (any status).
fn answers_http(ip: &str, port: u16) -> bool {
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent.get(format!("http://{ip}:{port}/")).call().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Tools {
        Tools {
            worker_build: PathBuf::from("/home/u/.cargo/bin/worker-build"),
            wasm_bindgen: PathBuf::from("/home/u/.cargo/bin/wasm-bindgen"),
            wasm_opt: PathBuf::from("/w/node_modules/.bin/wasm-opt"),
            wrangler: PathBuf::from("/w/node_modules/.bin/wrangler"),
        }
    }

    /// wrangler runs an app's `[build]` command in its working directory: it must be the
    /// app's folder (worker-build reads the Cargo.toml there), not the workspace root.
    #[test]
    fn wrangler_runs_in_the_folder_of_its_config() {
        let config = Path::new("/w/apps/counter/wrangler.toml");
        let state = Path::new("/w/.duro/state");
        let command = wrangler_dev(&tools(), config, "127.0.0.1", 8787, state);
        assert_eq!(
            command.get_current_dir(),
            Some(Path::new("/w/apps/counter"))
        );
        // The `[build]` command finds the tools the setup installed.
        let env: Vec<(String, String)> = command
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned())))
            .collect();
        let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(
            var("WASM_BINDGEN_BIN"),
            Some("/home/u/.cargo/bin/wasm-bindgen")
        );
        assert_eq!(var("WASM_OPT_BIN"), Some("/w/node_modules/.bin/wasm-opt"));
        assert!(var("PATH").is_some_and(|p| p.starts_with("/home/u/.cargo/bin:")));
        let showcase = wrangler_dev(
            &tools(),
            Path::new("/w/wrangler.toml"),
            "127.0.0.1",
            8787,
            state,
        );
        assert_eq!(showcase.get_current_dir(), Some(Path::new("/w")));
    }

    #[test]
    fn prints_the_apps_own_lines_to_try() {
        let counter = AppMetadata {
            name: "counter".into(),
            try_lines: vec!["curl {url}/counters/demo".into()],
            ..AppMetadata::default()
        };
        let (headline, lines) = banner(&counter, "apps/counter", false, "http://127.0.0.1:9000");
        assert_eq!(headline, "counter is running at http://127.0.0.1:9000");
        assert_eq!(
            lines,
            [
                "try:",
                "curl http://127.0.0.1:9000/counters/demo",
                "stop with Ctrl-C"
            ]
        );
        let (headline, _) = banner(&counter, "apps/counter", true, "http://127.0.0.1:8787");
        assert_eq!(
            headline,
            "the showcase (apps/counter) is running at http://127.0.0.1:8787"
        );

        let other = AppMetadata {
            name: "lobby".into(),
            ..AppMetadata::default()
        };
        let (headline, lines) = banner(&other, "apps/lobby", false, "http://127.0.0.1:8787");
        assert_eq!(headline, "lobby is running at http://127.0.0.1:8787");
        assert!(
            lines[0].starts_with("its routes: see apps/lobby/README.md"),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.contains("counters")), "{lines:?}");
    }

    #[test]
    fn sees_whether_wrangler_builds_the_app() {
        let config = |text: &str| toml::from_str::<toml::Table>(text).unwrap();
        let counter = std::fs::read_to_string(root().join("apps/counter/wrangler.toml")).unwrap();
        assert!(has_build_command(&config(&counter)));
        let showcase = std::fs::read_to_string(root().join("wrangler.toml")).unwrap();
        assert!(!has_build_command(&config(&showcase)));
        assert!(!has_build_command(&config(
            "[build]\nwatch_dir = \"src\"\n"
        )));
    }

    /// The counter declares its own lines, and its budget.
    #[test]
    fn the_counter_declares_its_lines_and_budget() {
        let counter = AppMetadata::read(&root().join("apps").join("counter")).unwrap();
        assert_eq!(counter.size_budget_gzip, Some(280 * 1024));
        assert!(counter
            .try_lines
            .iter()
            .any(|l| l.contains("{url}/counters/demo")));
    }
}
