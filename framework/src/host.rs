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

use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use futures::lock::Mutex;
use futures::FutureExt;
use tracing::Instrument;

use crate::ctx::{Ctx, Platform};
use crate::error::{Error, ErrorCode, Result};
use crate::object::{Kind, Object};
use crate::persist;
use crate::storage::{Storage, StorageStats};
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
            .run(method, object, args)
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
                if f.error.code() == ErrorCode::Internal {
                    tracing::error!(error = %f.error, "duro call failed");
                } else {
                    tracing::debug!(error = %f.error, "duro call failed");
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
                    Ok(reply) => self.commit(loaded, &ctx).await.map(|()| reply),
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
        let stored = persist::load(&*self.storage).await?;
        let Some(stored) = stored else {
            let value = T::default();
            let saved = wire::encode(&value)?;
            return Ok(Loaded {
                value,
                saved,
                chunks: 0,
                newer_schema: None,
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
        })
    }

    /// Saves the state if its bytes changed (or deletes it when asked).
    async fn commit(&self, loaded: &mut Loaded<T>, ctx: &Ctx) -> core::result::Result<(), Failure> {
        if ctx.delete_requested() {
            self.storage.delete_all().await?;
            loaded.value = T::default();
            loaded.saved = wire::encode(&loaded.value)?;
            loaded.chunks = 0;
            return Ok(());
        }
        let body = wire::encode(&loaded.value)?;
        if body == loaded.saved {
            return Ok(());
        }
        let name = self.name.borrow().clone();
        let (puts, deletes, chunks) =
            persist::plan_write(T::SCHEMA, name.as_deref(), &body, loaded.chunks);
        self.storage.write(puts, deletes).await?;
        loaded.saved = body;
        loaded.chunks = chunks;
        Ok(())
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
}
