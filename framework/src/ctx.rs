//! [`Ctx`]: what a method can reach besides its state.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::LocalBoxFuture;

use crate::client::{Client, Connect, Target};
use crate::error::Result;
use crate::object::Object;
use crate::storage::Storage;
use crate::timers::{Op, Ops, Timers};

/// The services of the place an object runs in: workerd, or a test's memory.
#[doc(hidden)]
pub trait Platform {
    /// Milliseconds since the Unix epoch (`Date.now()` in workers, the manual clock in tests).
    fn now_ms(&self) -> u64;
    /// Reaches other objects.
    fn connect(&self, target: Target, name: &str) -> Result<Client>;
    /// Keeps work going after the reply.
    fn wait_until(&self, work: LocalBoxFuture<'static, ()>);
    /// The platform's id for this object.
    fn id(&self) -> String;
    /// A random number (for timer ids).
    fn random_u64(&self) -> u64;
    /// The KV namespace bound as `binding` (for the index publisher).
    fn kv(&self, binding: &str) -> Result<Rc<dyn crate::index::Kv>>;
    /// The worker's env.
    #[cfg(target_arch = "wasm32")]
    fn env(&self) -> &worker::Env;
}

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
        }
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

    /// Schedules, cancels and lists this object's durable timers.
    pub fn timers(&self) -> Timers<'_> {
        Timers::new(self)
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

    /// A typed stub for another object. Awaiting it inside a mutating method holds this
    /// object's turn: two objects that call each other that way wait on each other forever.
    pub fn stub<T: Object>(&self, name: &str) -> Result<T::Stub> {
        T::stub(self, name)
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

    /// The worker's env, for bindings the object uses directly.
    #[cfg(target_arch = "wasm32")]
    pub fn env(&self) -> &worker::Env {
        self.platform.env()
    }
}

impl Connect for Ctx {
    fn connect(&self, target: Target, name: &str) -> Result<Client> {
        self.platform.connect(target, name)
    }
}
