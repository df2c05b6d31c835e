//! `cargo xtask bench [--quick] [--no-build] [--out DIR]`: the side-by-side benchmarks
//! (see docs/design.md, "Performance", and docs/benchmarks.md).
//!
//! Five implementations of the same counter API run in one run on the same workerd:
//! duro (`apps/counter`), a hand-written workers-rs Durable Object
//! (`bench/baselines/rust`), a hand-written JavaScript one called with `fetch`
//! (`bench/baselines/js`), the same called over JS RPC (`bench/baselines/js-rpc`), and
//! duro's counter built without its `#[index]` (`bench/baselines/duro-noindex`), so that
//! duro is compared with the baselines like with like. Each runs in its own workerd
//! process started directly from a generated config (no wrangler in the request path); a
//! load generator in this crate drives them over loopback HTTP/1.1 with keep-alive.
//! Measurements of the five are interleaved (the order rotates every round) and the
//! medians of the rounds are reported, with duro's ratios to the baselines as the
//! headline.
//!
//! Two more scenarios compare duro (`bench/scale`) with idiomatic JavaScript over JS RPC
//! (`bench/baselines/js-scale`) on an API of their own ([`scale`]): *state size*, appends
//! to a log of 1 000 and of 100 000 entries (20 000 in `--quick`), where the cost of an
//! append should not grow with the log; and *compute-heavy*, score updates on a
//! leaderboard of 10 000 players, each sorting every player. Their rounds run on new
//! processes too, the two implementations interleaved the same way. Where the tree has
//! no `bench/scale`, duro's side of them is skipped with a note and the JavaScript side is
//! measured alone.
//!
//! The broadcast scenario ([`broadcast`]) compares duro's chat (`apps/chat`) with a
//! hand-written JavaScript object with hibernation (`bench/baselines/js-chat`), the same
//! chat API: one room of 100 WebSockets, one of them sending messages in a closed loop
//! (the next when its own came back); messages/s, deliveries/s (frames received over the
//! 100 sockets) and workerd's CPU per delivery and per message, on new processes every
//! round, the two interleaved the same way. Every socket must receive every message in id
//! order; a socket that does not is a failure of that implementation in the report.
//! Where the tree lacks either chat, that side is skipped with a note.
//!
//! The routes scenario ([`routes`]) compares the chat's routes, a `match` (`apps/chat`),
//! with the same chat routed by axum (`bench/baselines/chat-axum`): wasm size, requests/s
//! and workerd's CPU per request for posts and history reads. `--only routes` runs it
//! alone.

mod broadcast;
mod load;
mod profile;
mod report;
mod routes;
mod scale;
mod sides;
mod wasm;
mod workerd;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use load::{Call, Client, Outcome, Window};
use workerd::{Module, Prepared, Server, WranglerConfig};

use crate::build::{self, Profile};
use crate::metadata::AppMetadata;
use crate::setup;
use crate::workspace::{self, display, note, root, since, step};

const USAGE: &str = "usage: cargo xtask bench [--quick] [--no-build] [--disk] [--out DIR]
                         [--compare DIR] [--rounds N] [--profile | --no-profile]
                         [--only routes]

  --quick      a shorter run (about three minutes after the builds; the large log of
               the state-size scenario has 20 000 entries instead of 100 000) that
               writes to target/bench/ instead of docs/
  --no-build   use the existing builds in <app>/build/
  --disk       keep the Durable Object state on disk (target/bench/run/) instead of
               tmpfs (/dev/shm)
  --out DIR    write benchmarks.md and benchmarks.json to DIR
  --rounds N   measure each throughput scenario N times (full: 5, quick: 2)
  --compare DIR
               measure the worker built in DIR (its wrangler.toml and build/, for
               example a copy of apps/counter built from other code) in the place of
               the JavaScript baseline, side by side with duro and workers-rs; writes
               to target/bench/ unless --out says otherwise
  --profile    sample each workerd with Linux `perf` (where the CPU goes: wasm,
               JavaScript, workerd's C++, kernel); on by default in the full run
               when `perf` works, off in --quick
  --no-profile leave the perf phase out
  --only routes
               build and measure the routes scenario alone (the chat's match against
               axum) and write its section to routes.md (target/bench/ unless --out)";

/// Variables every implementation gets: the stats route is a test route.
const VARS: &[(&str, &str)] = &[("DURO_TEST_ROUTES", "1")];

/// How much to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    /// Measurement rounds per throughput scenario (each round runs every implementation).
    pub rounds: usize,
    /// Load before each measured window, not recorded.
    pub warmup: Duration,
    /// Length of each measured window.
    pub measure: Duration,
    /// Recorded requests per window at most.
    pub max_requests: u64,
    /// Restarts measured per implementation (after one unmeasured start).
    pub cold_starts: usize,
    /// Fresh objects whose first call is timed, per implementation.
    pub activations: usize,
    /// Calls after which the wasm memory is read (cumulative).
    pub memory_calls: [u64; 2],
    /// Connections used for the memory calls.
    pub memory_concurrency: usize,
    /// Calls after which the wasm memory is read again, spread over 100 objects at c=64
    /// (cumulative).
    pub spread_memory_calls: [u64; 3],
    /// Sample each workerd with `perf` under [`PROFILED`] loads.
    pub profile: bool,
    /// Rounds of each profiled scenario; the samples and requests of the rounds are summed.
    pub profile_rounds: usize,
    /// Entries of the small and the large log of the state-size scenario.
    pub log_small: u64,
    pub log_large: u64,
    /// Players on the board of the compute-heavy scenario.
    pub board_players: u64,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            quick: false,
            rounds: 5,
            warmup: Duration::from_millis(500),
            measure: Duration::from_millis(2500),
            max_requests: 1_000_000,
            cold_starts: 7,
            activations: 20,
            memory_calls: [1_000, 100_000],
            memory_concurrency: 8,
            spread_memory_calls: [20_000, 40_000, 80_000],
            profile: true,
            profile_rounds: 2,
            log_small: 1_000,
            log_large: 100_000,
            board_players: 10_000,
        }
    }

    /// How long a new workerd process is warmed with adds over the 100 objects before it
    /// is measured (then [`Plan::warmup`] of reads).
    pub fn process_warmup(&self) -> Duration {
        self.warmup * 4
    }

    fn quick() -> Plan {
        Plan {
            quick: true,
            rounds: 2,
            // Short enough that the five implementations take about two minutes here.
            warmup: Duration::from_millis(200),
            measure: Duration::from_millis(500),
            max_requests: 200_000,
            cold_starts: 3,
            activations: 10,
            memory_calls: [1_000, 5_000],
            memory_concurrency: 8,
            spread_memory_calls: [2_000, 4_000, 6_000],
            profile: false,
            profile_rounds: 1,
            log_small: 1_000,
            // Filled in seconds; the full run's 100 000 would take longer than the rest.
            log_large: 20_000,
            board_players: 10_000,
        }
    }
}

/// What a throughput scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `POST /counters/<name>/add {"by":1}`: read (cached), add, persist, reply.
    Add,
    /// `GET /counters/<name>`: no storage write.
    Get,
}

/// A throughput scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub key: &'static str,
    pub op: Op,
    pub concurrency: usize,
    /// Objects the requests are spread over.
    pub objects: usize,
}

impl Scenario {
    pub fn label(&self) -> String {
        let op = match self.op {
            Op::Add => "add",
            Op::Get => "get",
        };
        let objects = if self.objects == 1 {
            "1 object".to_owned()
        } else {
            format!("{} objects", self.objects)
        };
        format!("{op}, {objects}, c={}", self.concurrency)
    }

    fn call(&self, connection: usize, seq: u64) -> Call {
        let name = if self.objects == 1 {
            "one".to_owned()
        } else {
            let spread = (connection as u64 * 37 + seq) % self.objects as u64;
            format!("spread-{spread}")
        };
        match self.op {
            Op::Add => Call::add(&name),
            Op::Get => Call::get(&name),
        }
    }
}

/// The load of the second memory check: adds over 100 objects at c=64.
const SPREAD_MEMORY: Scenario = Scenario {
    key: "memory-100obj-c64",
    op: Op::Add,
    concurrency: 64,
    objects: 100,
};

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        key: "add-1obj-c1",
        op: Op::Add,
        concurrency: 1,
        objects: 1,
    },
    Scenario {
        key: "add-1obj-c8",
        op: Op::Add,
        concurrency: 8,
        objects: 1,
    },
    Scenario {
        key: "add-1obj-c64",
        op: Op::Add,
        concurrency: 64,
        objects: 1,
    },
    Scenario {
        key: "add-100obj-c1",
        op: Op::Add,
        concurrency: 1,
        objects: 100,
    },
    Scenario {
        key: "add-100obj-c8",
        op: Op::Add,
        concurrency: 8,
        objects: 100,
    },
    Scenario {
        key: "add-100obj-c64",
        op: Op::Add,
        concurrency: 64,
        objects: 100,
    },
    Scenario {
        key: "get-1obj-c8",
        op: Op::Get,
        concurrency: 8,
        objects: 1,
    },
];

/// The scenarios (keys in [`SCENARIOS`]) measured again under `perf`.
pub const PROFILED: &[&str] = &["add-1obj-c8", "add-100obj-c8"];

/// Where each implementation is in [`Results::impls`] and [`Results::figures`]: duro's
/// counter app.
pub const DURO: usize = 0;
/// The workers-rs baseline.
pub const RUST: usize = 1;
/// The JavaScript baseline called with `fetch` (or the `--compare` build).
pub const JS: usize = 2;
/// The JavaScript baseline called over JS RPC.
pub const JS_RPC: usize = 3;
/// duro's counter without its `#[index]`: duro like with like.
pub const DURO_NOINDEX: usize = 4;

/// One implementation of the counter API.
#[derive(Debug)]
pub struct Impl {
    /// `duro`, `rust`, `js`, `js-rpc` or `duro-noindex`: keys in the JSON output.
    pub key: &'static str,
    /// Column title.
    pub label: &'static str,
    pub dir: PathBuf,
    /// Built with worker-build (a Rust crate).
    pub rust: bool,
    pub modules: Vec<Module>,
    prepared: Option<Prepared>,
    /// Measured as found in `dir/build/`, never built by this command.
    prebuilt: bool,
}

/// Size of one shipped file, raw and gzip (level 9).
#[derive(Debug, Clone)]
pub struct FileSize {
    pub file: String,
    pub raw: u64,
    pub gzip: u64,
    /// For wasm: the gzip size of the module without its `name` section.
    pub gzip_without_names: Option<u64>,
}

/// One measured window of one implementation.
#[derive(Debug, Clone)]
pub struct Sample {
    pub rps: f64,
    /// workerd CPU time (all threads) per successful request over the whole window, in
    /// microseconds; NaN where /proc is not available.
    pub cpu_us: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub ok: u64,
    pub errors: u64,
}

impl Sample {
    /// The sample of a window's `outcome`, with workerd's CPU time over it (`cpu`, in
    /// nanoseconds) per successful request.
    pub fn of(outcome: &Outcome, cpu: Option<u64>) -> Sample {
        Sample {
            rps: outcome.rps(),
            cpu_us: match cpu {
                Some(ns) if outcome.total_ok > 0 => ns as f64 / 1000.0 / outcome.total_ok as f64,
                _ => f64::NAN,
            },
            p50_ms: outcome.quantile_ms(0.50),
            p99_ms: outcome.quantile_ms(0.99),
            ok: outcome.ok,
            errors: outcome.errors,
        }
    }
}

/// The object stats an implementation reports (`GET /__test/stats/<name>`).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub calls: u64,
    pub storage_reads: u64,
    pub storage_writes: u64,
    pub storage_lists: Option<u64>,
    pub alarm_ops: Option<u64>,
    /// Alarm invocations the object handled (duro only).
    pub alarms: Option<u64>,
    /// Index entries it wrote to KV (duro only).
    pub index_writes: Option<u64>,
    pub wasm_memory_pages: Option<u64>,
}

impl Stats {
    fn parse(text: &str) -> Result<Stats, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("stats are not JSON ({e}): {text}"))?;
        let field = |name: &str| value.get(name).and_then(serde_json::Value::as_u64);
        Ok(Stats {
            calls: field("calls").ok_or_else(|| format!("stats without `calls`: {text}"))?,
            storage_reads: field("storage_reads").unwrap_or(0),
            storage_writes: field("storage_writes").unwrap_or(0),
            storage_lists: field("storage_lists"),
            alarm_ops: field("alarm_ops"),
            alarms: field("alarms"),
            index_writes: field("index_writes"),
            wasm_memory_pages: field("wasm_memory_pages"),
        })
    }
}

/// Memory and storage figures of one implementation.
#[derive(Debug, Clone, Default)]
pub struct MemoryFigures {
    /// (add calls made so far, stats of the object after them).
    pub after_adds: Vec<(u64, Stats)>,
    /// Stats after the reads that followed the adds.
    pub after_gets: Option<(u64, Stats)>,
    /// (adds spread over 100 objects at c=64 so far, wasm pages after them).
    pub after_spread: Vec<(u64, Option<u64>)>,
    /// Over the 100 objects after those adds: (calls, alarm invocations, index writes),
    /// for implementations that count them.
    pub spread_totals: Option<(u64, u64, u64)>,
    /// Wasm pages at the end of the whole run (object `one`).
    pub pages_at_end: Option<u64>,
    /// workerd's resident set size (current, peak) in KiB at the end of the run.
    pub rss_kib: Option<(u64, u64)>,
}

/// Everything measured for one implementation.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub sizes: Vec<FileSize>,
    /// Code bytes of the wasm module by crate.
    pub wasm_code: Option<wasm::Breakdown>,
    /// The app's size budget for its gzipped wasm, in bytes (`[package.metadata.duro]`).
    pub budget: Option<u64>,
    pub cold_start_ms: Vec<f64>,
    pub activation_ms: Vec<f64>,
    /// Per scenario (as in [`SCENARIOS`]), one sample per round.
    pub throughput: Vec<Vec<Sample>>,
    pub memory: MemoryFigures,
    /// Per [`PROFILED`] scenario: perf samples by part, summed over the rounds.
    pub profile: Vec<Profiled>,
    /// Failures seen anywhere, for the report.
    pub failures: Vec<String>,
}

/// The perf samples of one implementation under one scenario.
#[derive(Debug, Clone, Default)]
pub struct Profiled {
    pub split: profile::Split,
    /// Successful requests while perf sampled.
    pub requests: u64,
    /// workerd's CPU time over the same windows (schedstat), in nanoseconds.
    pub cpu_ns: Option<u64>,
}

impl Profiled {
    /// Microseconds of CPU per request that landed in `part`.
    pub fn us_per_request(&self, part: Option<profile::Part>) -> f64 {
        let samples = match part {
            Some(p) => self.split.get(p),
            None => self.split.total(),
        };
        if self.requests == 0 {
            return f64::NAN;
        }
        samples as f64 * 1e6 / profile::FREQUENCY as f64 / self.requests as f64
    }
}

/// The whole run.
#[derive(Debug)]
pub struct Results {
    pub plan: Plan,
    pub impls: Vec<Impl>,
    pub figures: Vec<Figures>,
    pub environment: report::Environment,
    pub duration: Duration,
    /// The state-size and compute-heavy scenarios.
    pub scale: scale::Scale,
    /// The broadcast scenario.
    pub broadcast: broadcast::Broadcast,
    /// The routes scenario.
    pub routes: routes::Routes,
    /// Why there is no profile, when there is none.
    pub profile_skipped: Option<String>,
}

/// `cargo xtask bench`.
pub fn run(args: &[String]) -> Result<(), String> {
    if cfg!(debug_assertions) {
        // The load generator shares the machine with workerd: run an optimised build of
        // this command so that it takes as little CPU as it can.
        step("building xtask in release for the load generator");
        let mut command = workspace::cargo();
        command
            .args([
                "run",
                "--release",
                "--quiet",
                "--package",
                "xtask",
                "--",
                "bench",
            ])
            .args(args);
        return workspace::run(&mut command);
    }
    let mut quick = false;
    let mut build_first = true;
    let mut out = None;
    let mut disk = false;
    let mut compare = None;
    let mut rounds = None;
    let mut profile = None;
    let mut only_routes = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--no-build" => build_first = false,
            "--disk" => disk = true,
            "--profile" => profile = Some(true),
            "--no-profile" => profile = Some(false),
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a folder")?)),
            "--compare" => {
                compare = Some(PathBuf::from(
                    args.next().ok_or("--compare needs a worker folder")?,
                ))
            }
            "--rounds" => {
                let n = args.next().ok_or("--rounds needs a number")?;
                match n.parse::<usize>() {
                    Ok(n) if n > 0 => rounds = Some(n),
                    _ => {
                        return Err(format!(
                            "--rounds {n}: expected a number of rounds, 1 or more"
                        ))
                    }
                }
            }
            "--only" => match args.next().map(String::as_str) {
                Some("routes") => only_routes = true,
                other => {
                    return Err(format!(
                        "--only {}: the scenario that runs alone is `routes`",
                        other.unwrap_or("")
                    ))
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let mut plan = if quick { Plan::quick() } else { Plan::full() };
    if let Some(rounds) = rounds {
        plan.rounds = rounds;
    }
    if let Some(profile) = profile {
        plan.profile = profile;
    }
    let out = out.unwrap_or_else(|| {
        if quick || compare.is_some() || only_routes {
            root().join("target").join("bench")
        } else {
            root().join("docs")
        }
    });

    let root = root();
    if only_routes {
        return run_routes(&plan, build_first, disk, &out);
    }
    // In the order of [`DURO`], [`RUST`], [`JS`], [`JS_RPC`] and [`DURO_NOINDEX`]:
    // (key, label, folder, built with worker-build).
    let mut impls: Vec<Impl> = [
        ("duro", "duro", "apps/counter", true),
        ("rust", "workers-rs", "bench/baselines/rust", true),
        ("js", "JavaScript", "bench/baselines/js", false),
        ("js-rpc", "JS RPC", "bench/baselines/js-rpc", false),
        (
            "duro-noindex",
            "duro (no index)",
            "bench/baselines/duro-noindex",
            true,
        ),
    ]
    .into_iter()
    .map(|(key, label, dir, rust)| Impl::new(key, label, root.join(dir), rust))
    .collect();
    if let Some(dir) = compare {
        let dir =
            std::fs::canonicalize(&dir).map_err(|e| format!("--compare {}: {e}", display(&dir)))?;
        let rust = build::wasm_path(&dir).is_file();
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "compared".to_owned());
        // The compared worker is measured as it is: it is never built here.
        impls[JS] = Impl::new("js", Box::leak(label.into_boxed_str()), dir, rust);
        impls[JS].prebuilt = true;
    }
    let mut scale = scale::Scale::new(&root);
    let mut broadcast = broadcast::Broadcast::new(&root);
    let mut routes = routes::Routes::new(&root);
    if build_first {
        let tools = setup::ensure()?;
        let counters = impls.iter().filter(|i| !i.prebuilt);
        let others = scale
            .present()
            .chain(broadcast.present())
            .chain(routes.present());
        // The chat is in two scenarios: built once.
        let mut built: Vec<&Path> = Vec::new();
        for imp in counters.chain(others).filter(|i| i.rust) {
            if !built.contains(&imp.dir.as_path()) {
                build::build(&tools, &imp.dir, Profile::Release)?;
                built.push(&imp.dir);
            }
        }
    }

    let start = Instant::now();
    step(format!(
        "benchmarks ({}): duro vs workers-rs vs JavaScript (fetch and RPC), each in its own \
         workerd",
        if plan.quick { "quick" } else { "full" }
    ));
    let (workerd, scratch, state_root) = run_dirs(disk)?;
    let kv_server = kv_stand_in(
        &workerd,
        &scratch,
        &state_root,
        impls
            .iter()
            .chain(broadcast.present())
            .chain(routes.present()),
    )?;
    let kv_port = kv_server.as_ref().map(|s| s.port);
    let mut figures = Vec::new();
    for imp in &mut impls {
        imp.prepare(&scratch, kv_port)?;
        let (sizes, wasm_code) = imp.sizes()?;
        figures.push(Figures {
            sizes,
            wasm_code,
            budget: imp.budget()?,
            throughput: vec![Vec::new(); SCENARIOS.len()],
            ..Figures::default()
        });
    }
    scale.prepare(&scratch, kv_port)?;
    broadcast.prepare(&scratch, kv_port)?;
    routes.prepare(&scratch, kv_port)?;
    let environment = report::Environment::collect(&workerd, &plan, &state_root);
    let mut perf = if plan.profile {
        match profile::perf() {
            Ok(perf) => Ok(perf),
            Err(e) => {
                note(format!("no profile: {e}"));
                Err(e)
            }
        }
    } else {
        Err("not asked for (`--profile`)".to_owned())
    };

    let measured = measure(&plan, &workerd, &impls, &scratch, &state_root, &mut figures)
        .and_then(|()| scale::measure(&plan, &workerd, &mut scale, &scratch, &state_root))
        .and_then(|()| broadcast::measure(&plan, &workerd, &mut broadcast, &scratch, &state_root))
        .and_then(|()| routes::measure(&plan, &workerd, &mut routes, &scratch, &state_root));
    if let (Ok(()), Ok(found)) = (&measured, &perf) {
        // A profile that fails (perf saw no samples on a busy machine, say) is reported as
        // missing; the measurements stand.
        if let Err(e) = measure_profile(
            &plan,
            found,
            &workerd,
            &impls,
            &scratch,
            &state_root,
            &mut figures,
        ) {
            note(format!("no profile: {e}"));
            perf = Err(e);
        }
    }
    drop(kv_server);
    let _ = std::fs::remove_dir_all(&state_root);
    measured?;
    let results = Results {
        plan,
        impls,
        figures,
        environment,
        duration: start.elapsed(),
        scale,
        broadcast,
        routes,
        profile_skipped: perf.err(),
    };
    let markdown = report::markdown(&results);
    let json = report::json(&results);
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let md_path = out.join("benchmarks.md");
    let json_path = out.join("benchmarks.json");
    std::fs::write(&md_path, &markdown)
        .map_err(|e| format!("cannot write {}: {e}", md_path.display()))?;
    let json_text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())? + "\n";
    std::fs::write(&json_path, json_text)
        .map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;

    step("results");
    println!("{}", report::summary(&results));
    note(format!(
        "workerd's output: {}/<implementation>/workerd.log",
        display(&scratch)
    ));
    step(format!(
        "wrote {} and {} ({} of measurements)",
        display(&md_path),
        display(&json_path),
        since(start)
    ));
    Ok(())
}

/// `--only routes`: builds the two chats, measures the routes scenario and writes its
/// section of the report to `out/routes.md`.
fn run_routes(plan: &Plan, build_first: bool, disk: bool, out: &Path) -> Result<(), String> {
    let mut routes = routes::Routes::new(&root());
    if build_first {
        let tools = setup::ensure()?;
        for imp in routes.present() {
            build::build(&tools, &imp.dir, Profile::Release)?;
        }
    }
    let start = Instant::now();
    step(format!(
        "benchmarks ({}): the routes scenario alone",
        if plan.quick { "quick" } else { "full" }
    ));
    let (workerd, scratch, state_root) = run_dirs(disk)?;
    let kv_server = kv_stand_in(&workerd, &scratch, &state_root, routes.present())?;
    routes.prepare(&scratch, kv_server.as_ref().map(|s| s.port))?;
    let measured = routes::measure(plan, &workerd, &mut routes, &scratch, &state_root);
    drop(kv_server);
    let _ = std::fs::remove_dir_all(&state_root);
    measured?;
    let mut markdown = String::new();
    report::routes_section(&mut markdown, plan, &routes);
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let md_path = out.join("routes.md");
    std::fs::write(&md_path, &markdown)
        .map_err(|e| format!("cannot write {}: {e}", md_path.display()))?;
    step("results");
    println!("{}", markdown.trim());
    step(format!(
        "wrote {} ({} of measurements)",
        display(&md_path),
        since(start)
    ));
    Ok(())
}

/// The workerd binary, the run's scratch folder (emptied) and where the Durable Objects
/// keep their state.
fn run_dirs(disk: bool) -> Result<(PathBuf, PathBuf, PathBuf), String> {
    let workerd = workerd::binary()?;
    note(format!("workerd: {}", display(&workerd)));
    let scratch = root().join("target").join("bench").join("run");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .map_err(|e| format!("cannot clean {}: {e}", display(&scratch)))?;
    }
    let state_root = state_root(disk, &scratch);
    note(format!("Durable Object state: {}", state_root.display()));
    Ok((workerd, scratch, state_root))
}

/// The KV stand-in, when one of `impls` binds a KV namespace.
fn kv_stand_in<'a>(
    workerd: &Path,
    scratch: &Path,
    state_root: &Path,
    impls: impl Iterator<Item = &'a Impl>,
) -> Result<Option<Server>, String> {
    // Workers KV is a remote service in production: the KV stand-in runs in a workerd of
    // its own, so that its work is not counted as the measured worker's.
    let mut kv_date = None;
    for imp in impls {
        let wrangler = imp.wrangler()?;
        if !wrangler.kv_namespaces.is_empty() {
            kv_date = Some(wrangler.compatibility_date);
        }
    }
    Ok(match kv_date {
        Some(date) => {
            let prepared = workerd::prepare_kv(&scratch.join("kv"), &date)?;
            let probe = Call::get_path("/".to_owned());
            let server = Server::start(
                workerd,
                &prepared,
                &state_root.join("kv"),
                &scratch.join("kv").join("workerd.log"),
                &probe,
            )?;
            note(format!(
                "KV stand-in: its own workerd on 127.0.0.1:{} (pid {})",
                server.port,
                server.pid()
            ));
            Some(server)
        }
        None => None,
    })
}

/// Where the Durable Objects keep their SQLite files: tmpfs unless `disk`, so that the
/// disk's sync latency (the same for every implementation, and noisy) does not hide the
/// differences between them.
fn state_root(disk: bool, scratch: &Path) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if !disk && shm.is_dir() {
        shm.join(format!("duro-bench-{}", std::process::id()))
    } else {
        scratch.join("state")
    }
}

/// Every measurement, in order.
fn measure(
    plan: &Plan,
    workerd: &Path,
    impls: &[Impl],
    scratch: &Path,
    state_root: &Path,
    figures: &mut [Figures],
) -> Result<(), String> {
    measure_cold_starts(plan, workerd, impls, scratch, state_root, figures)?;

    step("starting one server per implementation for the load phases");
    let mut servers = Vec::new();
    for imp in impls {
        let server = Server::start(
            workerd,
            imp.prepared()?,
            &state_root.join(imp.key).join("load"),
            &scratch.join(imp.key).join("workerd.log"),
            &Call::get("ready"),
        )?;
        note(format!(
            "{}: 127.0.0.1:{} (pid {})",
            imp.label,
            server.port,
            server.pid()
        ));
        servers.push(server);
    }

    measure_memory(plan, impls, &servers, figures)?;
    measure_activations(plan, impls, &servers, figures);
    measure_throughput(plan, workerd, impls, scratch, state_root, figures)?;

    for (server, fig) in servers.iter().zip(figures.iter_mut()) {
        if let Ok(stats) = stats(server.port, "one") {
            fig.memory.pages_at_end = stats.wasm_memory_pages;
        }
        fig.memory.rss_kib = server.rss_kib();
    }
    Ok(())
}

impl Impl {
    fn new(key: &'static str, label: &'static str, dir: PathBuf, rust: bool) -> Impl {
        Impl {
            key,
            label,
            dir,
            rust,
            modules: Vec::new(),
            prepared: None,
            prebuilt: false,
        }
    }

    fn wrangler(&self) -> Result<WranglerConfig, String> {
        let path = self.dir.join("wrangler.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", display(&path)))?;
        WranglerConfig::parse(&text).map_err(|e| format!("{}: {e}", display(&path)))
    }

    /// Copies the built modules and writes the workerd config under `scratch/<key>/`.
    fn prepare(&mut self, scratch: &Path, kv_port: Option<u16>) -> Result<(), String> {
        let wrangler = self.wrangler()?;
        let main = self.dir.join(&wrangler.main);
        let mut modules = vec![Module {
            name: file_name(&main),
            source: main.clone(),
        }];
        if self.rust {
            // duro's entry (`build/entry.js`) imports worker-build's output.
            let index = self.dir.join("build").join("index.js");
            if main != index {
                modules.push(Module {
                    name: "index.js".to_owned(),
                    source: index,
                });
            }
            modules.push(Module {
                name: "index_bg.wasm".to_owned(),
                source: build::wasm_path(&self.dir),
            });
        }
        for module in &modules {
            if !module.source.is_file() {
                return Err(format!(
                    "{} is missing: build it (`cargo xtask build {}`) or drop --no-build",
                    display(&module.source),
                    display(&self.dir)
                ));
            }
        }
        let prepared = workerd::prepare(
            &scratch.join(self.key),
            self.key,
            &wrangler,
            &modules,
            VARS,
            kv_port,
        )?;
        self.modules = modules;
        self.prepared = Some(prepared);
        Ok(())
    }

    fn prepared(&self) -> Result<&Prepared, String> {
        self.prepared
            .as_ref()
            .ok_or_else(|| format!("{} was not prepared", self.label))
    }

    /// The size of each module, and the wasm module's code by crate.
    fn sizes(&self) -> Result<(Vec<FileSize>, Option<wasm::Breakdown>), String> {
        let mut sizes = Vec::new();
        let mut code = None;
        for module in self.modules.iter().rev() {
            let bytes = std::fs::read(&module.source)
                .map_err(|e| format!("cannot read {}: {e}", display(&module.source)))?;
            let size = build::Size::of_bytes(&bytes);
            let mut gzip_without_names = None;
            if module.name.ends_with(".wasm") {
                match wasm::breakdown(&bytes) {
                    Ok(b) => code = Some(b),
                    Err(e) => note(format!("{}: no code breakdown ({e})", module.name)),
                }
                gzip_without_names = wasm::without_names(&bytes)
                    .ok()
                    .map(|stripped| build::Size::of_bytes(&stripped).gzip);
            }
            sizes.push(FileSize {
                file: module.name.clone(),
                raw: size.raw,
                gzip: size.gzip,
                gzip_without_names,
            });
        }
        Ok((sizes, code))
    }

    /// The app's size budget for its gzipped wasm (`[package.metadata.duro]`), if any.
    fn budget(&self) -> Result<Option<u64>, String> {
        if !self.rust {
            return Ok(None);
        }
        Ok(AppMetadata::read(&self.dir)?.size_budget_gzip)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The implementations in the order of round `round`: A B C, then B C A, then C A B.
fn rotation(len: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..len).map(move |i| (i + round) % len)
}

/// Process start to the first answer of `GET /counters/cold`, over restarts on the same
/// state (the object exists); the first start of each is not counted.
fn measure_cold_starts(
    plan: &Plan,
    workerd: &Path,
    impls: &[Impl],
    scratch: &Path,
    state_root: &Path,
    figures: &mut [Figures],
) -> Result<(), String> {
    step(format!(
        "cold start: process start to first response, {} restarts each",
        plan.cold_starts
    ));
    for round in 0..=plan.cold_starts {
        for i in rotation(impls.len(), round) {
            let imp = &impls[i];
            let server = Server::start(
                workerd,
                imp.prepared()?,
                &state_root.join(imp.key).join("cold"),
                &scratch.join(imp.key).join("cold.log"),
                &Call::get("cold"),
            )?;
            if round > 0 {
                figures[i]
                    .cold_start_ms
                    .push(server.started_in.as_secs_f64() * 1000.0);
            }
            server.stop();
        }
    }
    for (imp, fig) in impls.iter().zip(figures.iter()) {
        note(format!(
            "{:<11} median {:.0} ms",
            imp.label,
            median(&fig.cold_start_ms)
        ));
    }
    Ok(())
}

/// The `value` of a counter reply (`{"value": n}`).
fn counter_value(text: &str) -> Result<u64, String> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("value")?.as_u64())
        .ok_or_else(|| format!("not a counter reply: {text}"))
}

/// Reads `GET /__test/stats/<name>`.
fn stats(port: u16, name: &str) -> Result<Stats, String> {
    let reply = Client::new(port)
        .send(&Call::stats(name))
        .map_err(|e| format!("stats of {name}: {e}"))?;
    if reply.status != 200 {
        return Err(format!(
            "stats of {name}: {} {}",
            reply.status,
            reply.text()
        ));
    }
    Stats::parse(&reply.text())
}

fn counted(plan: &Plan, calls: u64) -> Window {
    Window {
        concurrency: plan.memory_concurrency,
        warmup: Duration::ZERO,
        measure: Duration::from_secs(600),
        max_requests: calls,
    }
}

/// Wasm memory and storage operations of object `mem` after N adds, then after reads.
fn measure_memory(
    plan: &Plan,
    impls: &[Impl],
    servers: &[Server],
    figures: &mut [Figures],
) -> Result<(), String> {
    let [small, large] = plan.memory_calls;
    step(format!(
        "memory and storage: {small} then {large} adds (c={}) to one object, then {small} reads, \
         then {:?} adds over 100 objects (c=64)",
        plan.memory_concurrency, plan.spread_memory_calls
    ));
    for (i, (imp, server)) in impls.iter().zip(servers).enumerate() {
        let fig = &mut figures[i];
        let mut done = 0;
        let (mut acknowledged, mut unanswered) = (0, 0);
        for target in [small, large] {
            let outcome = load::run(server.port, counted(plan, target - done), |_, _| {
                Call::add("mem")
            });
            acknowledged += outcome.total_ok;
            unanswered += outcome.errors;
            record_failures(fig, imp, "memory", &outcome);
            done = target;
            fig.memory
                .after_adds
                .push((done, stats(server.port, "mem")?));
        }
        // Every acknowledged add must be in the value; a failed one may or may not be.
        let value = Client::new(server.port)
            .send(&Call::get("mem"))
            .map_err(|e| e.to_string())
            .and_then(|reply| counter_value(&reply.text()));
        match value {
            Ok(v) if (acknowledged..=acknowledged + unanswered).contains(&v) => {}
            Ok(v) => fig.failures.push(format!(
                "object `mem` holds {v} after {acknowledged} acknowledged and {unanswered} \
                 failed adds of 1"
            )),
            Err(e) => fig.failures.push(format!("reading object `mem`: {e}")),
        }
        let outcome = load::run(server.port, counted(plan, small), |_, _| Call::get("mem"));
        record_failures(fig, imp, "memory (reads)", &outcome);
        fig.memory.after_gets = Some((small, stats(server.port, "mem")?));
        let mut done = 0;
        for target in plan.spread_memory_calls {
            let window = Window {
                concurrency: SPREAD_MEMORY.concurrency,
                warmup: Duration::ZERO,
                measure: Duration::from_secs(600),
                max_requests: target - done,
            };
            let outcome = load::run(server.port, window, |c, n| SPREAD_MEMORY.call(c, n));
            record_failures(fig, imp, "memory (100 objects)", &outcome);
            done = target;
            let pages = stats(server.port, "spread-0")?.wasm_memory_pages;
            fig.memory.after_spread.push((done, pages));
        }
        fig.memory.spread_totals = spread_totals(server.port)?;
        let pages: Vec<String> = fig
            .memory
            .after_adds
            .iter()
            .map(|(n, s)| {
                format!(
                    "{} after {n}",
                    s.wasm_memory_pages
                        .map_or_else(|| "n/a".to_owned(), |p| p.to_string())
                )
            })
            .collect();
        let spread: Vec<String> = fig
            .memory
            .after_spread
            .iter()
            .map(|(n, p)| {
                format!(
                    "{} after {n}",
                    p.map_or_else(|| "n/a".to_owned(), |p| p.to_string())
                )
            })
            .collect();
        note(format!(
            "{:<11} wasm pages: {}; over 100 objects: {}",
            imp.label,
            pages.join(", "),
            spread.join(", ")
        ));
    }
    Ok(())
}

/// Calls, alarm invocations and index writes summed over the 100 spread objects; `None`
/// when the implementation does not count alarms and index writes.
fn spread_totals(port: u16) -> Result<Option<(u64, u64, u64)>, String> {
    let mut totals = (0, 0, 0);
    for i in 0..SPREAD_MEMORY.objects {
        let s = stats(port, &format!("spread-{i}"))?;
        let (Some(alarms), Some(writes)) = (s.alarms, s.index_writes) else {
            return Ok(None);
        };
        totals = (totals.0 + s.calls, totals.1 + alarms, totals.2 + writes);
    }
    Ok(Some(totals))
}

/// The first call (an add) to each of N fresh objects.
fn measure_activations(plan: &Plan, impls: &[Impl], servers: &[Server], figures: &mut [Figures]) {
    step(format!(
        "activation: first call to {} fresh objects each",
        plan.activations
    ));
    // One client per server, connected by a first request (to an object of its own) so
    // that the timed calls do not include opening the connection.
    let clients: Vec<Client> = servers
        .iter()
        .map(|server| {
            let client = Client::new(server.port);
            let _ = client.send(&Call::get("activation-connect"));
            client
        })
        .collect();
    for n in 0..plan.activations {
        for i in rotation(impls.len(), n) {
            let call = Call::add(&format!("fresh-{n}"));
            let sent = Instant::now();
            match clients[i].send(&call) {
                Ok(reply) if reply.status == 200 => figures[i]
                    .activation_ms
                    .push(sent.elapsed().as_secs_f64() * 1000.0),
                Ok(reply) => figures[i].failures.push(format!(
                    "activation: {} -> {} {}",
                    call.path,
                    reply.status,
                    reply.text()
                )),
                Err(e) => figures[i]
                    .failures
                    .push(format!("activation: {} -> {e}", call.path)),
            }
        }
    }
    for (imp, fig) in impls.iter().zip(figures.iter()) {
        note(format!(
            "{:<11} median {:.2} ms",
            imp.label,
            median(&fig.activation_ms)
        ));
    }
}

/// One workerd per implementation, started afresh (with `prepared`'s config per
/// implementation), then warmed: every round of a phase runs on new processes, so that
/// one process's luck (its heap, its JIT's choices), which can differ by up to 30 % in
/// CPU per request between processes running the same code, is spread over the rounds
/// instead of weighing on every round of one implementation.
fn fresh_servers(
    plan: &Plan,
    workerd: &Path,
    impls: &[Impl],
    prepared: &[Prepared],
    state: &dyn Fn(&Impl) -> PathBuf,
    log: &dyn Fn(&Impl) -> PathBuf,
) -> Result<Vec<Server>, String> {
    let mut servers = Vec::new();
    for (imp, prepared) in impls.iter().zip(prepared) {
        servers.push(Server::start(
            workerd,
            prepared,
            &state(imp),
            &log(imp),
            &Call::get("ready"),
        )?);
    }
    // Until the JIT has compiled the hot code: adds over the 100 objects, then reads.
    let spread = SCENARIOS
        .iter()
        .find(|s| s.key == "add-100obj-c8")
        .ok_or("no scenario add-100obj-c8")?;
    for server in &servers {
        let window = Window {
            concurrency: spread.concurrency,
            warmup: Duration::ZERO,
            measure: plan.process_warmup(),
            max_requests: plan.max_requests,
        };
        load::run(server.port, window, |c, n| spread.call(c, n));
        let window = Window {
            measure: plan.warmup,
            ..window
        };
        load::run(server.port, window, |_, _| Call::get("one"));
    }
    Ok(servers)
}

fn measure_throughput(
    plan: &Plan,
    workerd: &Path,
    impls: &[Impl],
    scratch: &Path,
    state_root: &Path,
    figures: &mut [Figures],
) -> Result<(), String> {
    step(format!(
        "throughput: {} rounds x {} scenarios x {} implementations, {} ms warm-up + {} ms \
         each; new workerd processes every round",
        plan.rounds,
        SCENARIOS.len(),
        impls.len(),
        plan.warmup.as_millis(),
        plan.measure.as_millis()
    ));
    let prepared: Vec<Prepared> = impls
        .iter()
        .map(|imp| imp.prepared().cloned())
        .collect::<Result<_, _>>()?;
    for round in 0..plan.rounds {
        let servers = fresh_servers(
            plan,
            workerd,
            impls,
            &prepared,
            &|imp| state_root.join(imp.key).join("throughput"),
            &|imp| {
                scratch
                    .join(imp.key)
                    .join(format!("throughput-{round}.log"))
            },
        )?;
        for (s, scenario) in SCENARIOS.iter().enumerate() {
            let window = Window {
                concurrency: scenario.concurrency,
                warmup: plan.warmup,
                measure: plan.measure,
                max_requests: plan.max_requests,
            };
            for i in rotation(impls.len(), round) {
                let (outcome, cpu) = servers[i].cpu_ns_during(|| {
                    load::run(servers[i].port, window, |c, n| scenario.call(c, n))
                });
                record_failures(&mut figures[i], &impls[i], scenario.key, &outcome);
                figures[i].throughput[s].push(Sample::of(&outcome, cpu));
            }
        }
        for server in servers {
            server.stop();
        }
        note(format!("round {} of {} done", round + 1, plan.rounds));
    }
    for (s, scenario) in SCENARIOS.iter().enumerate() {
        let cells: Vec<String> = impls
            .iter()
            .zip(figures.iter())
            .map(|(imp, fig)| {
                let rps: Vec<f64> = fig.throughput[s].iter().map(|x| x.rps).collect();
                let cpu: Vec<f64> = fig.throughput[s].iter().map(|x| x.cpu_us).collect();
                format!("{} {:.0}/s {:.0} µs", imp.label, median(&rps), median(&cpu))
            })
            .collect();
        note(format!("{:<22} {}", scenario.label(), cells.join(", ")));
    }
    Ok(())
}

/// The [`PROFILED`] loads again, each workerd sampled by `perf` (started afresh every
/// round with V8's `--perf-basic-prof`, so that the main measurements run without it).
fn measure_profile(
    plan: &Plan,
    perf: &Path,
    workerd: &Path,
    impls: &[Impl],
    scratch: &Path,
    state_root: &Path,
    figures: &mut [Figures],
) -> Result<(), String> {
    step(format!(
        "profile: {} rounds x {} scenarios, each workerd sampled by perf at {} Hz; new \
         workerd processes every round",
        plan.profile_rounds,
        PROFILED.len(),
        profile::FREQUENCY
    ));
    let prepared: Vec<Prepared> = impls
        .iter()
        .map(|imp| {
            imp.prepared()?
                .for_perf()
                .ok_or_else(|| format!("{}: no perf config", imp.label))
        })
        .collect::<Result<_, _>>()?;
    let scenarios: Vec<&Scenario> = PROFILED
        .iter()
        .map(|key| {
            SCENARIOS
                .iter()
                .find(|s| s.key == *key)
                .ok_or_else(|| format!("no scenario {key}"))
        })
        .collect::<Result<_, _>>()?;
    for fig in figures.iter_mut() {
        fig.profile = vec![Profiled::default(); PROFILED.len()];
    }
    for round in 0..plan.profile_rounds {
        let servers = fresh_servers(
            plan,
            workerd,
            impls,
            &prepared,
            &|imp| state_root.join(imp.key).join("profile"),
            &|imp| scratch.join(imp.key).join(format!("profile-{round}.log")),
        )?;
        let pids: Vec<u32> = servers.iter().map(Server::pid).collect();
        let result = (|| {
            for (p, scenario) in scenarios.iter().enumerate() {
                for i in rotation(impls.len(), round) {
                    let server = &servers[i];
                    let warm = Window {
                        concurrency: scenario.concurrency,
                        warmup: Duration::ZERO,
                        measure: plan.warmup,
                        max_requests: plan.max_requests,
                    };
                    load::run(server.port, warm, |c, n| scenario.call(c, n));
                    let data = scratch
                        .join(impls[i].key)
                        .join(format!("perf-{}.data", scenario.key));
                    let recording = profile::record(perf, server.pid(), &data)?;
                    let window = Window {
                        concurrency: scenario.concurrency,
                        warmup: Duration::ZERO,
                        measure: plan.measure,
                        max_requests: plan.max_requests,
                    };
                    let (outcome, cpu) = server.cpu_ns_during(|| {
                        load::run(server.port, window, |c, n| scenario.call(c, n))
                    });
                    let split = recording.finish(perf)?;
                    let _ = std::fs::remove_file(&data);
                    record_failures(&mut figures[i], &impls[i], "profile", &outcome);
                    let profiled = &mut figures[i].profile[p];
                    profiled.split.add(&split);
                    profiled.requests += outcome.total_ok;
                    profiled.cpu_ns = if round == 0 {
                        cpu
                    } else {
                        profiled.cpu_ns.zip(cpu).map(|(a, b)| a + b)
                    };
                }
            }
            Ok::<(), String>(())
        })();
        for server in servers {
            server.stop();
        }
        for pid in pids {
            profile::remove_map(pid);
        }
        result?;
    }
    for (p, scenario) in scenarios.iter().enumerate() {
        let cells: Vec<String> = impls
            .iter()
            .zip(figures.iter())
            .map(|(imp, fig)| {
                let p = &fig.profile[p];
                format!(
                    "{} {:.0} µs ({:.0} in wasm and JavaScript)",
                    imp.label,
                    p.us_per_request(None),
                    p.us_per_request(Some(profile::Part::Wasm))
                        + p.us_per_request(Some(profile::Part::Js))
                )
            })
            .collect();
        note(format!("{:<22} {}", scenario.label(), cells.join(", ")));
    }
    Ok(())
}

fn record_failures(fig: &mut Figures, imp: &Impl, phase: &str, outcome: &Outcome) {
    fig.failures.extend(failure(imp, phase, outcome));
}

/// The line that says how many requests of a window failed, if any did (also printed).
fn failure(imp: &Impl, phase: &str, outcome: &Outcome) -> Option<String> {
    if outcome.errors == 0 {
        return None;
    }
    let first = outcome.first_error.clone().unwrap_or_default();
    let line = format!(
        "{phase}: {} failed requests; first: {first}",
        outcome.errors
    );
    note(format!("{}: {line}", imp.label));
    Some(line)
}

/// The median of `values` (the mean of the middle two for an even count); NaN if empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if !sorted.len().is_multiple_of(2) {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn rotations_start_each_round_with_the_next_implementation() {
        let rounds: Vec<Vec<usize>> = (0..3).map(|r| rotation(3, r).collect()).collect();
        assert_eq!(rounds, [[0, 1, 2], [1, 2, 0], [2, 0, 1]]);
    }

    #[test]
    fn spread_scenarios_cover_every_object() {
        let scenario = SCENARIOS.iter().find(|s| s.key == "add-100obj-c1").unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for seq in 0..100 {
            seen.insert(scenario.call(0, seq).path);
        }
        assert_eq!(seen.len(), 100);
    }

    #[test]
    fn reads_counter_values() {
        assert_eq!(counter_value(r#"{"value":42}"#), Ok(42));
        assert!(counter_value("oops").is_err());
    }

    #[test]
    fn parses_stats() {
        let stats = Stats::parse(
            r#"{"class":"Counter","activations":1,"calls":3,"storage_reads":1,
                "storage_writes":2,"storage_lists":0,"alarm_ops":0,"wasm_memory_pages":18}"#,
        )
        .unwrap();
        assert_eq!(
            (stats.calls, stats.storage_reads, stats.storage_writes),
            (3, 1, 2)
        );
        assert_eq!(stats.wasm_memory_pages, Some(18));
        assert_eq!((stats.alarms, stats.index_writes), (None, None));
        let duro = Stats::parse(r#"{"calls":3,"alarms":1,"index_writes":2}"#).unwrap();
        assert_eq!((duro.alarms, duro.index_writes), (Some(1), Some(2)));
        assert!(Stats::parse("{}").is_err());
    }
}
