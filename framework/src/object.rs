//! The [`Object`] trait that `#[duro::methods]` implements, and the [`Stub`] trait of the
//! typed clients it generates.

use std::time::Duration;

use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::activate::ActivateFn;
use crate::client::Client;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::migrate::Migrate;
use crate::platform::{Connect, Target};
use crate::sockets::SocketTable;
use crate::wire::Failure;

/// A `&self` method as the dispatch table holds it: decodes the arguments, runs the
/// method, encodes the reply.
#[doc(hidden)]
pub type ReadFn<T> = for<'a> fn(
    &'a T,
    &'a Ctx,
    &'a [u8],
) -> LocalBoxFuture<'a, core::result::Result<Vec<u8>, Failure>>;

/// A `&mut self` method as the dispatch table holds it.
#[doc(hidden)]
pub type WriteFn<T> = for<'a> fn(
    &'a mut T,
    &'a Ctx,
    &'a [u8],
) -> LocalBoxFuture<'a, core::result::Result<Vec<u8>, Failure>>;

/// A `#[timer]` method as the dispatch table holds it: decodes the payload and runs it.
#[doc(hidden)]
pub type TimerFn<T> = for<'a> fn(
    &'a mut T,
    &'a Ctx,
    &'a [u8],
) -> LocalBoxFuture<'a, core::result::Result<(), Failure>>;

/// How a method runs: a read (`&self`, never saves) or a write (`&mut self`, a turn that
/// saves the state if it changed).
#[doc(hidden)]
pub enum Handler<T> {
    Read(ReadFn<T>),
    Write(WriteFn<T>),
}

/// One `#[rpc]` method: its wire name and its handler. `#[duro::methods]` generates the
/// table; the host looks a call's method up in it once.
#[doc(hidden)]
pub struct Method<T> {
    pub name: &'static str,
    pub handler: Handler<T>,
}

/// One `#[timer]` method.
#[doc(hidden)]
pub struct TimerMethod<T> {
    pub name: &'static str,
    pub run: TimerFn<T>,
}

/// Where an object publishes its projection: `#[index("<index>", binding = "<binding>")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    /// The index name: the first part of the KV key.
    pub index: &'static str,
    /// The KV namespace binding.
    pub binding: &'static str,
}

/// A Durable Object written as a Rust struct. Implemented by `#[duro::object]` (naming)
/// and `#[duro::methods]` (dispatch); never by hand.
///
/// ```
/// use duro::prelude::*;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Greeter { greeted: u32 }
///
/// #[duro::methods]
/// impl Greeter {
///     /// Greets `who` and counts it.
///     #[rpc]
///     fn greet(&mut self, who: String) -> String {
///         self.greeted += 1;
///         format!("hello {who}, you are number {}", self.greeted)
///     }
/// }
///
/// assert_eq!(<Greeter as Object>::CLASS, "Greeter");
/// assert_eq!(<Greeter as Object>::BINDING, "GREETER");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a duro object",
    label = "needs `#[duro::object]` on the struct and `#[duro::methods]` on an impl block"
)]
pub trait Object: Serialize + DeserializeOwned + Default + 'static {
    /// The exported class name (`class_name` in wrangler.toml).
    const CLASS: &'static str;
    /// The Durable Object namespace binding in the worker's env.
    const BINDING: &'static str;
    /// The state's schema version.
    const SCHEMA: u32;

    /// The typed client.
    type Stub: Stub;

    /// A typed client for the object called `name`, from a worker's `Env`, another
    /// object's [`Ctx`], or a test's `TestEnv`.
    fn stub(source: &impl Connect, name: &str) -> Result<Self::Stub> {
        source
            .connect(Self::__TARGET, name)
            .map(Self::Stub::from_client)
    }

    /// The class as runtimes address it (generated: it names the host type).
    #[doc(hidden)]
    const __TARGET: Target;

    /// The type of the `#[index]` projection (`()` for objects without one).
    #[doc(hidden)]
    type __Projection;

    /// Where the `#[index]` projection is published, if the object declares one.
    #[doc(hidden)]
    const __INDEX: Option<IndexSpec> = None;

    /// The `#[index]` projection of the current state, as JSON; `None`: no entry.
    #[doc(hidden)]
    fn __projection(&self, _ctx: &Ctx) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Reads state written by an older schema (`#[duro::object(migrate = [...])]`).
    #[doc(hidden)]
    const __MIGRATE: Migrate<Self>;

    /// The `#[rpc]` methods.
    #[doc(hidden)]
    const __METHODS: &'static [Method<Self>];

    /// The `#[timer]` methods.
    #[doc(hidden)]
    const __TIMERS: &'static [TimerMethod<Self>];

    /// The object's [`Sockets`](crate::Sockets) handlers, if it implements the trait
    /// (generated: `#[duro::methods]` finds the implementation).
    #[doc(hidden)]
    fn __sockets() -> Option<SocketTable<Self>> {
        None
    }

    /// The object's [`Activate`](crate::Activate) hook, if it implements the trait
    /// (generated, like `__sockets`).
    #[doc(hidden)]
    fn __activate() -> Option<ActivateFn<Self>> {
        None
    }
}

/// A typed client generated by `#[duro::methods]` (`CounterStub` for `Counter`).
pub trait Stub: Sized {
    /// Wraps an untyped client.
    fn from_client(client: Client) -> Self;
    /// The untyped client underneath.
    fn client(&self) -> &Client;
}

impl Ctx {
    /// A typed stub for another object. Calls through it carry this call's chain (a call
    /// that would come back to an object waiting in the chain fails fast with
    /// `call_cycle`) and a deadline ([`DEFAULT_CALL_TIMEOUT`](crate::DEFAULT_CALL_TIMEOUT)
    /// unless the `DURO_CALL_TIMEOUT_MS` var says otherwise) after which the call fails
    /// with `deadline_exceeded` and this turn rolls back.
    pub fn stub<T: Object>(&self, name: &str) -> Result<T::Stub> {
        T::stub(self, name)
    }

    /// [`stub`](Self::stub) with a deadline of its own for its calls.
    pub fn stub_with_timeout<T: Object>(&self, name: &str, timeout: Duration) -> Result<T::Stub> {
        self.connect(T::__TARGET, name)
            .map(|c| T::Stub::from_client(c.with_timeout(timeout)))
    }
}
