//! Untyped clients and the transports under them. Users see the typed stubs that
//! `#[duro::methods]` generates; stubs call [`Client::call`].

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{CallError, Error, Result};
use crate::host::{spawn_host, Endpoint, HostParts};
use crate::object::Object;
use crate::wire::{self, Reply};

/// Sends encoded calls to an object and returns its raw reply.
pub trait Transport {
    /// Sends one call.
    fn send<'a>(
        &'a self,
        method: &'a str,
        name: &'a str,
        body: Vec<u8>,
    ) -> LocalBoxFuture<'a, Result<Reply>>;
}

/// Where a stub can come from: a worker's `Env`, an object's [`Ctx`](crate::Ctx), or a
/// test's `TestEnv`.
pub trait Connect {
    /// A client for the object `name` of `target`'s class.
    fn connect(&self, target: Target, name: &str) -> Result<Client>;
}

/// Identifies an object class to a [`Connect`] implementation.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Target {
    pub class: &'static str,
    pub binding: &'static str,
    pub spawn: fn(HostParts) -> Rc<dyn Endpoint>,
}

impl Target {
    /// The target of object type `T`.
    pub fn of<T: Object>() -> Self {
        Target {
            class: T::CLASS,
            binding: T::BINDING,
            spawn: spawn_host::<T>,
        }
    }
}

/// An untyped client for one object.
#[derive(Clone)]
pub struct Client {
    transport: Rc<dyn Transport>,
    class: &'static str,
    name: Rc<str>,
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
    pub fn new(transport: Rc<dyn Transport>, class: &'static str, name: &str) -> Self {
        Client {
            transport,
            class,
            name: name.into(),
        }
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
        let reply = self.transport.send(method, &self.name, body).await?;
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
