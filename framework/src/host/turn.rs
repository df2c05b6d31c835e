//! The object's turn: its lock, held with the state loaded.

use std::ops::{Deref, DerefMut};

use futures::lock::MutexGuard;

use super::{Host, Loaded};
use crate::error::Result;
use crate::object::Object;

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
            *guard = Some(self.load().await?);
        }
        Ok(Turn { guard })
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
