//! The routes scenario: duro's chat (`apps/chat`, its routes a `match` over `duro::http`)
//! against the same chat with its routes declared with axum
//! (`bench/baselines/chat-axum`): the same object and route functions, so the difference
//! is the routing and the request conversion, in wasm size and in workerd's CPU per
//! request.
//!
//! Every round starts new workerd processes (on new state) and, for each implementation
//! in an order that rotates every round, runs each of [`SCENARIOS`] at [`CONCURRENCY`]
//! over [`ROOMS`] rooms: first the posts (which fill the rooms), then the history reads.

use std::path::Path;

use super::load::{self, Call, Window};
use super::sides::{Sides, Skippable};
use super::workerd::Server;
use super::{failure, median, rotation, FileSize, Impl, Plan, Sample};
use crate::workspace::{note, since, step};

/// Where each implementation is in [`Routes::impls`] and [`Routes::figures`]: the chat
/// with its `match`.
pub const MATCH: usize = 0;
/// The chat with axum's router.
pub const AXUM: usize = 1;

/// Concurrent clients.
pub const CONCURRENCY: usize = 8;
/// Rooms the requests are spread over.
pub const ROOMS: u64 = 8;
/// Messages a history read asks for.
pub const HISTORY_LIMIT: u64 = 10;

/// One load of the scenario.
#[derive(Debug, Clone, Copy)]
pub struct RouteLoad {
    pub key: &'static str,
    /// `POST /api/rooms/<room>/messages` when true, else the history read.
    pub post: bool,
}

impl RouteLoad {
    pub fn label(&self) -> String {
        if self.post {
            "POST /api/rooms/<r>/messages".to_owned()
        } else {
            format!("GET /api/rooms/<r>/messages?after=<n>&limit={HISTORY_LIMIT}")
        }
    }

    fn call(&self, connection: usize, seq: u64) -> Call {
        let room = (connection as u64 * 37 + seq) % ROOMS;
        let path = format!("/api/rooms/r{room}/messages");
        if self.post {
            Call::post(path, &br#"{"user":"bench","text":"hello"}"#[..])
        } else {
            Call::get_path(format!("{path}?after={}&limit={HISTORY_LIMIT}", seq % 50))
        }
    }
}

/// The loads, in the order they run (the posts fill the rooms the reads read).
pub const SCENARIOS: &[RouteLoad] = &[
    RouteLoad {
        key: "post",
        post: true,
    },
    RouteLoad {
        key: "history",
        post: false,
    },
];

/// What was measured of one implementation.
#[derive(Debug, Clone, Default)]
pub struct RoutesFigures {
    /// Why this implementation was not measured, if it was not.
    pub skipped: Option<String>,
    /// Its wasm module's size.
    pub wasm: Option<FileSize>,
    /// Per load (as in [`SCENARIOS`]), one sample per round.
    pub throughput: Vec<Vec<Sample>>,
    /// Failures seen anywhere, for the report.
    pub failures: Vec<String>,
}

impl Skippable for RoutesFigures {
    fn skipped(&self) -> Option<&str> {
        self.skipped.as_deref()
    }
}

/// The implementations of the routes scenario and what was measured of them.
pub type Routes = Sides<RoutesFigures>;

impl Routes {
    /// duro's `apps/chat` and `bench/baselines/chat-axum`; either is skipped, with a note,
    /// when the tree does not have it.
    pub fn new(root: &Path) -> Routes {
        let impls = vec![
            Impl::new("match-routes", "match", root.join("apps/chat"), true),
            Impl::new(
                "axum-routes",
                "axum",
                root.join("bench/baselines/chat-axum"),
                true,
            ),
        ];
        Sides::of(impls, |skipped| RoutesFigures {
            skipped,
            throughput: vec![Vec::new(); SCENARIOS.len()],
            ..RoutesFigures::default()
        })
    }
}

/// The wasm sizes, then every round.
pub fn measure(
    plan: &Plan,
    workerd: &Path,
    routes: &mut Routes,
    scratch: &Path,
    state_root: &Path,
) -> Result<(), String> {
    let present = routes.present_indices(" routes");
    for &i in &present {
        let (sizes, _) = routes.impls[i].sizes()?;
        routes.figures[i].wasm = sizes.into_iter().find(|s| s.file.ends_with(".wasm"));
    }
    if present.is_empty() {
        return Ok(());
    }
    step(format!(
        "routes: {} rounds x {} loads x {} implementations, c={CONCURRENCY} over {ROOMS} \
         rooms, {} ms warm-up + {} ms each; new workerd processes every round",
        plan.rounds,
        SCENARIOS.len(),
        present.len(),
        plan.warmup.as_millis(),
        plan.measure.as_millis()
    ));
    let start = std::time::Instant::now();
    let window = Window {
        concurrency: CONCURRENCY,
        warmup: plan.warmup,
        measure: plan.measure,
        max_requests: plan.max_requests,
    };
    for round in 0..plan.rounds {
        for k in rotation(present.len(), round) {
            let i = present[k];
            let imp = &routes.impls[i];
            let server = Server::start(
                workerd,
                imp.prepared()?,
                &state_root.join(imp.key).join(format!("routes-{round}")),
                &scratch.join(imp.key).join(format!("routes-{round}.log")),
                &Call::get_path("/api/rooms/r0".to_owned()),
            )?;
            let fig = &mut routes.figures[i];
            for (s, scenario) in SCENARIOS.iter().enumerate() {
                let (outcome, cpu) = server
                    .cpu_ns_during(|| load::run(server.port, window, |c, n| scenario.call(c, n)));
                fig.failures.extend(failure(imp, scenario.key, &outcome));
                fig.throughput[s].push(Sample::of(&outcome, cpu));
            }
            server.stop();
        }
        note(format!("round {} of {} done", round + 1, plan.rounds));
    }
    for (s, scenario) in SCENARIOS.iter().enumerate() {
        let cells: Vec<String> = present
            .iter()
            .map(|&i| {
                let samples = &routes.figures[i].throughput[s];
                format!(
                    "{} {:.0}/s {:.0} µs",
                    routes.impls[i].label,
                    median(&samples.iter().map(|x| x.rps).collect::<Vec<_>>()),
                    median(&samples.iter().map(|x| x.cpu_us).collect::<Vec<_>>())
                )
            })
            .collect();
        note(format!("{:<58} {}", scenario.label(), cells.join(", ")));
    }
    note(format!("routes done in {}", since(start)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loads_spread_over_the_rooms() {
        let [post, history] = SCENARIOS else {
            panic!("two loads")
        };
        let call = post.call(0, 0);
        assert_eq!(
            (call.method, call.path.as_str()),
            ("POST", "/api/rooms/r0/messages")
        );
        assert!(call.body.starts_with(b"{\"user\""));
        let call = history.call(1, 60);
        assert_eq!(call.method, "GET");
        assert_eq!(
            call.path,
            format!(
                "/api/rooms/r{}/messages?after=10&limit=10",
                (37 + 60) % ROOMS
            )
        );
        // Each client goes round every room.
        let rooms: std::collections::BTreeSet<String> =
            (0..ROOMS).map(|n| post.call(3, n).path).collect();
        assert_eq!(rooms.len() as u64, ROOMS);
    }
}
