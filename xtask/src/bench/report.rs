//! Renders a run as `benchmarks.md`, `benchmarks.json` and a short summary.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use super::broadcast::{self, BroadcastSample};
use super::routes::{self, Routes};
use super::scale::{self, ScaleFigures};
use super::{
    median, Figures, Plan, Profiled, Results, Sample, Stats, DURO, DURO_NOINDEX, JS, JS_RPC,
    PROFILED, RUST, SCENARIOS,
};
use crate::metadata;
use crate::setup::WORKER_BUILD_VERSION;
use crate::workspace::{self, format_duration, root};

/// What the requests pass through, for the report.
const REQUEST_PATH: &str = "\
The load generator (`xtask/src/bench/load.rs`: one thread and one keep-alive HTTP/1.1 \
connection per concurrent client, closed loop, plain TCP over 127.0.0.1) → workerd's HTTP \
socket → the worker's `fetch` handler (for the Rust workers: worker-build's JS shim, then \
wasm) → the Durable Object stub's `fetch` (in-process; duro sends MessagePack, the \
baselines JSON), or for the JS RPC baseline the stub's method (`add(by)`, `get()`: JS RPC, \
no Request or Response) → the object's `fetch` or method → `ctx.storage` (SQLite, in the \
same process, its files in the state folder below) → back the same way.

Each implementation runs in its own workerd process, started directly from a config \
generated from its `wrangler.toml` (`workerd serve`; compatibility date, Durable Object \
bindings, `new_sqlite_classes` → `enableSql`, `[vars]`, plus `DURO_TEST_ROUTES=1` for the \
stats route). Not in the path: wrangler and its Node.js dev proxy, miniflare's entry \
worker and middleware, TLS, the inspector. The processes run side by side, idle \
while another is measured (the throughput and profile phases start new ones every round); \
the machine's cores are shared by workerd and the load generator.

Only duro's counter has a Workers KV binding (not its build without the index) (its `#[index]` publishes each counter's \
summary, at most once per second per counter). KV is a remote service in production; \
here an in-memory stand-in (`xtask/src/bench/kv.js`, the HTTP protocol workerd's KV \
binding speaks) runs in a workerd process of its own, reached over 127.0.0.1. Its CPU \
is not in duro's CPU per request, but it shares the machine's cores, so its work still \
weighs on duro's requests/s. The publishing itself (a timer, the KV request, the \
bookkeeping write) is duro's work and is counted.";

/// Machine and tool versions.
#[derive(Debug, Clone)]
pub struct Environment {
    pub date: String,
    pub command: String,
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub node: String,
    pub wrangler: String,
    pub workerd: String,
    pub worker_build: String,
    pub wasm_bindgen: String,
    pub wasm_opt: String,
    /// Where the Durable Objects' SQLite files are.
    pub state: String,
    /// The commit measured, and whether the workers' sources differed from it.
    pub commit: String,
}

impl Environment {
    pub fn collect(workerd: &Path, plan: &Plan, state: &Path) -> Environment {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v)
            })
            .map_or_else(|| "unknown".to_owned(), |v| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(
                || "unknown".to_owned(),
                |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
            );
        let root = root();
        let npm_version = |package: &str| {
            let path = root.join("node_modules").join(package).join("package.json");
            std::fs::read_to_string(path)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .and_then(|v| v.get("version")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "unknown".to_owned())
        };
        Environment {
            date: version_of(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])),
            command: if plan.quick {
                "cargo xtask bench --quick".to_owned()
            } else {
                "cargo xtask bench".to_owned()
            },
            cpu,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            memory,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned()),
            rustc: version_of(Command::new("rustc").arg("--version").current_dir(&root)),
            node: version_of(Command::new("node").arg("--version")),
            wrangler: npm_version("wrangler"),
            workerd: format!(
                "{} (npm workerd {})",
                version_of(Command::new(workerd).arg("--version")),
                npm_version("workerd")
            ),
            worker_build: WORKER_BUILD_VERSION.to_owned(),
            wasm_bindgen: workspace::locked_version("wasm-bindgen")
                .unwrap_or_else(|_| "unknown".to_owned()),
            wasm_opt: format!("binaryen {}", npm_version("binaryen")),
            commit: commit(&root),
            state: if state.starts_with("/dev/shm") {
                "tmpfs (`/dev/shm`), so that the disk's sync latency, the same for every \
                 implementation and noisy on a shared machine, does not hide the differences \
                 between them; `--disk` keeps it on disk"
                    .to_owned()
            } else {
                "on disk (`target/bench/run/state`)".to_owned()
            },
        }
    }
}

/// `abc1234`, with a note when the sources of the measured workers have local changes.
fn commit(root: &Path) -> String {
    let hash = version_of(
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(root),
    );
    let dirty = workspace::output(
        Command::new("git")
            .args(["status", "--porcelain", "--"])
            .args([
                "framework",
                "macros",
                "apps",
                "bench",
                "Cargo.toml",
                "Cargo.lock",
            ])
            .current_dir(root),
    )
    .is_some_and(|out| !out.is_empty());
    if dirty {
        format!("{hash} with local changes to the measured sources")
    } else {
        hash
    }
}

/// Runs a command and returns its first output line, or "unknown".
fn version_of(command: &mut Command) -> String {
    workspace::output(command)
        .and_then(|out| out.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A ratio of duro to one baseline over the rounds of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Implementation `of`'s requests/s divided by implementation `to`'s, round by round.
pub fn rps_ratio(figures: &[Figures], of: usize, to: usize, scenario: usize) -> Ratio {
    ratio(figures, (of, to), scenario, |s| s.rps)
}

/// Implementation `of`'s workerd CPU time per request divided by implementation `to`'s,
/// round by round.
pub fn cpu_ratio(figures: &[Figures], of: usize, to: usize, scenario: usize) -> Ratio {
    ratio(figures, (of, to), scenario, |s| s.cpu_us)
}

fn ratio(
    figures: &[Figures],
    (of, to): (usize, usize),
    scenario: usize,
    figure: fn(&Sample) -> f64,
) -> Ratio {
    samples_ratio(
        &figures[of].throughput[scenario],
        &figures[to].throughput[scenario],
        figure,
    )
}

/// `figure` of the samples `of` over that of the samples `to`, round by round: the
/// median and the extremes.
pub fn samples_ratio(of: &[Sample], to: &[Sample], figure: fn(&Sample) -> f64) -> Ratio {
    let ratios: Vec<f64> = of
        .iter()
        .zip(to)
        .map(|(d, o)| figure(d) / figure(o))
        .filter(|r| r.is_finite())
        .collect();
    Ratio {
        median: median(&ratios),
        min: ratios.iter().copied().fold(f64::NAN, f64::min),
        max: ratios.iter().copied().fold(f64::NAN, f64::max),
    }
}

/// A table's header: `first`, then one right-aligned column per implementation.
fn table_head(first: &str, labels: &[&str]) -> String {
    format!(
        "| {first} | {} |\n|---|{}",
        labels.join(" | "),
        "--:|".repeat(labels.len())
    )
}

/// The head of a per-scenario table: `figure` of each implementation, the like-with-like
/// ratios, then `extra` columns.
fn scenario_head(
    figure: &str,
    labels: &[&str],
    like: &[(usize, usize, String)],
    extra: &[String],
) -> String {
    let columns: Vec<String> = labels
        .iter()
        .map(|l| format!("{figure} {l}"))
        .chain(like.iter().map(|(_, _, title)| title.clone()))
        .chain(extra.iter().cloned())
        .collect();
    format!(
        "| Scenario | {} |\n|---|{}",
        columns.join(" | "),
        "--:|".repeat(columns.len())
    )
}

/// The ratio columns of the throughput and CPU tables: duro without its index (like with
/// like) over each baseline, as (numerator, denominator, column title).
fn like_with_like(labels: &[&str]) -> Vec<(usize, usize, String)> {
    [RUST, JS, JS_RPC]
        .into_iter()
        .map(|to| {
            (
                DURO_NOINDEX,
                to,
                format!("{} / {}", labels[DURO_NOINDEX], labels[to]),
            )
        })
        .collect()
}

/// Medians over the rounds: requests/s, p50 ms, p99 ms, CPU µs per request.
fn medians(figures: &Figures, scenario: usize) -> (f64, f64, f64, f64) {
    samples_medians(&figures.throughput[scenario])
}

/// Medians of samples: requests/s, p50 ms, p99 ms, CPU µs per request.
fn samples_medians(samples: &[Sample]) -> (f64, f64, f64, f64) {
    let pick = |f: fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
    (
        pick(|s| s.rps),
        pick(|s| s.p50_ms),
        pick(|s| s.p99_ms),
        pick(|s| s.cpu_us),
    )
}

/// What changed the numbers, measured change by change (`bench/history.md`).
const HISTORY: &str = include_str!("../../../bench/history.md");

/// A bar from docs/design.md and whether the run met it.
#[derive(Debug, Clone)]
pub struct Bar {
    pub name: String,
    pub measured: String,
    pub value: f64,
    pub limit: f64,
    pub met: Option<bool>,
}

fn gzip_total(figures: &Figures) -> u64 {
    figures.sizes.iter().map(|s| s.gzip).sum()
}

/// The gzip size of an implementation's wasm module, if it has one.
fn wasm_gzip(figures: &Figures) -> Option<u64> {
    figures
        .sizes
        .iter()
        .find(|s| s.file.ends_with(".wasm"))
        .map(|s| s.gzip)
}

fn pages(stats: &Stats) -> Option<u64> {
    stats.wasm_memory_pages
}

/// The bars, evaluated.
pub fn bars(results: &Results) -> Vec<Bar> {
    let f = &results.figures;
    let mut bars = Vec::new();
    for key in [
        "add-1obj-c8",
        "add-1obj-c64",
        "add-100obj-c8",
        "add-100obj-c64",
    ] {
        let Some(s) = SCENARIOS.iter().position(|s| s.key == key) else {
            continue;
        };
        let label = SCENARIOS[s].label();
        // duro like with like: its counter without the index, which the baselines lack.
        let duro = results.impls[DURO_NOINDEX].label;
        for (other, limit) in [(RUST, 1.0), (JS, 0.9), (JS_RPC, 0.9)] {
            let name = results.impls[other].label;
            bars.push(ratio_bar(
                format!("req/s {duro} / {name} ≥ {limit:.1} ({label})"),
                rps_ratio(f, DURO_NOINDEX, other, s),
                limit,
                true,
            ));
        }
        if key.ends_with("-c8") {
            let name = results.impls[JS_RPC].label;
            bars.push(ratio_bar(
                format!("CPU per request {duro} / {name} ≤ 1.0 ({label})"),
                cpu_ratio(f, DURO_NOINDEX, JS_RPC, s),
                1.0,
                false,
            ));
        }
    }
    bars.extend(scale_bars(&results.plan, &results.scale));
    bars.push(budget_bar(&f[0]));
    let [small, large] = results.plan.memory_calls;
    let adds = &f[0].memory.after_adds;
    let first = adds.first().and_then(|(_, s)| pages(s));
    let last = adds.last().and_then(|(_, s)| pages(s));
    let spread = &f[0].memory.after_spread;
    let spread_first = spread.first().and_then(|(_, p)| *p);
    let spread_last = spread.last().and_then(|(_, p)| *p);
    let [spread_small, _, spread_large] = results.plan.spread_memory_calls;
    // The design's bar is the first; the second holds the same rule under a harder load
    // (100 objects, concurrent calls, index publishing).
    for (name, a, b) in [
        (
            format!(
                "no wasm memory growth (duro), one object, {} → {} calls",
                thousands(small),
                thousands(large)
            ),
            first,
            last,
        ),
        (
            format!(
                "no wasm memory growth (duro), 100 objects at c=64, {} → {} calls",
                thousands(spread_small),
                thousands(spread_large)
            ),
            spread_first,
            spread_last,
        ),
    ] {
        let grown = a.zip(b).map(|(a, b)| b as f64 - a as f64);
        bars.push(Bar {
            name,
            measured: match (a, b) {
                (Some(a), Some(b)) => format!("{a} → {b} pages"),
                _ => "n/a".to_owned(),
            },
            value: grown.unwrap_or(f64::NAN),
            limit: 0.0,
            met: grown.map(|g| g <= 0.0),
        });
    }
    bars
}

/// The bars of the state-size and compute-heavy scenarios.
fn scale_bars(plan: &Plan, sc: &scale::Scale) -> Vec<Bar> {
    let duro = &sc.figures[scale::DURO];
    let name = sc.impls[scale::DURO].label;
    let other = sc.impls[scale::JS].label;
    let bars = [
        (
            format!(
                "state size: {name} CPU per append at {} entries / at {} ≤ 1.2",
                thousands(plan.log_large),
                thousands(plan.log_small)
            ),
            state_size_ratio(duro),
            1.2,
            false,
        ),
        (
            format!(
                "compute-heavy: req/s {name} / {other} ≥ 2.0 ({})",
                scale::SCENARIOS[scale::SCORE].label(plan)
            ),
            scale_ratio(sc, scale::SCORE, |s| s.rps),
            2.0,
            true,
        ),
    ];
    bars.into_iter()
        .map(|(title, ratio, limit, at_least)| {
            let mut bar = ratio_bar(title, ratio, limit, at_least);
            if let Some(why) = &duro.skipped {
                bar.measured = format!("not measured: {why}");
            }
            bar
        })
        .collect()
}

/// CPU per append on the large log over that on the small one, round by round.
fn state_size_ratio(fig: &ScaleFigures) -> Ratio {
    samples_ratio(
        &fig.throughput[scale::APPEND_LARGE],
        &fig.throughput[scale::APPEND_SMALL],
        |s| s.cpu_us,
    )
}

/// duro's `figure` over the JavaScript baseline's in a scale scenario, round by round.
fn scale_ratio(sc: &scale::Scale, scenario: usize, figure: fn(&Sample) -> f64) -> Ratio {
    samples_ratio(
        &sc.figures[scale::DURO].throughput[scenario],
        &sc.figures[scale::JS].throughput[scenario],
        figure,
    )
}

/// A folder relative to the repository's root.
fn display_dir(dir: &Path) -> String {
    dir.strip_prefix(root())
        .unwrap_or(dir)
        .display()
        .to_string()
}

/// `median (min–max)`, or n/a.
fn ratio_text(r: Ratio) -> String {
    if r.median.is_finite() {
        format!("{:.2} ({:.2}–{:.2})", r.median, r.min, r.max)
    } else {
        "n/a".to_owned()
    }
}

/// A bar on a ratio: met when its median is at least `limit` (`at_least`) or at most.
fn ratio_bar(name: String, r: Ratio, limit: f64, at_least: bool) -> Bar {
    Bar {
        name,
        measured: ratio_text(r),
        value: r.median,
        limit,
        met: r.median.is_finite().then_some(if at_least {
            r.median >= limit
        } else {
            r.median <= limit
        }),
    }
}

/// duro's wasm against the counter app's size budget.
fn budget_bar(duro: &Figures) -> Bar {
    let gzip = wasm_gzip(duro);
    let budget = duro.budget;
    Bar {
        name: format!(
            "wasm gzip size (duro) within the app's budget{}",
            budget.map_or_else(String::new, |b| format!(" of {}", kib(b)))
        ),
        measured: match (gzip, budget) {
            (Some(g), Some(b)) => format!("{} ({:.0} %)", kib(g), 100.0 * g as f64 / b as f64),
            (Some(g), None) => format!("{} (no budget declared)", kib(g)),
            _ => "n/a".to_owned(),
        },
        value: gzip.map_or(f64::NAN, |g| g as f64),
        limit: budget.map_or(f64::NAN, |b| b as f64),
        met: gzip
            .zip(budget)
            .map(|(g, b)| !matches!(metadata::verdict(g, Some(b)), metadata::Verdict::Over(_))),
    }
}

/// `123456` as `123 456`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn num(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "n/a".to_owned()
    }
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn met(bar: &Bar) -> &'static str {
    match bar.met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "n/a",
    }
}

/// Per-call storage figures from the stats after the adds and after the reads.
struct StorageFigures {
    adds: u64,
    reads: u64,
    writes: u64,
    lists: Option<u64>,
    alarm_ops: Option<u64>,
    get_calls: u64,
    get_reads: u64,
    get_writes: u64,
}

fn storage(figures: &Figures) -> Option<StorageFigures> {
    let (_, after_adds) = figures.memory.after_adds.last()?;
    let (_, after_gets) = figures.memory.after_gets.as_ref()?;
    Some(StorageFigures {
        adds: after_adds.calls,
        reads: after_adds.storage_reads,
        writes: after_adds.storage_writes,
        lists: after_adds.storage_lists,
        alarm_ops: after_adds.alarm_ops,
        get_calls: after_gets.calls.saturating_sub(after_adds.calls),
        get_reads: after_gets
            .storage_reads
            .saturating_sub(after_adds.storage_reads),
        get_writes: after_gets
            .storage_writes
            .saturating_sub(after_adds.storage_writes),
    })
}

/// The markdown report.
pub fn markdown(results: &Results) -> String {
    let plan = &results.plan;
    let env = &results.environment;
    let f = &results.figures;
    let labels: Vec<&str> = results.impls.iter().map(|i| i.label).collect();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Generated by `{}` on {} ({} run, {} of measurements). Do not edit: run the command \
         again. The figures come from one run in which the implementations were measured \
         side by side; compare the ratios, not the absolute numbers, which depend on the \
         machine and its load.\n",
        env.command,
        env.date,
        if plan.quick { "quick" } else { "full" },
        format_duration(results.duration)
    );
    let _ = writeln!(
        w,
        "The implementations of the same counter API (`POST /counters/<name>/add` with \
         `{{\"by\": 1}}`, `GET /counters/<name>`):\n\n\
         - **duro**: `apps/counter`, the duro counter app.\n\
         - **workers-rs**: `bench/baselines/rust`, a hand-written workers-rs `#[durable_object]` \
         (value cached in a field, `storage.put(\"value\", v)`).\n\
         - **JavaScript**: `bench/baselines/js`, a hand-written `class Counter extends \
         DurableObject` (`ctx.storage.get/put`), no build step, called with `fetch`.\n\
         - **JS RPC**: `bench/baselines/js-rpc`, the same object with methods `add(by)` and \
         `get()`, called over JS RPC (`env.COUNTER.getByName(name).add(by)`).\n\
         - **duro (no index)**: `bench/baselines/duro-noindex`, the counter app's source \
         built without its `#[index]` projection: duro doing only the work the baselines \
         do.\n\n\
         Each add reads the counter (from memory after the first call), adds, persists and \
         replies; the worker forwards it to one Durable Object per name, with `fetch` (JS \
         RPC: a method call).\n\n\
         The state-size and compute-heavy scenarios (a log and a leaderboard) compare two \
         more implementations of one API of their own: duro's `bench/scale` and \
         `bench/baselines/js-scale`, idiomatic JavaScript over JS RPC (see \
         \"State size and compute-heavy\" below). The broadcast scenario (one chat room of \
         100 WebSockets) compares duro's chat, `apps/chat`, with a hand-written JavaScript \
         object with hibernation, `bench/baselines/js-chat` (see \"Broadcast\" below).\n"
    );

    let _ = writeln!(w, "## Headline: the bars from docs/design.md\n");
    let _ = writeln!(
        w,
        "Ratios are duro's figure over the baseline's, measured in the same round (the \
         implementations run one after the other, the order rotating each round, every \
         round on new workerd processes); the median over {} rounds, with the lowest and \
         highest round in parentheses. The throughput bars compare the baselines with \
         duro's counter without its index ({}), which does the same work as they do; the \
         index's own cost is in the table after them.\n",
        plan.rounds, labels[DURO_NOINDEX]
    );
    let _ = writeln!(w, "| Bar | Measured | |\n|---|---|---|");
    for bar in bars(results) {
        let _ = writeln!(w, "| {} | {} | {} |", bar.name, bar.measured, met(&bar));
    }
    let _ = writeln!(
        w,
        "\nThe index's own cost: the counter ({}) over the same source built without its \
         `#[index]` ({}), in the same rounds (publishing: a timer, a KV write and a \
         bookkeeping write per object per second while it changes).\n",
        labels[DURO], labels[DURO_NOINDEX]
    );
    let _ = writeln!(
        w,
        "| Scenario | CPU per request {0} / {1} | req/s {0} / {1} |\n|---|--:|--:|",
        labels[DURO], labels[DURO_NOINDEX]
    );
    for (s, scenario) in SCENARIOS.iter().enumerate() {
        let c = cpu_ratio(f, DURO, DURO_NOINDEX, s);
        let r = rps_ratio(f, DURO, DURO_NOINDEX, s);
        let _ = writeln!(
            w,
            "| {} | {} ({}–{}) | {} ({}–{}) |",
            scenario.label(),
            num(c.median, 2),
            num(c.min, 2),
            num(c.max, 2),
            num(r.median, 2),
            num(r.min, 2),
            num(r.max, 2),
        );
    }

    let _ = writeln!(w, "\n## Throughput and latency\n");
    let _ = writeln!(
        w,
        "Closed-loop load: c connections, each sending its next request when the previous \
         reply arrived. Each window: {} ms of warm-up (not recorded), then {} ms measured; \
         requests/s counts 200 replies; latencies are per request, in milliseconds. Medians \
         over {} rounds. \"100 objects\" spreads the requests over 100 names. Every round \
         starts a new workerd process per implementation and warms it ({} ms of adds over \
         the 100 objects, then {} ms of reads): the same code in two processes can differ by \
         up to 30 % in CPU per request, so that one process's luck is spread over the rounds \
         instead of weighing on all of them.\n",
        plan.warmup.as_millis(),
        plan.measure.as_millis(),
        plan.rounds,
        plan.process_warmup().as_millis(),
        plan.warmup.as_millis(),
    );
    let like = like_with_like(&labels);
    let latencies = labels.join(" / ");
    let _ = writeln!(
        w,
        "{}",
        scenario_head(
            "req/s",
            &labels,
            &like,
            &[format!("p50 {latencies}"), format!("p99 {latencies}")]
        )
    );
    for (s, scenario) in SCENARIOS.iter().enumerate() {
        let m: Vec<(f64, f64, f64, f64)> = f.iter().map(|fig| medians(fig, s)).collect();
        let column = |pick: fn(&(f64, f64, f64, f64)) -> f64, decimals: usize| {
            m.iter().map(|x| num(pick(x), decimals)).collect::<Vec<_>>()
        };
        let ratios: Vec<String> = like
            .iter()
            .map(|(of, to, _)| num(rps_ratio(f, *of, *to, s).median, 2))
            .collect();
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            scenario.label(),
            column(|x| x.0, 0).join(" | "),
            ratios.join(" | "),
            column(|x| x.1, 2).join(" / "),
            column(|x| x.2, 2).join(" / "),
        );
    }

    let _ = writeln!(w, "\n### CPU per request\n");
    let _ = writeln!(
        w,
        "workerd's CPU time (all its threads, from `/proc/<pid>/task/*/schedstat`) over a \
         whole window divided by the requests it answered, in microseconds: what one request \
         costs the runtime, and much less sensitive than requests/s to other load on the \
         machine. Lower is better; the ratios are per round, then the median. duro's ratios \
         are those of its counter without the index ({}), like with like; the last column is \
         what the index costs (the counter over that build).\n",
        labels[DURO_NOINDEX]
    );
    let index_cost = format!("{} / {}", labels[DURO], labels[DURO_NOINDEX]);
    let _ = writeln!(
        w,
        "{}",
        scenario_head("CPU µs", &labels, &like, &[index_cost])
    );
    for (s, scenario) in SCENARIOS.iter().enumerate() {
        let cpu: Vec<String> = f.iter().map(|fig| num(medians(fig, s).3, 0)).collect();
        let ratios: Vec<String> = like
            .iter()
            .map(|(of, to, _)| num(cpu_ratio(f, *of, *to, s).median, 2))
            .collect();
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} |",
            scenario.label(),
            cpu.join(" | "),
            ratios.join(" | "),
            num(cpu_ratio(f, DURO, DURO_NOINDEX, s).median, 2),
        );
    }

    profile_section(w, results, &labels);
    scale_section(w, results);
    broadcast_section(w, results);
    routes_section(w, &results.plan, &results.routes);

    let _ = writeln!(w, "\n## Start-up\n");
    let _ = writeln!(w, "{}", table_head("", &labels));
    let row = |w: &mut String, name: String, values: Vec<String>| {
        let _ = writeln!(w, "| {name} | {} |", values.join(" | "));
    };
    row(
        w,
        format!(
            "Activation: first call (an add) to a fresh object, median of {}, ms",
            plan.activations
        ),
        f.iter().map(|x| num(median(&x.activation_ms), 2)).collect(),
    );
    row(
        w,
        format!(
            "Cold start: workerd process start to the first response (`GET /counters/cold`, \
             an existing object), median of {} restarts, ms",
            plan.cold_starts
        ),
        f.iter().map(|x| num(median(&x.cold_start_ms), 0)).collect(),
    );

    let _ = writeln!(w, "\n## Size\n");
    let _ = writeln!(
        w,
        "What each worker ships (worker-build `--release` output for the Rust workers, with \
         the workspace's release profile: `opt-level = \"s\"`, LTO, one codegen unit, \
         `panic = \"abort\"`, then wasm-opt). gzip is deflate at level 9 (flate2, as \
         `gzip -9`), the measure `cargo xtask build` checks the apps' budgets with.\n"
    );
    let _ = writeln!(w, "{}", table_head("", &labels));
    for file in ["index_bg.wasm", "index.js"] {
        for gz in [false, true] {
            let values = f
                .iter()
                .map(|x| {
                    x.sizes
                        .iter()
                        .find(|s| s.file == file)
                        .map(|s| if gz { s.gzip } else { s.raw })
                        .map_or_else(|| "—".to_owned(), kib)
                })
                .collect();
            row(
                w,
                format!("`{file}` {}", if gz { "gzip" } else { "raw" }),
                values,
            );
        }
    }
    row(
        w,
        "`index_bg.wasm` gzip without its names section".to_owned(),
        f.iter()
            .map(|x| {
                x.sizes
                    .iter()
                    .find(|s| s.file.ends_with(".wasm"))
                    .and_then(|s| s.gzip_without_names)
                    .map_or_else(|| "—".to_owned(), kib)
            })
            .collect(),
    );
    row(
        w,
        "Total gzip".to_owned(),
        f.iter().map(|x| kib(gzip_total(x))).collect(),
    );
    row(
        w,
        "Size budget of the gzipped wasm (`size-budget-gzip` in the app's Cargo.toml)".to_owned(),
        f.iter()
            .map(|x| match (wasm_gzip(x), x.budget) {
                (Some(g), Some(b)) => {
                    format!("{} ({:.0} % used)", kib(b), 100.0 * g as f64 / b as f64)
                }
                _ => "—".to_owned(),
            })
            .collect(),
    );
    row(
        w,
        "The framework's own code (function bodies of the duro and duro-index crates)".to_owned(),
        f.iter()
            .map(|x| match &x.wasm_code {
                Some(code) if code.framework() > 0 => format!(
                    "{} ({:.0} % of all code)",
                    kib(code.framework()),
                    100.0 * code.framework() as f64 / code.code.max(1) as f64
                ),
                _ => "—".to_owned(),
            })
            .collect(),
    );
    let _ = writeln!(
        w,
        "\nworker-build keeps the wasm names section (function names, for stack traces); \
         the row without it shows what the code itself weighs. Where the code is: bytes of \
         function bodies by crate, read from the names section (generic code is counted in \
         the crate of the type or trait it was instantiated for).\n"
    );
    let codes: Vec<&crate::bench::wasm::Breakdown> =
        f.iter().filter_map(|x| x.wasm_code.as_ref()).collect();
    if codes.len() >= 2 {
        let _ = writeln!(
            w,
            "| Crate | {} | {} |\n|---|--:|--:|",
            labels[0], labels[1]
        );
        let mut crates: Vec<&str> = Vec::new();
        for code in &codes {
            for (name, _) in code.by_crate.iter().take(12) {
                if !crates.contains(&name.as_str()) {
                    crates.push(name);
                }
            }
        }
        let bytes = |code: &crate::bench::wasm::Breakdown, name: &str| {
            code.by_crate
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, b)| *b)
        };
        crates.sort_by_key(|name| std::cmp::Reverse(bytes(codes[0], name)));
        for name in crates {
            let _ = writeln!(
                w,
                "| {name} | {} | {} |",
                kib(bytes(codes[0], name)),
                kib(bytes(codes[1], name))
            );
        }
        let _ = writeln!(
            w,
            "| **all code** | {} | {} |\n| data section | {} | {} |\n| names section | {} | {} |",
            kib(codes[0].code),
            kib(codes[1].code),
            kib(codes[0].data),
            kib(codes[1].data),
            kib(codes[0].names),
            kib(codes[1].names)
        );
    }

    let _ = writeln!(w, "\n## Memory and storage\n");
    let [small, large] = plan.memory_calls;
    let _ = writeln!(
        w,
        "A fresh workerd per implementation; {} then {} adds in total (c={}) to one object, \
         then {} reads of it, then adds over 100 objects at c=64. Wasm memory is the instance's linear memory \
         (`memory.size`, 64 KiB pages), from the stats route; it is shared by every object \
         in the isolate. The JavaScript baselines have no wasm memory. Storage operations are \
         counted by each implementation (duro: its storage layer; the baselines: their own \
         code around each `get`/`put`).\n",
        thousands(small),
        thousands(large),
        plan.memory_concurrency,
        thousands(small)
    );
    let _ = writeln!(w, "{}", table_head("", &labels));
    for (k, calls) in [small, large].iter().enumerate() {
        row(
            w,
            format!("Wasm memory pages after {} adds", thousands(*calls)),
            f.iter()
                .map(|x| {
                    x.memory
                        .after_adds
                        .get(k)
                        .and_then(|(_, s)| s.wasm_memory_pages)
                        .map_or_else(|| "—".to_owned(), |p| p.to_string())
                })
                .collect(),
        );
    }
    for (k, calls) in plan.spread_memory_calls.iter().enumerate() {
        row(
            w,
            format!(
                "Wasm memory pages after {} adds over 100 objects (c=64)",
                thousands(*calls)
            ),
            f.iter()
                .map(|x| {
                    x.memory
                        .after_spread
                        .get(k)
                        .and_then(|(_, p)| *p)
                        .map_or_else(|| "—".to_owned(), |p| p.to_string())
                })
                .collect(),
        );
    }
    row(
        w,
        "Wasm memory pages at the end of the memory and activation phases".to_owned(),
        f.iter()
            .map(|x| {
                x.memory
                    .pages_at_end
                    .map_or_else(|| "—".to_owned(), |p| p.to_string())
            })
            .collect(),
    );
    row(
        w,
        "workerd resident memory at the end of the memory and activation phases (peak), MiB"
            .to_owned(),
        f.iter()
            .map(|x| {
                x.memory.rss_kib.map_or_else(
                    || "n/a".to_owned(),
                    |(now, peak)| {
                        format!("{:.0} ({:.0})", now as f64 / 1024.0, peak as f64 / 1024.0)
                    },
                )
            })
            .collect(),
    );
    let st: Vec<Option<StorageFigures>> = f.iter().map(storage).collect();
    let per = |n: u64, d: u64| {
        if d == 0 {
            "n/a".to_owned()
        } else {
            format!("{:.3}", n as f64 / d as f64)
        }
    };
    row(
        w,
        "Storage reads over all adds (one object, one activation)".to_owned(),
        st.iter()
            .map(|s| {
                s.as_ref().map_or_else(
                    || "n/a".to_owned(),
                    |s| format!("{} over {}", s.reads, thousands(s.adds)),
                )
            })
            .collect(),
    );
    row(
        w,
        "Storage writes per add".to_owned(),
        st.iter()
            .map(|s| {
                s.as_ref()
                    .map_or_else(|| "n/a".to_owned(), |s| per(s.writes, s.adds))
            })
            .collect(),
    );
    row(
        w,
        "Storage lists and alarm operations over all adds".to_owned(),
        st.iter()
            .map(|s| {
                s.as_ref()
                    .and_then(|s| Some(format!("{} / {}", s.lists?, s.alarm_ops?)))
                    .unwrap_or_else(|| "not counted".to_owned())
            })
            .collect(),
    );
    row(
        w,
        "Alarm invocations / index publishes over the adds spread over 100 objects".to_owned(),
        f.iter()
            .map(|fig| {
                fig.memory.spread_totals.map_or_else(
                    || "not counted".to_owned(),
                    |(calls, alarms, writes)| {
                        format!(
                            "{} / {} over {} calls",
                            thousands(alarms),
                            thousands(writes),
                            thousands(calls)
                        )
                    },
                )
            })
            .collect(),
    );
    row(
        w,
        "Storage reads / writes per get".to_owned(),
        st.iter()
            .map(|s| {
                s.as_ref().map_or_else(
                    || "n/a".to_owned(),
                    |s| {
                        format!(
                            "{} / {}",
                            per(s.get_reads, s.get_calls),
                            per(s.get_writes, s.get_calls)
                        )
                    },
                )
            })
            .collect(),
    );

    let failures: Vec<String> = results
        .impls
        .iter()
        .zip(f)
        .flat_map(|(imp, fig)| {
            fig.failures
                .iter()
                .map(move |l| format!("- {}: {l}", imp.label))
        })
        .chain(
            results
                .scale
                .impls
                .iter()
                .zip(&results.scale.figures)
                .flat_map(|(imp, fig)| {
                    fig.failures.iter().map(move |l| {
                        format!("- {} (state size and compute-heavy): {l}", imp.label)
                    })
                }),
        )
        .collect();
    let _ = writeln!(w, "\n## Checks\n");
    if failures.is_empty() {
        let _ = writeln!(
            w,
            "Every request of the run got a 200, and every implementation's `mem` object \
             held exactly the number of adds it acknowledged."
        );
    } else {
        let _ = writeln!(
            w,
            "Failed requests are left out of requests/s and latencies (the time they took \
             is not). Every acknowledged add was in the `mem` object's value unless a line \
             below says otherwise. workerd sometimes closes keep-alive connections without \
             a reply under sustained concurrent load; this has been seen with every \
             implementation, the plain JavaScript ones included.\n"
        );
        for line in failures {
            let _ = writeln!(w, "{line}");
        }
        let _ = writeln!(
            w,
            "\nworkerd's output of the run is in `target/bench/run/<duro|rust|js>/workerd.log`."
        );
    }

    let _ = writeln!(w, "\n## What sits in the request path\n\n{REQUEST_PATH}");
    let _ = writeln!(w, "\nDurable Object state: {}.", env.state);

    let _ = writeln!(w, "\n## Machine and versions\n");
    for (name, value) in [
        ("Commit", env.commit.clone()),
        ("CPU", format!("{} × {}", env.cores, env.cpu)),
        ("Memory", env.memory.clone()),
        ("Linux", env.kernel.clone()),
        ("rustc", env.rustc.clone()),
        ("workerd", env.workerd.clone()),
        ("wrangler (not in the path)", env.wrangler.clone()),
        ("Node.js", env.node.clone()),
        ("worker-build", env.worker_build.clone()),
        ("wasm-bindgen", env.wasm_bindgen.clone()),
        ("wasm-opt", env.wasm_opt.clone()),
    ] {
        let _ = writeln!(w, "- {name}: {value}");
    }

    // The changes behind the figures, kept by hand in bench/history.md.
    let _ = writeln!(w, "\n{}", HISTORY.trim_end());

    let _ = writeln!(w, "\n## Reproduce\n");
    let _ = writeln!(
        w,
        "```sh\ncargo xtask bench          # the full run: writes docs/benchmarks.md and docs/benchmarks.json\n\
         cargo xtask bench --quick  # about two minutes after the builds: writes target/bench/\n```\n\n\
         The command builds the Rust workers (the counter, its build without the index, the \
         workers-rs baseline, `bench/scale`, the chat and its axum build) in release \
         (`--no-build` reuses `<app>/build/`), then measures, in order: cold starts, memory \
         and storage, activations, throughput, state size and compute-heavy, broadcast, \
         routes, and the profile (when Linux `perf` works; `--no-profile` leaves it out). \
         `--only routes` builds the two chats and measures the routes alone (written to \
         `target/bench/routes.md`). Timings are never asserted in tests; the bars above are \
         checked by reading this page."
    );
    out
}

/// "State size and compute-heavy": duro's `bench/scale` against the JavaScript baseline.
fn scale_section(w: &mut String, results: &Results) {
    let plan = &results.plan;
    let sc = &results.scale;
    let labels: Vec<&str> = sc.impls.iter().map(|i| i.label).collect();
    let (duro, js) = (labels[scale::DURO], labels[scale::JS]);
    let _ = writeln!(w, "\n## State size and compute-heavy\n");
    let _ = writeln!(
        w,
        "One HTTP API, two implementations: **{duro}** (`{}`, duro's `Journal` and `Board` \
         objects) and **{js}** (`{}`: `Journal` and `Board` classes that extend \
         `DurableObject`, called over JS RPC, one storage key per entry or player). Closed \
         loop at c={}, each window {} ms of warm-up then {} ms measured; medians over {} \
         rounds, every round on new workerd processes (warmed with {} ms of appends to a log \
         of their own, a first call to each measured log, timed below as its activation, \
         and one score update, which activates the board), the two implementations one \
         after the other, the order rotating each round; the two append scenarios swap \
         places every round, the score updates come last.\n\n\
         - **State size**: `POST /log/<name>/append` to a log of {} entries (a new log each \
         round) and to one of {} (the same log every round, so it grows by each round's \
         appends). The logs are filled over HTTP beforehand, {} entries per `fill` call. \
         The bar: duro's CPU per append on the large log is at most 1.2× that on the small \
         one (per round, then the median).\n\
         - **Compute-heavy**: `POST /board/<name>/score` of random players (of {} filled \
         beforehand) to random scores. Each object holds every score in memory, writes the \
         one that changed, sorts all players by score and returns the player's rank and \
         the top 10. The bar: duro serves at least 2× the requests/s of JavaScript.\n",
        display_dir(&sc.impls[scale::DURO].dir),
        display_dir(&sc.impls[scale::JS].dir),
        8,
        plan.warmup.as_millis(),
        plan.measure.as_millis(),
        plan.rounds,
        plan.process_warmup().as_millis(),
        thousands(plan.log_small),
        thousands(plan.log_large),
        thousands(scale::FILL_BATCH),
        thousands(plan.board_players),
    );
    if plan.quick {
        let _ = writeln!(
            w,
            "This quick run's large log has {} entries; the full run's has 100 000.\n",
            thousands(plan.log_large)
        );
    }
    for (imp, fig) in sc.impls.iter().zip(&sc.figures) {
        if let Some(why) = &fig.skipped {
            let _ = writeln!(w, "{} was not measured: {why}.\n", imp.label);
        }
    }
    let ratio_title = format!("{duro} / {js}");
    let _ = writeln!(
        w,
        "| Scenario | req/s {duro} | req/s {js} | {ratio_title} | CPU µs {duro} | CPU µs {js} \
         | {ratio_title} | p50 {duro} / {js} | p99 {duro} / {js} |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for (s, scenario) in scale::SCENARIOS.iter().enumerate() {
        let m: Vec<(f64, f64, f64, f64)> = sc
            .figures
            .iter()
            .map(|fig| samples_medians(&fig.throughput[s]))
            .collect();
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} |",
            scenario.label(plan),
            num(m[scale::DURO].0, 0),
            num(m[scale::JS].0, 0),
            num(scale_ratio(sc, s, |x| x.rps).median, 2),
            num(m[scale::DURO].3, 0),
            num(m[scale::JS].3, 0),
            num(scale_ratio(sc, s, |x| x.cpu_us).median, 2),
            num(m[scale::DURO].1, 2),
            num(m[scale::JS].1, 2),
            num(m[scale::DURO].2, 2),
            num(m[scale::JS].2, 2),
        );
    }
    let _ = writeln!(w, "\n{}", table_head("", &labels));
    let row = |w: &mut String, name: String, values: Vec<String>| {
        let _ = writeln!(w, "| {name} | {} |", values.join(" | "));
    };
    row(
        w,
        format!(
            "CPU per append at {} entries / at {} (per round; median, lowest–highest)",
            thousands(plan.log_large),
            thousands(plan.log_small)
        ),
        sc.figures
            .iter()
            .map(|fig| ratio_text(state_size_ratio(fig)))
            .collect(),
    );
    row(
        w,
        format!(
            "req/s of appends at {} entries / at {}",
            thousands(plan.log_large),
            thousands(plan.log_small)
        ),
        sc.figures
            .iter()
            .map(|fig| {
                ratio_text(samples_ratio(
                    &fig.throughput[scale::APPEND_LARGE],
                    &fig.throughput[scale::APPEND_SMALL],
                    |x| x.rps,
                ))
            })
            .collect(),
    );
    let seconds = |d: Option<std::time::Duration>| {
        d.map_or_else(|| "n/a".to_owned(), |d| format!("{:.1}", d.as_secs_f64()))
    };
    row(
        w,
        format!(
            "Filling the large log ({} `fill` calls), s",
            plan.log_large.div_ceil(scale::FILL_BATCH)
        ),
        sc.figures.iter().map(|f| seconds(f.fill_large)).collect(),
    );
    row(
        w,
        format!(
            "Filling the board ({} `fill` calls), s",
            plan.board_players.div_ceil(scale::FILL_BATCH)
        ),
        sc.figures.iter().map(|f| seconds(f.fill_board)).collect(),
    );
    row(
        w,
        format!(
            "First call to the log of {} / of {} entries in a new process (its activation), \
             median ms",
            thousands(plan.log_small),
            thousands(plan.log_large)
        ),
        sc.figures
            .iter()
            .map(|f| {
                format!(
                    "{} / {}",
                    num(median(&f.first_call_small_ms), 2),
                    num(median(&f.first_call_large_ms), 2)
                )
            })
            .collect(),
    );
    row(
        w,
        "Entries in the large log at the end of the run".to_owned(),
        sc.figures
            .iter()
            .map(|f| f.large_at_end.map_or_else(|| "n/a".to_owned(), thousands))
            .collect(),
    );
    row(
        w,
        "Storage writes per call to the large log in the last round (its stats route)".to_owned(),
        sc.figures
            .iter()
            .map(|f| match &f.large_stats {
                Some(st) if st.calls > 0 => {
                    format!("{:.3}", st.storage_writes as f64 / st.calls as f64)
                }
                _ => "n/a".to_owned(),
            })
            .collect(),
    );
}

/// A line for each implementation of a scenario that was skipped, and one for each
/// failure: (label, why it was skipped, failures).
fn side_notes<'a>(
    w: &mut String,
    sides: impl Iterator<Item = (&'a str, Option<&'a str>, &'a [String])>,
) {
    for (label, skipped, failures) in sides {
        if let Some(why) = skipped {
            let _ = writeln!(w, "{label} was not measured: {why}.\n");
        }
        for failure in failures {
            let _ = writeln!(w, "- {label}: {failure}");
        }
        if !failures.is_empty() {
            let _ = writeln!(w);
        }
    }
}

/// duro's `figure` over the JavaScript chat's in the broadcast scenario, round by round.
fn broadcast_ratio(bc: &broadcast::Broadcast, figure: fn(&BroadcastSample) -> f64) -> Ratio {
    let ratios: Vec<f64> = bc.figures[broadcast::DURO]
        .samples
        .iter()
        .zip(&bc.figures[broadcast::JS].samples)
        .map(|(d, j)| figure(d) / figure(j))
        .filter(|r| r.is_finite())
        .collect();
    Ratio {
        median: median(&ratios),
        min: ratios.iter().copied().fold(f64::NAN, f64::min),
        max: ratios.iter().copied().fold(f64::NAN, f64::max),
    }
}

/// The figures of the broadcast table: (title, figure, decimals).
type BroadcastColumn = (&'static str, fn(&BroadcastSample) -> f64, usize);
const BROADCAST_COLUMNS: &[BroadcastColumn] = &[
    ("Messages/s", |s| s.messages_per_s, 0),
    ("Deliveries/s", |s| s.deliveries_per_s, 0),
    ("CPU µs per delivery", |s| s.cpu_us_per_delivery, 2),
    ("CPU µs per message", |s| s.cpu_us_per_message, 1),
];

/// "Broadcast": duro's chat against the JavaScript chat, one room of 100 sockets.
fn broadcast_section(w: &mut String, results: &Results) {
    let plan = &results.plan;
    let bc = &results.broadcast;
    let labels: Vec<&str> = bc.impls.iter().map(|i| i.label).collect();
    let (duro, js) = (labels[broadcast::DURO], labels[broadcast::JS]);
    let _ = writeln!(w, "\n## Broadcast\n");
    let _ = writeln!(
        w,
        "One chat API, two implementations: **{duro}** (`{}`, a duro object whose sockets \
         use the hibernation API) and **{js}** (`{}`, a hand-written `DurableObject` with \
         hibernation, the same contract). One room, {} WebSockets \
         (`GET /api/rooms/<room>/ws?user=<U>`) opened one after the other, their `welcome` \
         and `presence` frames skipped; then one of them sends `{{\"type\":\"send\",\
         \"text\":T}}` in a closed loop, the next message when its own came back, {} ms \
         of warm-up then {} ms measured, while every socket counts the `message` frames it \
         receives. Messages/s are the sender's acknowledged messages, deliveries/s the \
         frames received over all {} sockets; the CPU is workerd's over the measured \
         window, per delivery and per message. Medians over {} rounds, every round on new \
         workerd processes and new state, the two implementations one after the other, the \
         order rotating each round. At the end of each round every socket must have \
         received every message in id order without a gap (checked: {}).\n",
        display_dir(&bc.impls[broadcast::DURO].dir),
        display_dir(&bc.impls[broadcast::JS].dir),
        broadcast::SOCKETS,
        plan.process_warmup().as_millis(),
        plan.measure.as_millis(),
        broadcast::SOCKETS,
        plan.rounds,
        bc.impls
            .iter()
            .zip(&bc.figures)
            .map(|(imp, fig)| format!(
                "{} {} messages, {}",
                imp.label,
                thousands(fig.checked_messages),
                if fig.failures.is_empty() {
                    "no failure"
                } else {
                    "**failures below**"
                }
            ))
            .collect::<Vec<_>>()
            .join("; "),
    );
    side_notes(
        w,
        bc.impls
            .iter()
            .zip(&bc.figures)
            .map(|(imp, fig)| (imp.label, fig.skipped.as_deref(), fig.failures.as_slice())),
    );
    let _ = writeln!(
        w,
        "| Figure | {duro} | {js} | {duro} / {js} (per round; median, lowest–highest) |\n\
         |---|--:|--:|--:|"
    );
    for (title, figure, decimals) in BROADCAST_COLUMNS {
        let _ = writeln!(
            w,
            "| {title} | {} | {} | {} |",
            num(bc.figures[broadcast::DURO].median(*figure), *decimals),
            num(bc.figures[broadcast::JS].median(*figure), *decimals),
            ratio_text(broadcast_ratio(bc, *figure)),
        );
    }
}

/// The broadcast scenario.
fn broadcast_json(results: &Results) -> Value {
    let bc = &results.broadcast;
    let mut implementations = serde_json::Map::new();
    for (imp, fig) in bc.impls.iter().zip(&bc.figures) {
        implementations.insert(
            imp.key.to_owned(),
            json!({
                "label": imp.label,
                "dir": display_dir(&imp.dir),
                "skipped": fig.skipped,
                "messages_per_s": finite(fig.median(|s| s.messages_per_s)),
                "deliveries_per_s": finite(fig.median(|s| s.deliveries_per_s)),
                "cpu_us_per_delivery": finite(fig.median(|s| s.cpu_us_per_delivery)),
                "cpu_us_per_message": finite(fig.median(|s| s.cpu_us_per_message)),
                "checked_messages": fig.checked_messages,
                "rounds": fig.samples.iter().map(|s| json!({
                    "messages_per_s": finite(s.messages_per_s),
                    "deliveries_per_s": finite(s.deliveries_per_s),
                    "cpu_us_per_delivery": finite(s.cpu_us_per_delivery),
                    "cpu_us_per_message": finite(s.cpu_us_per_message),
                    "messages": s.messages,
                    "deliveries": s.deliveries,
                })).collect::<Vec<_>>(),
                "failures": fig.failures,
            }),
        );
    }
    let ratio = |figure: fn(&BroadcastSample) -> f64| {
        let r = broadcast_ratio(bc, figure);
        json!({ "median": finite(r.median), "min": finite(r.min), "max": finite(r.max) })
    };
    json!({
        "sockets": broadcast::SOCKETS,
        "warmup_ms": results.plan.process_warmup().as_millis() as u64,
        "measure_ms": results.plan.measure.as_millis() as u64,
        "ratios": {
            format!("{}/{}", bc.impls[broadcast::DURO].key, bc.impls[broadcast::JS].key): {
                "messages_per_s": ratio(|s| s.messages_per_s),
                "deliveries_per_s": ratio(|s| s.deliveries_per_s),
                "cpu_us_per_delivery": ratio(|s| s.cpu_us_per_delivery),
                "cpu_us_per_message": ratio(|s| s.cpu_us_per_message),
            },
        },
        "implementations": implementations,
    })
}

/// A figure of a throughput table: (title, figure, decimals).
type ThroughputColumn = (&'static str, fn(&Sample) -> f64, usize);

/// axum's `figure` over the match's for load `s` of the routes scenario, round by round.
fn routes_ratio(rt: &Routes, s: usize, figure: fn(&Sample) -> f64) -> Ratio {
    samples_ratio(
        &rt.figures[routes::AXUM].throughput[s],
        &rt.figures[routes::MATCH].throughput[s],
        figure,
    )
}

/// "Routes: a match against axum": the chat's two routers, wasm size and CPU per request.
pub fn routes_section(w: &mut String, plan: &Plan, rt: &Routes) {
    let (matched, axum) = (&rt.impls[routes::MATCH], &rt.impls[routes::AXUM]);
    let _ = writeln!(w, "\n## Routes: a match against axum\n");
    let _ = writeln!(
        w,
        "The chat's API with two routers: **{}** (`{}`, a `match` on the method and the \
         path's segments over `duro::http` types) and **{}** (`{}`, an axum `Router` through \
         workers-rs' `http` feature, its handlers `#[worker::send]`). Both call the same \
         route functions (`chat::api`) and the same `Room`, so the difference is the \
         routing and the request conversion. {CONCURRENCY} clients in a closed loop over \
         {ROOMS} rooms, each load {} ms of warm-up then {} ms measured; the CPU is \
         workerd's over the measured window per request. Medians over {} rounds, every \
         round on new workerd processes and new state, the posts first (they fill the \
         rooms the reads read), the two implementations one after the other, the order \
         rotating each round.\n",
        matched.label,
        display_dir(&matched.dir),
        axum.label,
        display_dir(&axum.dir),
        plan.warmup.as_millis(),
        plan.measure.as_millis(),
        plan.rounds,
        CONCURRENCY = routes::CONCURRENCY,
        ROOMS = routes::ROOMS,
    );
    side_notes(
        w,
        rt.impls
            .iter()
            .zip(&rt.figures)
            .map(|(imp, fig)| (imp.label, fig.skipped.as_deref(), fig.failures.as_slice())),
    );
    let (m, a) = (matched.label, axum.label);
    let _ = writeln!(
        w,
        "| Figure | {m} | {a} | {a} / {m} (per round; median, lowest–highest) |\n\
         |---|--:|--:|--:|"
    );
    let gzip = |i: usize| rt.figures[i].wasm.as_ref().map(|f| f.gzip);
    let _ = writeln!(
        w,
        "| wasm, gzip | {} | {} | {} |",
        gzip(routes::MATCH).map_or("n/a".to_owned(), kib),
        gzip(routes::AXUM).map_or("n/a".to_owned(), kib),
        match (gzip(routes::MATCH), gzip(routes::AXUM)) {
            (Some(m), Some(a)) =>
                format!("{:.2} (+{})", a as f64 / m as f64, kib(a.saturating_sub(m))),
            _ => "n/a".to_owned(),
        }
    );
    for (s, load) in routes::SCENARIOS.iter().enumerate() {
        let columns: &[ThroughputColumn] = &[
            ("requests/s", |x| x.rps, 0),
            ("CPU µs per request", |x| x.cpu_us, 1),
        ];
        for &(title, figure, decimals) in columns {
            let medians: Vec<String> = [routes::MATCH, routes::AXUM]
                .iter()
                .map(|&i| {
                    let values: Vec<f64> = rt.figures[i].throughput[s].iter().map(figure).collect();
                    num(median(&values), decimals)
                })
                .collect();
            let _ = writeln!(
                w,
                "| `{}`: {title} | {} | {} | {} |",
                load.label(),
                medians[0],
                medians[1],
                ratio_text(routes_ratio(rt, s, figure)),
            );
        }
    }
}

/// The routes scenario.
fn routes_json(rt: &Routes) -> Value {
    let mut implementations = serde_json::Map::new();
    for (imp, fig) in rt.impls.iter().zip(&rt.figures) {
        let loads: serde_json::Map<String, Value> = routes::SCENARIOS
            .iter()
            .zip(&fig.throughput)
            .map(|(load, samples)| (load.key.to_owned(), throughput_json(&load.label(), samples)))
            .collect();
        implementations.insert(
            imp.key.to_owned(),
            json!({
                "label": imp.label,
                "dir": display_dir(&imp.dir),
                "skipped": fig.skipped,
                "wasm_gzip": fig.wasm.as_ref().map(|f| f.gzip),
                "wasm_raw": fig.wasm.as_ref().map(|f| f.raw),
                "loads": loads,
                "failures": fig.failures,
            }),
        );
    }
    let ratios: serde_json::Map<String, Value> = routes::SCENARIOS
        .iter()
        .enumerate()
        .map(|(s, load)| {
            let rps = routes_ratio(rt, s, |x| x.rps);
            let cpu = routes_ratio(rt, s, |x| x.cpu_us);
            (load.key.to_owned(), ratio_json(rps, cpu))
        })
        .collect();
    json!({
        "concurrency": routes::CONCURRENCY,
        "rooms": routes::ROOMS,
        "ratios": {
            format!("{}/{}", rt.impls[routes::AXUM].key, rt.impls[routes::MATCH].key): ratios,
        },
        "implementations": implementations,
    })
}

/// "Where the CPU goes": the perf samples by part, per profiled scenario.
fn profile_section(w: &mut String, results: &Results, labels: &[&str]) {
    let _ = writeln!(w, "\n### Where the CPU goes\n");
    let f = &results.figures;
    let profiled = f.iter().all(|fig| fig.profile.len() == PROFILED.len());
    if !profiled {
        let why = results
            .profile_skipped
            .as_deref()
            .unwrap_or("the profile phase did not run");
        let _ = writeln!(w, "Not measured in this run: {why}.");
        return;
    }
    let _ = writeln!(
        w,
        "The same loads again, each workerd sampled by Linux `perf` ({} samples per second \
         of CPU time, `-e cpu-clock`) over {} window(s) of {} ms per \
         implementation, and each sample sorted by the code it landed in. workerd runs here \
         with V8's `--perf-basic-prof`, so that its JIT code has names: wasm functions by the \
         module's names section, JavaScript functions by their source position. Microseconds \
         of CPU per request; \"the worker's code\" is what the worker itself runs (its wasm, \
         its JavaScript and the calls between them), \"the runtime\" is everything workerd \
         does around it. The last row is workerd's CPU time over the same windows from \
         `/proc`, as a check on the sampled total.\n",
        super::profile::FREQUENCY,
        results.plan.profile_rounds,
        results.plan.measure.as_millis(),
    );
    use super::profile::Part;
    for (p, key) in PROFILED.iter().enumerate() {
        let Some(scenario) = SCENARIOS.iter().find(|s| s.key == *key) else {
            continue;
        };
        let title = format!("{}: µs of CPU per request", scenario.label());
        let _ = writeln!(w, "{}", table_head(&title, labels));
        let cells = |value: &dyn Fn(&Profiled) -> f64| -> String {
            f.iter()
                .map(|fig| num(value(&fig.profile[p]), 1))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        for part in Part::ALL {
            let _ = writeln!(
                w,
                "| {} | {} |",
                part.label(),
                cells(&|x| x.us_per_request(Some(part)))
            );
        }
        let own = |x: &Profiled| {
            Part::ALL
                .iter()
                .filter(|p| p.is_worker())
                .map(|p| x.us_per_request(Some(*p)))
                .sum::<f64>()
        };
        let _ = writeln!(w, "| **the worker's code** | {} |", cells(&own));
        let _ = writeln!(
            w,
            "| **the runtime** | {} |",
            cells(&|x| x.us_per_request(None) - own(x))
        );
        let _ = writeln!(
            w,
            "| **total sampled** | {} |",
            cells(&|x| x.us_per_request(None))
        );
        let _ = writeln!(
            w,
            "| workerd CPU per request over the same windows (`/proc`) | {} |",
            cells(&|x| match x.cpu_ns {
                Some(ns) if x.requests > 0 => ns as f64 / 1000.0 / x.requests as f64,
                _ => f64::NAN,
            })
        );
        let _ = writeln!(w);
    }
}

fn profile_json(fig: &Figures) -> Value {
    use super::profile::Part;
    let mut out = serde_json::Map::new();
    for (key, x) in PROFILED.iter().zip(&fig.profile) {
        let mut parts = serde_json::Map::new();
        for part in Part::ALL {
            parts.insert(
                part.key().to_owned(),
                json!({ "samples": x.split.get(part), "us_per_request": finite(x.us_per_request(Some(part))) }),
            );
        }
        out.insert(
            (*key).to_owned(),
            json!({
                "requests": x.requests,
                "samples": x.split.total(),
                "us_per_request": finite(x.us_per_request(None)),
                "cpu_ns_proc": x.cpu_ns,
                "parts": parts,
            }),
        );
    }
    Value::Object(out)
}

/// One scenario of one implementation: medians and rounds.
fn throughput_json(label: &str, samples: &[Sample]) -> Value {
    let (rps, p50, p99, cpu) = samples_medians(samples);
    json!({
        "label": label,
        "rps": finite(rps),
        "p50_ms": finite(p50),
        "p99_ms": finite(p99),
        "cpu_us_per_request": finite(cpu),
        "rounds": samples.iter().map(|x| json!({
            "rps": finite(x.rps),
            "cpu_us_per_request": finite(x.cpu_us),
            "p50_ms": finite(x.p50_ms),
            "p99_ms": finite(x.p99_ms),
            "ok": x.ok,
            "errors": x.errors,
        })).collect::<Vec<_>>(),
    })
}

fn ratio_json(rps: Ratio, cpu: Ratio) -> Value {
    json!({
        "rps_median": finite(rps.median), "rps_min": finite(rps.min), "rps_max": finite(rps.max),
        "cpu_median": finite(cpu.median), "cpu_min": finite(cpu.min), "cpu_max": finite(cpu.max),
    })
}

/// The state-size and compute-heavy scenarios.
fn scale_json(results: &Results) -> Value {
    let plan = &results.plan;
    let sc = &results.scale;
    let mut implementations = serde_json::Map::new();
    for (imp, fig) in sc.impls.iter().zip(&sc.figures) {
        let mut throughput = serde_json::Map::new();
        for (s, scenario) in scale::SCENARIOS.iter().enumerate() {
            throughput.insert(
                scenario.key.to_owned(),
                throughput_json(&scenario.label(plan), &fig.throughput[s]),
            );
        }
        let large_rps = samples_ratio(
            &fig.throughput[scale::APPEND_LARGE],
            &fig.throughput[scale::APPEND_SMALL],
            |x| x.rps,
        );
        implementations.insert(
            imp.key.to_owned(),
            json!({
                "label": imp.label,
                "dir": display_dir(&imp.dir),
                "skipped": fig.skipped,
                "fill_large_s": fig.fill_large.map(|d| finite(d.as_secs_f64())),
                "fill_board_s": fig.fill_board.map(|d| finite(d.as_secs_f64())),
                "large_log_entries_at_end": fig.large_at_end,
                "first_call_small_ms": samples_json(&fig.first_call_small_ms),
                "first_call_large_ms": samples_json(&fig.first_call_large_ms),
                "large_log_stats": fig.large_stats.as_ref().map(stats_json),
                "large_over_small": ratio_json(large_rps, state_size_ratio(fig)),
                "throughput": throughput,
                "failures": fig.failures,
            }),
        );
    }
    let mut ratios = serde_json::Map::new();
    for (s, scenario) in scale::SCENARIOS.iter().enumerate() {
        ratios.insert(
            scenario.key.to_owned(),
            ratio_json(
                scale_ratio(sc, s, |x| x.rps),
                scale_ratio(sc, s, |x| x.cpu_us),
            ),
        );
    }
    json!({
        "log_small_entries": plan.log_small,
        "log_large_entries": plan.log_large,
        "board_players": plan.board_players,
        "fill_batch": scale::FILL_BATCH,
        "ratios": {
            format!("{}/{}", sc.impls[scale::DURO].key, sc.impls[scale::JS].key): ratios,
        },
        "implementations": implementations,
    })
}

fn samples_json(values: &[f64]) -> Value {
    json!({ "median": finite(median(values)), "samples": values.iter().map(|v| finite(*v)).collect::<Vec<_>>() })
}

fn finite(value: f64) -> Value {
    if value.is_finite() {
        json!((value * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

fn stats_json(stats: &Stats) -> Value {
    json!({
        "calls": stats.calls,
        "storage_reads": stats.storage_reads,
        "storage_writes": stats.storage_writes,
        "storage_lists": stats.storage_lists,
        "alarm_ops": stats.alarm_ops,
        "wasm_memory_pages": stats.wasm_memory_pages,
    })
}

/// The JSON report.
pub fn json(results: &Results) -> Value {
    let plan = &results.plan;
    let env = &results.environment;
    let f = &results.figures;
    let mut implementations = serde_json::Map::new();
    for (imp, fig) in results.impls.iter().zip(f) {
        let mut throughput = serde_json::Map::new();
        for (s, scenario) in SCENARIOS.iter().enumerate() {
            throughput.insert(
                scenario.key.to_owned(),
                throughput_json(&scenario.label(), &fig.throughput[s]),
            );
        }
        implementations.insert(
            imp.key.to_owned(),
            json!({
                "label": imp.label,
                "dir": imp.dir.strip_prefix(root()).unwrap_or(&imp.dir).display().to_string(),
                "sizes": fig.sizes.iter().map(|s| json!({
                    "file": s.file, "raw_bytes": s.raw, "gzip_bytes": s.gzip,
                    "gzip_bytes_without_names": s.gzip_without_names,
                })).collect::<Vec<_>>(),
                "size_budget_gzip_bytes": fig.budget,
                "wasm_code": fig.wasm_code.as_ref().map(|c| json!({
                    "code_bytes": c.code,
                    "framework_code_bytes": c.framework(),
                    "data_bytes": c.data,
                    "names_bytes": c.names,
                    "by_crate": c.by_crate.iter().map(|(n, b)| json!({ "crate": n, "bytes": b })).collect::<Vec<_>>(),
                })),
                "cold_start_ms": samples_json(&fig.cold_start_ms),
                "activation_ms": samples_json(&fig.activation_ms),
                "throughput": throughput,
                "memory": {
                    "after_adds": fig.memory.after_adds.iter().map(|(n, s)| json!({
                        "adds": n, "stats": stats_json(s),
                    })).collect::<Vec<_>>(),
                    "after_gets": fig.memory.after_gets.as_ref().map(|(n, s)| json!({
                        "gets": n, "stats": stats_json(s),
                    })),
                    "after_spread_adds": fig.memory.after_spread.iter().map(|(n, p)| json!({
                        "adds": n, "wasm_memory_pages": p,
                    })).collect::<Vec<_>>(),
                    "spread_totals": fig.memory.spread_totals.map(|(calls, alarms, writes)| json!({
                        "calls": calls, "alarms": alarms, "index_writes": writes,
                    })),
                    "wasm_memory_pages_at_end": fig.memory.pages_at_end,
                    "rss_kib_at_end": fig.memory.rss_kib.map(|(now, _)| now),
                    "peak_rss_kib": fig.memory.rss_kib.map(|(_, peak)| peak),
                },
                "profile": profile_json(fig),
                "failures": fig.failures,
            }),
        );
    }
    let mut ratios = serde_json::Map::new();
    let mut pairs: Vec<(usize, usize)> = [RUST, JS, JS_RPC]
        .into_iter()
        .flat_map(|to| [(DURO, to), (DURO_NOINDEX, to)])
        .collect();
    pairs.push((DURO, DURO_NOINDEX));
    for (of, to) in pairs {
        let name = format!("{}/{}", results.impls[of].key, results.impls[to].key);
        let mut per = serde_json::Map::new();
        for (s, scenario) in SCENARIOS.iter().enumerate() {
            per.insert(
                scenario.key.to_owned(),
                ratio_json(rps_ratio(f, of, to, s), cpu_ratio(f, of, to, s)),
            );
        }
        ratios.insert(name, Value::Object(per));
    }
    json!({
        "date": env.date,
        "commit": env.commit,
        "command": env.command,
        "duration_s": finite(results.duration.as_secs_f64()),
        "plan": {
            "rounds": plan.rounds,
            "warmup_ms": plan.warmup.as_millis() as u64,
            "measure_ms": plan.measure.as_millis() as u64,
            "max_requests_per_window": plan.max_requests,
            "cold_starts": plan.cold_starts,
            "activations": plan.activations,
            "memory_calls": plan.memory_calls,
            "memory_concurrency": plan.memory_concurrency,
            "spread_memory_calls": plan.spread_memory_calls,
            "log_small_entries": plan.log_small,
            "log_large_entries": plan.log_large,
            "board_players": plan.board_players,
        },
        "machine": {
            "cpu": env.cpu, "cores": env.cores, "memory": env.memory, "kernel": env.kernel,
        },
        "versions": {
            "rustc": env.rustc, "node": env.node, "wrangler": env.wrangler,
            "workerd": env.workerd, "worker_build": env.worker_build,
            "wasm_bindgen": env.wasm_bindgen, "wasm_opt": env.wasm_opt,
        },
        "request_path": REQUEST_PATH,
        "state": env.state,
        "bars": bars(results).iter().map(|b| json!({
            "bar": b.name, "measured": b.measured, "value": finite(b.value),
            "limit": finite(b.limit), "met": b.met,
        })).collect::<Vec<_>>(),
        "ratios": ratios,
        "profile": {
            "frequency_hz": super::profile::FREQUENCY,
            "skipped": results.profile_skipped,
        },
        "implementations": implementations,
        "scale": scale_json(results),
        "broadcast": broadcast_json(results),
        "routes": routes_json(&results.routes),
    })
}

/// A few lines for the terminal.
pub fn summary(results: &Results) -> String {
    let mut out = String::new();
    for bar in bars(results) {
        let _ = writeln!(
            out,
            "    {:<10} {:<58} {}",
            met(&bar).trim_matches('*'),
            bar.name,
            bar.measured
        );
    }
    let bc = &results.broadcast;
    if bc.figures.iter().all(|f| f.skipped.is_none()) {
        let _ = writeln!(
            out,
            "    {:<10} {:<58} {}",
            "",
            format!(
                "broadcast ({} sockets) {} / {}: deliveries/s",
                broadcast::SOCKETS,
                bc.impls[broadcast::DURO].label,
                bc.impls[broadcast::JS].label
            ),
            ratio_text(broadcast_ratio(bc, |s| s.deliveries_per_s))
        );
        let _ = writeln!(
            out,
            "    {:<10} {:<58} {}",
            "",
            "broadcast: CPU per delivery",
            ratio_text(broadcast_ratio(bc, |s| s.cpu_us_per_delivery))
        );
    }
    let rt = &results.routes;
    if rt.figures.iter().all(|f| f.skipped.is_none()) {
        for (s, load) in routes::SCENARIOS.iter().enumerate() {
            let _ = writeln!(
                out,
                "    {:<10} {:<58} {}",
                "",
                format!("routes {}: axum / match, CPU per request", load.key),
                ratio_text(routes_ratio(rt, s, |x| x.cpu_us))
            );
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_000), "1 000");
        assert_eq!(thousands(100_000), "100 000");
        assert_eq!(thousands(1_234_567), "1 234 567");
    }

    #[test]
    fn tables_have_a_column_per_implementation() {
        assert_eq!(table_head("", &["a", "b"]), "|  | a | b |\n|---|--:|--:|");
        let labels = ["duro", "rs", "js", "rpc", "duro-"];
        let like = like_with_like(&labels);
        assert_eq!(
            like.iter()
                .map(|(of, to, _)| (*of, *to))
                .collect::<Vec<_>>(),
            [
                (DURO_NOINDEX, RUST),
                (DURO_NOINDEX, JS),
                (DURO_NOINDEX, JS_RPC)
            ]
        );
        assert_eq!(like[2].2, "duro- / rpc");
        assert_eq!(
            scenario_head("CPU", &labels[..2], &like[..1], &["x".to_owned()]),
            "| Scenario | CPU duro | CPU rs | duro- / rs | x |\n|---|--:|--:|--:|--:|"
        );
    }

    fn samples(values: &[(f64, f64)]) -> Vec<Sample> {
        values
            .iter()
            .map(|&(rps, cpu_us)| Sample {
                rps,
                cpu_us,
                p50_ms: 1.0,
                p99_ms: 2.0,
                ok: 1,
                errors: 0,
            })
            .collect()
    }

    #[test]
    fn scale_bars_compare_duro_with_itself_and_with_javascript() {
        let plan = Plan::full();
        let mut sc = scale::Scale::new(Path::new("/nowhere"));
        for fig in &mut sc.figures {
            fig.skipped = None;
        }
        let duro = &mut sc.figures[scale::DURO].throughput;
        duro[scale::APPEND_SMALL] = samples(&[(1000.0, 100.0), (1000.0, 100.0), (900.0, 90.0)]);
        duro[scale::APPEND_LARGE] = samples(&[(900.0, 110.0), (800.0, 130.0), (900.0, 108.0)]);
        duro[scale::SCORE] = samples(&[(300.0, 1.0), (330.0, 1.0), (200.0, 1.0)]);
        sc.figures[scale::JS].throughput[scale::SCORE] =
            samples(&[(100.0, 1.0), (100.0, 1.0), (100.0, 1.0)]);
        let bars = scale_bars(&plan, &sc);
        assert_eq!(
            bars[0].name,
            "state size: duro CPU per append at 100 000 entries / at 1 000 ≤ 1.2"
        );
        assert_eq!(bars[0].measured, "1.20 (1.10–1.30)");
        assert_eq!(bars[0].met, Some(true));
        assert_eq!(
            bars[1].name,
            "compute-heavy: req/s duro / JS RPC ≥ 2.0 (score, board of 10 000 players, c=8)"
        );
        assert_eq!(bars[1].measured, "3.00 (2.00–3.30)");
        assert_eq!(bars[1].met, Some(true));
    }

    #[test]
    fn broadcast_ratios_are_taken_round_by_round() {
        let mut bc = broadcast::Broadcast::new(Path::new("/nowhere"));
        assert!(bc.figures.iter().all(|f| f.skipped.is_some()));
        let sample = |messages: f64, cpu_ns: f64| BroadcastSample {
            messages_per_s: messages,
            deliveries_per_s: messages * 100.0,
            cpu_us_per_delivery: cpu_ns / 100.0,
            cpu_us_per_message: cpu_ns,
            messages: messages as u64,
            deliveries: messages as u64 * 100,
        };
        bc.figures[broadcast::DURO].samples = vec![sample(100.0, 30.0), sample(300.0, 20.0)];
        bc.figures[broadcast::JS].samples = vec![sample(200.0, 20.0), sample(200.0, 40.0)];
        let rate = broadcast_ratio(&bc, |s| s.deliveries_per_s);
        assert_eq!((rate.median, rate.min, rate.max), (1.0, 0.5, 1.5));
        let cpu = broadcast_ratio(&bc, |s| s.cpu_us_per_message);
        assert_eq!((cpu.min, cpu.max), (0.5, 1.5));
        bc.figures[broadcast::JS].samples.clear();
        assert!(broadcast_ratio(&bc, |s| s.messages_per_s).median.is_nan());
    }

    #[test]
    fn scale_bars_without_duro_say_so() {
        let mut sc = scale::Scale::new(Path::new("/nowhere"));
        sc.figures[scale::JS].skipped = None;
        for bar in scale_bars(&Plan::quick(), &sc) {
            assert_eq!(bar.met, None, "{bar:?}");
            assert_eq!(
                bar.measured,
                "not measured: no `/nowhere/bench/scale` in this tree"
            );
        }
    }

    #[test]
    fn the_size_bar_is_the_apps_budget() {
        let duro = |gzip: u64, budget: Option<u64>| Figures {
            sizes: vec![crate::bench::FileSize {
                file: "index_bg.wasm".into(),
                raw: 3 * gzip,
                gzip,
                gzip_without_names: None,
            }],
            budget,
            ..Figures::default()
        };
        let within = budget_bar(&duro(128 * 1024, Some(256 * 1024)));
        assert_eq!(
            within.name,
            "wasm gzip size (duro) within the app's budget of 256.0 KiB"
        );
        assert_eq!(within.measured, "128.0 KiB (50 %)");
        assert_eq!(within.met, Some(true));
        assert_eq!(
            budget_bar(&duro(300 * 1024, Some(256 * 1024))).met,
            Some(false)
        );
        assert_eq!(budget_bar(&duro(300 * 1024, None)).met, None);
    }
}
