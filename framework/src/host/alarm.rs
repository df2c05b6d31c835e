//! The alarm: runs the object's due timers, each as its own turn.

use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use futures::FutureExt;
use tracing::Instrument;

use super::{panicked, Host, Loaded};
use crate::clock::millis;
use crate::error::{Error, ErrorCode, Result};
use crate::object::Object;
use crate::platform::AlarmReport;
use crate::storage::Batch;
use crate::table::{self, Entry, MAX_ATTEMPTS, MAX_PER_ALARM};
use crate::wire::{self, Failure};

impl<T: Object> Host<T> {
    /// Runs due timers, each as its own turn, at most [`MAX_PER_ALARM`] of them; then points
    /// the alarm at the next one (at once, if more are due).
    pub async fn alarm(&self) -> Result<AlarmReport> {
        self.alarms.set(self.alarms.get() + 1);
        let mut report = AlarmReport::default();
        let mut first = true;
        for _ in 0..MAX_PER_ALARM {
            let mut turn = self.turn().await?;
            if first {
                // The platform clears the alarm when it fires.
                turn.alarm = Some(None);
                first = false;
            }
            let now = self.platform.now_ms();
            let Some(entry) = self.table(&mut turn).await?.first_due(now).cloned() else {
                break;
            };
            if self.name.borrow().is_none() {
                *self.name.borrow_mut() = entry.object.as_deref().map(Rc::from);
            }
            if entry.is_internal() {
                // The publisher releases the turn while KV is written.
                match self.run_publish(turn, entry, now).await? {
                    true => report.succeeded += 1,
                    false => report.failed += 1,
                }
                continue;
            }
            match self.run_timer(&mut turn, entry, now).await {
                Ok(true) => report.succeeded += 1,
                Ok(false) => report.failed += 1,
                Err(e) => {
                    self.rollback_or_unload(turn);
                    return Err(e);
                }
            }
        }
        let mut turn = self.turn().await?;
        if turn.timers.is_none() {
            self.table(&mut turn).await?;
        }
        self.sync_alarm(&mut turn).await;
        Ok(report)
    }

    /// Runs one due timer. `Ok(true)`: it succeeded and its effects are saved; `Ok(false)`:
    /// it failed and was rescheduled or dead-lettered; `Err`: storage failed, nothing changed.
    async fn run_timer(&self, loaded: &mut Loaded<T>, entry: Entry, now: u64) -> Result<bool> {
        let object = self.object_name();
        let span = tracing::info_span!(
            "duro.timer",
            class = T::CLASS,
            object = &*object,
            timer = %entry.method,
            id = %entry.id,
            attempt = entry.attempts + 1,
            outcome = tracing::field::Empty,
        );
        let ctx = self.ctx(object).with_attempt(entry.attempts + 1);
        let outcome = if loaded.newer_schema.is_some() {
            Err(Failure::from(Error::new(
                ErrorCode::SchemaConflict,
                "the stored state has a newer schema; not running timers against it",
            )))
        } else {
            match T::__TIMERS.iter().find(|t| t.name == entry.method) {
                None => Err(table::unknown_timer(T::CLASS, &entry.method).into()),
                Some(timer) => {
                    AssertUnwindSafe((timer.run)(&mut loaded.value, &ctx, &entry.payload))
                        .catch_unwind()
                        .instrument(span.clone())
                        .await
                        .unwrap_or_else(|panic| Err(panicked(&entry.method, panic).into()))
                        .and_then(|()| match ctx.deadline_passed() {
                            Some(e) => Err(e.into()),
                            None => Ok(()),
                        })
                }
            }
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
                // The events name the timer: tracing-wasm prints no span fields.
                let (class, timer) = (T::CLASS, &*entry.method);
                let object = self.object_name();
                let object = &*object;
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(class, object, timer, attempts, error = %error, "timer failed for the last time; moved to the dead-letter list");
                    let dead = Entry {
                        attempts,
                        last_error: Some(error),
                        ..entry
                    };
                    batch.put(table::dead_key(&dead.id), wire::encode(&dead)?);
                } else {
                    let retry_at = now.saturating_add(millis(table::backoff(attempts)));
                    tracing::warn!(class, object, timer, attempts, retry_at, error = %error, "timer failed; will retry");
                    let retry = Entry {
                        due_ms: retry_at,
                        attempts,
                        last_error: Some(error),
                        ..entry
                    };
                    table.insert(retry, &mut batch)?;
                }
                self.write(loaded, batch).await?;
                Ok(false)
            }
        }
    }
}
