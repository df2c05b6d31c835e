//! Durable timers: many named, typed, recurring timers over the one Durable Object alarm.
//!
//! Mark a method `#[timer]` and schedule it from any call or timer through
//! [`Ctx::timers`](crate::Ctx::timers):
//!
//! ```
//! use std::time::Duration;
//! use duro::prelude::*;
//!
//! #[duro::object]
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Reminder { fired: Vec<String> }
//!
//! #[duro::methods]
//! impl Reminder {
//!     #[rpc]
//!     fn remind(&mut self, ctx: &Ctx, what: String, secs: u64) -> duro::Result<()> {
//!         ctx.timers().named(what.clone()).after(Duration::from_secs(secs), Self::ring, what)?;
//!         Ok(())
//!     }
//!
//!     #[timer]
//!     async fn ring(&mut self, _ctx: &Ctx, what: String) -> duro::Result<()> {
//!         self.fired.push(what);
//!         Ok(())
//!     }
//!
//!     #[rpc]
//!     fn fired(&self) -> Vec<String> { self.fired.clone() }
//! }
//!
//! # futures::executor::block_on(async {
//! let env = duro::testing::TestEnv::new();
//! let r = env.stub::<Reminder>("me");
//! r.remind("tea".into(), 60).await?;
//! env.advance(Duration::from_secs(59)).await;
//! assert!(r.fired().await?.is_empty());
//! env.advance(Duration::from_secs(1)).await;
//! assert_eq!(r.fired().await?, vec!["tea".to_string()]);
//! # Ok::<(), duro::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Semantics
//!
//! - The table lives in the object's storage under `__duro/t/<due ms, 13 digits>/<id>`, so
//!   keys sort by due time; the platform alarm is set to the earliest entry, or deleted.
//! - Scheduling and cancelling inside a method take effect only if the method succeeds, in
//!   the same atomic storage write as the state.
//! - Delivery is at least once: an entry is removed in the same atomic write that saves the
//!   state after its method returned `Ok`. A timer that fails (returns `Err`, panics, or its
//!   save fails) is retried after [`BACKOFF_BASE`] × 2^(attempt−1), capped at
//!   [`BACKOFF_CAP`]; after [`MAX_ATTEMPTS`] attempts it moves to the dead-letter list
//!   (`__duro/dead/<id>`) with its last error, and a `tracing` error is emitted.
//!   [`Ctx::attempt`](crate::Ctx::attempt) says which attempt is running.
//! - Timers run as turns: never interleaved with a call or another timer.
//! - A recurring timer's next due time is computed from its schedule, not from when it ran,
//!   so it does not drift; after downtime it runs once to catch up, not once per missed
//!   period.
//! - One alarm invocation runs at most [`MAX_PER_ALARM`] due timers, then re-arms the alarm
//!   immediately for the rest, which keeps each invocation well inside the CPU budget.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::{Error, ErrorCode, Result};
use crate::object::Object;
use crate::storage::Storage;
use crate::wire;

/// Prefix of pending timers.
pub(crate) const TIMER_PREFIX: &str = "__duro/t/";
/// Prefix of dead-lettered timers.
pub(crate) const DEAD_PREFIX: &str = "__duro/dead/";
/// Attempts before a failing timer is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 6;
/// Delay before the first retry; each further retry doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest delay between retries.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60 * 60);
/// Most due timers one alarm invocation runs.
pub const MAX_PER_ALARM: usize = 256;

/// A `#[timer]` method of object `S` taking payload `P`: what `Self::method` names inside
/// `#[duro::methods]` once the method is marked `#[timer]`.
pub struct Timer<S, P> {
    name: &'static str,
    _marker: PhantomData<fn(S, P)>,
}

impl<S, P> Clone for Timer<S, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S, P> Copy for Timer<S, P> {}

impl<S, P> core::fmt::Debug for Timer<S, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Timer({})", self.name)
    }
}

impl<S, P> Timer<S, P> {
    #[doc(hidden)]
    pub const fn __new(name: &'static str) -> Self {
        Timer {
            name,
            _marker: PhantomData,
        }
    }

    /// The timer method's wire name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Identifies a scheduled timer: its name when it was scheduled with
/// [`Timers::named`], otherwise a generated id starting with `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerId(String);

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

/// A pending or dead-lettered timer, as [`Timers::list`] and the test env show it.
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
}

impl Entry {
    pub fn key(&self) -> String {
        format!("{TIMER_PREFIX}{:013}/{}", self.due_ms, self.id)
    }

    /// Whether duro runs this timer itself (the index publisher), rather than a
    /// `#[timer]` method. Internal timers are left out of timer listings.
    pub fn is_internal(&self) -> bool {
        self.method == crate::index::PUBLISH_METHOD
    }

    pub fn info(&self) -> TimerInfo {
        TimerInfo {
            id: TimerId(self.id.clone()),
            method: self.method.clone(),
            due: UNIX_EPOCH + Duration::from_millis(self.due_ms),
            every: self.every_ms.map(Duration::from_millis),
            attempts: self.attempts,
            last_error: self.last_error.clone(),
        }
    }

    /// The next occurrence of a recurring timer after `now`: on the schedule, once.
    pub fn next_after(&self, now: u64) -> Option<u64> {
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
}

/// The in-memory copy of the timer table: entries sorted by storage key (due time, then
/// id). A plain sorted vector: most tables hold one or two timers, and a B-tree and a hash
/// index would cost every worker about 15 KB of wasm for them.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// `(storage key, entry)`, sorted by key. Entries are boxed so that moving one is cheap.
    entries: Vec<(String, Box<Entry>)>,
}

/// Storage changes, merged so that a key is either put or deleted (the last change to a
/// key wins).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub puts: Vec<(String, Vec<u8>)>,
    pub deletes: Vec<String>,
}

impl Batch {
    pub fn put(&mut self, key: String, value: Vec<u8>) {
        self.deletes.retain(|k| *k != key);
        match self.puts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.puts.push((key, value)),
        }
    }

    pub fn delete(&mut self, key: String) {
        self.puts.retain(|(k, _)| *k != key);
        if !self.deletes.contains(&key) {
            self.deletes.push(key);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

impl Table {
    pub async fn load(storage: &dyn Storage) -> Result<Table> {
        let mut entries = Vec::new();
        // `list` returns keys in order, so the vector is sorted.
        for (key, value) in storage.list(TIMER_PREFIX, None).await? {
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
            }
        }
        Ok(())
    }
}

/// Schedules, cancels and lists this object's timers. From [`Ctx::timers`].
///
/// Changes take effect when the running method returns `Ok`, atomically with its state.
pub struct Timers<'a> {
    ctx: &'a Ctx,
    name: Option<String>,
}

impl core::fmt::Debug for Timers<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Timers").field("name", &self.name).finish()
    }
}

impl<'a> Timers<'a> {
    pub(crate) fn new(ctx: &'a Ctx) -> Self {
        Timers { ctx, name: None }
    }

    /// Names the timer to be scheduled: scheduling the same name again replaces it, and
    /// the name is its [`TimerId`]. Names are 1–128 bytes, without `/`, not starting
    /// with `#`.
    pub fn named(&self, name: impl Into<String>) -> Timers<'a> {
        Timers {
            ctx: self.ctx,
            name: Some(name.into()),
        }
    }

    /// Runs `timer` with `payload` once, `delay` from now.
    pub fn after<S: Object, P: Serialize>(
        &self,
        delay: Duration,
        timer: Timer<S, P>,
        payload: P,
    ) -> Result<TimerId> {
        let due = self.ctx.now_ms().saturating_add(millis(delay));
        self.schedule::<S, P>(due, None, timer, &payload)
    }

    /// Runs `timer` with `payload` once at `when` (at once if `when` has passed).
    pub fn at<S: Object, P: Serialize>(
        &self,
        when: SystemTime,
        timer: Timer<S, P>,
        payload: P,
    ) -> Result<TimerId> {
        let due = when
            .duration_since(UNIX_EPOCH)
            .map(millis)
            .unwrap_or_default();
        self.schedule::<S, P>(due, None, timer, &payload)
    }

    /// Runs `timer` with `payload` every `period`, the first time one period from now.
    pub fn every<S: Object, P: Serialize>(
        &self,
        period: Duration,
        timer: Timer<S, P>,
        payload: P,
    ) -> Result<TimerId> {
        let every = millis(period);
        if every == 0 {
            return Err(Error::bad_request(
                "a recurring timer needs a period of at least 1 ms",
            ));
        }
        let due = self.ctx.now_ms().saturating_add(every);
        self.schedule::<S, P>(due, Some(every), timer, &payload)
    }

    /// Cancels a timer by id (or name). Cancelling a timer that does not exist does nothing.
    pub fn cancel(&self, id: &TimerId) {
        self.ctx.push_timer_op(Op::Cancel(id.0.clone()));
    }

    /// Cancels the timer scheduled under `name`.
    pub fn cancel_named(&self, name: &str) {
        self.ctx.push_timer_op(Op::Cancel(name.to_owned()));
    }

    /// The pending timers, in due order, including changes made earlier in this call.
    /// duro's own index publish timer is left out.
    pub async fn list(&self) -> Result<Vec<TimerInfo>> {
        let mut table = Table::load(self.ctx.storage()).await?;
        table.apply(self.ctx.timer_ops(), &mut Batch::default())?;
        Ok(table
            .entries()
            .filter(|e| !e.is_internal())
            .map(|e| e.info())
            .collect())
    }

    fn schedule<S: Object, P: Serialize>(
        &self,
        due_ms: u64,
        every_ms: Option<u64>,
        timer: Timer<S, P>,
        payload: &P,
    ) -> Result<TimerId> {
        if S::CLASS != self.ctx.class() {
            return Err(Error::bad_request(format!(
                "{}::{} is a timer of {}, not of {}",
                S::CLASS,
                timer.name,
                S::CLASS,
                self.ctx.class()
            )));
        }
        let id = match &self.name {
            Some(name) => {
                if name.is_empty()
                    || name.len() > 128
                    || name.contains('/')
                    || name.starts_with('#')
                {
                    return Err(Error::bad_request(format!(
                        "timer names are 1-128 bytes without `/`, not starting with `#`: {name:?}"
                    )));
                }
                name.clone()
            }
            None => format!("#{:x}", self.ctx.random_u64()),
        };
        let entry = Entry {
            id: id.clone(),
            method: timer.name.to_owned(),
            payload: wire::encode(payload)?,
            due_ms,
            every_ms,
            anchor_ms: due_ms,
            attempts: 0,
            last_error: None,
            object: Some(self.ctx.name().to_owned()).filter(|n| !n.is_empty()),
        };
        self.ctx.push_timer_op(Op::Put(entry));
        Ok(TimerId(id))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
        //! `Batch` and `Table` against `BTreeMap` models.
        use std::collections::{BTreeMap, BTreeSet};

        use proptest::prelude::*;

        use super::super::*;
        use super::entry;

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
