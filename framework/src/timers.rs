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
//! - A recurring timer (`every`, or `cron` with the `cron` feature) gets its next due time
//!   from its schedule, not from when it ran, so it does not drift; after downtime it runs
//!   once to catch up, not once per missed period.
//! - One alarm invocation runs at most [`MAX_PER_ALARM`] due timers, then re-arms the alarm
//!   immediately for the rest, which keeps each invocation well inside the CPU budget.

use std::marker::PhantomData;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::clock::millis;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::object::Object;
use crate::storage::Batch;
use crate::table::{self, Entry, Op, Table};
use crate::wire;

pub use crate::table::{
    TimerId, TimerInfo, BACKOFF_BASE, BACKOFF_CAP, MAX_ATTEMPTS, MAX_PER_ALARM,
};

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
        Ok(self.put(self.entry::<S, P>(due, None, timer, &payload)?))
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
        Ok(self.put(self.entry::<S, P>(due, None, timer, &payload)?))
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
        Ok(self.put(self.entry::<S, P>(due, Some(every), timer, &payload)?))
    }

    /// Runs `timer` with `payload` at every occurrence of the cron `schedule`, in UTC (the
    /// `cron` feature). Five fields, `minute hour day-of-month month day-of-week`
    /// (`"*/5 * * * *"`: every five minutes; `"0 9 * * MON-FRI"`: 09:00 on weekdays), or
    /// six with seconds first (`"*/10 * * * * *"`); also `@hourly`, `@daily`, `@weekly`.
    ///
    /// Each next occurrence comes from the schedule, never from when the last run ended;
    /// after downtime the timer runs once to catch up, then goes on with the first
    /// occurrence after that run. A pattern that does not parse is a `bad_request`.
    ///
    /// ```
    /// use duro::prelude::*;
    ///
    /// #[duro::object]
    /// #[derive(Default, Serialize, Deserialize)]
    /// pub struct Report { sent: u32 }
    ///
    /// #[duro::methods]
    /// impl Report {
    ///     #[rpc]
    ///     fn start(&mut self, ctx: &Ctx) -> duro::Result<()> {
    ///         ctx.timers().named("daily").cron("0 6 * * *", Self::send, "ops".to_string())?;
    ///         Ok(())
    ///     }
    ///
    ///     #[timer]
    ///     fn send(&mut self, _to: String) {
    ///         self.sent += 1;
    ///     }
    ///
    ///     #[rpc]
    ///     fn sent(&self) -> u32 { self.sent }
    /// }
    ///
    /// # futures::executor::block_on(async {
    /// let env = duro::testing::TestEnv::new(); // 2025-01-01 00:00 UTC
    /// let report = env.stub::<Report>("r");
    /// report.start().await?;
    /// env.advance(std::time::Duration::from_secs(30 * 3600)).await; // to 06:00 on the 2nd
    /// assert_eq!(report.sent().await?, 2);
    /// # Ok::<(), duro::Error>(())
    /// # }).unwrap();
    /// ```
    #[cfg(feature = "cron")]
    pub fn cron<S: Object, P: Serialize>(
        &self,
        schedule: &str,
        timer: Timer<S, P>,
        payload: P,
    ) -> Result<TimerId> {
        let due = crate::cron::next_after(schedule, self.ctx.now_ms())?;
        let mut entry = self.entry::<S, P>(due, None, timer, &payload)?;
        entry.cron = Some(schedule.to_owned());
        Ok(self.put(entry))
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

    /// The dead-lettered timers (those that failed [`MAX_ATTEMPTS`] times), as stored
    /// before this call, oldest id first.
    pub async fn dead(&self) -> Result<Vec<TimerInfo>> {
        Ok(table::dead_letters(self.ctx.storage())
            .await?
            .iter()
            .map(Entry::info)
            .collect())
    }

    /// Schedules the dead-lettered timer `id` to run again now, with a fresh count of
    /// attempts, and removes it from the dead-letter list (when this call returns `Ok`).
    /// Returns `false` if there is no such dead letter.
    pub async fn retry_dead(&self, id: &TimerId) -> Result<bool> {
        let Some(entry) = self.dead_letter(id).await? else {
            return Ok(false);
        };
        let now = self.ctx.now_ms();
        self.ctx.push_timer_op(Op::Forget(entry.id.clone()));
        self.ctx.push_timer_op(Op::Put(Entry {
            due_ms: now,
            anchor_ms: now,
            attempts: 0,
            last_error: None,
            ..entry
        }));
        Ok(true)
    }

    /// Removes the dead-lettered timer `id` for good (when this call returns `Ok`).
    /// Returns `false` if there is no such dead letter.
    pub async fn discard_dead(&self, id: &TimerId) -> Result<bool> {
        let found = self.dead_letter(id).await?.is_some();
        if found {
            self.ctx.push_timer_op(Op::Forget(id.0.clone()));
        }
        Ok(found)
    }

    async fn dead_letter(&self, id: &TimerId) -> Result<Option<Entry>> {
        let key = table::dead_key(&id.0);
        let stored = self.ctx.storage().get(std::slice::from_ref(&key)).await?;
        match stored.into_iter().next().flatten() {
            None => Ok(None),
            Some(bytes) => wire::decode(&bytes).map(Some).map_err(|e| {
                Error::internal(format!("stored dead letter {key} does not decode: {e}"))
            }),
        }
    }

    /// Puts `entry` into the table when the running method succeeds.
    fn put(&self, entry: Entry) -> TimerId {
        let id = TimerId(entry.id.clone());
        self.ctx.push_timer_op(Op::Put(entry));
        id
    }

    /// A new entry for `timer`, checked: a timer of this object's class, a valid name.
    fn entry<S: Object, P: Serialize>(
        &self,
        due_ms: u64,
        every_ms: Option<u64>,
        timer: Timer<S, P>,
        payload: &P,
    ) -> Result<Entry> {
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
        Ok(Entry {
            id,
            method: timer.name.to_owned(),
            payload: wire::encode(payload)?,
            due_ms,
            every_ms,
            anchor_ms: due_ms,
            attempts: 0,
            last_error: None,
            object: Some(self.ctx.name().to_owned()).filter(|n| !n.is_empty()),
            #[cfg(feature = "cron")]
            cron: None,
        })
    }
}

impl Ctx {
    /// Schedules, cancels and lists this object's durable timers.
    pub fn timers(&self) -> Timers<'_> {
        Timers::new(self)
    }
}
