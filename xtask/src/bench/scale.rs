//! The state-size and compute-heavy scenarios: duro (`bench/scale`) against idiomatic
//! JavaScript over JS RPC (`bench/baselines/js-scale`), the same HTTP API on both sides.
//!
//! - State size: appends (`POST /log/<name>/append`) at c=8 to a log of
//!   [`Plan::log_small`] entries and to one of [`Plan::log_large`]: one entry per key on
//!   both sides, so that the cost of an append should not depend on the size of the log.
//! - Compute-heavy: score updates of random players (`POST /board/<name>/score`) at c=8
//!   on a leaderboard of [`Plan::board_players`] players, each sorting every player in
//!   memory and returning the player's rank and the top 10.
//!
//! The logs and the board are filled once, over HTTP (`fill` calls of 1 000); then every
//! round starts new workerd processes on that state, warms them (the JIT, then the
//! activation of the logs, timed, and of the board), and measures the scenarios, the
//! implementations in an order that rotates every round. The small log is a new one in
//! every round; the large one grows by each round's appends.

use std::path::Path;
use std::time::{Duration, Instant};

use super::load::{self, Call, Client, Window};
use super::report::thousands;
use super::sides::{Sides, Skippable};
use super::workerd::Server;
use super::{failure, median, rotation, Impl, Plan, Sample, Stats};
use crate::workspace::{note, step};

/// Where each implementation is in [`Scale::impls`] and [`Scale::figures`]: duro's
/// `bench/scale` app.
pub const DURO: usize = 0;
/// The JavaScript baseline over JS RPC (`bench/baselines/js-scale`).
pub const JS: usize = 1;

/// Entries (or players) per `fill` call.
pub const FILL_BATCH: u64 = 1_000;
/// The seed of the board's scores.
const BOARD_SEED: u64 = 1;
/// Concurrent clients of every scale scenario.
const CONCURRENCY: usize = 8;
/// The large log's name, the board's, and the log that warms a new process.
const LARGE_LOG: &str = "large";
const BOARD: &str = "board";
const WARM_LOG: &str = "warm";

/// What a scale scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Appends to the small log (a new one each round).
    AppendSmall,
    /// Appends to the large log.
    AppendLarge,
    /// Score updates of random players on the board.
    Score,
}

/// A scale scenario.
#[derive(Debug, Clone, Copy)]
pub struct ScaleScenario {
    /// Key in the JSON output.
    pub key: &'static str,
    pub load: Load,
}

pub const SCENARIOS: &[ScaleScenario] = &[
    ScaleScenario {
        key: "append-small-c8",
        load: Load::AppendSmall,
    },
    ScaleScenario {
        key: "append-large-c8",
        load: Load::AppendLarge,
    },
    ScaleScenario {
        key: "score-c8",
        load: Load::Score,
    },
];

/// Positions in [`SCENARIOS`].
pub const APPEND_SMALL: usize = 0;
pub const APPEND_LARGE: usize = 1;
pub const SCORE: usize = 2;

impl ScaleScenario {
    /// `append, log of 1 000 entries, c=8`.
    pub fn label(&self, plan: &Plan) -> String {
        let what = match self.load {
            Load::AppendSmall => format!("append, log of {} entries", thousands(plan.log_small)),
            Load::AppendLarge => format!("append, log of {} entries", thousands(plan.log_large)),
            Load::Score => format!("score, board of {} players", thousands(plan.board_players)),
        };
        format!("{what}, c={CONCURRENCY}")
    }

    fn call(&self, plan: &Plan, round: usize, connection: usize, seq: u64) -> Call {
        const TEXT: &[u8] = br#"{"text":"an entry of the benchmark's log"}"#;
        match self.load {
            Load::AppendSmall => Call::post(format!("/log/{}/append", small_log(round)), TEXT),
            Load::AppendLarge => Call::post(format!("/log/{LARGE_LOG}/append"), TEXT),
            Load::Score => score_call(plan, round, connection, seq),
        }
    }
}

/// The scenarios in the order of round `round`: the two append scenarios swap places
/// every round, so that what a window leaves behind (garbage to collect, a warmer JIT)
/// weighs on each in turn; the score updates, which leave the most garbage, come last.
fn order(round: usize) -> [usize; 3] {
    if round.is_multiple_of(2) {
        [APPEND_SMALL, APPEND_LARGE, SCORE]
    } else {
        [APPEND_LARGE, APPEND_SMALL, SCORE]
    }
}

/// The small log of round `round`.
fn small_log(round: usize) -> String {
    format!("small-{round}")
}

/// A score update of a random existing player (`p0` … `p<players - 1>`) to a random
/// score, the same sequence for every implementation in a round.
fn score_call(plan: &Plan, round: usize, connection: usize, seq: u64) -> Call {
    let x = splitmix64(((round as u64) << 48) ^ ((connection as u64) << 32) ^ seq);
    let player = x % plan.board_players.max(1);
    let score = (x >> 32) % 1_000_000;
    Call::post(
        format!("/board/{BOARD}/score"),
        format!(r#"{{"player":"p{player}","score":{score}}}"#).into_bytes(),
    )
}

/// SplitMix64's output function: a well-mixed 64-bit value from a counter.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What was measured of one implementation.
#[derive(Debug, Clone, Default)]
pub struct ScaleFigures {
    /// Why this implementation was not measured, if it was not.
    pub skipped: Option<String>,
    /// Per scenario (as in [`SCENARIOS`]), one sample per round.
    pub throughput: Vec<Vec<Sample>>,
    /// Time to fill the large log, and the board, over HTTP.
    pub fill_large: Option<Duration>,
    pub fill_board: Option<Duration>,
    /// The first call (`GET /log/<name>`) to the small and to the large log in each new
    /// process, in milliseconds: their activation.
    pub first_call_small_ms: Vec<f64>,
    pub first_call_large_ms: Vec<f64>,
    /// Entries in the large log at the end of the run.
    pub large_at_end: Option<u64>,
    /// The large log's stats at the end of the last round (one activation).
    pub large_stats: Option<Stats>,
    /// Failures seen anywhere, for the report.
    pub failures: Vec<String>,
}

/// The implementations of the scale scenarios and what was measured of them.
pub type Scale = Sides<ScaleFigures>;

impl Skippable for ScaleFigures {
    fn skipped(&self) -> Option<&str> {
        self.skipped.as_deref()
    }
}

impl Scale {
    /// duro's `bench/scale` and the JavaScript baseline; duro's side is skipped, with a
    /// note, when the tree has no `bench/scale`.
    pub fn new(root: &Path) -> Scale {
        let impls = vec![
            Impl::new("duro-scale", "duro", root.join("bench/scale"), true),
            Impl::new(
                "js-scale",
                "JS RPC",
                root.join("bench/baselines/js-scale"),
                false,
            ),
        ];
        Sides::of(impls, |skipped| ScaleFigures {
            skipped,
            throughput: vec![Vec::new(); SCENARIOS.len()],
            ..ScaleFigures::default()
        })
    }
}

/// Fills, then measures every round.
pub fn measure(
    plan: &Plan,
    workerd: &Path,
    scale: &mut Scale,
    scratch: &Path,
    state_root: &Path,
) -> Result<(), String> {
    let present = scale.present_indices("");
    let state = |imp: &Impl| state_root.join(imp.key).join("scale");
    let log = |imp: &Impl, what: &str| scratch.join(imp.key).join(format!("scale-{what}.log"));

    step(format!(
        "state size and compute-heavy: filling a log of {} entries, {} logs of {}, a board of \
         {} players ({} per fill call)",
        thousands(plan.log_large),
        plan.rounds,
        thousands(plan.log_small),
        thousands(plan.board_players),
        thousands(FILL_BATCH),
    ));
    for &i in &present {
        let imp = &scale.impls[i];
        let server = start(workerd, imp, &state(imp), &log(imp, "fill"))?;
        fill(plan, &server, &mut scale.figures[i]).map_err(|e| format!("{}: {e}", imp.label))?;
        let fig = &scale.figures[i];
        note(format!(
            "{:<11} {} entries in {:.1} s, {} players in {:.1} s",
            imp.label,
            thousands(plan.log_large),
            fig.fill_large.unwrap_or_default().as_secs_f64(),
            thousands(plan.board_players),
            fig.fill_board.unwrap_or_default().as_secs_f64()
        ));
        server.stop();
    }

    step(format!(
        "state size and compute-heavy: {} rounds x {} scenarios x {} implementations, c={CONCURRENCY}, \
         {} ms warm-up + {} ms each; new workerd processes every round",
        plan.rounds,
        SCENARIOS.len(),
        present.len(),
        plan.warmup.as_millis(),
        plan.measure.as_millis()
    ));
    for round in 0..plan.rounds {
        let mut servers: Vec<Option<Server>> = Vec::new();
        for (i, imp) in scale.impls.iter().enumerate() {
            if !present.contains(&i) {
                servers.push(None);
                continue;
            }
            let server = start(workerd, imp, &state(imp), &log(imp, &round.to_string()))?;
            warm(plan, round, &server, &mut scale.figures[i]);
            servers.push(Some(server));
        }
        let window = Window {
            concurrency: CONCURRENCY,
            warmup: plan.warmup,
            measure: plan.measure,
            max_requests: plan.max_requests,
        };
        for s in order(round) {
            let scenario = &SCENARIOS[s];
            for k in rotation(present.len(), round) {
                let i = present[k];
                let Some(server) = &servers[i] else { continue };
                let (outcome, cpu) = server.cpu_ns_during(|| {
                    load::run(server.port, window, |c, n| scenario.call(plan, round, c, n))
                });
                let fig = &mut scale.figures[i];
                fig.failures
                    .extend(failure(&scale.impls[i], scenario.key, &outcome));
                fig.throughput[s].push(Sample::of(&outcome, cpu));
            }
        }
        for (i, server) in servers.into_iter().enumerate() {
            let Some(server) = server else { continue };
            let fig = &mut scale.figures[i];
            if round + 1 == plan.rounds {
                check_replies(plan, &server, fig);
                fig.large_stats = stats(&server, &format!("log/{LARGE_LOG}")).ok();
            }
            server.stop();
        }
        note(format!("round {} of {} done", round + 1, plan.rounds));
    }
    for (s, scenario) in SCENARIOS.iter().enumerate() {
        let cells: Vec<String> = present
            .iter()
            .map(|&i| {
                let samples = &scale.figures[i].throughput[s];
                let rps: Vec<f64> = samples.iter().map(|x| x.rps).collect();
                let cpu: Vec<f64> = samples.iter().map(|x| x.cpu_us).collect();
                format!(
                    "{} {:.0}/s {:.0} µs",
                    scale.impls[i].label,
                    median(&rps),
                    median(&cpu)
                )
            })
            .collect();
        note(format!("{:<40} {}", scenario.label(plan), cells.join(", ")));
    }
    Ok(())
}

/// Warms a new process: appends to a log of its own until the JIT has compiled the hot
/// code of the request path; then the first call to each measured log, timed (its
/// activation: what it loads does not weigh on the appends' figures, but shows here);
/// then one score update, which activates the board (one `list` of every player).
fn warm(plan: &Plan, round: usize, server: &Server, fig: &mut ScaleFigures) {
    let window = Window {
        concurrency: CONCURRENCY,
        warmup: Duration::ZERO,
        measure: plan.process_warmup(),
        max_requests: plan.max_requests,
    };
    let text: &[u8] = br#"{"text":"warm-up"}"#;
    load::run(server.port, window, |_, _| {
        Call::post(format!("/log/{WARM_LOG}/append"), text)
    });
    let client = Client::new(server.port);
    let _ = client.send(&Call::get_path(format!("/log/{WARM_LOG}")));
    for (name, times) in [
        (small_log(round), &mut fig.first_call_small_ms),
        (LARGE_LOG.to_owned(), &mut fig.first_call_large_ms),
    ] {
        let call = Call::get_path(format!("/log/{name}"));
        let sent = Instant::now();
        match send(&client, &call) {
            Ok(_) => times.push(sent.elapsed().as_secs_f64() * 1000.0),
            Err(e) => fig.failures.push(format!("first call: {e}")),
        }
    }
    if let Err(e) = send(&client, &score_call(plan, round, 0, u64::MAX)) {
        fig.failures.push(format!("warm-up: {e}"));
    }
}

fn start(workerd: &Path, imp: &Impl, state: &Path, log: &Path) -> Result<Server, String> {
    Server::start(
        workerd,
        imp.prepared()?,
        state,
        log,
        &Call::get_path(format!("/log/{WARM_LOG}")),
    )
}

/// Sends `call` and returns the JSON of its 200 reply.
fn send(client: &Client, call: &Call) -> Result<serde_json::Value, String> {
    let reply = client
        .send(call)
        .map_err(|e| format!("{} {} -> {e}", call.method, call.path))?;
    if reply.status != 200 {
        return Err(format!(
            "{} {} -> {} {}",
            call.method,
            call.path,
            reply.status,
            reply.text()
        ));
    }
    serde_json::from_slice(&reply.body).map_err(|e| {
        format!(
            "{} {} -> not JSON ({e}): {}",
            call.method,
            call.path,
            reply.text()
        )
    })
}

/// The unsigned integer `field` of a reply.
fn field(reply: &serde_json::Value, field: &str) -> Result<u64, String> {
    reply
        .get(field)
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| format!("a reply without `{field}`: {reply}"))
}

/// Fills `name` to `entries` with `fill` calls, checking each reply's length.
fn fill_log(client: &Client, name: &str, entries: u64) -> Result<(), String> {
    let mut len = 0;
    while len < entries {
        let count = FILL_BATCH.min(entries - len);
        let call = Call::post(
            format!("/log/{name}/fill"),
            format!(r#"{{"count":{count}}}"#).into_bytes(),
        );
        let got = field(&send(client, &call)?, "len")?;
        if got != len + count {
            return Err(format!(
                "log {name}: {got} entries after filling {} (expected {})",
                count,
                len + count
            ));
        }
        len = got;
    }
    let summary = send(client, &Call::get_path(format!("/log/{name}")))?;
    if field(&summary, "len")? != entries || field(&summary, "last_id")? != entries {
        return Err(format!(
            "log {name}: {summary} after filling {entries} entries"
        ));
    }
    Ok(())
}

/// The large log, the small log of every round, and the board.
fn fill(plan: &Plan, server: &Server, fig: &mut ScaleFigures) -> Result<(), String> {
    let client = Client::new(server.port);
    let started = Instant::now();
    fill_log(&client, LARGE_LOG, plan.log_large)?;
    fig.fill_large = Some(started.elapsed());
    for round in 0..plan.rounds {
        fill_log(&client, &small_log(round), plan.log_small)?;
    }
    let started = Instant::now();
    let mut players = 0;
    while players < plan.board_players {
        let count = FILL_BATCH.min(plan.board_players - players);
        let call = Call::post(
            format!("/board/{BOARD}/fill"),
            format!(r#"{{"count":{count},"seed":{BOARD_SEED}}}"#).into_bytes(),
        );
        let got = field(&send(&client, &call)?, "players")?;
        if got != players + count {
            return Err(format!(
                "board: {got} players after adding {count} to {players}"
            ));
        }
        players = got;
    }
    fig.fill_board = Some(started.elapsed());
    Ok(())
}

/// After the last round: the shape of an append's and a score's reply, and the large
/// log's length.
fn check_replies(plan: &Plan, server: &Server, fig: &mut ScaleFigures) {
    let client = Client::new(server.port);
    let mut check = || -> Result<(), String> {
        let summary = send(&client, &Call::get_path(format!("/log/{LARGE_LOG}")))?;
        let len = field(&summary, "len")?;
        fig.large_at_end = Some(len);
        let appended = send(
            &client,
            &Call::post(
                format!("/log/{LARGE_LOG}/append"),
                br#"{"text":"last"}"#.as_slice(),
            ),
        )?;
        if field(&appended, "id")? != len + 1 {
            return Err(format!("append to a log of {len} entries -> {appended}"));
        }
        let scored = send(&client, &score_call(plan, usize::MAX, 0, 0))?;
        let rank = field(&scored, "rank")?;
        let top = scored
            .get("top")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        if rank == 0 || rank > plan.board_players || top != 10.min(plan.board_players as usize) {
            return Err(format!(
                "a score reply with rank {rank} and {top} in the top: {scored}"
            ));
        }
        Ok(())
    };
    if let Err(e) = check() {
        fig.failures.push(format!("checks: {e}"));
    }
}

/// `GET /__test/stats/<what>`.
fn stats(server: &Server, what: &str) -> Result<Stats, String> {
    let reply = Client::new(server.port)
        .send(&Call::get_path(format!("/__test/stats/{what}")))
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!(
            "stats of {what}: {} {}",
            reply.status,
            reply.text()
        ));
    }
    Stats::parse(&reply.text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_updates_pick_existing_players_the_same_way_every_time() {
        let plan = Plan::quick();
        let a: Vec<String> = (0..50)
            .map(|seq| SCENARIOS[SCORE].call(&plan, 1, 3, seq))
            .map(|c| String::from_utf8(c.body.into_owned()).unwrap())
            .collect();
        let b: Vec<String> = (0..50)
            .map(|seq| score_call(&plan, 1, 3, seq))
            .map(|c| String::from_utf8(c.body.into_owned()).unwrap())
            .collect();
        assert_eq!(a, b);
        let mut players = std::collections::BTreeSet::new();
        for body in &a {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            let player = v["player"].as_str().unwrap();
            let k: u64 = player.strip_prefix('p').unwrap().parse().unwrap();
            assert!(k < plan.board_players);
            assert!(v["score"].as_u64().unwrap() < 1_000_000);
            players.insert(k);
        }
        assert!(players.len() > 40, "{players:?}");
    }

    #[test]
    fn each_round_appends_to_a_small_log_of_its_own() {
        let plan = Plan::quick();
        let path = |round| SCENARIOS[APPEND_SMALL].call(&plan, round, 0, 0).path;
        assert_eq!(path(0), "/log/small-0/append");
        assert_eq!(path(1), "/log/small-1/append");
        assert_eq!(
            SCENARIOS[APPEND_LARGE].call(&plan, 1, 0, 0).path,
            "/log/large/append"
        );
    }

    #[test]
    fn the_append_scenarios_take_turns_and_score_comes_last() {
        assert_eq!(order(0), [APPEND_SMALL, APPEND_LARGE, SCORE]);
        assert_eq!(order(1), [APPEND_LARGE, APPEND_SMALL, SCORE]);
        assert_eq!(order(2), order(0));
    }

    #[test]
    fn labels_say_the_sizes() {
        let plan = Plan::full();
        let labels: Vec<String> = SCENARIOS.iter().map(|s| s.label(&plan)).collect();
        assert_eq!(
            labels,
            [
                "append, log of 1 000 entries, c=8",
                "append, log of 100 000 entries, c=8",
                "score, board of 10 000 players, c=8"
            ]
        );
    }
}
