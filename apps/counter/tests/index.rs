//! The `counters` index under `TestEnv`: what `GET /counters` reads.

use std::time::Duration;

use counter::{Counter, CounterSummary};
use duro::index::{self, Index};
use duro::testing::TestEnv;

fn counters(env: &TestEnv) -> Index<CounterSummary> {
    Index::<CounterSummary>::open(env, "INDEX", "counters").unwrap()
}

#[tokio::test]
async fn counters_are_listed_from_kv_without_calling_them() {
    let env = TestEnv::new();
    for (name, by) in [("a", 1), ("b", 2), ("c", 3)] {
        env.stub::<Counter>(name).add(by).await.unwrap();
    }
    env.run_due_timers().await;
    let calls: Vec<u64> = ["a", "b", "c"]
        .iter()
        .map(|n| env.stats::<Counter>(n).calls)
        .collect();
    let page = counters(&env).list("", None, 2).await.unwrap();
    let listed: Vec<(String, i64)> = page
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.value.value))
        .collect();
    assert_eq!(listed, [("a".to_owned(), 1), ("b".to_owned(), 2)]);
    let rest = counters(&env)
        .list("", page.cursor.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(rest.cursor, None);
    // Small summaries come with the listing: no get per key.
    assert_eq!(env.kv("INDEX").stats().gets, 0);
    let after: Vec<u64> = ["a", "b", "c"]
        .iter()
        .map(|n| env.stats::<Counter>(n).calls)
        .collect();
    assert_eq!(calls, after, "listing called no counter");
}

#[tokio::test]
async fn the_entry_follows_adds_resets_timers_and_deletion() {
    let env = TestEnv::new();
    let c = env.stub::<Counter>("x");
    for _ in 0..50 {
        c.add(2).await.unwrap();
    }
    env.advance(Duration::from_secs(1)).await;
    let e = counters(&env).get("x").await.unwrap().unwrap();
    assert_eq!(e.value, CounterSummary { value: 100 });
    c.reset_in(10).await.unwrap();
    env.advance(Duration::from_secs(11)).await;
    assert_eq!(
        counters(&env).get("x").await.unwrap().unwrap().value.value,
        0
    );
    c.add(5).await.unwrap();
    env.advance(Duration::from_secs(1)).await;
    c.delete().await.unwrap();
    assert_eq!(c.get().await.unwrap(), 0);
    env.advance(Duration::from_secs(1)).await;
    assert_eq!(counters(&env).get("x").await.unwrap(), None);
    // The typed opener finds the same index.
    assert!(index::open::<Counter>(&env)
        .unwrap()
        .list("", None, 10)
        .await
        .unwrap()
        .entries
        .is_empty());
}
