//! The storage an object's state lives in: a byte-valued, ordered key-value store with one
//! alarm, as Durable Objects provide. [`MemoryStorage`] implements it in memory for tests;
//! on wasm32 the Durable Object's own storage implements it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use futures::future::LocalBoxFuture;

use crate::error::{Error, Result};

/// Key-value pairs, in key order.
pub type Entries = Vec<(String, Vec<u8>)>;

/// A storage backend. Each method is one storage operation, counted by [`StorageStats`].
///
/// `write` is atomic: all puts and deletes land, or none do.
pub trait Storage {
    /// Reads the given keys; the result has one entry per key, in order.
    fn get<'a>(&'a self, keys: &'a [String]) -> LocalBoxFuture<'a, Result<Vec<Option<Vec<u8>>>>>;

    /// Writes `puts` and removes `deletes`, atomically.
    fn write<'a>(
        &'a self,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> LocalBoxFuture<'a, Result<()>>;

    /// Lists up to `limit` entries whose keys start with `prefix` and are not before
    /// `start` (when given), in key order.
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        start: Option<&'a str>,
        limit: Option<usize>,
    ) -> LocalBoxFuture<'a, Result<Entries>>;

    /// Removes every key and the alarm.
    fn delete_all(&self) -> LocalBoxFuture<'_, Result<()>>;

    /// The alarm time in milliseconds since the Unix epoch, if one is set.
    fn get_alarm(&self) -> LocalBoxFuture<'_, Result<Option<u64>>>;

    /// Sets (`Some`) or clears (`None`) the alarm.
    fn set_alarm(&self, at_ms: Option<u64>) -> LocalBoxFuture<'_, Result<()>>;

    /// Operation counts since the storage was opened.
    fn stats(&self) -> StorageStats;
}

/// Storage changes, merged so that a key is either put or deleted (the last change to a
/// key wins).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Keys to write, each once.
    pub puts: Vec<(String, Vec<u8>)>,
    /// Keys to remove, each once.
    pub deletes: Vec<String>,
}

impl Batch {
    /// Puts `key`, replacing an earlier put or delete of it.
    pub fn put(&mut self, key: String, value: Vec<u8>) {
        self.deletes.retain(|k| *k != key);
        match self.puts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.puts.push((key, value)),
        }
    }

    /// Deletes `key`, replacing an earlier put of it.
    pub fn delete(&mut self, key: String) {
        self.puts.retain(|(k, _)| *k != key);
        if !self.deletes.contains(&key) {
            self.deletes.push(key);
        }
    }

    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

/// How many storage operations an object performed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// `get` calls.
    pub reads: u64,
    /// `write` calls (each atomic batch counts once).
    pub writes: u64,
    /// `list` calls.
    pub lists: u64,
    /// Alarm reads and changes.
    pub alarm_ops: u64,
    /// Keys written by `write` calls (each put counts once).
    pub keys_put: u64,
    /// Keys removed by `write` calls (each delete counts once).
    pub keys_deleted: u64,
}

/// Counters shared by the storage implementations.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub reads: Cell<u64>,
    pub writes: Cell<u64>,
    pub lists: Cell<u64>,
    pub alarm_ops: Cell<u64>,
    pub keys_put: Cell<u64>,
    pub keys_deleted: Cell<u64>,
}

impl Counters {
    pub fn bump(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }

    /// Counts one `write` call of `puts` and `deletes` keys.
    pub fn wrote(&self, puts: usize, deletes: usize) {
        Counters::bump(&self.writes);
        self.keys_put.set(self.keys_put.get() + puts as u64);
        self.keys_deleted
            .set(self.keys_deleted.get() + deletes as u64);
    }

    pub fn snapshot(&self) -> StorageStats {
        StorageStats {
            reads: self.reads.get(),
            writes: self.writes.get(),
            lists: self.lists.get(),
            alarm_ops: self.alarm_ops.get(),
            keys_put: self.keys_put.get(),
            keys_deleted: self.keys_deleted.get(),
        }
    }
}

/// In-memory [`Storage`] with operation counts and failure injection, for tests.
///
/// ```
/// use duro::storage::{MemoryStorage, Storage};
/// # futures::executor::block_on(async {
/// let s = MemoryStorage::new();
/// s.write(vec![("k".into(), b"v".to_vec())], vec![]).await.unwrap();
/// assert_eq!(s.get(&["k".to_string()]).await.unwrap(), vec![Some(b"v".to_vec())]);
/// assert_eq!(s.stats().writes, 1);
/// s.fail_next_writes(1);
/// assert!(s.write(vec![("k".into(), b"w".to_vec())], vec![]).await.is_err());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryStorage {
    data: RefCell<BTreeMap<String, Vec<u8>>>,
    alarm: Cell<Option<u64>>,
    counters: Counters,
    failing_writes: Cell<u32>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next `n` writes fail (nothing is written), to test failure paths.
    pub fn fail_next_writes(&self, n: u32) {
        self.failing_writes.set(n);
    }

    /// A copy of every key and value.
    pub fn dump(&self) -> BTreeMap<String, Vec<u8>> {
        self.data.borrow().clone()
    }

    /// The alarm time, if set (milliseconds since the Unix epoch).
    pub fn alarm_at(&self) -> Option<u64> {
        self.alarm.get()
    }

    /// The total number of bytes stored (keys and values).
    pub fn size(&self) -> usize {
        self.data
            .borrow()
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum()
    }
}

impl Storage for MemoryStorage {
    fn get<'a>(&'a self, keys: &'a [String]) -> LocalBoxFuture<'a, Result<Vec<Option<Vec<u8>>>>> {
        Counters::bump(&self.counters.reads);
        let data = self.data.borrow();
        let out = keys.iter().map(|k| data.get(k).cloned()).collect();
        Box::pin(async move { Ok(out) })
    }

    fn write<'a>(
        &'a self,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        self.counters.wrote(puts.len(), deletes.len());
        let failing = self.failing_writes.get();
        if failing > 0 {
            self.failing_writes.set(failing - 1);
            return Box::pin(async { Err(Error::internal("injected storage write failure")) });
        }
        let mut data = self.data.borrow_mut();
        for k in deletes {
            data.remove(&k);
        }
        for (k, v) in puts {
            data.insert(k, v);
        }
        Box::pin(async { Ok(()) })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        start: Option<&'a str>,
        limit: Option<usize>,
    ) -> LocalBoxFuture<'a, Result<Entries>> {
        Counters::bump(&self.counters.lists);
        let data = self.data.borrow();
        let from = start.filter(|s| *s > prefix).unwrap_or(prefix);
        let out = data
            .range(from.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit.unwrap_or(usize::MAX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Box::pin(async move { Ok(out) })
    }

    fn delete_all(&self) -> LocalBoxFuture<'_, Result<()>> {
        Counters::bump(&self.counters.writes);
        self.data.borrow_mut().clear();
        self.alarm.set(None);
        Box::pin(async { Ok(()) })
    }

    fn get_alarm(&self) -> LocalBoxFuture<'_, Result<Option<u64>>> {
        Counters::bump(&self.counters.alarm_ops);
        let at = self.alarm.get();
        Box::pin(async move { Ok(at) })
    }

    fn set_alarm(&self, at_ms: Option<u64>) -> LocalBoxFuture<'_, Result<()>> {
        Counters::bump(&self.counters.alarm_ops);
        self.alarm.set(at_ms);
        Box::pin(async { Ok(()) })
    }

    fn stats(&self) -> StorageStats {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod batch_tests {
    use super::Batch;

    #[test]
    fn batches_merge_puts_and_deletes() {
        let mut b = Batch::default();
        b.put("a".into(), vec![1]);
        b.delete("a".into());
        b.delete("b".into());
        b.put("b".into(), vec![2]);
        b.put("c".into(), vec![3]);
        b.put("c".into(), vec![4]);
        b.delete("d".into());
        b.delete("d".into());
        assert_eq!(b.puts, vec![("b".into(), vec![2]), ("c".into(), vec![4])]);
        assert_eq!(b.deletes, vec!["a".to_owned(), "d".to_owned()]);
    }

    mod model {
        //! `Batch` against a `BTreeMap` model.
        use std::collections::{BTreeMap, BTreeSet};

        use proptest::prelude::*;

        use super::super::Batch;

        #[derive(Debug, Clone)]
        enum BatchOp {
            Put(u8, u8),
            Delete(u8),
        }

        fn batch_op() -> impl Strategy<Value = BatchOp> {
            prop_oneof![
                (0u8..6, any::<u8>()).prop_map(|(k, v)| BatchOp::Put(k, v)),
                (0u8..6).prop_map(BatchOp::Delete),
            ]
        }

        proptest! {
            #[test]
            fn a_batch_keeps_the_last_change_of_each_key(ops in proptest::collection::vec(batch_op(), 0..40)) {
                let mut batch = Batch::default();
                let mut puts = BTreeMap::new();
                let mut deletes = BTreeSet::new();
                for op in ops {
                    match op {
                        BatchOp::Put(k, v) => {
                            batch.put(k.to_string(), vec![v]);
                            deletes.remove(&k.to_string());
                            puts.insert(k.to_string(), vec![v]);
                        }
                        BatchOp::Delete(k) => {
                            batch.delete(k.to_string());
                            puts.remove(&k.to_string());
                            deletes.insert(k.to_string());
                        }
                    }
                }
                let got_puts: BTreeMap<_, _> = batch.puts.iter().cloned().collect();
                let got_deletes: BTreeSet<_> = batch.deletes.iter().cloned().collect();
                prop_assert_eq!(got_puts.len(), batch.puts.len(), "a key put twice");
                prop_assert_eq!(got_deletes.len(), batch.deletes.len(), "a key deleted twice");
                prop_assert_eq!(got_puts, puts);
                prop_assert_eq!(got_deletes, deletes);
            }

        }
    }
}
