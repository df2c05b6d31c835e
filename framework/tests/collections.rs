//! `duro::Log` and `duro::Map` through `TestEnv`, on the same dispatch path as production:
//! per-entry writes, rollback, restarts, size independence, and damaged entries.

use std::collections::BTreeMap;

use duro::prelude::*;
use duro::storage::{Storage, StorageStats};
use duro::testing::TestEnv;
use duro::{ErrorCode, Log, Map};

/// A log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    text: String,
}

/// Why a call was refused.
#[derive(Debug, Serialize, Deserialize)]
pub struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A log and two maps beside a plain field.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Journal {
    title: String,
    log: Log<Entry>,
    tags: Map<String, u64>,
    by_num: Map<i64, String>,
}

/// An entry of `by_num`.
type Numbered = (i64, String);

fn entry(text: &str) -> Entry {
    Entry { text: text.into() }
}

#[duro::methods]
impl Journal {
    #[rpc]
    fn push(&mut self, text: String) -> u64 {
        self.log.push(Entry { text })
    }

    /// Pushes `n` entries `entry <id>`; returns the length.
    #[rpc]
    fn fill(&mut self, n: u64) -> u64 {
        for _ in 0..n {
            let id = self.log.last_id().unwrap_or(0) + 1;
            self.log.push(entry(&format!("entry {id}")));
        }
        self.log.len()
    }

    /// Pushes every text, then fails if one is empty (or panics if one is "panic").
    #[rpc]
    fn push_all(&mut self, texts: Vec<String>) -> Result<u64, Refused> {
        for text in texts {
            if text == "panic" {
                panic!("asked to panic");
            }
            if text.is_empty() {
                return Err(Refused("an empty text".into()));
            }
            self.tags.insert(text.clone(), self.log.len());
            self.log.push(Entry { text });
        }
        Ok(self.log.len())
    }

    /// The log's length, first and last ids.
    #[rpc]
    fn ids(&self) -> (u64, Option<u64>, Option<u64>) {
        (self.log.len(), self.log.first_id(), self.log.last_id())
    }

    #[rpc]
    async fn range(&self, after: u64, limit: u32) -> duro::Result<Vec<(u64, String)>> {
        let page = self.log.range(after, limit as usize).await?;
        Ok(page.into_iter().map(|(id, e)| (id, e.text)).collect())
    }

    #[rpc]
    async fn get(&self, id: u64) -> duro::Result<Option<String>> {
        Ok(self.log.get(id).await?.map(|e| e.text))
    }

    /// Pushes, then reads the range from `after` in the same call.
    #[rpc]
    async fn push_and_range(
        &mut self,
        text: String,
        after: u64,
    ) -> duro::Result<Vec<(u64, String)>> {
        self.log.push(Entry { text });
        let page = self.log.range(after, 1000).await?;
        Ok(page.into_iter().map(|(id, e)| (id, e.text)).collect())
    }

    #[rpc]
    fn trim(&mut self, before: u64) -> u64 {
        self.log.trim_before(before);
        self.log.len()
    }

    #[rpc]
    fn tag(&mut self, name: String, n: u64) -> Option<u64> {
        self.tags.insert(name, n)
    }

    #[rpc]
    fn untag(&mut self, name: String) -> Option<u64> {
        self.tags.remove(&name)
    }

    #[rpc]
    fn tags(&self) -> Vec<(String, u64)> {
        self.tags.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Inserts `n` numbered entries from `from`.
    #[rpc]
    fn number(&mut self, from: i64, n: i64) -> usize {
        for k in from..from + n {
            self.by_num.insert(k, format!("n{k}"));
        }
        self.by_num.len()
    }

    /// The map's length, first and last entries.
    #[rpc]
    fn numbers(&self) -> (usize, Option<Numbered>, Option<Numbered>) {
        let first = self.by_num.iter().next().map(|(k, v)| (*k, v.clone()));
        let last = self.by_num.iter().next_back().map(|(k, v)| (*k, v.clone()));
        (self.by_num.len(), first, last)
    }

    #[rpc]
    fn set_title(&mut self, title: String) {
        self.title = title;
    }

    /// Replaces the log with a new one: not allowed.
    #[rpc]
    fn replace_log(&mut self) {
        self.log = Log::new();
    }

    /// Takes the map out of its field: not allowed.
    #[rpc]
    fn replace_tags(&mut self) {
        let _old = std::mem::take(&mut self.tags);
    }

    /// Pushes a value too large to store.
    #[rpc]
    fn push_huge(&mut self) -> u64 {
        self.log.push(entry(&"x".repeat(2_000_001)))
    }

    #[rpc]
    fn clear_tags(&mut self) -> usize {
        self.tags.clear();
        self.tags.len()
    }
}

fn stats(env: &TestEnv, name: &str) -> StorageStats {
    env.stats::<Journal>(name).storage
}

/// Storage operations of `f`: writes, keys put, keys deleted.
async fn ops<F: std::future::Future>(env: &TestEnv, name: &str, f: F) -> (u64, u64, u64) {
    let before = stats(env, name);
    f.await;
    let after = stats(env, name);
    (
        after.writes - before.writes,
        after.keys_put - before.keys_put,
        after.keys_deleted - before.keys_deleted,
    )
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

#[test]
fn a_push_writes_its_entry_and_the_header() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("a");
        assert_eq!(j.push("one".into()).await.unwrap(), 1);
        assert_eq!(j.push("two".into()).await.unwrap(), 2);
        let first = ops(&env, "b", async {
            env.stub::<Journal>("b").push("one".into()).await.unwrap();
        })
        .await;
        assert_eq!(first, (1, 3, 0), "the first push stores the state too");
        let push = ops(&env, "a", async { j.push("three".into()).await.unwrap() }).await;
        assert_eq!(push, (1, 2, 0), "one write: the entry and the log's header");
        // The state is written with the first entries, and not rewritten after: it did not
        // change.
        let dump = env.storage::<Journal>("a").dump();
        assert!(dump.contains_key("__duro/state"), "{:?}", dump.keys());
        assert!(dump.contains_key("__duro/c/log/00000000000000000003"));
        assert_eq!(dump["__duro/c/log"].len(), 16);
        // A change of the state and of a map entry: still one write.
        let mixed = ops(&env, "a", async {
            j.set_title("t".into()).await.unwrap();
        })
        .await;
        assert_eq!(mixed, (1, 1, 0));
        let tag = ops(&env, "a", async {
            j.tag("x".into(), 1).await.unwrap();
        })
        .await;
        assert_eq!(tag, (1, 1, 0), "a map insert writes its entry");
        assert!(env
            .storage::<Journal>("a")
            .dump()
            .contains_key("__duro/c/tags/x"));
        let untag = ops(&env, "a", async {
            j.untag("x".into()).await.unwrap();
        })
        .await;
        assert_eq!(untag, (1, 0, 1), "a map remove deletes its entry");
        // Reads write nothing.
        let read = ops(&env, "a", async {
            j.range(0, 10).await.unwrap();
            j.tags().await.unwrap();
        })
        .await;
        assert_eq!(read, (0, 0, 0));
    });
}

#[test]
fn entries_survive_restarts() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("r");
        for t in ["a", "b", "c"] {
            j.push(t.into()).await.unwrap();
        }
        j.tag("k".into(), 7).await.unwrap();
        j.number(-2, 4).await.unwrap();
        env.restart();
        assert_eq!(j.ids().await.unwrap(), (3, Some(1), Some(3)));
        assert_eq!(
            j.range(0, 10).await.unwrap(),
            vec![(1, "a".into()), (2, "b".into()), (3, "c".into())]
        );
        assert_eq!(j.get(2).await.unwrap(), Some("b".into()));
        assert_eq!(j.get(4).await.unwrap(), None);
        assert_eq!(j.tags().await.unwrap(), vec![("k".into(), 7)]);
        assert_eq!(
            j.numbers().await.unwrap(),
            (4, Some((-2, "n-2".into())), Some((1, "n1".into())))
        );
        // Ids continue after a restart.
        assert_eq!(j.push("d".into()).await.unwrap(), 4);
        // One activation read: state, header (one `get`), and one list per map.
        let s = stats(&env, "r");
        env.restart();
        j.ids().await.unwrap();
        let t = stats(&env, "r");
        assert_eq!((t.reads - s.reads, t.lists - s.lists), (1, 2));
    });
}

#[test]
fn range_sees_the_running_calls_pushes_and_trims() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("p");
        j.fill(5).await.unwrap();
        let page = j.push_and_range("new".into(), 3).await.unwrap();
        let ids: Vec<u64> = page.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![4, 5, 6]);
        assert_eq!(page[2].1, "new");
        assert_eq!(j.range(1, 2).await.unwrap().len(), 2);
        assert_eq!(j.trim(3).await.unwrap(), 4);
        assert_eq!(j.ids().await.unwrap(), (4, Some(3), Some(6)));
        assert_eq!(j.range(0, 1).await.unwrap()[0].0, 3);
        assert_eq!(j.get(2).await.unwrap(), None);
        let dump = env.storage::<Journal>("p").dump();
        assert!(!dump.contains_key("__duro/c/log/00000000000000000002"));
        assert!(dump.contains_key("__duro/c/log/00000000000000000003"));
    });
}

#[test]
fn a_failing_call_writes_nothing_and_undoes_its_changes() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("f");
        j.push_all(vec!["a".into(), "b".into()]).await.unwrap();
        let dump = env.storage::<Journal>("f").dump();
        let before = stats(&env, "f");

        // Err after two pushes and two inserts.
        let err = j
            .push_all(vec!["c".into(), "a".into(), "".into()])
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::User(_)), "{err:?}");
        // A panic after a push.
        let err = j
            .push_all(vec!["d".into(), "panic".into()])
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal, "{err:?}");
        // A failed write.
        env.storage::<Journal>("f").fail_next_writes(1);
        let err = j.push_all(vec!["e".into()]).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal, "{err:?}");

        assert_eq!(
            env.storage::<Journal>("f").dump(),
            dump,
            "storage unchanged"
        );
        assert_eq!(
            stats(&env, "f").writes,
            before.writes + 1,
            "only the failed write"
        );
        // In memory, unchanged too.
        assert_eq!(j.ids().await.unwrap(), (2, Some(1), Some(2)));
        assert_eq!(
            j.range(0, 10).await.unwrap(),
            vec![(1, "a".into()), (2, "b".into())]
        );
        assert_eq!(j.get(3).await.unwrap(), None);
        assert_eq!(
            j.tags().await.unwrap(),
            vec![("a".into(), 0), ("b".into(), 1)]
        );
        // And the ids the failed calls took are given again.
        assert_eq!(j.push("c".into()).await.unwrap(), 3);
        assert_eq!(
            env.stats::<Journal>("f").activations,
            1,
            "rolled back, not reloaded"
        );
    });
}

#[test]
fn replacing_a_collection_fails_the_call() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("x");
        j.push("a".into()).await.unwrap();
        j.tag("t".into(), 1).await.unwrap();
        let e = j.replace_log().await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Internal);
        assert!(e.message().contains("field `log`"), "{e}");
        let e = j.replace_tags().await.unwrap_err();
        assert!(e.message().contains("field `tags`"), "{e}");
        // The collections are back, in memory and in storage.
        assert_eq!(j.ids().await.unwrap(), (1, Some(1), Some(1)));
        assert_eq!(j.tags().await.unwrap(), vec![("t".into(), 1)]);
        assert_eq!(j.push("b".into()).await.unwrap(), 2);
    });
}

#[test]
fn an_entry_over_the_value_limit_fails_its_call() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("h");
        j.push("a".into()).await.unwrap();
        let e = j.push_huge().await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Internal);
        assert!(e.message().contains("2000000-byte limit"), "{e}");
        assert_eq!(j.ids().await.unwrap(), (1, Some(1), Some(1)));
    });
}

#[test]
fn clearing_a_map_deletes_each_entry_once() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("c");
        for (i, t) in ["a", "b", "c"].into_iter().enumerate() {
            j.tag(t.into(), i as u64).await.unwrap();
        }
        let clear = ops(&env, "c", async {
            assert_eq!(j.clear_tags().await.unwrap(), 0);
        })
        .await;
        assert_eq!(clear, (1, 0, 3));
        env.restart();
        assert!(j.tags().await.unwrap().is_empty());
    });
}

#[test]
fn damaged_entries_are_clear_errors() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("d");
        j.fill(3).await.unwrap();
        let storage = env.storage::<Journal>("d");
        storage
            .write(
                vec![("__duro/c/log/00000000000000000002".into(), vec![0xc1, 0xff])],
                vec![],
            )
            .await
            .unwrap();
        let e = j.range(0, 10).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Internal);
        assert!(
            e.message().contains("collection `log` is damaged") && e.message().contains("\"2\""),
            "{e}"
        );
        assert!(j.get(2).await.is_err());
        assert_eq!(j.get(3).await.unwrap(), Some("entry 3".into()));
        // A damaged header, and a damaged map entry, fail the activation clearly.
        for (key, value) in [
            ("__duro/c/log", vec![1, 2, 3]),
            ("__duro/c/tags/k", vec![0xa1, b'x']),
        ] {
            let env = TestEnv::new();
            let j = env.stub::<Journal>("d");
            j.tag("k".into(), 1).await.unwrap();
            j.push("a".into()).await.unwrap();
            env.storage::<Journal>("d")
                .write(vec![(key.into(), value)], vec![])
                .await
                .unwrap();
            env.restart();
            let e = j.ids().await.unwrap_err();
            assert_eq!(e.code(), ErrorCode::Internal);
            assert!(e.message().contains("is damaged"), "{e}");
        }
    });
}

/// Pushes 1 000 entries per call up to `n`, then counts what one more push writes.
async fn push_cost_at(n: u64) -> (u64, u64, u64) {
    let env = TestEnv::new();
    let j = env.stub::<Journal>("big");
    while j.ids().await.unwrap().0 < n {
        j.fill(1000).await.unwrap();
    }
    env.restart();
    let cost = ops(&env, "big", async {
        j.push("one more".into()).await.unwrap();
    })
    .await;
    let last = j.range(n - 1, 10).await.unwrap();
    assert_eq!(
        last,
        vec![(n, format!("entry {n}")), (n + 1, "one more".into())]
    );
    cost
}

#[test]
fn a_push_costs_the_same_at_100_000_entries() {
    block(async {
        let small = push_cost_at(1_000).await;
        let large = push_cost_at(100_000).await;
        assert_eq!(small, (1, 2, 0));
        assert_eq!(large, small);
    });
}

#[test]
fn a_map_insert_costs_the_same_at_100_000_entries() {
    block(async {
        let env = TestEnv::new();
        let j = env.stub::<Journal>("m");
        let mut costs = Vec::new();
        for round in 0..100 {
            j.number(round * 1000, 1000).await.unwrap();
            if round == 0 || round == 99 {
                let cost = ops(&env, "m", async {
                    j.number(-1 - round, 1).await.unwrap();
                })
                .await;
                costs.push(cost);
            }
        }
        assert_eq!(costs, vec![(1, 1, 0), (1, 1, 0)]);
        env.restart();
        let before = stats(&env, "m");
        let (len, first, last) = j.numbers().await.unwrap();
        assert_eq!(len, 100_002);
        assert_eq!(first, Some((-100, "n-100".into())));
        assert_eq!(last, Some((99_999, "n99999".into())));
        let after = stats(&env, "m");
        // Loading: one read, and the maps listed 1 000 entries at a time.
        assert_eq!(after.reads - before.reads, 1);
        assert_eq!(after.lists - before.lists, 1 + 101);
    });
}

mod model {
    //! The collections against plain models, across calls, failing calls and restarts.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(Vec<String>),
        Fail(Vec<String>),
        Trim(u64),
        Range(u64, u32),
        Get(u64),
        Tag(String, u64),
        Untag(String),
        Restart,
    }

    fn op() -> impl Strategy<Value = Op> {
        let text = "[a-d]{1,2}";
        prop_oneof![
            4 => proptest::collection::vec(text, 1..4).prop_map(Op::Push),
            1 => proptest::collection::vec(text, 0..3).prop_map(Op::Fail),
            1 => (0u64..30).prop_map(Op::Trim),
            2 => (0u64..30, 0u32..8).prop_map(|(a, l)| Op::Range(a, l)),
            1 => (0u64..30).prop_map(Op::Get),
            2 => (text, 0u64..5).prop_map(|(k, v)| Op::Tag(k, v)),
            1 => text.prop_map(Op::Untag),
            1 => Just(Op::Restart),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn collections_behave_like_a_vec_and_a_btreemap(ops in proptest::collection::vec(op(), 1..40)) {
            block(async {
                let env = TestEnv::new();
                let j = env.stub::<Journal>("model");
                // id → text, for the ids kept.
                let mut log: BTreeMap<u64, String> = BTreeMap::new();
                let mut next = 1u64;
                let mut tags: BTreeMap<String, u64> = BTreeMap::new();
                for op in ops {
                    match op {
                        Op::Push(texts) => {
                            let n = j.push_all(texts.clone()).await.unwrap();
                            for t in texts {
                                tags.insert(t.clone(), log.len() as u64);
                                log.insert(next, t);
                                next += 1;
                            }
                            prop_assert_eq!(n, log.len() as u64);
                        }
                        Op::Fail(mut texts) => {
                            texts.push(String::new());
                            prop_assert!(j.push_all(texts).await.is_err());
                        }
                        Op::Trim(before) => {
                            log.retain(|id, _| *id >= before);
                            prop_assert_eq!(j.trim(before).await.unwrap(), log.len() as u64);
                        }
                        Op::Range(after, limit) => {
                            let want: Vec<(u64, String)> = log
                                .range(after + 1..)
                                .take(limit as usize)
                                .map(|(id, t)| (*id, t.clone()))
                                .collect();
                            prop_assert_eq!(j.range(after, limit).await.unwrap(), want);
                        }
                        Op::Get(id) => {
                            prop_assert_eq!(j.get(id).await.unwrap(), log.get(&id).cloned());
                        }
                        Op::Tag(k, v) => {
                            prop_assert_eq!(j.tag(k.clone(), v).await.unwrap(), tags.insert(k, v));
                        }
                        Op::Untag(k) => {
                            prop_assert_eq!(j.untag(k.clone()).await.unwrap(), tags.remove(&k));
                        }
                        Op::Restart => env.restart(),
                    }
                    let (len, first, last) = j.ids().await.unwrap();
                    prop_assert_eq!(len, log.len() as u64);
                    prop_assert_eq!(first, log.keys().next().copied());
                    prop_assert_eq!(last, log.keys().next_back().copied());
                    let want: Vec<(String, u64)> = tags.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    prop_assert_eq!(j.tags().await.unwrap(), want);
                }
                // Storage holds exactly the model's entries.
                let dump = env.storage::<Journal>("model").dump();
                let stored_log = dump.keys().filter(|k| k.starts_with("__duro/c/log/")).count();
                let stored_tags = dump.keys().filter(|k| k.starts_with("__duro/c/tags/")).count();
                prop_assert_eq!(stored_log, log.len());
                prop_assert_eq!(stored_tags, tags.len());
                Ok(())
            })?;
        }
    }
}
