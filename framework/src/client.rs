//! Untyped clients and the transports under them. Users see the typed stubs that
//! `#[duro::methods]` generates; stubs call [`Client::call`].

use std::rc::Rc;

use futures::future::{self, Either, LocalBoxFuture};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::millis;
use crate::error::{CallError, Error, ErrorCode, Result};
use crate::wire::{self, Chain, Reply};

/// Sends encoded calls to an object and returns its raw reply.
#[doc(hidden)]
pub trait Transport {
    /// Sends one call; `chain` is the encoded [`Chain`] of an object-to-object call.
    fn send<'a>(
        &'a self,
        method: &'a str,
        name: &'a str,
        chain: Option<&'a str>,
        body: Vec<u8>,
    ) -> LocalBoxFuture<'a, Result<Reply>>;
}

/// Makes the future that resolves when a call's deadline has passed.
pub(crate) type Sleep = Rc<dyn Fn(u64) -> LocalBoxFuture<'static, ()>>;

/// What a call made from inside a turn carries: where it came from and how long it may
/// take.
#[derive(Clone)]
pub(crate) struct Caller {
    /// The chain of the running call, with the calling object last.
    pub chain: Chain,
    /// The deadline in milliseconds, and how to wait for it.
    pub deadline_ms: u64,
    pub sleep: Sleep,
    /// Called when the deadline passes (the turn then rolls back).
    pub on_deadline: Rc<dyn Fn(&Error)>,
}

/// An untyped client for one object.
#[derive(Clone)]
pub struct Client {
    transport: Rc<dyn Transport>,
    class: &'static str,
    name: Rc<str>,
    caller: Option<Rc<Caller>>,
    /// The encoded chain, made once per client.
    chain: Option<Rc<str>>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("class", &self.class)
            .field("name", &self.name)
            .finish()
    }
}

/// The error type of methods that have none of their own: it never decodes.
#[doc(hidden)]
#[derive(Debug, Deserialize)]
pub enum NoUserError {}

impl Client {
    /// A client sending through `transport` to the object `name` of `class`.
    #[doc(hidden)]
    pub fn new(transport: Rc<dyn Transport>, class: &'static str, name: &str) -> Self {
        Client {
            transport,
            class,
            name: name.into(),
            caller: None,
            chain: None,
        }
    }

    /// This client, for calls made from inside a turn of another object.
    pub(crate) fn in_turn(mut self, caller: Caller) -> Self {
        self.chain = Some(caller.chain.encode().into());
        self.caller = Some(Rc::new(caller));
        self
    }

    /// This client with another deadline for calls made from inside a turn (calls from a
    /// worker have none of duro's own).
    pub fn with_timeout(mut self, timeout: core::time::Duration) -> Self {
        if let Some(caller) = &mut self.caller {
            let mut c = (**caller).clone();
            c.deadline_ms = millis(timeout);
            *caller = Rc::new(c);
        }
        self
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object's class.
    pub fn class(&self) -> &'static str {
        self.class
    }

    /// Calls `method` with an argument tuple; `E` is the method's own error type.
    pub async fn call<A, R, E>(
        &self,
        method: &str,
        args: &A,
    ) -> core::result::Result<R, CallError<E>>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
        E: DeserializeOwned,
    {
        let body = wire::encode(args)?;
        let send = self
            .transport
            .send(method, &self.name, self.chain.as_deref(), body);
        let reply = match &self.caller {
            None => send.await?,
            Some(caller) => {
                caller
                    .chain
                    .check(self.class, &self.name)
                    .inspect_err(|e| {
                        tracing::warn!(class = self.class, object = &*self.name, method, error = %e, "duro call refused");
                    })?;
                let deadline = (caller.sleep)(caller.deadline_ms);
                match future::select(send, deadline).await {
                    Either::Left((reply, _)) => reply?,
                    Either::Right(((), _)) => {
                        let e = Error::new(
                            ErrorCode::DeadlineExceeded,
                            format!(
                                "calling `{method}` on {}/{} got no reply within {} ms; the \
                                 calling turn rolls back (call chain: {})",
                                self.class,
                                self.name,
                                caller.deadline_ms,
                                caller.chain.describe(self.class, &self.name)
                            ),
                        );
                        tracing::warn!(class = self.class, object = &*self.name, method, error = %e, "duro call deadline passed");
                        (caller.on_deadline)(&e);
                        return Err(e.into());
                    }
                }
            }
        };
        wire::decode_reply(&reply)
    }

    /// Calls a method that has no error type of its own.
    pub async fn call_plain<A, R>(&self, method: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        match self.call::<A, R, NoUserError>(method, args).await {
            Ok(r) => Ok(r),
            Err(CallError::Framework(e)) => Err(e),
            Err(CallError::User(never)) => match never {},
        }
    }
}

/// Checks an object name: 1 to 256 bytes.
#[cfg_attr(
    not(any(feature = "testing", target_arch = "wasm32")),
    allow(dead_code)
)]
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 256 {
        return Err(Error::bad_request(format!(
            "object names are 1 to 256 bytes, got {}",
            name.len()
        )));
    }
    Ok(())
}
