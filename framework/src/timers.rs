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
use std::collections::{BTreeMap, BTreeSet, HashMap};
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

/// The in-memory copy of the timer table.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Boxed: a B-tree leaf holds room for eleven values, and most tables hold one or two
    /// timers, so unboxed entries cost every object about 2 KiB of wasm memory.
    by_key: BTreeMap<String, Box<Entry>>,
    key_of: HashMap<String, String>,
}

/// Storage changes, merged so that a key is either put or deleted.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub puts: BTreeMap<String, Vec<u8>>,
    pub deletes: BTreeSet<String>,
}

impl Batch {
    pub fn put(&mut self, key: String, value: Vec<u8>) {
        self.deletes.remove(&key);
        self.puts.insert(key, value);
    }

    pub fn delete(&mut self, key: String) {
        self.puts.remove(&key);
        self.deletes.insert(key);
    }

    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

impl Table {
    pub async fn load(storage: &dyn Storage) -> Result<Table> {
        let mut table = Table::default();
        for (key, value) in storage.list(TIMER_PREFIX, None).await? {
            let entry: Entry = wire::decode(&value)
                .map_err(|e| Error::internal(format!("stored timer {key} does not decode: {e}")))?;
            table.key_of.insert(entry.id.clone(), key.clone());
            table.by_key.insert(key, Box::new(entry));
        }
        Ok(table)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.key_of.contains_key(id)
    }

    pub fn earliest(&self) -> Option<u64> {
        self.by_key.values().next().map(|e| e.due_ms)
    }

    pub fn first_due(&self, now: u64) -> Option<&Entry> {
        self.by_key
            .values()
            .next()
            .map(|e| &**e)
            .filter(|e| e.due_ms <= now)
    }

    pub fn remove(&mut self, id: &str, batch: &mut Batch) -> Option<Entry> {
        let key = self.key_of.remove(id)?;
        batch.delete(key.clone());
        self.by_key.remove(&key).map(|e| *e)
    }

    pub fn insert(&mut self, entry: Entry, batch: &mut Batch) -> Result<()> {
        self.remove(&entry.id, batch);
        let key = entry.key();
        batch.put(key.clone(), wire::encode(&entry)?);
        self.key_of.insert(entry.id.clone(), key.clone());
        self.by_key.insert(key, Box::new(entry));
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
            .by_key
            .values()
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
        assert_eq!(b.puts.keys().collect::<Vec<_>>(), vec!["b"]);
        assert_eq!(b.deletes.iter().collect::<Vec<_>>(), vec!["a"]);
    }
}
