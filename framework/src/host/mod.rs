//! [`Host`]: one live object. It loads the state once per activation, runs calls as turns,
//! and saves the state before a mutating call's reply leaves.
//!
//! # Turns
//!
//! Every call, read or write, holds the object's turn while it runs: a call starts when the
//! previous one has returned (and, for a mutating call, its state has been saved). A method
//! that awaits another object keeps holding its turn while it waits; the call chain and
//! the deadline below keep two objects that call each other from waiting forever.
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
//!
//! # Call chains and deadlines
//!
//! A call from inside a turn carries the chain of objects it came through; a call that
//! would re-enter an object of its chain fails with `call_cycle` (before it is sent), and
//! one that gets no reply within its deadline fails with `deadline_exceeded` and rolls
//! the calling turn back, whatever the method did with the error.

mod alarm;
mod fetch;
mod publish;
mod socket;
mod turn;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use futures::lock::Mutex;
use futures::FutureExt;
use tracing::Instrument;

use crate::collections::{self, Found, Kept, Layout};
use crate::ctx::Ctx;
use crate::error::{Error, ErrorCode, Result};
use crate::http::{Request, Response};
use crate::migrate;
use crate::names::REPUBLISH_METHOD;
use crate::object::{Handler, Object};
use crate::persist;
use crate::platform::{
    AcceptSocket, AlarmReport, Endpoint, HostParts, HostStats, Platform, RawSocket,
};
use crate::socket::{Frame, Refuse, Upgrade};
use crate::storage::{Batch, Storage};
use crate::table::Table;
use crate::wire::{self, CallHead, Chain, Failure, Reply};

use publish::Book;
pub use publish::{MIN_INTERVAL, RETRY_CAP};
use turn::Turn;

/// Makes the live object of class `T` (what `Target::spawn` points at).
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
    /// Set when the state was migrated from an older schema and not saved since: the next
    /// write saves it, changed or not.
    migrated: bool,
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
#[doc(hidden)]
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
            Err(e) => return self.reject(e),
        };
        self.call(method, name, head.chain, body).await
    }

    /// The reply to a call whose head or size was refused (it counts as a call).
    pub fn reject(&self, e: Error) -> Reply {
        self.calls.set(self.calls.get() + 1);
        tracing::debug!(class = T::CLASS, error = %e, "duro call rejected");
        Reply::error(e)
    }

    /// Runs `method` with encoded arguments and returns the encoded reply. The caller has
    /// checked the call's head and size.
    pub async fn call(
        &self,
        method: &str,
        name: Option<&str>,
        chain: Option<&str>,
        args: &[u8],
    ) -> Reply {
        self.calls.set(self.calls.get() + 1);
        self.remember_name(name);
        let object = self.object_name();
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
            .run(method, object.clone(), chain, args)
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
                log_failure::<T>(&object, method, &f.error);
                Reply::failure(&f)
            }
        }
    }

    /// Keeps the object's name, which calls and sockets carry (the platform gives only
    /// an id).
    fn remember_name(&self, name: Option<&str>) {
        if let Some(name) = name {
            let mut known = self.name.borrow_mut();
            if known.as_deref() != Some(name) {
                *known = Some(name.into());
            }
        }
    }

    fn object_name(&self) -> Rc<str> {
        self.name.borrow().clone().unwrap_or_else(|| "".into())
    }

    fn ctx(&self, object: Rc<str>) -> Ctx {
        Ctx::new(
            T::CLASS,
            object,
            self.platform.clone(),
            self.storage.clone(),
        )
    }

    async fn run(
        &self,
        method: &str,
        object: Rc<str>,
        chain: Option<&str>,
        args: &[u8],
    ) -> core::result::Result<Vec<u8>, Failure> {
        let chain = match chain {
            Some(header) => {
                let chain = Chain::decode(header)?;
                chain.check(T::CLASS, &object)?;
                chain
            }
            None => Chain::default(),
        };
        if method == REPUBLISH_METHOD {
            return self.republish().await;
        }
        let Some(found) = T::__METHODS.iter().find(|m| m.name == method) else {
            return Err(Error::new(
                ErrorCode::UnknownMethod,
                format!("{} has no RPC method `{method}`", T::CLASS),
            )
            .into());
        };
        let mut turn = self.turn().await?;
        let ctx = self.ctx(object).with_chain(chain);
        match found.handler {
            Handler::Read(read) => {
                let reply = AssertUnwindSafe(read(&turn.value, &ctx, args))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| Err(panicked(method, panic).into()));
                if reply.is_ok() {
                    ctx.deliver(ctx.take_outbox());
                }
                reply
            }
            Handler::Write(write) => {
                Self::writable(&turn)?;
                let outcome = guard(method, &ctx, write(&mut turn.value, &ctx, args)).await;
                self.settle(turn, &ctx, outcome).await
            }
        }
    }

    /// Refuses a write to state that a newer schema wrote (a write would drop what this
    /// code does not know).
    fn writable(loaded: &Loaded<T>) -> Result<()> {
        match loaded.newer_schema {
            Some(schema) => Err(Error::new(
                ErrorCode::SchemaConflict,
                format!(
                    "the stored state of {} has schema {schema}, newer than this code's {}; \
                     refusing to overwrite it",
                    T::CLASS,
                    T::SCHEMA
                ),
            )),
            None => Ok(()),
        }
    }

    /// Ends a mutating turn (a write call, a socket handler, a fetch): when `outcome` is
    /// `Ok`, saves what changed and then delivers what the turn sent; otherwise, or when
    /// the save fails, rolls the state back and sends nothing.
    async fn settle<R, E: From<Failure>>(
        &self,
        mut turn: Turn<'_, T>,
        ctx: &Ctx,
        outcome: core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        let saved = match outcome {
            Ok(out) => self
                .commit(&mut turn, ctx, Batch::default(), true)
                .await
                .map(|()| out)
                .map_err(E::from),
            Err(e) => Err(e),
        };
        match &saved {
            Ok(_) => ctx.deliver(ctx.take_outbox()),
            Err(_) => self.rollback_or_unload(turn),
        }
        saved
    }

    async fn load(&self) -> Result<Loaded<T>> {
        self.activations.set(self.activations.get() + 1);
        // The collection fields, by name, from a default state (before any is read).
        let mut layout = Layout::default();
        if has_collections::<T>() {
            T::default().__collections(&mut |name, c| layout.note(name, c));
        }
        // The index bookkeeping and the logs' headers come in the same storage read as
        // the state; maps are listed.
        let mut extra: Vec<String> = T::__INDEX
            .iter()
            .map(|spec| publish::book_key(spec.index))
            .collect();
        if has_collections::<T>() {
            extra.extend(layout.header_keys());
        }
        let (stored, extra) = persist::load_with(&*self.storage, &extra).await?;
        let mut extra = extra.into_iter();
        let book = T::__INDEX.map(|_| self.decode_book(extra.next().flatten()));
        // Boxed, and asked again after the `await` (a value kept across it would be read
        // back from the future, where the compiler cannot see that it is constant): so a
        // state type without collections carries none of their reading.
        let read: Option<LocalBoxFuture<'_, Result<Found>>> = if has_collections::<T>() {
            Some(Box::pin(layout.read(&*self.storage, extra.collect())))
        } else {
            None
        };
        let mut found = match read {
            Some(read) => read.await?,
            None => Found::default(),
        };
        let Some(stored) = stored else {
            let mut value = T::default();
            self.bind_collections(&mut value, &mut found)?;
            let saved = wire::encode(&value)?;
            return Ok(Loaded {
                value,
                saved,
                chunks: 0,
                newer_schema: None,
                migrated: false,
                timers: None,
                alarm: None,
                stored: false,
                book,
                fresh_seq: None,
            });
        };
        let migrated = stored.schema < T::SCHEMA;
        let value: T = if migrated {
            (T::__MIGRATE)(T::SCHEMA - stored.schema, &stored.body)
                .ok_or_else(|| migrate::uncovered(T::CLASS, stored.schema, T::SCHEMA))?
        } else {
            wire::decode(&stored.body)
        }
        .map_err(|e| {
            // Newer state this code cannot read is a conflict too, not a fault of its own.
            let code = if stored.schema > T::SCHEMA {
                ErrorCode::SchemaConflict
            } else {
                ErrorCode::Internal
            };
            Error::new(
                code,
                format!(
                    "the stored state of {} (schema {}) does not decode as this code's (schema {}): {e}",
                    T::CLASS,
                    stored.schema,
                    T::SCHEMA
                ),
            )
        })?;
        let mut value = value;
        self.bind_collections(&mut value, &mut found)?;
        if stored.name.is_some() && self.name.borrow().is_none() {
            *self.name.borrow_mut() = stored.name.as_deref().map(Rc::from);
        }
        // A rollback restores from `saved`, so a migrated state keeps its new encoding.
        let saved = if migrated {
            wire::encode(&value)?
        } else {
            stored.body
        };
        Ok(Loaded {
            value,
            saved,
            chunks: stored.chunks,
            newer_schema: (stored.schema > T::SCHEMA).then_some(stored.schema),
            migrated,
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
            self.bind_collections(&mut loaded.value, &mut Found::default())?;
            loaded.saved = wire::encode(&loaded.value)?;
            loaded.chunks = 0;
            loaded.timers = Some(Table::default());
            loaded.alarm = Some(None);
            loaded.stored = false;
            loaded.migrated = false;
            self.keep_book_after_delete(loaded, sync).await;
            return Ok(());
        }
        // Each collection's changed entries, in the same atomic write.
        let mut collections_changed = false;
        let mut failed = None;
        loaded.value.__collections(&mut |name, c| {
            if failed.is_none() {
                match collections::plan(name, c, &mut batch) {
                    Ok(changed) => collections_changed |= changed,
                    Err(e) => failed = Some(e),
                }
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        let body = wire::encode(&loaded.value)?;
        // The first write of an object's collections stores its state too, so that an
        // object with entries always has a stored state (the index publishes it).
        let changed =
            body != loaded.saved || loaded.migrated || (collections_changed && !loaded.stored);
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
            let table = self.table(loaded).await?;
            table.apply(ops, &mut batch)?;
        }
        // Schedules a publish in the same atomic write when the projection changed.
        let book = if changed || collections_changed {
            self.plan_publish(loaded, &mut batch, false).await?
        } else {
            None
        };
        if batch.is_empty() {
            loaded.value.__collections(&mut |_, c| c.__committed());
            return Ok(());
        }
        self.write(loaded, batch).await?;
        loaded.value.__collections(&mut |_, c| c.__committed());
        if changed {
            loaded.saved = body;
            loaded.chunks = chunks;
            loaded.stored = true;
            loaded.migrated = false;
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

    /// Writes `batch` atomically (nothing when it is empty). On failure the in-memory
    /// timer table may hold changes that did not land, so it is dropped and reloaded on
    /// next use.
    async fn write(&self, loaded: &mut Loaded<T>, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
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

    /// Puts the in-memory state back to the last saved bytes, and its collections back
    /// to their last committed entries (their changes are undone, and they move into the
    /// decoded state).
    fn rollback(&self, loaded: &mut Loaded<T>) -> Result<()> {
        let mut value: T = wire::decode(&loaded.saved)
            .map_err(|e| Error::internal(format!("saved state does not decode: {e}")))?;
        if !has_collections::<T>() {
            loaded.value = value;
            return Ok(());
        }
        let mut kept = Kept::default();
        loaded.value.__collections(&mut |_, c| kept.take(c));
        value.__collections(&mut |name, c| kept.restore(name, c));
        loaded.value = value;
        kept.finish()
    }

    /// Binds the collection fields of a freshly decoded (or default) state to storage and
    /// to what the activation read.
    fn bind_collections(&self, value: &mut T, found: &mut Found) -> Result<()> {
        if !has_collections::<T>() {
            return Ok(());
        }
        let mut result = Ok(());
        value.__collections(&mut |name, c| {
            if result.is_ok() {
                result = found.bind(name, c, &self.storage);
            }
        });
        result
    }

    /// [`rollback`](Self::rollback), or, if the saved bytes somehow do not decode, unloads
    /// the state so that the next turn reloads it.
    fn rollback_or_unload(&self, mut turn: Turn<'_, T>) {
        if self.rollback(&mut turn).is_err() {
            turn.unload();
        }
    }
}

/// Whether `T` has a collection field. Constant once inlined: the probe of a field that
/// is not a collection does nothing.
#[inline(always)]
fn has_collections<T: Object>() -> bool {
    let mut any = false;
    T::default().__collections(&mut |_, _| any = true);
    any
}

/// Logs a failed call or fetch at its code's level. The event names the call itself:
/// tracing-wasm prints no span fields.
fn log_failure<T: Object>(object: &str, method: &str, error: &Error) {
    let (class, outcome) = (T::CLASS, error.code().as_str());
    match error.code() {
        ErrorCode::Internal => {
            tracing::error!(class, object, method, outcome, error = %error, "duro call failed")
        }
        ErrorCode::CallCycle | ErrorCode::DeadlineExceeded => {
            tracing::warn!(class, object, method, outcome, error = %error, "duro call failed")
        }
        _ => tracing::debug!(class, object, method, outcome, error = %error, "duro call failed"),
    }
}

/// Runs a mutating turn's handler to its end: a panic becomes an internal error, and a
/// call of the turn that overran its deadline fails the turn, whatever the handler made of
/// that call's error.
async fn guard<R, E: From<Error>>(
    what: &str,
    ctx: &Ctx,
    run: impl Future<Output = core::result::Result<R, E>>,
) -> core::result::Result<R, E> {
    AssertUnwindSafe(run)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(panicked(what, panic).into()))
        .and_then(|out| match ctx.deadline_passed() {
            Some(e) => Err(e.into()),
            None => Ok(out),
        })
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

    fn connect_socket<'a>(
        &'a self,
        name: &'a str,
        request: &'a Upgrade,
        accept: AcceptSocket<'a>,
    ) -> LocalBoxFuture<'a, core::result::Result<(), Refuse>> {
        Box::pin(Host::connect_socket(self, Some(name), request, accept))
    }

    fn socket_message<'a>(
        &'a self,
        from: &'a RawSocket,
        frame: &'a Frame,
    ) -> LocalBoxFuture<'a, ()> {
        Box::pin(Host::socket_message(self, from, frame))
    }

    fn socket_close<'a>(&'a self, socket: &'a RawSocket) -> LocalBoxFuture<'a, ()> {
        Box::pin(Host::socket_close(self, socket))
    }

    fn fetch<'a>(
        &'a self,
        name: &'a str,
        request: Request,
    ) -> LocalBoxFuture<'a, Result<Response>> {
        Host::fetch(self, Some(name), request)
    }
}
