//! Runs a built worker directly in workerd, with a config generated from its
//! `wrangler.toml`: no wrangler, no dev proxy, no middleware in the request path.

use std::fmt::Write as _;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::load::{Call, Client, Reply};
use crate::workspace::{display, root};

/// How long workerd may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The workerd binary that the npm package `workerd` installed for this platform.
pub fn binary() -> Result<PathBuf, String> {
    let scope = root().join("node_modules").join("@cloudflare");
    let entries = std::fs::read_dir(&scope).map_err(|e| {
        format!(
            "cannot read {}: {e}; run `cargo xtask setup` (workerd comes with wrangler)",
            display(&scope)
        )
    })?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("workerd-"))
        .map(|e| e.path().join("bin").join("workerd"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| {
        format!(
            "no workerd binary under {}/workerd-*/bin; run `cargo xtask setup`",
            display(&scope)
        )
    })
}

/// What the benchmark needs from a `wrangler.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WranglerConfig {
    pub main: String,
    pub compatibility_date: String,
    pub compatibility_flags: Vec<String>,
    /// Durable Object bindings: (binding name, class name).
    pub durable_objects: Vec<(String, String)>,
    /// Classes declared with `new_sqlite_classes`.
    pub sqlite_classes: Vec<String>,
    /// Plain-text variables from `[vars]`.
    pub vars: Vec<(String, String)>,
    /// Workers KV bindings (`[[kv_namespaces]]`), served by an in-memory stand-in.
    pub kv_namespaces: Vec<String>,
}

/// Binding tables the generated workerd config cannot provide.
const UNSUPPORTED_TABLES: &[&str] = &[
    "r2_buckets",
    "d1_databases",
    "services",
    "queues.producers",
    "queues.consumers",
    "hyperdrive",
    "vectorize",
    "ai",
    "analytics_engine_datasets",
    "browser",
    "workflows",
    "dispatch_namespaces",
];

/// The part of a `wrangler.toml` that [`WranglerConfig`] is made from.
#[derive(Debug, Deserialize)]
struct Raw {
    main: String,
    compatibility_date: String,
    #[serde(default)]
    compatibility_flags: Vec<String>,
    #[serde(default)]
    durable_objects: RawDurableObjects,
    #[serde(default)]
    kv_namespaces: Vec<RawKvNamespace>,
    #[serde(default)]
    migrations: Vec<RawMigration>,
    #[serde(default)]
    vars: toml::Table,
    /// Everything else: `[build]`, `name`, … and the binding tables checked against
    /// [`UNSUPPORTED_TABLES`].
    #[serde(flatten)]
    rest: toml::Table,
}

#[derive(Debug, Default, Deserialize)]
struct RawDurableObjects {
    #[serde(default)]
    bindings: Vec<RawBinding>,
}

#[derive(Debug, Deserialize)]
struct RawBinding {
    name: String,
    class_name: String,
    script_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawKvNamespace {
    binding: String,
}

#[derive(Debug, Deserialize)]
struct RawMigration {
    #[serde(default)]
    new_sqlite_classes: Vec<String>,
}

impl WranglerConfig {
    /// Reads what the benchmark runs from a `wrangler.toml`: `main`, the compatibility
    /// date and flags, `[vars]` (strings), `[[durable_objects.bindings]]`,
    /// `[[kv_namespaces]]` and the migrations' `new_sqlite_classes`. Other binding tables
    /// are refused; the rest (`[build]`, …) is ignored.
    pub fn parse(text: &str) -> Result<WranglerConfig, String> {
        let raw: Raw = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(table) = UNSUPPORTED_TABLES
            .iter()
            .find(|table| lookup(&raw.rest, table).is_some())
        {
            return Err(format!(
                "[{table}] bindings are not supported by the benchmark's workerd config \
                 (xtask/src/bench/workerd.rs)"
            ));
        }
        let mut durable_objects = Vec::new();
        for binding in raw.durable_objects.bindings {
            if binding.script_name.is_some() {
                return Err("bindings to another script's classes are not supported".into());
            }
            durable_objects.push((binding.name, binding.class_name));
        }
        let vars = raw
            .vars
            .into_iter()
            .map(|(name, value)| match value {
                toml::Value::String(text) => Ok((name, text)),
                other => Err(format!(
                    "[vars] {name} = {other}: only string variables are supported"
                )),
            })
            .collect::<Result<_, String>>()?;
        Ok(WranglerConfig {
            main: raw.main,
            compatibility_date: raw.compatibility_date,
            compatibility_flags: raw.compatibility_flags,
            durable_objects,
            sqlite_classes: raw
                .migrations
                .into_iter()
                .flat_map(|m| m.new_sqlite_classes)
                .collect(),
            vars,
            kv_namespaces: raw.kv_namespaces.into_iter().map(|kv| kv.binding).collect(),
        })
    }
}

/// The value at a dotted path (`queues.producers`) of a table.
fn lookup<'a>(table: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let (first, rest) = path
        .split_once('.')
        .map_or((path, None), |(a, b)| (a, Some(b)));
    let value = table.get(first)?;
    match rest {
        None => Some(value),
        Some(rest) => lookup(value.as_table()?, rest),
    }
}

/// A module of the worker: its name in workerd and the file it comes from.
#[derive(Debug, Clone)]
pub struct Module {
    pub name: String,
    pub source: PathBuf,
}

impl Module {
    fn kind(&self) -> &'static str {
        if self.name.ends_with(".wasm") {
            "wasm"
        } else {
            "esModule"
        }
    }
}

/// The in-memory KV service's module.
const KV_MODULE: &str = "bench-kv.js";
const KV_SOURCE: &str = include_str!("kv.js");

/// Writes the in-memory KV service's module into `dir`.
fn write_kv_module(dir: &Path) -> Result<(), String> {
    let kv = dir.join(KV_MODULE);
    std::fs::write(&kv, KV_SOURCE).map_err(|e| format!("cannot write {}: {e}", kv.display()))
}

/// The capnp worker value of the in-memory KV service.
fn kv_worker(compatibility_date: &str) -> String {
    format!(
        "(modules = [(name = {kv}, esModule = embed {kv})], compatibilityDate = {})",
        quoted(compatibility_date),
        kv = quoted(KV_MODULE),
    )
}

/// A worker prepared to run: its config and modules copied into `dir`.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub dir: PathBuf,
    pub config: PathBuf,
    /// The same config with V8's `--perf-basic-prof` (JIT code named for `perf`), for the
    /// profile phase only.
    pub perf_config: Option<PathBuf>,
}

impl Prepared {
    /// The worker as started for `perf`: V8 writes `/tmp/perf-<pid>.map` naming its
    /// compiled JavaScript and wasm functions.
    pub fn for_perf(&self) -> Option<Prepared> {
        Some(Prepared {
            config: self.perf_config.clone()?,
            perf_config: None,
            ..self.clone()
        })
    }
}

/// V8 flags of the profile phase's workerd: name JIT code in `/tmp/perf-<pid>.map`.
pub const PERF_V8_FLAGS: &[&str] = &["--perf-basic-prof"];

/// Writes `dir/config.capnp` and copies the modules beside it (workerd embeds files by
/// paths relative to the config). `vars` are added to the worker's own `[vars]`.
pub fn prepare(
    dir: &Path,
    key: &str,
    wrangler: &WranglerConfig,
    modules: &[Module],
    vars: &[(&str, &str)],
    kv_port: Option<u16>,
) -> Result<Prepared, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for module in modules {
        let to = dir.join(&module.name);
        std::fs::copy(&module.source, &to).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                display(&module.source),
                display(&to)
            )
        })?;
    }
    if !wrangler.kv_namespaces.is_empty() && kv_port.is_none() {
        write_kv_module(dir)?;
    }
    let config = dir.join("config.capnp");
    std::fs::write(
        &config,
        capnp_config(key, wrangler, modules, vars, kv_port, &[]),
    )
    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let perf_config = dir.join("config-perf.capnp");
    let text = capnp_config(key, wrangler, modules, vars, kv_port, PERF_V8_FLAGS);
    std::fs::write(&perf_config, text)
        .map_err(|e| format!("cannot write {}: {e}", perf_config.display()))?;
    Ok(Prepared {
        dir: dir.to_path_buf(),
        config,
        perf_config: Some(perf_config),
    })
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes the config of a workerd that serves only the in-memory KV service, on its
/// `http` socket, into `dir`.
pub fn prepare_kv(dir: &Path, compatibility_date: &str) -> Result<Prepared, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write_kv_module(dir)?;
    let config = dir.join("config.capnp");
    let text = format!(
        "# Generated by `cargo xtask bench`: the in-memory KV service on its own.\n\
         using Workerd = import \"/workerd/workerd.capnp\";\n\n\
         const config :Workerd.Config = (\n  services = [\n    \
         (name = \"kv\", worker = {worker}),\n    \
         (name = \"state\", disk = (path = \"state\", writable = true)),\n  ],\n  \
         sockets = [(name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"kv\")],\n);\n",
        worker = kv_worker(compatibility_date),
    );
    std::fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    Ok(Prepared {
        dir: dir.to_path_buf(),
        config,
        perf_config: None,
    })
}

/// The workerd config: one worker service behind one HTTP socket (its address is given on
/// the command line), Durable Objects stored on local disk in the directory service
/// `state` (also given on the command line), and one KV service per KV binding: the
/// in-memory KV worker in this process, or, with `kv_port`, the KV workerd listening there
/// (as in production, where KV is a remote service, its work is then not this process's).
/// `v8_flags` go to V8 as they are.
pub fn capnp_config(
    key: &str,
    wrangler: &WranglerConfig,
    modules: &[Module],
    vars: &[(&str, &str)],
    kv_port: Option<u16>,
    v8_flags: &[&str],
) -> String {
    let mut out = String::from(
        "# Generated by `cargo xtask bench`.\n\
         using Workerd = import \"/workerd/workerd.capnp\";\n\n\
         const config :Workerd.Config = (\n  services = [\n    \
         (name = \"main\", worker = .worker),\n    \
         (name = \"state\", disk = (path = \"state\", writable = true)),\n",
    );
    for binding in &wrangler.kv_namespaces {
        let name = quoted(&format!("kv-{binding}"));
        let _ = match kv_port {
            Some(port) => writeln!(
                out,
                "    (name = {name}, external = (address = \"127.0.0.1:{port}\", http = ())),"
            ),
            None => writeln!(
                out,
                "    (name = {name}, worker = {}),",
                kv_worker(&wrangler.compatibility_date)
            ),
        };
    }
    out.push_str("  ],\n");
    if !v8_flags.is_empty() {
        let flags: Vec<String> = v8_flags.iter().map(|f| quoted(f)).collect();
        let _ = writeln!(out, "  v8Flags = [{}],", flags.join(", "));
    }
    out.push_str(
        "  sockets = [(name = \"http\", address = \"127.0.0.1:0\", http = (), \
         service = \"main\")],\n);\n\nconst worker :Workerd.Worker = (\n  modules = [\n",
    );
    for module in modules {
        let name = quoted(&module.name);
        let _ = writeln!(
            out,
            "    (name = {name}, {} = embed {name}),",
            module.kind()
        );
    }
    let _ = writeln!(out, "  ],");
    let _ = writeln!(
        out,
        "  compatibilityDate = {},",
        quoted(&wrangler.compatibility_date)
    );
    if !wrangler.compatibility_flags.is_empty() {
        let flags: Vec<String> = wrangler
            .compatibility_flags
            .iter()
            .map(|f| quoted(f))
            .collect();
        let _ = writeln!(out, "  compatibilityFlags = [{}],", flags.join(", "));
    }
    let mut classes: Vec<&str> = wrangler
        .durable_objects
        .iter()
        .map(|(_, class)| class.as_str())
        .collect();
    classes.sort_unstable();
    classes.dedup();
    let _ = writeln!(out, "  durableObjectNamespaces = [");
    for class in &classes {
        let sql = wrangler.sqlite_classes.iter().any(|c| c == class);
        let _ = writeln!(
            out,
            "    (className = {}, uniqueKey = {}, enableSql = {sql}),",
            quoted(class),
            quoted(&format!("bench-{key}-{class}"))
        );
    }
    let _ = writeln!(out, "  ],");
    let _ = writeln!(out, "  durableObjectStorage = (localDisk = \"state\"),");
    let _ = writeln!(out, "  bindings = [");
    for (name, class) in &wrangler.durable_objects {
        let _ = writeln!(
            out,
            "    (name = {}, durableObjectNamespace = {}),",
            quoted(name),
            quoted(class)
        );
    }
    for binding in &wrangler.kv_namespaces {
        let _ = writeln!(
            out,
            "    (name = {}, kvNamespace = {}),",
            quoted(binding),
            quoted(&format!("kv-{binding}"))
        );
    }
    let extra = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let mut all_vars: Vec<(String, String)> = wrangler.vars.clone();
    for (k, v) in extra {
        all_vars.retain(|(existing, _)| *existing != k);
        all_vars.push((k, v));
    }
    for (name, value) in &all_vars {
        let _ = writeln!(
            out,
            "    (name = {}, text = {}),",
            quoted(name),
            quoted(value)
        );
    }
    let _ = writeln!(out, "  ],\n);");
    out
}

/// A running workerd. Dropping it kills the process.
pub struct Server {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    /// From spawning the process to its first successful response.
    pub started_in: Duration,
}

impl Server {
    /// Starts workerd on a free port with `state` as the Durable Object storage, and waits
    /// until `probe` answers 200.
    pub fn start(
        workerd: &Path,
        prepared: &Prepared,
        state: &Path,
        log: &Path,
        probe: &Call,
    ) -> Result<Server, String> {
        std::fs::create_dir_all(state)
            .map_err(|e| format!("cannot create {}: {e}", state.display()))?;
        let port = free_port()?;
        let log_file =
            File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let mut command = Command::new(workerd);
        command
            .current_dir(&prepared.dir)
            .arg("serve")
            .arg(&prepared.config)
            .arg(format!("--socket-addr=http=127.0.0.1:{port}"))
            .arg(format!("--directory-path=state={}", state.display()))
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err);
        let spawned = Instant::now();
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", workerd.display()))?;
        let mut server = Server {
            child,
            port,
            log: log.to_path_buf(),
            started_in: Duration::ZERO,
        };
        server.started_in = server.wait_ready(spawned, probe)?;
        Ok(server)
    }

    fn wait_ready(&mut self, spawned: Instant, probe: &Call) -> Result<Duration, String> {
        let client = Client::new(self.port);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "workerd exited before it answered ({status}); its output ({}):\n{}",
                    display(&self.log),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                ));
            }
            let last = match client.send(probe) {
                Ok(Reply { status: 200, .. }) => return Ok(spawned.elapsed()),
                Ok(reply) => format!("{} {}", reply.status, reply.text()),
                Err(e) => e.to_string(),
            };
            if spawned.elapsed() > READY_TIMEOUT {
                return Err(format!(
                    "workerd did not answer {} {} within {}s (last: {last}); its output ({}):\n{}",
                    probe.method,
                    probe.path,
                    READY_TIMEOUT.as_secs(),
                    display(&self.log),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The process id, for /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time used by all of workerd's threads so far, in nanoseconds, from
    /// `/proc/<pid>/task/*/schedstat`.
    pub fn cpu_ns(&self) -> Option<u64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).ok()?;
        let mut total = 0u64;
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += text
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Some(total)
    }

    /// Runs `work` and returns its result with the CPU time workerd used meanwhile, in
    /// nanoseconds (`None` where /proc is not available).
    pub fn cpu_ns_during<R>(&self, work: impl FnOnce() -> R) -> (R, Option<u64>) {
        let before = self.cpu_ns();
        let result = work();
        let used = self
            .cpu_ns()
            .zip(before)
            .map(|(after, before)| after.saturating_sub(before));
        (result, used)
    }

    /// Resident set size and its peak, in KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| {
            status.lines().find_map(|line| {
                line.strip_prefix(name)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Stops workerd (SIGKILL: the state is scratch) and waits for it.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTER: &str = r#"# A comment
name = "duro-counter"
main = "build/index.js"
compatibility_date = "2025-09-01" # trailing

[build]
command = "worker-build --release"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[[kv_namespaces]]
binding = "INDEX"
id = "00000000000000000000000000000000"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]

[vars]
DURO_LOG = "warn"
"#;

    #[test]
    fn reads_the_wrangler_subset() {
        let config = WranglerConfig::parse(COUNTER).unwrap();
        assert_eq!(
            config,
            WranglerConfig {
                main: "build/index.js".into(),
                compatibility_date: "2025-09-01".into(),
                compatibility_flags: vec![],
                durable_objects: vec![("COUNTER".into(), "Counter".into())],
                sqlite_classes: vec!["Counter".into()],
                vars: vec![("DURO_LOG".into(), "warn".into())],
                kv_namespaces: vec!["INDEX".into()],
            }
        );
        assert!(WranglerConfig::parse("name = \"x\"\n")
            .unwrap_err()
            .contains("missing field `main`"));
        let r2 = "main = \"a.js\"\ncompatibility_date = \"2025-09-01\"\n[[r2_buckets]]\n";
        assert!(WranglerConfig::parse(r2)
            .unwrap_err()
            .contains("r2_buckets"));
    }

    #[test]
    fn generates_a_workerd_config() {
        let config = WranglerConfig::parse(COUNTER).unwrap();
        let modules = [
            Module {
                name: "index.js".into(),
                source: PathBuf::from("/x/index.js"),
            },
            Module {
                name: "index_bg.wasm".into(),
                source: PathBuf::from("/x/index_bg.wasm"),
            },
        ];
        let text = capnp_config(
            "duro",
            &config,
            &modules,
            &[("DURO_TEST_ROUTES", "1")],
            None,
            &[],
        );
        assert!(!text.contains("v8Flags"), "{text}");
        let profiled = capnp_config("duro", &config, &modules, &[], None, PERF_V8_FLAGS);
        assert!(
            profiled.contains("  v8Flags = [\"--perf-basic-prof\"],\n  sockets = ["),
            "{profiled}"
        );
        let external = capnp_config("duro", &config, &modules, &[], Some(4567), &[]);
        assert!(
            external.contains(
                "(name = \"kv-INDEX\", external = (address = \"127.0.0.1:4567\", http = ())),"
            ),
            "{external}"
        );
        for expected in [
            "(name = \"index.js\", esModule = embed \"index.js\"),",
            "(name = \"index_bg.wasm\", wasm = embed \"index_bg.wasm\"),",
            "compatibilityDate = \"2025-09-01\",",
            "(className = \"Counter\", uniqueKey = \"bench-duro-Counter\", enableSql = true),",
            "(name = \"COUNTER\", durableObjectNamespace = \"Counter\"),",
            "(name = \"DURO_LOG\", text = \"warn\"),",
            "(name = \"DURO_TEST_ROUTES\", text = \"1\"),",
            "(name = \"kv-INDEX\", worker = (modules = [(name = \"bench-kv.js\", \
             esModule = embed \"bench-kv.js\")], compatibilityDate = \"2025-09-01\")),",
            "(name = \"INDEX\", kvNamespace = \"kv-INDEX\"),",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
