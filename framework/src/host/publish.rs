//! The index publisher: schedules publishes after turns that change an object's
//! projection, and runs the reserved publish timer. See [`crate::index`] for the semantics.
//!
//! Bookkeeping ([`Book`]) lives under `__duro/index/<index>` and is loaded with the state.
//! Sequence numbers are reserved in storage before the KV write that uses them: the call
//! that schedules a publish reserves one in its own atomic write (`fresh_seq`), a retry
//! reserves the next one, and a publish that finds no unused reservation of this
//! activation writes one first. So a number is never used for two different writes.

use std::rc::Rc;
use std::time::Duration;

use duro_index::Kv;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::turn::Turn;
use super::{Host, Loaded};
use crate::clock::millis;
use crate::error::{Error, Result};
use crate::names::{BOOK_PREFIX, PUBLISH_ID, PUBLISH_METHOD};
use crate::object::Object;
use crate::storage::Batch;
use crate::table::{self, Entry};
use crate::wire::{self, Failure};

/// Shortest time between two writes of one object's entry.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest delay between two attempts of a failing publish.
pub const RETRY_CAP: Duration = Duration::from_secs(60);

/// The storage key of the bookkeeping of `index`.
pub(super) fn book_key(index: &str) -> String {
    format!("{BOOK_PREFIX}{index}")
}

/// An object's publishing bookkeeping, stored under `__duro/index/<index>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Book {
    /// The last sequence number reserved; the next write uses a number above it.
    pub seq: u64,
    /// The projection (JSON) the object's entry holds as far as the object knows; `None`:
    /// no entry.
    #[serde(with = "serde_bytes")]
    pub published: Option<Vec<u8>>,
    /// The sequence number of `published`.
    pub published_seq: u64,
    /// When the entry was last written (put or delete), for the debounce.
    pub written_ms: u64,
    /// The entry may not hold `published` (a write failed midway, or a republish was
    /// asked for): write it even if the projection did not change.
    pub force: bool,
}

/// A KV write prepared under the turn and run outside it.
struct Job {
    kv: Rc<dyn Kv>,
    key: String,
    /// The projection being written (`None`: the entry is deleted).
    wanted: Option<Vec<u8>>,
    /// The KV value and metadata, for a put.
    put: Option<duro_index::record::Encoded>,
    seq: Option<u64>,
}

/// What the part of a publish that holds the turn decided.
enum Step {
    /// Nothing to write to KV; the timer was dealt with. `true`: nothing failed.
    Done(bool),
    Write(Job),
}

impl<T: Object> Host<T> {
    pub(super) fn decode_book(&self, bytes: Option<Vec<u8>>) -> Book {
        let Some(bytes) = bytes else {
            return Book::default();
        };
        wire::decode(&bytes).unwrap_or_else(|e| {
            tracing::error!(class = T::CLASS, error = %e, "the index bookkeeping does not decode; starting over");
            Book::default()
        })
    }

    /// The projection the object's entry should hold now: `None` for an object without
    /// stored state (or without an index).
    fn wanted(&self, loaded: &Loaded<T>) -> Result<Option<Vec<u8>>> {
        if !loaded.stored {
            return Ok(None);
        }
        loaded.value.__projection(&self.ctx(self.object_name()))
    }

    fn publish_entry(&self, due_ms: u64) -> Entry {
        Entry {
            id: PUBLISH_ID.to_owned(),
            method: PUBLISH_METHOD.to_owned(),
            payload: Vec::new(),
            due_ms,
            every_ms: None,
            anchor_ms: due_ms,
            attempts: 0,
            last_error: None,
            object: self.name.borrow().as_deref().map(str::to_owned),
            #[cfg(feature = "cron")]
            cron: None,
        }
    }

    /// After a turn: puts a publish timer (and a freshly reserved sequence number) into
    /// `batch` if the projection changed and no publish is pending, or, with `force`,
    /// whatever the projection. Returns the bookkeeping to keep once `batch` is written.
    pub(super) async fn plan_publish(
        &self,
        loaded: &mut Loaded<T>,
        batch: &mut Batch,
        force: bool,
    ) -> Result<Option<Book>> {
        let Some(spec) = T::__INDEX else {
            return Ok(None);
        };
        let pending = self.table(loaded).await?.contains(PUBLISH_ID);
        if pending && !force {
            // The pending publish publishes the state as it is when it runs.
            return Ok(None);
        }
        let mut book = loaded.book.clone().unwrap_or_default();
        if !force && !book.force {
            // This runs before the state is saved: the state will be stored.
            let wanted = match loaded.value.__projection(&self.ctx(self.object_name())) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(class = T::CLASS, error = %e, "the #[index] projection does not encode; not publishing it");
                    return Ok(None);
                }
            };
            if wanted == book.published {
                return Ok(None);
            }
        }
        book.seq += 1;
        book.force |= force;
        if !pending {
            let now = self.platform.now_ms();
            let due = now.max(book.written_ms.saturating_add(millis(MIN_INTERVAL)));
            let entry = self.publish_entry(due);
            self.table(loaded).await?.insert(entry, batch)?;
        }
        batch.put(book_key(spec.index), wire::encode(&book)?);
        Ok(Some(book))
    }

    /// The reserved RPC method: publish again at the next slot, even if unchanged.
    pub(super) async fn republish(&self) -> core::result::Result<Vec<u8>, Failure> {
        if T::__INDEX.is_none() {
            return Err(Error::bad_request(format!(
                "{} declares no #[index] projection",
                T::CLASS
            ))
            .into());
        }
        let mut turn = self.turn().await?;
        let loaded = &mut *turn;
        let mut batch = Batch::default();
        let book = self.plan_publish(loaded, &mut batch, true).await?;
        self.write(loaded, batch).await?;
        if let Some(book) = book {
            loaded.fresh_seq = Some(book.seq);
            loaded.book = Some(book);
        }
        self.sync_alarm(loaded).await;
        Ok(wire::encode(&())?)
    }

    /// After `delete_all`: keeps the bookkeeping (so that a re-created object continues the
    /// sequence) and schedules the deletion of the entry if KV may hold one.
    pub(super) async fn keep_book_after_delete(&self, loaded: &mut Loaded<T>, sync: bool) {
        let Some(spec) = T::__INDEX else { return };
        let book = loaded.book.clone().unwrap_or_default();
        loaded.fresh_seq = None;
        if book.published_seq == 0 && book.published.is_none() && !book.force {
            // Never written to KV: nothing to remove, no sequence to continue.
            loaded.book = Some(Book::default());
            return;
        }
        let mut batch = Batch::default();
        if book.published.is_some() || book.force {
            let now = self.platform.now_ms();
            let due = now.max(book.written_ms.saturating_add(millis(MIN_INTERVAL)));
            let entry = self.publish_entry(due);
            if let Some(table) = &mut loaded.timers {
                if let Err(e) = table.insert(entry, &mut batch) {
                    tracing::error!(class = T::CLASS, error = %e, "scheduling the removal of the index entry failed");
                }
            }
        }
        match wire::encode(&book) {
            Ok(bytes) => batch.put(book_key(spec.index), bytes),
            Err(e) => {
                tracing::error!(class = T::CLASS, error = %e, "encoding the index bookkeeping failed")
            }
        }
        if let Err(e) = self.write(loaded, batch).await {
            tracing::error!(
                class = T::CLASS,
                error = %e,
                "keeping the index bookkeeping after deleting the state failed; the entry stays \
                 until the object is republished"
            );
        }
        if sync {
            self.sync_alarm(loaded).await;
        }
    }

    /// Runs the due publish timer `entry`. The decision and the sequence number are taken
    /// under the turn; the turn is released while KV is written and taken again to record
    /// the outcome. `Ok(true)`: published (or nothing to publish); `Ok(false)`: failed and
    /// rescheduled; `Err`: storage failed (the platform retries the alarm).
    pub(super) async fn run_publish(
        &self,
        mut turn: Turn<'_, T>,
        entry: Entry,
        now: u64,
    ) -> Result<bool> {
        let object = self.object_name();
        let span = tracing::info_span!(
            "duro.publish",
            class = T::CLASS,
            object = &*object,
            index = T::__INDEX.map(|s| s.index).unwrap_or(""),
            attempt = entry.attempts + 1,
            seq = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let step = self
            .prepare_publish(&mut turn, &entry, &object, now)
            .instrument(span.clone())
            .await?;
        let mut job = match step {
            Step::Done(ok) => return Ok(ok),
            Step::Write(job) => job,
        };
        if let Some(seq) = job.seq {
            span.record("seq", seq);
        }
        drop(turn);
        // The record moves into the KV write: `published` needs only the projection.
        let put = job.put.take();
        let outcome = if put.is_some() { "put" } else { "deleted" };
        let result = match put {
            Some(record) => {
                job.kv
                    .put(&job.key, record.value, Some(record.metadata))
                    .instrument(span.clone())
                    .await
            }
            None => job.kv.delete(&job.key).instrument(span.clone()).await,
        };
        let mut turn = self.turn().await?;
        let loaded = &mut *turn;
        match result {
            Ok(()) => {
                span.record("outcome", outcome);
                self.index_writes.set(self.index_writes.get() + 1);
                self.published(loaded, job, now).instrument(span).await?;
                Ok(true)
            }
            Err(e) => {
                span.record("outcome", "failed");
                self.publish_failed(loaded, entry, e.to_string(), now)
                    .instrument(span)
                    .await?;
                Ok(false)
            }
        }
    }

    async fn prepare_publish(
        &self,
        loaded: &mut Loaded<T>,
        entry: &Entry,
        object: &str,
        now: u64,
    ) -> Result<Step> {
        let span = tracing::Span::current();
        let Some(spec) = T::__INDEX else {
            // Scheduled by code that had an index; this code has none.
            span.record("outcome", "no_index");
            return self.drop_publish(loaded, true).await;
        };
        if loaded.newer_schema.is_some() {
            // Newer code owns the state and its projection.
            span.record("outcome", "newer_schema");
            return self.drop_publish(loaded, true).await;
        }
        if object.is_empty() {
            span.record("outcome", "no_name");
            tracing::error!(
                class = T::CLASS,
                "the object's name is unknown; cannot publish its index entry"
            );
            return self.drop_publish(loaded, false).await;
        }
        let mut book = loaded.book.clone().unwrap_or_default();
        let earliest = book.written_ms.saturating_add(millis(MIN_INTERVAL));
        if now < earliest {
            // Never two writes within the interval, however the timer got here.
            span.record("outcome", "early");
            let mut batch = Batch::default();
            let table = self.table(loaded).await?;
            table.remove(PUBLISH_ID, &mut batch);
            let later = Entry {
                due_ms: earliest,
                anchor_ms: earliest,
                ..entry.clone()
            };
            table.insert(later, &mut batch)?;
            self.write(loaded, batch).await?;
            return Ok(Step::Done(true));
        }
        let wanted = match self.wanted(loaded) {
            Ok(w) => w,
            Err(e) => {
                span.record("outcome", "encode_failed");
                tracing::error!(class = T::CLASS, object, error = %e, "the #[index] projection does not encode; not publishing it");
                return self.drop_publish(loaded, false).await;
            }
        };
        if !book.force && wanted == book.published {
            span.record("outcome", "unchanged");
            return self.drop_publish(loaded, true).await;
        }
        let kv = match self.platform.kv(spec.binding) {
            Ok(kv) => kv,
            Err(e) => {
                span.record("outcome", "failed");
                self.publish_failed(loaded, entry.clone(), e.to_string(), now)
                    .await?;
                return Ok(Step::Done(false));
            }
        };
        let key = duro_index::key(spec.index, object);
        let Some(bytes) = wanted else {
            return Ok(Step::Write(Job {
                kv,
                key,
                wanted: None,
                put: None,
                seq: None,
            }));
        };
        let seq = match loaded.fresh_seq.take() {
            Some(seq) if seq == book.seq => seq,
            _ => {
                // No unused reservation of this activation: reserve one first.
                book.seq += 1;
                let mut batch = Batch::default();
                batch.put(book_key(spec.index), wire::encode(&book)?);
                self.write(loaded, batch).await?;
                loaded.book = Some(book.clone());
                book.seq
            }
        };
        let record = match duro_index::record::encode(seq, now, &bytes) {
            Ok(r) => r,
            Err(e) => {
                span.record("outcome", "encode_failed");
                tracing::error!(class = T::CLASS, object, error = %e, "the #[index] projection cannot be published");
                return self.drop_publish(loaded, false).await;
            }
        };
        Ok(Step::Write(Job {
            kv,
            key,
            wanted: Some(bytes),
            put: Some(record),
            seq: Some(seq),
        }))
    }

    /// Removes the publish timer without writing KV.
    async fn drop_publish(&self, loaded: &mut Loaded<T>, ok: bool) -> Result<Step> {
        let mut batch = Batch::default();
        self.table(loaded).await?.remove(PUBLISH_ID, &mut batch);
        self.write(loaded, batch).await?;
        Ok(Step::Done(ok))
    }

    /// Records a landed KV write, and schedules the next publish if the state changed
    /// while the write was in flight.
    async fn published(&self, loaded: &mut Loaded<T>, job: Job, now: u64) -> Result<()> {
        let Some(spec) = T::__INDEX else {
            return Ok(());
        };
        let mut book = loaded.book.clone().unwrap_or_default();
        book.published = job.wanted;
        if let Some(seq) = job.seq {
            book.published_seq = seq;
        }
        book.written_ms = now;
        book.force = false;
        let mut batch = Batch::default();
        let current = self
            .wanted(loaded)
            .unwrap_or_else(|_| book.published.clone());
        let again = current != book.published;
        if again {
            book.seq += 1;
        }
        let table = self.table(loaded).await?;
        table.remove(PUBLISH_ID, &mut batch);
        if again {
            let due = now.saturating_add(millis(MIN_INTERVAL));
            table.insert(self.publish_entry(due), &mut batch)?;
        }
        batch.put(book_key(spec.index), wire::encode(&book)?);
        // KV holds the new entry whether or not this write lands: remember it either way,
        // so that a retry of this timer finds nothing left to publish.
        let reserved = book.seq;
        loaded.book = Some(book);
        self.write(loaded, batch).await?;
        if again {
            loaded.fresh_seq = Some(reserved);
        }
        Ok(())
    }

    /// Reschedules a failed publish with backoff (never dead-lettered: the latest
    /// projection must land) and reserves the sequence number of the next attempt.
    async fn publish_failed(
        &self,
        loaded: &mut Loaded<T>,
        entry: Entry,
        error: String,
        now: u64,
    ) -> Result<()> {
        let Some(spec) = T::__INDEX else {
            return Ok(());
        };
        let attempts = entry.attempts + 1;
        let delay = table::backoff(attempts).min(RETRY_CAP);
        let retry_at = now.saturating_add(millis(delay));
        let object = self.object_name();
        tracing::warn!(class = T::CLASS, object = &*object, index = spec.index, attempts, retry_at, error = %error, "publishing the index entry failed; will retry");
        let mut book = loaded.book.clone().unwrap_or_default();
        // KV may or may not hold what was sent: the next attempt writes regardless.
        book.force = true;
        book.seq += 1;
        let mut batch = Batch::default();
        let table = self.table(loaded).await?;
        table.remove(PUBLISH_ID, &mut batch);
        table.insert(
            Entry {
                due_ms: retry_at,
                anchor_ms: retry_at,
                attempts,
                last_error: Some(error),
                ..entry
            },
            &mut batch,
        )?;
        batch.put(book_key(spec.index), wire::encode(&book)?);
        self.write(loaded, batch).await?;
        loaded.fresh_seq = Some(book.seq);
        loaded.book = Some(book);
        Ok(())
    }
}
