//! [`Ctx`]: what a method can reach besides its state.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client::{Caller, Client};
use crate::clock::millis;
use crate::error::{Error, Result};
use crate::platform::{sealed, Connect, Platform, RawSocket, Target};
use crate::socket::Frame;
use crate::storage::Storage;
use crate::table::{Op, Ops};
use crate::wire::Chain;

/// Context passed to methods that ask for it with a `ctx: &Ctx` argument.
///
/// ```
/// use duro::prelude::*;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Visits { last_ms: u64 }
///
/// #[duro::methods]
/// impl Visits {
///     /// Records a visit at the object's clock and says who was visited.
///     #[rpc]
///     fn visit(&mut self, ctx: &Ctx) -> String {
///         self.last_ms = ctx.now_ms();
///         format!("{} at {}", ctx.name(), self.last_ms)
///     }
/// }
/// ```
pub struct Ctx {
    class: &'static str,
    name: Rc<str>,
    platform: Rc<dyn Platform>,
    storage: Rc<dyn Storage>,
    delete: Cell<bool>,
    attempt: u32,
    timer_ops: Ops,
    /// The chain of the running call (empty for calls from a worker and for timers).
    chain: Chain,
    /// Set when a call this turn made passed its deadline: the turn then rolls back.
    deadline_passed: Rc<RefCell<Option<Error>>>,
    /// What the turn sends to WebSockets, delivered once its state is saved.
    outbox: RefCell<Vec<Out>>,
    /// The socket whose close this turn handles: no longer listed.
    closing: Cell<Option<u64>>,
}

/// A WebSocket send or close, held until the turn's state is saved.
pub(crate) enum Out {
    /// To the socket with this id.
    To(u64, Frame),
    /// To every socket (with the tag, if given) except the one with the id, if given.
    All {
        tag: Option<String>,
        except: Option<u64>,
        frame: Frame,
    },
    /// Closes the socket with this id.
    Close(u64, u16, String),
}

impl core::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ctx")
            .field("class", &self.class)
            .field("name", &self.name)
            .finish()
    }
}

impl Ctx {
    pub(crate) fn new(
        class: &'static str,
        name: Rc<str>,
        platform: Rc<dyn Platform>,
        storage: Rc<dyn Storage>,
    ) -> Self {
        Ctx {
            class,
            name,
            platform,
            storage,
            delete: Cell::new(false),
            attempt: 0,
            timer_ops: Ops::default(),
            chain: Chain::default(),
            deadline_passed: Rc::default(),
            outbox: RefCell::default(),
            closing: Cell::new(None),
        }
    }

    pub(crate) fn push_out(&self, out: Out) {
        self.outbox.borrow_mut().push(out);
    }

    /// Takes what the turn sends (to deliver once it is saved, or to drop on rollback).
    pub(crate) fn take_outbox(&self) -> Vec<Out> {
        core::mem::take(&mut *self.outbox.borrow_mut())
    }

    pub(crate) fn set_closing(&self, id: u64) {
        self.closing.set(Some(id));
    }

    /// The object's connected sockets (with `tag`), without the one this turn closes.
    pub(crate) fn raw_sockets(&self, tag: Option<&str>) -> Vec<RawSocket> {
        let closing = self.closing.get();
        let mut all = self.platform.sockets(tag);
        if let Some(id) = closing {
            all.retain(|s| {
                crate::socket::envelope_head(&s.envelope)
                    .ok()
                    .map(|(i, _)| i)
                    != Some(id)
            });
        }
        all
    }

    /// Delivers what a saved turn sent.
    pub(crate) fn deliver(&self, outbox: Vec<Out>) {
        if outbox.is_empty() {
            return;
        }
        let mut all: Option<Vec<(u64, Vec<String>, RawSocket)>> = None;
        let mut everyone = || -> Vec<(u64, Vec<String>, RawSocket)> {
            self.platform
                .sockets(None)
                .into_iter()
                .filter_map(|s| {
                    let (id, tags) = crate::socket::envelope_head(&s.envelope).ok()?;
                    Some((id, tags, s))
                })
                .collect()
        };
        for out in outbox {
            let sockets = all.get_or_insert_with(&mut everyone);
            match out {
                Out::To(id, frame) => {
                    if let Some((_, _, s)) = sockets.iter().find(|(i, _, _)| *i == id) {
                        s.handle.send(&frame);
                    }
                }
                Out::All { tag, except, frame } => {
                    for (id, tags, s) in sockets.iter() {
                        let tagged = tag.as_ref().is_none_or(|t| tags.contains(t));
                        if tagged && Some(*id) != except {
                            s.handle.send(&frame);
                        }
                    }
                }
                Out::Close(id, code, reason) => {
                    if let Some((_, _, s)) = sockets.iter().find(|(i, _, _)| *i == id) {
                        s.handle.close(code, &reason);
                    }
                }
            }
        }
    }

    pub(crate) fn with_chain(mut self, chain: Chain) -> Self {
        self.chain = chain;
        self
    }

    /// The error of a call of this turn whose deadline passed, if any.
    pub(crate) fn deadline_passed(&self) -> Option<Error> {
        self.deadline_passed.borrow().clone()
    }

    pub(crate) fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    pub(crate) fn push_timer_op(&self, op: Op) {
        self.timer_ops.borrow_mut().push(op);
    }

    pub(crate) fn timer_ops(&self) -> Vec<Op> {
        self.timer_ops.borrow().clone()
    }

    pub(crate) fn take_timer_ops(&self) -> Vec<Op> {
        std::mem::take(&mut *self.timer_ops.borrow_mut())
    }

    pub(crate) fn random_u64(&self) -> u64 {
        self.platform.random_u64()
    }

    /// Inside a `#[timer]` method: which attempt this is (1 for the first run, 2 for the
    /// first retry, …). In an RPC call: 0.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The object's name (what the stub was made with).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object's class.
    pub fn class(&self) -> &'static str {
        self.class
    }

    /// The platform's id of this object (a hex string in workers).
    pub fn id(&self) -> String {
        self.platform.id()
    }

    /// The current time: `Date.now()` in workers, the manual clock in tests.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_ms())
    }

    /// The current time in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.platform.now_ms()
    }

    /// Raw storage, for advanced use. Keys starting with `__duro/` are duro's own.
    pub fn storage(&self) -> &dyn Storage {
        &*self.storage
    }

    /// Keeps `work` running after the reply has been sent.
    pub fn wait_until(&self, work: impl core::future::Future<Output = ()> + 'static) {
        self.platform.wait_until(Box::pin(work))
    }

    /// Deletes all of this object's storage once the current (mutating) call returns `Ok`;
    /// the in-memory state goes back to `Default`.
    pub fn delete_state(&self) {
        self.delete.set(true);
    }

    pub(crate) fn delete_requested(&self) -> bool {
        self.delete.get()
    }

    /// The worker var (or secret) `name` as text: from wrangler.toml's `[vars]` or a
    /// secret in workers, from `TestEnv::set_var` (feature `testing`) in
    /// tests. `None` when it is not set.
    pub fn var(&self, name: &str) -> Option<String> {
        self.platform.var(name)
    }

    /// The worker's env, for bindings the object uses directly (wasm only; for vars and
    /// secrets use [`var`](Self::var), which works in tests too).
    #[cfg(target_arch = "wasm32")]
    pub fn env(&self) -> &worker::Env {
        self.platform.env()
    }

    /// The deadline of calls made from this turn: the `DURO_CALL_TIMEOUT_MS` var, or
    /// [`DEFAULT_CALL_TIMEOUT`].
    fn call_timeout_ms(&self) -> u64 {
        self.var(CALL_TIMEOUT_VAR)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(millis(DEFAULT_CALL_TIMEOUT))
    }
}

/// How long a call made from inside a turn waits for its reply before it fails with
/// `deadline_exceeded` and the turn rolls back. Set per app with the `DURO_CALL_TIMEOUT_MS`
/// var, per stub with [`Client::with_timeout`] (see [`Ctx::stub_with_timeout`](crate::Ctx::stub_with_timeout)).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The var that sets the call deadline of an app, in milliseconds.
pub const CALL_TIMEOUT_VAR: &str = "DURO_CALL_TIMEOUT_MS";

impl sealed::Sealed for Ctx {}

impl Connect for Ctx {
    fn connect(&self, target: Target, name: &str) -> Result<Client> {
        let client = self.platform.connect(target, name)?;
        let platform = self.platform.clone();
        let passed = self.deadline_passed.clone();
        Ok(client.in_turn(Caller {
            chain: self.chain.then(self.class, &self.name),
            deadline_ms: self.call_timeout_ms(),
            sleep: Rc::new(move |ms| platform.sleep(ms)),
            on_deadline: Rc::new(move |e| {
                passed.borrow_mut().get_or_insert_with(|| e.clone());
            }),
        }))
    }
}
