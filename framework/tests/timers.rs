//! Durable timers under `TestEnv`: ordering, names, cancelling, recurrence, retries,
//! dead letters, at-least-once delivery and restarts.

use std::cell::RefCell;
use std::time::Duration;

use duro::prelude::*;
use duro::testing::TestEnv;

thread_local! {
    /// Attempts seen by failing timers (their state changes are rolled back).
    static ATTEMPTS: RefCell<Vec<(u32, u64)>> = const { RefCell::new(Vec::new()) };
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
/// Records when its timers run.
pub struct Clock {
    /// (label, clock ms) of every run.
    runs: Vec<(String, u64)>,
    bumps: u32,
}

#[duro::methods]
impl Clock {
    #[rpc]
    fn after(&mut self, ctx: &Ctx, label: String, secs: u64) -> duro::Result<String> {
        let id = ctx
            .timers()
            .after(Duration::from_secs(secs), Self::record, label)?;
        Ok(id.to_string())
    }

    #[rpc]
    fn named(&mut self, ctx: &Ctx, name: String, secs: u64) -> duro::Result<()> {
        ctx.timers()
            .named(name.clone())
            .after(Duration::from_secs(secs), Self::record, name)?;
        Ok(())
    }

    #[rpc]
    fn every(&mut self, ctx: &Ctx, secs: u64) -> duro::Result<()> {
        ctx.timers().named("tick").every(
            Duration::from_secs(secs),
            Self::record,
            "tick".to_string(),
        )?;
        Ok(())
    }

    #[rpc]
    fn cancel(&mut self, ctx: &Ctx, id: String) {
        ctx.timers().cancel_named(&id);
    }

    #[rpc]
    fn failing(&mut self, ctx: &Ctx) -> duro::Result<()> {
        ctx.timers().after(Duration::ZERO, Self::always_fails, ())?;
        Ok(())
    }

    #[rpc]
    fn bump_soon(&mut self, ctx: &Ctx) -> duro::Result<()> {
        ctx.timers().after(Duration::from_secs(1), Self::bump, ())?;
        Ok(())
    }

    #[rpc]
    fn many(&mut self, ctx: &Ctx, n: u32) -> duro::Result<()> {
        for i in 0..n {
            ctx.timers()
                .after(Duration::from_secs(5), Self::record, format!("m{i}"))?;
        }
        Ok(())
    }

    /// Schedules and then fails: the schedule must not survive.
    #[rpc]
    fn schedule_then_fail(&mut self, ctx: &Ctx) -> duro::Result<()> {
        ctx.timers()
            .after(Duration::from_secs(1), Self::record, "ghost".to_string())?;
        Err(duro::Error::bad_request("no"))
    }

    #[rpc]
    async fn pending(&self, ctx: &Ctx) -> duro::Result<Vec<String>> {
        Ok(ctx
            .timers()
            .list()
            .await?
            .into_iter()
            .map(|t| t.id.to_string())
            .collect())
    }

    #[rpc]
    fn runs(&self) -> Vec<(String, u64)> {
        self.runs.clone()
    }

    #[rpc]
    fn bumps(&self) -> u32 {
        self.bumps
    }

    #[timer]
    async fn record(&mut self, ctx: &Ctx, label: String) -> duro::Result<()> {
        self.runs.push((label, ctx.now_ms()));
        Ok(())
    }

    #[timer]
    fn always_fails(&mut self, ctx: &Ctx) -> duro::Result<()> {
        ATTEMPTS.with(|a| a.borrow_mut().push((ctx.attempt(), ctx.now_ms())));
        self.bumps += 100; // rolled back
        Err(duro::Error::internal("always"))
    }

    #[timer]
    fn bump(&mut self) {
        self.bumps += 1;
    }
}

fn labels(runs: &[(String, u64)]) -> Vec<&str> {
    runs.iter().map(|(l, _)| l.as_str()).collect()
}

/// Seconds since the manual clock's start.
fn secs(ms: u64) -> u64 {
    (ms - duro::testing::START_MS) / 1000
}

#[tokio::test]
async fn timers_fire_in_due_order_and_not_before() {
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    c.after("thirty".into(), 30).await.unwrap();
    c.after("ten".into(), 10).await.unwrap();
    c.after("twenty".into(), 20).await.unwrap();
    env.advance(Duration::from_secs(9)).await;
    assert!(c.runs().await.unwrap().is_empty());
    env.advance(Duration::from_secs(51)).await;
    let runs = c.runs().await.unwrap();
    assert_eq!(labels(&runs), vec!["ten", "twenty", "thirty"]);
    let at: Vec<u64> = runs.iter().map(|(_, ms)| secs(*ms)).collect();
    assert_eq!(at, vec![10, 20, 30], "each ran at its due time");
    assert!(env.pending_timers::<Clock>("c").is_empty());
    // No timers left: the alarm is cleared.
    assert_eq!(env.storage::<Clock>("c").alarm_at(), None);
}

#[tokio::test]
async fn scheduling_a_name_again_replaces_it() {
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    c.named("x".into(), 10).await.unwrap();
    c.named("x".into(), 50).await.unwrap();
    assert_eq!(env.pending_timers::<Clock>("c").len(), 1);
    env.advance(Duration::from_secs(20)).await;
    assert!(c.runs().await.unwrap().is_empty());
    env.advance(Duration::from_secs(40)).await;
    assert_eq!(labels(&c.runs().await.unwrap()), vec!["x"]);
}

#[tokio::test]
async fn cancelled_timers_do_not_fire() {
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    let id = c.after("anon".into(), 10).await.unwrap();
    c.named("keep".into(), 10).await.unwrap();
    c.named("drop".into(), 10).await.unwrap();
    assert_eq!(c.pending().await.unwrap().len(), 3);
    c.cancel(id).await.unwrap();
    c.cancel("drop".into()).await.unwrap();
    assert_eq!(c.pending().await.unwrap(), vec!["keep".to_string()]);
    env.advance(Duration::from_secs(60)).await;
    assert_eq!(labels(&c.runs().await.unwrap()), vec!["keep"]);
}

#[tokio::test]
async fn a_failed_call_schedules_nothing() {
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    assert!(c.schedule_then_fail().await.is_err());
    assert!(env.pending_timers::<Clock>("c").is_empty());
    assert_eq!(env.storage::<Clock>("c").alarm_at(), None);
}

#[tokio::test]
async fn recurring_timers_do_not_drift_and_catch_up_once() {
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    c.every(10).await.unwrap();
    // Uneven steps: runs still land on the 10 s grid.
    for _ in 0..33 {
        env.advance(Duration::from_secs(3)).await;
    }
    let runs = c.runs().await.unwrap();
    let at: Vec<u64> = runs.iter().map(|(_, ms)| secs(*ms)).collect();
    assert_eq!(at, vec![10, 20, 30, 40, 50, 60, 70, 80, 90]);
    // Downtime of 95 s: one catch-up run, then back on the grid.
    env.skip(Duration::from_secs(95));
    env.run_due_timers().await;
    let runs = c.runs().await.unwrap();
    assert_eq!(runs.len(), 10, "one catch-up run, not nine");
    assert_eq!(secs(runs[9].1), 194);
    env.advance(Duration::from_secs(6)).await;
    let runs = c.runs().await.unwrap();
    assert_eq!(secs(runs[10].1), 200);
    let pending = env.pending_timers::<Clock>("c");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].every, Some(Duration::from_secs(10)));
}

#[tokio::test]
async fn failing_timers_back_off_then_dead_letter() {
    ATTEMPTS.with(|a| a.borrow_mut().clear());
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    c.failing().await.unwrap();
    env.advance(Duration::from_secs(3600)).await;
    let attempts = ATTEMPTS.with(|a| a.borrow().clone());
    let numbers: Vec<u32> = attempts.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        numbers,
        (1..=duro::timers::MAX_ATTEMPTS).collect::<Vec<_>>()
    );
    let gaps: Vec<u64> = attempts
        .windows(2)
        .map(|w| (w[1].1 - w[0].1) / 1000)
        .collect();
    assert_eq!(gaps, vec![1, 2, 4, 8, 16], "exponential backoff from 1 s");
    // Rolled back every time.
    assert_eq!(c.bumps().await.unwrap(), 0);
    assert!(env.pending_timers::<Clock>("c").is_empty());
    let dead = env.dead_timers::<Clock>("c");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].method, "always_fails");
    assert_eq!(dead[0].attempts, duro::timers::MAX_ATTEMPTS);
    assert!(dead[0].last_error.as_deref().unwrap().contains("always"));
}

#[tokio::test]
async fn a_timer_whose_save_fails_runs_again() {
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    c.bump_soon().await.unwrap();
    env.storage::<Clock>("c").fail_next_writes(1);
    env.advance(Duration::from_secs(1)).await;
    // The save failed: no effect, and the timer is still there.
    assert_eq!(c.bumps().await.unwrap(), 0);
    assert_eq!(env.pending_timers::<Clock>("c").len(), 1);
    // The platform retries the alarm; this time it lands, exactly once.
    env.advance(Duration::from_secs(5)).await;
    assert_eq!(c.bumps().await.unwrap(), 1);
    assert!(env.pending_timers::<Clock>("c").is_empty());
    env.advance(Duration::from_secs(60)).await;
    assert_eq!(c.bumps().await.unwrap(), 1);
}

#[tokio::test]
async fn timers_survive_restarts() {
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    c.named("later".into(), 30).await.unwrap();
    env.restart();
    env.advance(Duration::from_secs(10)).await;
    env.restart();
    env.advance(Duration::from_secs(30)).await;
    assert_eq!(labels(&c.runs().await.unwrap()), vec!["later"]);
}

#[tokio::test]
async fn a_thousand_due_timers_run_in_bounded_alarm_invocations() {
    let env = TestEnv::new();
    let c = env.stub::<Clock>("c");
    c.many(1000).await.unwrap();
    assert_eq!(env.pending_timers::<Clock>("c").len(), 1000);
    env.advance(Duration::from_secs(5)).await;
    assert_eq!(c.runs().await.unwrap().len(), 1000);
    let per_alarm = duro::timers::MAX_PER_ALARM as u64;
    assert_eq!(env.stats::<Clock>("c").alarms, 1000u64.div_ceil(per_alarm));
}
