//! The activation hook: [`Activate`], run once per activation before anything else.

use std::future::Future;

use futures::future::LocalBoxFuture;

use crate::ctx::Ctx;
use crate::error::Result;

/// Code an object runs once per activation, after its state is loaded and before its
/// first call, timer or WebSocket message: to warm a cache, check an invariant, or
/// migrate something a schema migration cannot. Implement it next to
/// `#[duro::methods]`; duro finds the implementation (no attribute needed).
///
/// It runs inside the object's turn lock, so nothing else of the object runs until it
/// is done; a change it makes to the state is saved before the first call runs. When it
/// fails, the call (timer, message) that activated the object fails with its error and
/// the next one activates the object again.
///
/// ```
/// use duro::prelude::*;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Session { activations: u64 }
///
/// #[duro::methods]
/// impl Session {
///     /// How many times the object was activated.
///     #[rpc]
///     fn activations(&self) -> u64 { self.activations }
/// }
///
/// impl duro::Activate for Session {
///     async fn activate(&mut self, _ctx: &Ctx) -> duro::Result<()> {
///         self.activations += 1;
///         Ok(())
///     }
/// }
/// ```
pub trait Activate: Sized + 'static {
    /// Runs once per activation.
    fn activate(&mut self, ctx: &Ctx) -> impl Future<Output = Result<()>>;
}

/// The activation hook as the host calls it.
#[doc(hidden)]
pub type ActivateFn<T> = for<'a> fn(&'a mut T, &'a Ctx) -> LocalBoxFuture<'a, Result<()>>;

fn activate<'a, T: Activate>(this: &'a mut T, ctx: &'a Ctx) -> LocalBoxFuture<'a, Result<()>> {
    Box::pin(this.activate(ctx))
}

crate::hooks::probe! {
    /// Finds an object's [`Activate`] implementation, like `Probe` does for sockets.
    ActivateProbe, HasActivate, NoActivate, __duro_activate: Activate => ActivateFn<T> = activate::<T>
}
