//! The object's turn: its lock, held with the state loaded.

use std::ops::{Deref, DerefMut};

use futures::lock::MutexGuard;

use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::{panicked, Host, Loaded};
use crate::activate::ActivateFn;
use crate::error::Result;
use crate::object::Object;
use crate::storage::Batch;

/// Holds the object's turn; the state is loaded for as long as it is held.
pub(super) struct Turn<'h, T> {
    guard: MutexGuard<'h, Option<Loaded<T>>>,
}

impl<T: Object> Host<T> {
    /// Takes the object's turn (waiting for the running one to end) and loads the state
    /// if this activation has not yet.
    pub(super) async fn turn(&self) -> Result<Turn<'_, T>> {
        let mut guard = self.slot.lock().await;
        if guard.is_none() {
            let mut loaded = self.load().await?;
            if let Some(activate) = T::__activate() {
                self.activate(&mut loaded, activate).await?;
            }
            *guard = Some(loaded);
        }
        Ok(Turn { guard })
    }
}

impl<T: Object> Host<T> {
    /// Runs the object's activation hook on freshly loaded state and saves what it
    /// changed. A failure (or panic) leaves the object unloaded: the next turn loads and
    /// activates it again.
    async fn activate(&self, loaded: &mut Loaded<T>, activate: ActivateFn<T>) -> Result<()> {
        let ctx = self.ctx(self.object_name());
        let ran = AssertUnwindSafe(activate(&mut loaded.value, &ctx))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(panicked("activate", panic)));
        ran?;
        if loaded.newer_schema.is_some() {
            return Ok(());
        }
        self.commit(loaded, &ctx, Batch::default(), true)
            .await
            .map_err(|f| f.error)?;
        ctx.deliver(ctx.take_outbox());
        Ok(())
    }
}

impl<T> Turn<'_, T> {
    /// Drops the loaded state (the next turn loads it again) and ends the turn.
    pub(super) fn unload(mut self) {
        *self.guard = None;
    }
}

impl<T> Deref for Turn<'_, T> {
    type Target = Loaded<T>;

    fn deref(&self) -> &Loaded<T> {
        // A turn is only made with the state loaded, and only `unload` empties it.
        self.guard.as_ref().expect("a turn holds loaded state")
    }
}

impl<T> DerefMut for Turn<'_, T> {
    fn deref_mut(&mut self) -> &mut Loaded<T> {
        self.guard.as_mut().expect("a turn holds loaded state")
    }
}
