//! The timer table: the object's pending timers as stored under `__duro/t/<due>/<id>`,
//! sorted by due time, with the dead letters beside it. The user-facing builder is
//! [`crate::timers`]; the host runs due entries.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::names::{DEAD_PREFIX, PUBLISH_METHOD, TIMER_PREFIX};
use crate::storage::{Batch, Storage};
use crate::wire;

/// Attempts before a failing timer is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 6;
/// Delay before the first retry; each further retry doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest delay between retries.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60 * 60);
/// Most due timers one alarm invocation runs.
pub const MAX_PER_ALARM: usize = 256;

/// Identifies a scheduled timer: its name when it was scheduled with
/// [`Timers::named`](crate::timers::Timers::named), otherwise a generated id starting with `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerId(pub(crate) String);

impl TimerId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for TimerId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pending or dead-lettered timer, as [`Timers::list`](crate::timers::Timers::list) and the test env show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerInfo {
    /// Its id.
    pub id: TimerId,
    /// The `#[timer]` method it runs.
    pub method: String,
    /// When it is due (for dead letters: when it was last due).
    pub due: SystemTime,
    /// The period of a recurring timer.
    pub every: Option<Duration>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// The schedule of a cron timer.
    #[cfg(feature = "cron")]
    pub cron: Option<String>,
}

/// One timer as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub id: String,
    pub method: String,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    pub due_ms: u64,
    /// For recurring timers: the period, and the scheduled time of this occurrence
    /// (retries move `due_ms`, not the anchor).
    pub every_ms: Option<u64>,
    pub anchor_ms: u64,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The object's name, for alarms that run before any state was saved.
    pub object: Option<String>,
    /// For cron timers: the schedule (UTC) each next occurrence is computed from. Absent
    /// from entries without one, so that their bytes are the same with or without the
    /// `cron` feature.
    #[cfg(feature = "cron")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
}

impl Entry {
    pub fn key(&self) -> String {
        format!("{TIMER_PREFIX}{:013}/{}", self.due_ms, self.id)
    }

    /// Whether duro runs this timer itself (the index publisher), rather than a
    /// `#[timer]` method. Internal timers are left out of timer listings.
    pub fn is_internal(&self) -> bool {
        self.method == PUBLISH_METHOD
    }

    pub fn info(&self) -> TimerInfo {
        TimerInfo {
            id: TimerId(self.id.clone()),
            method: self.method.clone(),
            due: UNIX_EPOCH + Duration::from_millis(self.due_ms),
            every: self.every_ms.map(Duration::from_millis),
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            #[cfg(feature = "cron")]
            cron: self.cron.clone(),
        }
    }

    /// The next occurrence of a recurring timer after `now`: on the schedule, once.
    pub fn next_after(&self, now: u64) -> Option<u64> {
        #[cfg(feature = "cron")]
        if let Some(pattern) = &self.cron {
            // Checked when scheduled; a pattern that fails now ends the timer.
            return crate::cron::next_after(pattern, now).ok();
        }
        let every = self.every_ms?.max(1);
        let missed = now.saturating_sub(self.anchor_ms) / every;
        Some(self.anchor_ms + (missed + 1) * every)
    }
}

/// Retry delay before attempt `attempts + 1`.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(20);
    (BACKOFF_BASE * factor).min(BACKOFF_CAP)
}

/// A change requested by a method through its `Ctx`.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Put(Entry),
    Cancel(String),
    /// Removes a dead letter.
    Forget(String),
}

/// The in-memory copy of the timer table: entries sorted by storage key (due time, then
/// id). A plain sorted vector: most tables hold one or two timers, and a B-tree and a hash
/// index would cost every worker about 15 KB of wasm for them.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// `(storage key, entry)`, sorted by key. Entries are boxed so that moving one is cheap.
    entries: Vec<(String, Box<Entry>)>,
}

impl Table {
    pub async fn load(storage: &dyn Storage) -> Result<Table> {
        let mut entries = Vec::new();
        // `list` returns keys in order, so the vector is sorted.
        for (key, value) in storage.list(TIMER_PREFIX, None, None).await? {
            let entry: Entry = wire::decode(&value)
                .map_err(|e| Error::internal(format!("stored timer {key} does not decode: {e}")))?;
            entries.push((key, Box::new(entry)));
        }
        Ok(Table { entries })
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.entries.iter().position(|(_, e)| e.id == id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.position(id).is_some()
    }

    /// The entries in due order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().map(|(_, e)| &**e)
    }

    pub fn earliest(&self) -> Option<u64> {
        self.entries.first().map(|(_, e)| e.due_ms)
    }

    pub fn first_due(&self, now: u64) -> Option<&Entry> {
        self.entries
            .first()
            .map(|(_, e)| &**e)
            .filter(|e| e.due_ms <= now)
    }

    pub fn remove(&mut self, id: &str, batch: &mut Batch) -> Option<Entry> {
        let (key, entry) = self.entries.remove(self.position(id)?);
        batch.delete(key);
        Some(*entry)
    }

    pub fn insert(&mut self, entry: Entry, batch: &mut Batch) -> Result<()> {
        self.remove(&entry.id, batch);
        let key = entry.key();
        batch.put(key.clone(), wire::encode(&entry)?);
        let at = self.entries.partition_point(|(k, _)| *k < key);
        self.entries.insert(at, (key, Box::new(entry)));
        Ok(())
    }

    pub fn apply(&mut self, ops: Vec<Op>, batch: &mut Batch) -> Result<()> {
        for op in ops {
            match op {
                Op::Put(entry) => self.insert(entry, batch)?,
                Op::Cancel(id) => {
                    self.remove(&id, batch);
                }
                Op::Forget(id) => batch.delete(dead_key(&id)),
            }
        }
        Ok(())
    }
}

/// The storage key of the dead letter `id`.
pub(crate) fn dead_key(id: &str) -> String {
    format!("{DEAD_PREFIX}{id}")
}

/// Reads the dead letters, in id order.
pub(crate) async fn dead_letters(storage: &dyn Storage) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (key, value) in storage.list(DEAD_PREFIX, None, None).await? {
        let entry: Entry = wire::decode(&value).map_err(|e| {
            Error::internal(format!("stored dead letter {key} does not decode: {e}"))
        })?;
        out.push(entry);
    }
    Ok(out)
}

/// Decodes every timer under `prefix` from a storage dump (pending or dead letters).
#[cfg(feature = "testing")]
pub(crate) fn decode_all<'a>(
    entries: impl Iterator<Item = (&'a String, &'a Vec<u8>)>,
    prefix: &str,
) -> Vec<TimerInfo> {
    entries
        .filter(|(k, _)| k.starts_with(prefix))
        .filter_map(|(_, v)| wire::decode::<Entry>(v).ok())
        .filter(|e| !e.is_internal())
        .map(|e| e.info())
        .collect()
}

/// The failure recorded when a stored timer names a method the object no longer has.
pub(crate) fn unknown_timer(class: &str, method: &str) -> Error {
    Error::new(
        ErrorCode::UnknownMethod,
        format!("{class} has no #[timer] method `{method}`"),
    )
}

/// Timer changes a method asked for, applied when it returns `Ok`.
pub(crate) type Ops = RefCell<Vec<Op>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(due: u64, every: Option<u64>) -> Entry {
        Entry {
            id: "x".into(),
            method: "m".into(),
            payload: vec![],
            due_ms: due,
            every_ms: every,
            anchor_ms: due,
            attempts: 0,
            last_error: None,
            object: None,
            #[cfg(feature = "cron")]
            cron: None,
        }
    }

    #[test]
    fn keys_sort_by_due_time() {
        let a = entry(999, None).key();
        let b = entry(1_000, None).key();
        let c = entry(1_735_689_600_000, None).key();
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn recurring_timers_do_not_drift_or_pile_up() {
        let e = entry(1_000, Some(100));
        // On time: the next occurrence is one period later.
        assert_eq!(e.next_after(1_000), Some(1_100));
        // Ran late: still on the grid.
        assert_eq!(e.next_after(1_042), Some(1_100));
        // After long downtime: one catch-up run now, then back on the grid.
        assert_eq!(e.next_after(10_050), Some(10_100));
        assert_eq!(entry(5, None).next_after(10), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(40), BACKOFF_CAP);
    }

    mod model {
        //! `Batch` and `Table` against `BTreeMap` models.
        use std::collections::{BTreeMap, BTreeSet};

        use proptest::prelude::*;

        use super::super::*;
        use super::entry;

        #[derive(Debug, Clone)]
        enum TableOp {
            Insert(u8, u64),
            Remove(u8),
        }

        fn table_op() -> impl Strategy<Value = TableOp> {
            prop_oneof![
                (0u8..8, 0u64..20).prop_map(|(id, due)| TableOp::Insert(id, due)),
                (0u8..8).prop_map(TableOp::Remove),
            ]
        }

        proptest! {
            #[test]
            fn a_table_stays_in_due_order_with_one_entry_per_id(ops in proptest::collection::vec(table_op(), 0..40)) {
                let mut table = Table::default();
                let mut batch = Batch::default();
                let mut model: BTreeMap<String, Entry> = BTreeMap::new();
                for op in ops {
                    match op {
                        TableOp::Insert(id, due) => {
                            let e = Entry { id: format!("t{id}"), ..entry(1_000 + due, None) };
                            table.insert(e.clone(), &mut batch).unwrap();
                            model.retain(|_, m| m.id != e.id);
                            model.insert(e.key(), e);
                        }
                        TableOp::Remove(id) => {
                            let id = format!("t{id}");
                            let removed = table.remove(&id, &mut batch).map(|e| e.key());
                            let key = model.iter().find(|(_, m)| m.id == id).map(|(k, _)| k.clone());
                            prop_assert_eq!(&removed, &key);
                            if let Some(key) = key {
                                model.remove(&key);
                            }
                        }
                    }
                    let got: Vec<String> = table.entries().map(Entry::key).collect();
                    let want: Vec<String> = model.keys().cloned().collect();
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(table.earliest(), model.values().next().map(|e| e.due_ms));
                    for id in 0..8 {
                        let id = format!("t{id}");
                        prop_assert_eq!(table.contains(&id), model.values().any(|m| m.id == id));
                    }
                }
                // The batch ends as the table: every stored key put, every removed one deleted.
                let stored: BTreeSet<String> = model.keys().cloned().collect();
                let put: BTreeSet<String> = batch.puts.iter().map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(put, stored);
            }
        }
    }
}
