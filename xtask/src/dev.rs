//! `cargo xtask dev [app] [--port N] [--ip ADDR]`: builds and runs a worker locally in
//! `wrangler dev` (workerd), with state persisted under `.duro/state`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::build::{self, Profile};
use crate::setup;
use crate::workspace::{self, display, note, root, step};

const DEFAULT_IP: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 8787;
/// How long the first start (bundling, workerd start) may take before we give up waiting
/// to print the URL; wrangler keeps running either way.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The showcase's config, written when the root has none yet.
const SHOWCASE_CONFIG: &str = r#"# The showcase worker that `cargo xtask dev` runs: the counter app.
name = "duro-showcase"
main = "apps/counter/build/index.js"
compatibility_date = "2025-09-01"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]
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
                step("writing wrangler.toml for the showcase (the counter app)");
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
    build::build(&tools, &app_dir, Profile::Release)?;

    let persist = root.join(".duro").join("state");
    step(format!(
        "starting wrangler dev ({}), state in {}",
        display(&config),
        display(&persist)
    ));
    let mut command = Command::new(&tools.wrangler);
    command
        .current_dir(&root)
        .env("WRANGLER_SEND_METRICS", "false")
        .arg("dev")
        .arg("--config")
        .arg(&config)
        .args(["--ip", &ip, "--port", &port.to_string()])
        .arg("--persist-to")
        .arg(&persist);
    note(format!("$ {}", workspace::command_line(&command)));
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start wrangler: {e}"))?;

    match wait_ready(&mut child, &ip, port) {
        Ok(()) => {
            let base = format!("http://{ip}:{port}");
            step(format!("the showcase is running at {base}"));
            note("try:");
            note(format!(
                "curl -X POST {base}/counters/demo/add -d '{{\"by\":2}}'"
            ));
            note(format!("curl {base}/counters/demo"));
            note("stop with Ctrl-C");
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

/// The app folder a config's `main = "<app>/build/index.js"` points into.
fn showcase_app(config: &Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(config)
        .map_err(|e| format!("cannot read {}: {e}", config.display()))?;
    let main = text
        .lines()
        .map(str::trim)
        .find_map(|line| {
            let value = line.strip_prefix("main")?.trim_start().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        })
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

fn answers_http(ip: &str, port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((ip, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!("GET / HTTP/1.1\r\nHost: {ip}:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 ")
}
