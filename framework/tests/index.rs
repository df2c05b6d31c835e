//! The index publisher under `TestEnv`: debounce, sequence numbers, deletion, the metadata
//! fast path, stale reads, KV failures, republishing.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use duro::index::{self, Index, MemoryKv};
use duro::prelude::*;
use duro::testing::TestEnv;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
/// A counter with an index projection.
pub struct Tally {
    n: i64,
    /// Not part of the projection.
    touches: u64,
    note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// What `Tally` publishes.
pub struct TallySummary {
    n: i64,
    note: String,
}

#[duro::methods]
impl Tally {
    #[rpc]
    fn add(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }

    #[rpc]
    fn touch(&mut self) {
        self.touches += 1;
    }

    #[rpc]
    fn set_note(&mut self, note: String) {
        self.note = note;
    }

    #[rpc]
    fn get(&self) -> i64 {
        self.n
    }

    #[rpc]
    fn delete(&mut self, ctx: &Ctx) {
        ctx.delete_state();
    }

    #[rpc]
    fn add_in(&mut self, ctx: &Ctx, secs: u64, by: i64) -> duro::Result<()> {
        ctx.timers()
            .after(Duration::from_secs(secs), Self::add_later, by)?;
        Ok(())
    }

    #[timer]
    fn add_later(&mut self, by: i64) {
        self.n += by;
    }

    #[index("tallies")]
    fn summary(&self) -> TallySummary {
        TallySummary {
            n: self.n,
            note: self.note.clone(),
        }
    }
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
/// An object publishing to another KV binding.
pub struct Elsewhere {
    n: i64,
}

#[duro::methods]
impl Elsewhere {
    #[rpc]
    fn add(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }

    #[index("elsewhere", binding = "OTHER_KV")]
    fn summary(&self) -> i64 {
        self.n
    }
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
/// An object without a projection.
pub struct Plain {
    n: i64,
}

#[duro::methods]
impl Plain {
    #[rpc]
    fn add(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

const MS: Duration = Duration::from_millis(1);

fn kv(env: &TestEnv) -> Rc<MemoryKv> {
    env.kv(index::DEFAULT_BINDING)
}

fn tallies(env: &TestEnv) -> Index<TallySummary> {
    index::open::<Tally>(env).unwrap()
}

/// `(seq, at, n)` of every write to `name`'s entry (`None` for deletes).
fn history(env: &TestEnv, name: &str) -> Vec<Option<(u64, u64, i64)>> {
    kv(env)
        .writes_to(&index::key("tallies", name))
        .iter()
        .map(|w| {
            w.value.as_ref().map(|v| {
                let (seq, at, s): (u64, u64, TallySummary) =
                    index::record::decode_value("k", v).unwrap();
                (seq, at, s.n)
            })
        })
        .collect()
}

#[tokio::test]
async fn a_change_is_published_and_read_back_without_calling_the_object() {
    let env = TestEnv::new();
    let t = env.stub::<Tally>("a");
    assert_eq!(t.add(5).await.unwrap(), 5);
    // Publishing runs as a timer, due at once.
    assert_eq!(tallies(&env).get("a").await.unwrap(), None);
    env.run_due_timers().await;
    let calls = env.stats::<Tally>("a").calls;
    let typed = Index::<TallySummary>::open(&env, "INDEX", "tallies").unwrap();
    let e = typed.get("a").await.unwrap().unwrap();
    assert_eq!(e.value.n, 5);
    assert_eq!(e.seq, 1);
    assert_eq!(e.published_at_ms(), duro::testing::START_MS);
    let page = tallies(&env).list("", None, 10).await.unwrap();
    assert_eq!(page.entries, vec![e]);
    assert_eq!(env.stats::<Tally>("a").calls, calls, "reads go to KV only");
    assert_eq!(env.stats::<Tally>("a").index_writes, 1);
    // The reserved publish timer is duro's own: not in the object's timer list.
    assert!(env.pending_timers::<Tally>("a").is_empty());
}

#[tokio::test]
async fn a_burst_of_100_changes_in_one_second_costs_at_most_two_writes() {
    let env = TestEnv::new();
    let t = env.stub::<Tally>("burst");
    for _ in 0..100 {
        t.add(1).await.unwrap();
        env.advance(10 * MS).await;
    }
    // The first change is published at once, the rest one second later, together.
    let writes = history(&env, "burst");
    assert_eq!(writes.len(), 2, "{writes:?}");
    // The last change landed, and nothing more is written later.
    assert_eq!(
        tallies(&env).get("burst").await.unwrap().unwrap().value.n,
        100
    );
    env.advance(Duration::from_secs(10)).await;
    assert_eq!(history(&env, "burst"), writes);
    // Every put landed: the KV's one-write-per-second limit was never hit.
    assert_eq!(kv(&env).stats().puts as usize, writes.len());
}

#[tokio::test]
async fn a_long_burst_writes_once_per_second_and_ends_on_the_last_value() {
    let env = TestEnv::new();
    let t = env.stub::<Tally>("long");
    // 10 seconds of changes every 50 ms.
    for _ in 0..200 {
        t.add(1).await.unwrap();
        env.advance(50 * MS).await;
    }
    env.advance(Duration::from_secs(2)).await;
    let writes: Vec<(u64, u64, i64)> = history(&env, "long").into_iter().flatten().collect();
    assert!(
        (10..=11).contains(&writes.len()),
        "about one write per second: {writes:?}"
    );
    for pair in writes.windows(2) {
        assert!(pair[1].0 > pair[0].0, "seq grows: {pair:?}");
        assert!(pair[1].1 >= pair[0].1 + 1_000, "a second apart: {pair:?}");
    }
    assert_eq!(writes.last().unwrap().2, 200);
}

#[tokio::test]
async fn projections_that_do_not_change_cause_no_writes() {
    let env = TestEnv::new();
    let t = env.stub::<Tally>("a");
    t.add(1).await.unwrap();
    env.run_due_timers().await;
    assert_eq!(history(&env, "a").len(), 1);
    // A state change outside the projection, a no-op change and reads: nothing to publish.
    let before = env.stats::<Tally>("a").storage.writes;
    t.touch().await.unwrap();
    t.add(0).await.unwrap();
    t.get().await.unwrap();
    assert_eq!(
        env.stats::<Tally>("a").storage.writes,
        before + 1,
        "the touch"
    );
    env.advance(Duration::from_secs(5)).await;
    assert_eq!(history(&env, "a").len(), 1);
    // A change undone before the publish runs is not written either.
    t.add(1).await.unwrap();
    t.add(-1).await.unwrap();
    env.advance(Duration::from_secs(5)).await;
    assert_eq!(history(&env, "a").len(), 1);
    assert_eq!(kv(&env).stats().puts, 1);
}

#[tokio::test]
async fn sequence_numbers_grow_across_restarts_failures_and_deletion() {
    let env = TestEnv::new();
    let t = env.stub::<Tally>("s");
    let mut last = 0;
    let mut check = |env: &TestEnv| {
        let writes: Vec<(u64, u64, i64)> = history(env, "s").into_iter().flatten().collect();
        let seq = writes.last().unwrap().0;
        assert!(seq > last, "{writes:?}");
        last = seq;
        // The metadata announces the same version as the value.
        let meta = kv(env)
            .latest_metadata(&index::key("tallies", "s"))
            .unwrap();
        assert_eq!(index::record::metadata_seq(&meta), Some(seq));
    };
    t.add(1).await.unwrap();
    env.advance(Duration::from_secs(1)).await;
    check(&env);
    env.restart();
    t.add(1).await.unwrap();
    env.advance(Duration::from_secs(1)).await;
    check(&env);
    kv(&env).fail_next_writes(1);
    t.add(1).await.unwrap();
    env.advance(Duration::from_secs(5)).await;
    check(&env);
    // A restart while a publish is pending: the new activation reserves its own number.
    t.add(1).await.unwrap();
    env.restart();
    env.advance(Duration::from_secs(1)).await;
    check(&env);
    t.delete().await.unwrap();
    env.advance(Duration::from_secs(1)).await;
    t.add(7).await.unwrap();
    env.advance(Duration::from_secs(1)).await;
    check(&env);
    let e = tallies(&env).get("s").await.unwrap().unwrap();
    assert_eq!((e.seq, e.value.n), (last, 7));
}

#[tokio::test]
async fn deleting_the_state_removes_the_entry() {
    let env = TestEnv::new();
    let t = env.stub::<Tally>("gone");
    let other = env.stub::<Tally>("kept");
    t.add(3).await.unwrap();
    other.add(4).await.unwrap();
    env.run_due_timers().await;
    assert_eq!(
        tallies(&env)
            .list("", None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        2
    );
    t.delete().await.unwrap();
    assert_eq!(t.get().await.unwrap(), 0);
    // The removal waits for the publish slot like any write.
    env.advance(Duration::from_secs(1)).await;
    assert_eq!(tallies(&env).get("gone").await.unwrap(), None);
    let names: Vec<String> = tallies(&env)
        .list("", None, 10)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["kept"]);
    assert_eq!(history(&env, "gone").last(), Some(&None));
    // Only the bookkeeping is left in storage.
    let keys: Vec<String> = env.storage::<Tally>("gone").dump().into_keys().collect();
    assert_eq!(keys, ["__duro/index/tallies"]);
    // Deleting an object that was never published leaves nothing behind.
    let fresh = env.stub::<Tally>("fresh");
    fresh.add(1).await.unwrap();
    fresh.delete().await.unwrap();
    env.advance(Duration::from_secs(5)).await;
    assert!(env.storage::<Tally>("fresh").dump().is_empty());
    assert!(history(&env, "fresh").is_empty());
}

#[tokio::test]
async fn small_projections_list_from_metadata_large_ones_fall_back_to_gets() {
    let env = TestEnv::new();
    for i in 0..6 {
        let t = env.stub::<Tally>(&format!("t{i}"));
        t.add(i + 10).await.unwrap();
        if i % 2 == 1 {
            t.set_note("x".repeat(2_000)).await.unwrap();
        }
    }
    env.run_due_timers().await;
    let kv = kv(&env);
    let small = kv.latest_metadata(&index::key("tallies", "t0")).unwrap();
    // The metadata is a JSON string holding the record.
    let carried = |m: &str| {
        let record = serde_json::from_str::<String>(m).unwrap();
        serde_json::from_str::<serde_json::Value>(&record)
            .unwrap()
            .get("v")
            .is_some()
    };
    assert!(carried(&small), "{small}");
    let large = kv.latest_metadata(&index::key("tallies", "t1")).unwrap();
    assert!(!carried(&large), "{large}");

    let gets = kv.stats().gets;
    let page = tallies(&env).list("", None, 100).await.unwrap();
    assert_eq!(kv.stats().gets - gets, 3, "one get per large entry");
    let values: Vec<(i64, usize)> = page
        .entries
        .iter()
        .map(|e| (e.value.n, e.value.note.len()))
        .collect();
    assert_eq!(
        values,
        [
            (10, 0),
            (11, 2_000),
            (12, 0),
            (13, 2_000),
            (14, 0),
            (15, 2_000)
        ]
    );
    // Without the fast path every entry costs a get, and the result is the same.
    let gets = kv.stats().gets;
    let slow = tallies(&env).use_metadata(false);
    assert_eq!(slow.list("", None, 100).await.unwrap(), page);
    assert_eq!(kv.stats().gets - gets, 6);
}

#[tokio::test]
async fn stale_reads_lag_by_the_propagation_delay() {
    let env = TestEnv::new();
    kv(&env).set_delay(Duration::from_secs(30));
    let t = env.stub::<Tally>("far");
    t.add(1).await.unwrap();
    env.run_due_timers().await;
    assert_eq!(tallies(&env).get("far").await.unwrap(), None);
    assert!(tallies(&env)
        .list("", None, 10)
        .await
        .unwrap()
        .entries
        .is_empty());
    env.advance(Duration::from_secs(30)).await;
    let first = tallies(&env).get("far").await.unwrap().unwrap();
    assert_eq!(first.value.n, 1);
    t.add(1).await.unwrap();
    env.run_due_timers().await;
    // Published, but readers still see the older version for a while.
    assert_eq!(history(&env, "far").len(), 2);
    env.advance(Duration::from_secs(29)).await;
    assert_eq!(tallies(&env).get("far").await.unwrap().unwrap(), first);
    env.advance(Duration::from_secs(1)).await;
    let second = tallies(&env).get("far").await.unwrap().unwrap();
    assert_eq!(second.value.n, 2);
    assert!(second.is_newer_than(&first));
    // The object is the source of truth all along.
    assert_eq!(t.get().await.unwrap(), 2);
}

#[tokio::test]
async fn kv_failures_are_retried_and_never_fail_calls() {
    let env = TestEnv::new();
    let kv = kv(&env);
    kv.fail_next_writes(3);
    let t = env.stub::<Tally>("flaky");
    assert_eq!(t.add(7).await.unwrap(), 7);
    env.run_due_timers().await;
    assert_eq!(tallies(&env).get("flaky").await.unwrap(), None);
    // Calls keep working while publishing fails.
    assert_eq!(t.add(1).await.unwrap(), 8);
    // Retries after 1 s, 2 s, 4 s: the third retry lands, with the latest value.
    env.advance(Duration::from_secs(3)).await;
    assert_eq!(tallies(&env).get("flaky").await.unwrap(), None);
    env.advance(Duration::from_secs(4)).await;
    let e = tallies(&env).get("flaky").await.unwrap().unwrap();
    assert_eq!(e.value.n, 8);
    assert_eq!(kv.stats().puts, 4);
    assert!(env.dead_timers::<Tally>("flaky").is_empty());
    assert_eq!(env.stats::<Tally>("flaky").index_writes, 1);
}

#[tokio::test]
async fn a_long_outage_is_retried_at_most_a_minute_apart_and_never_dropped() {
    let env = TestEnv::new();
    let kv = kv(&env);
    kv.fail_next_writes(20);
    let t = env.stub::<Tally>("outage");
    t.add(1).await.unwrap();
    env.advance(Duration::from_secs(30 * 60)).await;
    assert!(env.dead_timers::<Tally>("outage").is_empty());
    let attempts = kv.stats().puts;
    assert!(
        (21..=40).contains(&attempts),
        "{attempts} attempts in 30 minutes"
    );
    assert_eq!(
        tallies(&env).get("outage").await.unwrap().unwrap().value.n,
        1
    );
}

#[tokio::test]
async fn a_change_during_a_kv_write_is_published_next() {
    let env = TestEnv::new();
    let kv = kv(&env);
    kv.set_write_polls(5);
    let t = env.stub::<Tally>("busy");
    t.add(1).await.unwrap();
    let added_while_writing = Cell::new(false);
    futures::join!(env.run_due_timers(), async {
        // The publisher released the turn while its KV write is in flight.
        assert_eq!(t.add(1).await.unwrap(), 2);
        added_while_writing.set(kv.writes().is_empty());
    });
    assert!(added_while_writing.get());
    assert_eq!(tallies(&env).get("busy").await.unwrap().unwrap().value.n, 1);
    env.advance(Duration::from_secs(1)).await;
    assert_eq!(tallies(&env).get("busy").await.unwrap().unwrap().value.n, 2);
    assert_eq!(history(&env, "busy").len(), 2);
}

#[tokio::test]
async fn changes_made_by_timers_are_published() {
    let env = TestEnv::new();
    let t = env.stub::<Tally>("later");
    t.add_in(60, 5).await.unwrap();
    env.advance(Duration::from_secs(60)).await;
    assert_eq!(
        tallies(&env).get("later").await.unwrap().unwrap().value.n,
        5
    );
}

#[tokio::test]
async fn republishing_writes_again_and_removes_orphans() {
    let env = TestEnv::new();
    for name in ["a", "b", "c"] {
        env.stub::<Tally>(name).add(1).await.unwrap();
    }
    env.run_due_timers().await;
    let before = tallies(&env).get("a").await.unwrap().unwrap();
    index::republish::<Tally>(&env, "a").await.unwrap();
    // Unchanged, but written again at the next slot, with a new sequence number.
    env.advance(Duration::from_secs(1)).await;
    let after = tallies(&env).get("a").await.unwrap().unwrap();
    assert_eq!(after.value, before.value);
    assert!(after.is_newer_than(&before));

    // A page at a time over the names the index knows.
    let page = index::republish_page::<Tally>(&env, None, 2).await.unwrap();
    assert_eq!(page.names, ["a", "b"]);
    let rest = index::republish_page::<Tally>(&env, page.cursor.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(
        (rest.names.as_slice(), rest.cursor),
        (&["c".to_owned()][..], None)
    );
    env.advance(Duration::from_secs(2)).await;
    for name in ["a", "b", "c"] {
        assert_eq!(history(&env, name).len(), if name == "a" { 3 } else { 2 });
    }

    // An entry whose object has no state (written by an older deployment, say) is
    // removed when the object is asked to republish.
    let e = index::record::encode(1, 0, b"{\"n\":9,\"note\":\"\"}").unwrap();
    let orphan = index::key("tallies", "orphan");
    duro::index::Kv::put(&*kv(&env), &orphan, e.value, Some(e.metadata))
        .await
        .unwrap();
    index::republish::<Tally>(&env, "orphan").await.unwrap();
    env.advance(Duration::from_secs(1)).await;
    assert_eq!(tallies(&env).get("orphan").await.unwrap(), None);

    // Objects without an index refuse.
    let err = index::republish::<Plain>(&env, "p").await.unwrap_err();
    assert_eq!(err.code(), duro::ErrorCode::BadRequest);
    assert!(index::open::<Plain>(&env).is_err());
}

#[tokio::test]
async fn bindings_are_per_index_and_plain_objects_never_touch_kv() {
    let env = TestEnv::new();
    env.stub::<Elsewhere>("e").add(2).await.unwrap();
    env.stub::<Plain>("p").add(2).await.unwrap();
    env.run_due_timers().await;
    let other = env.kv("OTHER_KV");
    assert_eq!(other.latest_keys(), ["elsewhere/e"]);
    let e = index::open::<Elsewhere>(&env)
        .unwrap()
        .get("e")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.value, 2);
    assert!(kv(&env).latest_keys().is_empty());
    assert_eq!(env.stats::<Plain>("p").index_writes, 0);
}

#[tokio::test]
async fn storage_costs_stay_one_read_per_activation_and_one_write_per_change() {
    let env = TestEnv::new();
    let t = env.stub::<Tally>("ops");
    for i in 1..=10 {
        t.add(1).await.unwrap();
        assert_eq!(env.stats::<Tally>("ops").storage.writes, i);
    }
    env.restart();
    t.get().await.unwrap();
    let s = env.stats::<Tally>("ops");
    assert_eq!((s.activations, s.storage.reads), (2, 2));
    // Each publish: one KV write and one storage write (two after a restart, which
    // reserves its sequence number first).
    env.run_due_timers().await;
    let s = env.stats::<Tally>("ops");
    assert_eq!((s.index_writes, s.storage.writes), (1, 12));
}
