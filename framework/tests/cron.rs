//! Cron timers under `TestEnv` (the `cron` feature): occurrences on the schedule in UTC,
//! names that replace, one catch-up run after downtime, and bad patterns.
#![cfg(feature = "cron")]

use std::time::Duration;

use duro::prelude::*;
use duro::testing::{TestEnv, START_MS};
use duro::ErrorCode;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
/// Records when its cron timer runs.
pub struct Cron {
    /// (label, clock ms) of every run.
    runs: Vec<(String, u64)>,
}

#[duro::methods]
impl Cron {
    #[rpc]
    fn cron(&mut self, ctx: &Ctx, schedule: String, label: String) -> duro::Result<String> {
        let id = ctx
            .timers()
            .named("tick")
            .cron(&schedule, Self::tick, label)?;
        Ok(id.to_string())
    }

    #[rpc]
    fn runs(&self) -> Vec<(String, u64)> {
        self.runs.clone()
    }

    #[timer]
    fn tick(&mut self, ctx: &Ctx, label: String) {
        self.runs.push((label, ctx.now_ms()));
    }
}

const MIN: u64 = 60;

/// Seconds since `START_MS` (2025-01-01 00:00:00 UTC, a Wednesday).
fn secs(ms: u64) -> u64 {
    (ms - START_MS) / 1000
}

async fn run_secs(c: &CronStub) -> Vec<u64> {
    c.runs()
        .await
        .unwrap()
        .iter()
        .map(|(_, ms)| secs(*ms))
        .collect()
}

#[tokio::test]
async fn occurrences_follow_the_schedule() {
    let env = TestEnv::new();
    let c = env.stub::<Cron>("c");
    env.advance(Duration::from_secs(2 * MIN + 7)).await;
    assert_eq!(
        c.cron("*/5 * * * *".into(), "a".into()).await.unwrap(),
        "tick"
    );
    let pending = env.pending_timers::<Cron>("c");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].cron.as_deref(), Some("*/5 * * * *"));
    assert_eq!(
        secs(
            pending[0]
                .due
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        ),
        5 * MIN
    );
    // Uneven steps: runs land on the five-minute marks, never later for a late step.
    for _ in 0..17 {
        env.advance(Duration::from_secs(61)).await;
    }
    assert_eq!(run_secs(&c).await, [5 * MIN, 10 * MIN, 15 * MIN]);
    // Six fields: seconds.
    c.cron("*/20 * * * * *".into(), "s".into()).await.unwrap();
    let before = run_secs(&c).await.len();
    env.advance(Duration::from_secs(60)).await;
    let runs = c.runs().await.unwrap();
    assert_eq!(runs.len() - before, 3);
    assert!(runs[before..]
        .iter()
        .all(|(l, ms)| l == "s" && secs(*ms).is_multiple_of(20)));
}

#[tokio::test]
async fn scheduling_the_name_again_replaces_it() {
    let env = TestEnv::new();
    let c = env.stub::<Cron>("c");
    c.cron("0 * * * *".into(), "hourly".into()).await.unwrap();
    c.cron("30 * * * *".into(), "half".into()).await.unwrap();
    assert_eq!(env.pending_timers::<Cron>("c").len(), 1);
    env.advance(Duration::from_secs(2 * 60 * MIN)).await;
    let runs = c.runs().await.unwrap();
    let runs: Vec<(&str, u64)> = runs.iter().map(|(l, ms)| (l.as_str(), secs(*ms))).collect();
    assert_eq!(runs, [("half", 30 * MIN), ("half", 90 * MIN)]);
}

#[tokio::test]
async fn downtime_gets_one_catch_up_run_then_the_schedule() {
    let env = TestEnv::new();
    let c = env.stub::<Cron>("c");
    c.cron("*/5 * * * *".into(), "a".into()).await.unwrap();
    env.advance(Duration::from_secs(5 * MIN)).await;
    assert_eq!(run_secs(&c).await, [5 * MIN]);
    // Down for 23 minutes: four occurrences missed, one run to catch up.
    env.skip(Duration::from_secs(23 * MIN));
    env.run_due_timers().await;
    assert_eq!(run_secs(&c).await, [5 * MIN, 28 * MIN]);
    // Then back on the five-minute marks.
    env.advance(Duration::from_secs(7 * MIN)).await;
    assert_eq!(run_secs(&c).await, [5 * MIN, 28 * MIN, 30 * MIN, 35 * MIN]);
    // And it survives a restart.
    env.restart();
    env.advance(Duration::from_secs(5 * MIN)).await;
    assert_eq!(run_secs(&c).await.last(), Some(&(40 * MIN)));
}

#[tokio::test]
async fn bad_patterns_are_refused() {
    let env = TestEnv::new();
    let c = env.stub::<Cron>("c");
    let err = c.cron("61 * * * *".into(), "x".into()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadRequest, "{err}");
    assert!(
        err.to_string().contains("cron pattern \"61 * * * *\""),
        "{err}"
    );
    assert!(env.pending_timers::<Cron>("c").is_empty());
}
