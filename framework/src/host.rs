//! [`Host`]: one live object. It loads the state once per activation, runs calls as turns,
//! and saves the state before a mutating call's reply leaves.
//!
//! # Turns
//!
//! Every call, read or write, holds the object's turn while it runs: a call starts when the
//! previous one has returned (and, for a mutating call, its state has been saved). A method
//! that awaits another object keeps holding its turn while it waits, so two objects whose
//! methods call each other wait on each other forever; have one side schedule the work, or
//! call from the worker instead.
//!
//! # Failures
//!
//! A mutating call that returns `Err`, panics (where the platform lets us observe it) or
//! whose save fails leaves both the stored and the in-memory state as they were: the
//! in-memory state is restored from the last saved bytes.
//!
//! # Index
//!
//! For objects with an `#[index]` projection, a turn that changes the state schedules a
//! publish on the timer table; the host runs that timer itself (see `publish.rs` and
//! [`crate::index`]).

mod publish;

use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use futures::lock::Mutex;
use futures::FutureExt;
use tracing::Instrument;

use crate::ctx::{Ctx, Platform};
use crate::error::{Error, ErrorCode, Result};
use crate::index::{self, Book};
use crate::object::{Kind, Object};
use crate::persist;
use crate::storage::{Storage, StorageStats};
use crate::timers::{self, Batch, Entry, Table, DEAD_PREFIX, MAX_ATTEMPTS, MAX_PER_ALARM};
use crate::wire::{self, CallHead, Failure, Reply};

/// What a host is made of.
#[doc(hidden)]
pub struct HostParts {
    pub storage: Rc<dyn Storage>,
    pub platform: Rc<dyn Platform>,
    pub body_limit: usize,
}

/// Counters of one live object, for stats views and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Times the state was loaded from storage.
    pub activations: u64,
    /// Calls handled (including failed ones).
    pub calls: u64,
    /// Alarm invocations handled.
    pub alarms: u64,
    /// Index entries written to KV (puts and deletes).
    pub index_writes: u64,
    /// Storage operations.
    pub storage: StorageStats,
}

/// A type-erased host, as transports and test environments hold it.
#[doc(hidden)]
pub trait Endpoint {
    /// Handles one call.
    fn handle<'a>(
        &'a self,
        head: CallHead<'a>,
        name: Option<&'a str>,
        body: &'a [u8],
    ) -> LocalBoxFuture<'a, Reply>;
    /// Counters.
    fn stats(&self) -> HostStats;
    /// Runs the due timers (the platform alarm fired).
    fn alarm(&self) -> LocalBoxFuture<'_, Result<AlarmReport>>;
}

/// What one alarm invocation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmReport {
    /// Timers whose method returned `Ok` and whose effects were saved.
    pub succeeded: u32,
    /// Timers that failed and were rescheduled or dead-lettered.
    pub failed: u32,
}

#[doc(hidden)]
pub fn spawn_host<T: Object>(parts: HostParts) -> Rc<dyn Endpoint> {
    Rc::new(Host::<T>::new(parts))
}

struct Loaded<T> {
    value: T,
    /// The body as last saved (or, for a new object, the encoded default).
    saved: Vec<u8>,
    /// How many chunks the stored state has.
    chunks: u32,
    /// Set when the stored state was written by a newer schema: writes are refused.
    newer_schema: Option<u32>,
    /// The timer table, loaded on first use.
    timers: Option<Table>,
    /// The platform alarm as last set by this host (`None`: unknown).
    alarm: Option<Option<u64>>,
    /// Whether the state is in storage (false for a new or deleted object).
    stored: bool,
    /// The index bookkeeping, for objects with an `#[index]` projection.
    book: Option<Book>,
    /// A sequence number this activation reserved in storage and has not used yet.
    fresh_seq: Option<u64>,
}

/// One live object of type `T`.
pub struct Host<T: Object> {
    storage: Rc<dyn Storage>,
    platform: Rc<dyn Platform>,
    body_limit: usize,
    slot: Mutex<Option<Loaded<T>>>,
    name: RefCell<Option<Rc<str>>>,
    activations: Cell<u64>,
    calls: Cell<u64>,
    alarms: Cell<u64>,
    index_writes: Cell<u64>,
}

impl<T: Object> Host<T> {
    /// A host over `parts`; nothing is loaded until the first call.
    pub fn new(parts: HostParts) -> Self {
        Host {
            storage: parts.storage,
            platform: parts.platform,
            body_limit: parts.body_limit,
            slot: Mutex::new(None),
            name: RefCell::new(None),
            activations: Cell::new(0),
            calls: Cell::new(0),
            alarms: Cell::new(0),
            index_writes: Cell::new(0),
        }
    }

    /// The request body limit in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Counters.
    pub fn stats(&self) -> HostStats {
        HostStats {
            activations: self.activations.get(),
            calls: self.calls.get(),
            alarms: self.alarms.get(),
            index_writes: self.index_writes.get(),
            storage: self.storage.stats(),
        }
    }

    /// Handles a call as it came over the wire: checks the head and the body size, then
    /// runs the method.
    pub async fn handle(&self, head: CallHead<'_>, name: Option<&str>, body: &[u8]) -> Reply {
        let method = match wire::check_head(&head, self.body_limit)
            .and_then(|m| wire::check_len(body.len() as u64, self.body_limit).map(|()| m))
        {
            Ok(m) => m,
            Err(e) => {
                self.calls.set(self.calls.get() + 1);
                tracing::debug!(class = T::CLASS, error = %e, "duro call rejected");
                return Reply::error(e);
            }
        };
        self.call(method, name, body).await
    }

    /// Runs `method` with encoded arguments and returns the encoded reply.
    pub async fn call(&self, method: &str, name: Option<&str>, args: &[u8]) -> Reply {
        self.calls.set(self.calls.get() + 1);
        if let Some(name) = name {
            let mut known = self.name.borrow_mut();
            if known.as_deref() != Some(name) {
                *known = Some(name.into());
            }
        }
        let object = self.name.borrow().clone().unwrap_or_else(|| "".into());
        let span = tracing::info_span!(
            "duro.call",
            class = T::CLASS,
            object = &*object,
            method,
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = self.platform.now_ms();
        let result = self
            .run(method, object.clone(), args)
            .instrument(span.clone())
            .await;
        let elapsed = self.platform.now_ms().saturating_sub(started);
        span.record("duration_ms", elapsed);
        match result {
            Ok(body) => {
                span.record("outcome", "ok");
                Reply::ok(body)
            }
            Err(f) => {
                span.record("outcome", f.error.code().as_str());
                let _enter = span.enter();
                // The event names the call itself: tracing-wasm prints no span fields.
                let (class, object, outcome) = (T::CLASS, &*object, f.error.code().as_str());
                if f.error.code() == ErrorCode::Internal {
                    tracing::error!(class, object, method, outcome, error = %f.error, "duro call failed");
                } else {
                    tracing::debug!(class, object, method, outcome, error = %f.error, "duro call failed");
                }
                Reply::failure(&f)
            }
        }
    }

    async fn run(
        &self,
        method: &str,
        object: Rc<str>,
        args: &[u8],
    ) -> core::result::Result<Vec<u8>, Failure> {
        if method == index::REPUBLISH_METHOD {
            return self.republish().await;
        }
        let kind = T::__kind(method).ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownMethod,
                format!("{} has no RPC method `{method}`", T::CLASS),
            )
        })?;
        let mut slot = self.slot.lock().await;
        let loaded = match &mut *slot {
            Some(loaded) => loaded,
            empty => empty.insert(self.load().await?),
        };
        let ctx = Ctx::new(
            T::CLASS,
            object,
            self.platform.clone(),
            self.storage.clone(),
        );
        match kind {
            Kind::Read => AssertUnwindSafe(loaded.value.__call_ref(&ctx, method, args))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(panicked(method, panic).into())),
            Kind::Write => {
                if let Some(schema) = loaded.newer_schema {
                    return Err(Error::new(
                        ErrorCode::SchemaConflict,
                        format!(
                            "the stored state of {} has schema {schema}, newer than this code's {}; \
                             refusing to overwrite it",
                            T::CLASS,
                            T::SCHEMA
                        ),
                    )
                    .into());
                }
                let outcome = AssertUnwindSafe(loaded.value.__call_mut(&ctx, method, args))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| Err(panicked(method, panic).into()));
                let saved = match outcome {
                    Ok(reply) => self
                        .commit(loaded, &ctx, Batch::default(), true)
                        .await
                        .map(|()| reply),
                    Err(f) => Err(f),
                };
                if saved.is_err() && self.rollback(loaded).is_err() {
                    // The last saved bytes always decode; if they somehow do not, reload.
                    *slot = None;
                }
                saved
            }
        }
    }

    async fn load(&self) -> Result<Loaded<T>> {
        self.activations.set(self.activations.get() + 1);
        // The index bookkeeping comes in the same storage read as the state.
        let extra: Vec<String> = T::__INDEX
            .iter()
            .map(|spec| index::book_key(spec.index))
            .collect();
        let (stored, extra) = persist::load_with(&*self.storage, &extra).await?;
        let book = T::__INDEX.map(|_| self.decode_book(extra.into_iter().next().flatten()));
        let Some(stored) = stored else {
            let value = T::default();
            let saved = wire::encode(&value)?;
            return Ok(Loaded {
                value,
                saved,
                chunks: 0,
                newer_schema: None,
                timers: None,
                alarm: None,
                stored: false,
                book,
                fresh_seq: None,
            });
        };
        let value: T = wire::decode(&stored.body).map_err(|e| {
            Error::internal(format!(
                "the stored state of {} (schema {}) does not decode: {e}",
                T::CLASS,
                stored.schema
            ))
        })?;
        if stored.name.is_some() && self.name.borrow().is_none() {
            *self.name.borrow_mut() = stored.name.as_deref().map(Rc::from);
        }
        Ok(Loaded {
            value,
            saved: stored.body,
            chunks: stored.chunks,
            newer_schema: (stored.schema > T::SCHEMA).then_some(stored.schema),
            timers: None,
            alarm: None,
            stored: true,
            book,
            fresh_seq: None,
        })
    }

    /// Saves the state if its bytes changed, with the timer changes the call asked for and
    /// `batch`, in one atomic write (or deletes everything when asked). `sync` also moves
    /// the platform alarm to the earliest timer.
    async fn commit(
        &self,
        loaded: &mut Loaded<T>,
        ctx: &Ctx,
        mut batch: Batch,
        sync: bool,
    ) -> core::result::Result<(), Failure> {
        let ops = ctx.take_timer_ops();
        if ctx.delete_requested() {
            self.storage.delete_all().await?;
            loaded.value = T::default();
            loaded.saved = wire::encode(&loaded.value)?;
            loaded.chunks = 0;
            loaded.timers = Some(Table::default());
            loaded.alarm = Some(None);
            loaded.stored = false;
            self.keep_book_after_delete(loaded, sync).await;
            return Ok(());
        }
        let body = wire::encode(&loaded.value)?;
        let changed = body != loaded.saved;
        let mut chunks = loaded.chunks;
        if changed {
            let name = self.name.borrow().clone();
            let (puts, deletes, n) =
                persist::plan_write(T::SCHEMA, name.as_deref(), &body, loaded.chunks);
            for (k, v) in puts {
                batch.put(k, v);
            }
            for k in deletes {
                batch.delete(k);
            }
            chunks = n;
        }
        if !ops.is_empty() {
            self.table(loaded).await?.apply(ops, &mut batch)?;
        }
        // Schedules a publish in the same atomic write when the projection changed.
        let book = if changed {
            self.plan_publish(loaded, &mut batch, false).await?
        } else {
            None
        };
        if batch.is_empty() {
            return Ok(());
        }
        self.write_batch(loaded, batch).await?;
        if changed {
            loaded.saved = body;
            loaded.chunks = chunks;
            loaded.stored = true;
        }
        if let Some(book) = book {
            loaded.fresh_seq = Some(book.seq);
            loaded.book = Some(book);
        }
        if sync {
            self.sync_alarm(loaded).await;
        }
        Ok(())
    }

    /// Writes `batch` atomically. On failure the in-memory timer table may hold changes
    /// that did not land, so it is dropped and reloaded on next use.
    async fn write_batch(&self, loaded: &mut Loaded<T>, batch: Batch) -> Result<()> {
        let written = self.storage.write(batch.puts, batch.deletes).await;
        if written.is_err() {
            loaded.timers = None;
        }
        written
    }

    async fn table<'l>(&self, loaded: &'l mut Loaded<T>) -> Result<&'l mut Table> {
        match &mut loaded.timers {
            Some(table) => Ok(table),
            empty => Ok(empty.insert(Table::load(&*self.storage).await?)),
        }
    }

    /// Points the platform alarm at the earliest timer. A failure is logged, not returned:
    /// the state is already durable, and the next commit or alarm tries again.
    async fn sync_alarm(&self, loaded: &mut Loaded<T>) {
        let Some(table) = &loaded.timers else { return };
        let want = table.earliest();
        if loaded.alarm == Some(want) {
            return;
        }
        match self.storage.set_alarm(want).await {
            Ok(()) => loaded.alarm = Some(want),
            Err(e) => {
                loaded.alarm = None;
                tracing::error!(class = T::CLASS, error = %e, "setting the alarm failed");
            }
        }
    }

    /// Runs due timers, each as its own turn, at most [`MAX_PER_ALARM`] of them; then points
    /// the alarm at the next one (at once, if more are due).
    pub async fn alarm(&self) -> Result<AlarmReport> {
        self.alarms.set(self.alarms.get() + 1);
        let mut report = AlarmReport::default();
        let mut first = true;
        for _ in 0..MAX_PER_ALARM {
            let mut slot = self.slot.lock().await;
            let loaded = match &mut *slot {
                Some(loaded) => loaded,
                empty => empty.insert(self.load().await?),
            };
            if first {
                // The platform clears the alarm when it fires.
                loaded.alarm = Some(None);
                first = false;
            }
            let now = self.platform.now_ms();
            let Some(entry) = self.table(loaded).await?.first_due(now).cloned() else {
                break;
            };
            if self.name.borrow().is_none() {
                *self.name.borrow_mut() = entry.object.as_deref().map(Rc::from);
            }
            if entry.is_internal() {
                // The publisher releases the turn while KV is written.
                match self.run_publish(slot, entry, now).await? {
                    true => report.succeeded += 1,
                    false => report.failed += 1,
                }
                continue;
            }
            let outcome = self.run_timer(loaded, entry, now).await;
            match outcome {
                Ok(true) => report.succeeded += 1,
                Ok(false) => report.failed += 1,
                Err(e) => {
                    if self.rollback(loaded).is_err() {
                        *slot = None;
                    }
                    return Err(e);
                }
            }
        }
        let mut slot = self.slot.lock().await;
        if let Some(loaded) = &mut *slot {
            if loaded.timers.is_none() {
                self.table(loaded).await?;
            }
            self.sync_alarm(loaded).await;
        }
        Ok(report)
    }

    /// Runs one due timer. `Ok(true)`: it succeeded and its effects are saved; `Ok(false)`:
    /// it failed and was rescheduled or dead-lettered; `Err`: storage failed, nothing changed.
    async fn run_timer(&self, loaded: &mut Loaded<T>, entry: Entry, now: u64) -> Result<bool> {
        let object = self.name.borrow().clone().unwrap_or_else(|| "".into());
        let span = tracing::info_span!(
            "duro.timer",
            class = T::CLASS,
            object = &*object,
            timer = %entry.method,
            id = %entry.id,
            attempt = entry.attempts + 1,
            outcome = tracing::field::Empty,
        );
        let ctx = Ctx::new(
            T::CLASS,
            object,
            self.platform.clone(),
            self.storage.clone(),
        )
        .with_attempt(entry.attempts + 1);
        let outcome = if loaded.newer_schema.is_some() {
            Err(Failure::from(Error::new(
                ErrorCode::SchemaConflict,
                "the stored state has a newer schema; not running timers against it",
            )))
        } else {
            AssertUnwindSafe(
                loaded
                    .value
                    .__call_timer(&ctx, &entry.method, &entry.payload),
            )
            .catch_unwind()
            .instrument(span.clone())
            .await
            .unwrap_or_else(|panic| Err(panicked(&entry.method, panic).into()))
        };
        let mut batch = Batch::default();
        match outcome {
            Ok(()) => {
                span.record("outcome", "ok");
                let table = self.table(loaded).await?;
                table.remove(&entry.id, &mut batch);
                if let Some(next) = entry.next_after(now) {
                    let again = Entry {
                        due_ms: next,
                        anchor_ms: next,
                        attempts: 0,
                        last_error: None,
                        ..entry
                    };
                    table.insert(again, &mut batch)?;
                }
                self.commit(loaded, &ctx, batch, false)
                    .await
                    .map_err(|f| f.error)?;
                Ok(true)
            }
            Err(f) => {
                span.record("outcome", f.error.code().as_str());
                self.rollback(loaded)?;
                let attempts = entry.attempts + 1;
                let error = f.error.to_string();
                let table = self.table(loaded).await?;
                table.remove(&entry.id, &mut batch);
                let _enter = span.enter();
                let (class, timer) = (T::CLASS, &*entry.method);
                let object = self.name.borrow().clone().unwrap_or_else(|| "".into());
                let object = &*object;
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(class, object, timer, attempts, error = %error, "timer failed for the last time; moved to the dead-letter list");
                    let dead = Entry {
                        attempts,
                        last_error: Some(error),
                        ..entry
                    };
                    batch.put(format!("{DEAD_PREFIX}{}", dead.id), wire::encode(&dead)?);
                } else {
                    let retry_at = now.saturating_add(
                        u64::try_from(timers::backoff(attempts).as_millis()).unwrap_or(u64::MAX),
                    );
                    tracing::warn!(class, object, timer, attempts, retry_at, error = %error, "timer failed; will retry");
                    let retry = Entry {
                        due_ms: retry_at,
                        attempts,
                        last_error: Some(error),
                        ..entry
                    };
                    table.insert(retry, &mut batch)?;
                }
                self.write_batch(loaded, batch).await?;
                Ok(false)
            }
        }
    }

    fn rollback(&self, loaded: &mut Loaded<T>) -> Result<()> {
        loaded.value = wire::decode(&loaded.saved)
            .map_err(|e| Error::internal(format!("saved state does not decode: {e}")))?;
        Ok(())
    }
}

fn panicked(method: &str, panic: Box<dyn std::any::Any + Send>) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".into());
    Error::internal(format!("`{method}` panicked: {what}"))
}

impl<T: Object> Endpoint for Host<T> {
    fn handle<'a>(
        &'a self,
        head: CallHead<'a>,
        name: Option<&'a str>,
        body: &'a [u8],
    ) -> LocalBoxFuture<'a, Reply> {
        Box::pin(Host::handle(self, head, name, body))
    }

    fn stats(&self) -> HostStats {
        Host::stats(self)
    }

    fn alarm(&self) -> LocalBoxFuture<'_, Result<AlarmReport>> {
        Box::pin(Host::alarm(self))
    }
}
