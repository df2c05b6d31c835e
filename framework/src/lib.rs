//! # duro
//!
//! Rust structs as Cloudflare Durable Objects. Write a plain struct and an `impl` block;
//! duro persists the struct as the object's state, turns the methods marked `#[rpc]` into
//! typed remote calls with a generated client, publishes an optional `#[index]` projection
//! to Workers KV so that workers can list objects without waking them (see
//! [`index`]), and runs the same object natively under `cargo test`. State that grows
//! goes in [`Log`] and [`Map`] fields (see [`collections`]), whose entries are stored and
//! written one by one.
//!
//! ```
//! use duro::prelude::*;
//!
//! /// One counter per name.
//! #[duro::object]
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Counter {
//!     value: i64,
//! }
//!
//! /// Why an addition was refused.
//! #[derive(Debug, Serialize, Deserialize)]
//! pub enum CounterError {
//!     Overflow,
//! }
//!
//! impl std::fmt::Display for CounterError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str("the counter would overflow")
//!     }
//! }
//!
//! #[duro::methods]
//! impl Counter {
//!     /// Adds `by` and returns the new value.
//!     #[rpc]
//!     async fn add(&mut self, by: i64) -> Result<i64, CounterError> {
//!         self.value = self.value.checked_add(by).ok_or(CounterError::Overflow)?;
//!         Ok(self.value)
//!     }
//!
//!     /// `&self` methods are reads: they never write storage.
//!     #[rpc]
//!     fn get(&self) -> i64 {
//!         self.value
//!     }
//! }
//!
//! // In a worker: `let counter = Counter::stub(&env, "global")?;`
//! // In a test (feature "testing"):
//! # futures::executor::block_on(async {
//! let env = duro::testing::TestEnv::new();
//! let c = env.stub::<Counter>("global");
//! assert_eq!(c.add(2).await.unwrap(), 2);
//! assert!(matches!(c.add(i64::MAX).await, Err(CallError::User(CounterError::Overflow))));
//! env.restart(); // drop instances, keep storage
//! assert_eq!(c.get().await.unwrap(), 2);
//! # });
//! ```
//!
//! See `docs/design.md` in the repository for the wire protocol, the storage layout and
//! the semantics of turns.

// The layers, ground first; a module imports only from modules above it in this list.
// Ground: codec and errors, and every reserved name.
mod clock;
mod error;
mod names;
pub mod url;
// HTTP requests and responses for routes, and errors as JSON responses.
pub mod http;
// Storage, with the write batch; the wire protocol, the stored state's layout and its
// migrations from older schemas.
mod migrate;
mod persist;
pub mod storage;
#[doc(hidden)]
pub mod wire;
// Typed collections (`Log`, `Map`) whose entries have storage keys of their own.
pub mod collections;
// WebSocket frames, upgrade requests and socket handles.
mod socket;
// Clients, and the seams the runtimes (wasm, testing) implement.
mod client;
mod platform;
// The timer table (and its cron schedules), the context a method sees, the hooks an
// object may implement (activation, fetch, sockets) and how the macros find them, the
// object trait, the timers builder.
mod activate;
#[cfg(feature = "cron")]
mod cron;
mod ctx;
mod fetch;
mod hooks;
mod object;
mod sockets;
mod table;
pub mod timers;
// The host: turns, alarms, publishing.
mod host;
// The index API, over the host's publisher.
pub mod index;
// The runtimes.
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use activate::Activate;
pub use client::Client;
pub use collections::{Log, Map, MapKey};
pub use ctx::{Ctx, CALL_TIMEOUT_VAR, DEFAULT_CALL_TIMEOUT};
pub use duro_macros::{methods, object, rpc, timer};
pub use error::{CallError, Error, ErrorCode, Result};
pub use fetch::Fetch;
pub use names::RESERVED_PREFIX;
pub use object::{Object, Stub};
pub use platform::{AlarmReport, Connect, HostStats};
pub use socket::{Accept, Frame, Refuse, Socket, Upgrade, MAX_ATTACHMENT, MAX_TAGS, MAX_TAG_LEN};
pub use sockets::{SocketHub, Sockets};
pub use timers::{Timer, TimerId, TimerInfo};

#[cfg(target_arch = "wasm32")]
pub use wasm::{forward, object_stats, WorkerStorage};

/// The worker crate duro builds on, for apps that need its HTTP types.
#[cfg(target_arch = "wasm32")]
pub use worker;

/// Everything an object definition needs.
pub mod prelude {
    pub use crate::{rpc, timer, CallError, Ctx, Object, Stub};
    pub use serde::{Deserialize, Serialize};
}

/// Items the macros' generated code uses. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::activate::{ActivateFn, ActivateProbe, HasActivate, NoActivate};
    pub use crate::client::{NoUserError, Transport};
    pub use crate::collections::{Collection, FieldProbe, ProbeCollection, ProbeOther};
    pub use crate::fetch::{FetchFn, FetchProbe, HasFetch, NoFetch};
    pub use crate::host::{spawn_host, Host};
    pub use crate::migrate::{Chain, Migrate, Now, Step};
    pub use crate::names::RESERVED_METHOD_PREFIX;
    pub use crate::object::{Handler, IndexSpec, Method, TimerMethod};
    pub use crate::platform::{Endpoint, HostParts, RawSocket, SocketHandle, Target};
    pub use crate::sockets::{HasSockets, NoSockets, Probe, SocketTable};
    pub use crate::timers::Timer;
    pub use crate::wire::{decode_args, encode, Failure};
    pub use futures::future::LocalBoxFuture;
    pub use serde;

    #[cfg(target_arch = "wasm32")]
    pub use crate::wasm::{raw_call, WasmHost};
    #[cfg(target_arch = "wasm32")]
    pub use worker;
    #[cfg(target_arch = "wasm32")]
    pub use worker::{js_sys, wasm_bindgen, wasm_bindgen_futures};

    use crate::error::{Error, ErrorCode};

    /// Naming of a class, implemented by `#[duro::object]`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a duro object",
        label = "add `#[duro::object]` to the struct `{Self}`"
    )]
    pub trait Declared: Sized {
        const CLASS: &'static str;
        const BINDING: &'static str;
        const SCHEMA: u32;
        const MIGRATE: Migrate<Self>;

        /// Calls `f` with each collection field and its name (generated: the probe).
        fn __collections(&mut self, _f: &mut dyn FnMut(&'static str, &mut dyn Collection)) {}
    }

    // Each serde direction has its own trait, checked once at the one place that needs
    // it (the object decodes arguments, the stub encodes them, …). The generated code
    // names the user's types in turbofish position, so a missing derive is reported once,
    // under the user's type, with the message below.

    /// What the object needs of an argument type.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be an RPC argument",
        label = "the object decodes its arguments: this type must implement `Deserialize`"
    )]
    pub trait ArgDecode: serde::de::DeserializeOwned {}
    impl<T: serde::de::DeserializeOwned> ArgDecode for T {}

    /// What a stub needs of an argument type.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be an RPC argument",
        label = "the stub encodes its arguments: this type must implement `Serialize`"
    )]
    pub trait ArgEncode: serde::Serialize {}
    impl<T: serde::Serialize> ArgEncode for T {}

    /// What the object needs of a result type.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be returned from an RPC method",
        label = "the object encodes its results: this type must implement `Serialize`"
    )]
    pub trait RetEncode: serde::Serialize {}
    impl<T: serde::Serialize> RetEncode for T {}

    /// What a stub needs of a result type.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be returned from an RPC method",
        label = "the stub decodes results: this type must implement `Deserialize`"
    )]
    pub trait RetDecode: serde::de::DeserializeOwned {}
    impl<T: serde::de::DeserializeOwned> RetDecode for T {}

    /// What the object needs of a user error type.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be an RPC method's error",
        label = "the object encodes user errors and shows them as text: this type must implement `Serialize` and `Display`"
    )]
    pub trait UserErrorEncode: serde::Serialize + core::fmt::Display {}
    impl<T: serde::Serialize + core::fmt::Display> UserErrorEncode for T {}

    /// What a stub needs of a user error type.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be an RPC method's error",
        label = "the stub decodes user errors: this type must implement `Deserialize`"
    )]
    pub trait UserErrorDecode: serde::de::DeserializeOwned {}
    impl<T: serde::de::DeserializeOwned> UserErrorDecode for T {}

    /// What the object needs of a timer payload (scheduling one checks `Serialize`).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a timer payload",
        label = "the object decodes the payload when the timer fires: this type must implement `Deserialize`"
    )]
    pub trait Payload: serde::de::DeserializeOwned {}
    impl<T: serde::de::DeserializeOwned> Payload for T {}

    /// Decodes a timer's payload.
    pub fn decode_payload<P: Payload>(method: &str, bytes: &[u8]) -> Result<P, Error> {
        decode_args(method, bytes)
    }

    /// What an `#[index]` projection must be.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be an #[index] projection",
        label = "projections are published as JSON: this type must implement `Serialize`"
    )]
    pub trait Projection: serde::Serialize {}
    impl<T: serde::Serialize> Projection for T {}

    /// One argument decoder and one stub call per arity, so that each argument type is a
    /// type parameter of its own (serde's tuples stop at 16 elements, and so do these).
    macro_rules! arity {
        ($decode:ident $call:ident $($a:ident $v:ident)*) => {
            /// Decodes the arguments of a method taking these types.
            pub fn $decode<$($a: ArgDecode),*>(
                method: &str,
                bytes: &[u8],
            ) -> Result<($($a,)*), Error> {
                decode_args(method, bytes)
            }

            /// Calls a method taking these types. Not an `async fn`: its future would
            /// repeat the bounds (and their errors) wherever it is awaited.
            #[allow(clippy::too_many_arguments)]
            pub fn $call<'a, $($a: ArgEncode + 'a,)* R: RetDecode + 'a, E: UserErrorDecode + 'a>(
                client: &'a crate::Client,
                method: &'a str,
                $($v: $a),*
            ) -> LocalBoxFuture<'a, Result<R, crate::CallError<E>>> {
                Box::pin(async move { client.call(method, &($($v,)*)).await })
            }
        };
    }

    arity!(decode_args0 call0);
    arity!(decode_args1 call1 A0 a0);
    arity!(decode_args2 call2 A0 a0 A1 a1);
    arity!(decode_args3 call3 A0 a0 A1 a1 A2 a2);
    arity!(decode_args4 call4 A0 a0 A1 a1 A2 a2 A3 a3);
    arity!(decode_args5 call5 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4);
    arity!(decode_args6 call6 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5);
    arity!(decode_args7 call7 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6);
    arity!(decode_args8 call8 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7);
    arity!(decode_args9 call9 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7 A8 a8);
    arity!(decode_args10 call10 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7 A8 a8 A9 a9);
    arity!(decode_args11 call11 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7 A8 a8 A9 a9 A10 a10);
    arity!(decode_args12 call12 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7 A8 a8 A9 a9 A10 a10 A11 a11);
    arity!(decode_args13 call13 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7 A8 a8 A9 a9 A10 a10 A11 a11 A12 a12);
    arity!(decode_args14 call14 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7 A8 a8 A9 a9 A10 a10 A11 a11 A12 a12 A13 a13);
    arity!(decode_args15 call15 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7 A8 a8 A9 a9 A10 a10 A11 a11 A12 a12 A13 a13 A14 a14);
    arity!(decode_args16 call16 A0 a0 A1 a1 A2 a2 A3 a3 A4 a4 A5 a5 A6 a6 A7 a7 A8 a8 A9 a9 A10 a10 A11 a11 A12 a12 A13 a13 A14 a14 A15 a15);

    /// The stub result of a method without a user error type.
    pub fn plain<R>(result: Result<R, crate::CallError<NoUserError>>) -> Result<R, Error> {
        match result {
            Ok(r) => Ok(r),
            Err(crate::CallError::Framework(e)) => Err(e),
            Err(crate::CallError::User(never)) => match never {},
        }
    }

    /// Encodes an `#[index]` projection as JSON.
    pub fn encode_projection<T: Projection>(value: &T) -> Result<Vec<u8>, Error> {
        Ok(duro_index::record::encode_projection(value)?)
    }

    /// Encodes an `#[index]` projection that may be absent (`None`: no entry).
    pub fn encode_optional_projection<T: Projection>(
        value: Option<T>,
    ) -> Result<Option<Vec<u8>>, Error> {
        value.as_ref().map(encode_projection::<T>).transpose()
    }

    /// Encodes a plain return value.
    pub fn reply_value<T: RetEncode>(value: &T) -> Result<Vec<u8>, Failure> {
        Ok(encode(value)?)
    }

    /// Encodes a `duro::Result<T>`.
    pub fn reply_framework<T: RetEncode>(value: Result<T, Error>) -> Result<Vec<u8>, Failure> {
        Ok(encode(&value?)?)
    }

    /// Encodes a `Result<T, E>` with a user error.
    pub fn reply_user<T: RetEncode, E: UserErrorEncode>(
        value: Result<T, E>,
    ) -> Result<Vec<u8>, Failure> {
        match value {
            Ok(v) => Ok(encode(&v)?),
            Err(e) => Err(Failure {
                error: Error::new(ErrorCode::User, e.to_string()),
                data: Some(encode(&e)?),
            }),
        }
    }

    /// Encodes a `Result<T, CallError<E>>`: a framework error travels as itself (its code
    /// and retryable flag), a user error as a user error.
    pub fn reply_call<T: RetEncode, E: UserErrorEncode>(
        value: Result<T, crate::CallError<E>>,
    ) -> Result<Vec<u8>, Failure> {
        match value {
            Ok(v) => Ok(encode(&v)?),
            Err(crate::CallError::Framework(e)) => Err(e.into()),
            Err(crate::CallError::User(e)) => reply_user::<T, E>(Err(e)),
        }
    }

    /// Turns a timer method's result into the dispatcher's.
    pub fn timer_value(_: ()) -> Result<(), Failure> {
        Ok(())
    }

    /// Turns a timer method's `duro::Result<()>` into the dispatcher's.
    pub fn timer_framework(value: Result<(), Error>) -> Result<(), Failure> {
        Ok(value?)
    }

    /// Turns a timer method's `Result<(), CallError<E>>` into the dispatcher's.
    pub fn timer_call<E: core::fmt::Display>(
        value: Result<(), crate::CallError<E>>,
    ) -> Result<(), Failure> {
        match value {
            Ok(()) => Ok(()),
            Err(crate::CallError::Framework(e)) => Err(e.into()),
            Err(crate::CallError::User(e)) => timer_user::<E>(Err(e)),
        }
    }

    /// Turns a timer method's `Result<(), E>` into the dispatcher's.
    pub fn timer_user<E: core::fmt::Display>(value: Result<(), E>) -> Result<(), Failure> {
        value.map_err(|e| Error::new(ErrorCode::User, e.to_string()).into())
    }
}

/// Exports the wasm class behind an object. Used by `#[duro::object]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_class {
    ($ty:ty, $class:literal, $glue:ident) => {
        const _: () = {
            // wasm-bindgen's struct derive refers to the crate by the relative path
            // `wasm_bindgen`, whatever `wasm_bindgen = …` says: bring it into scope here so
            // user crates need no direct dependency on it.
            use ::duro::__private::wasm_bindgen;
            use ::duro::__private::wasm_bindgen::prelude::*;

            #[wasm_bindgen(wasm_bindgen = ::duro::__private::wasm_bindgen, js_name = $class)]
            pub struct $glue {
                host: ::duro::__private::WasmHost<$ty>,
            }

            #[wasm_bindgen(
                                wasm_bindgen = ::duro::__private::wasm_bindgen,
                                wasm_bindgen_futures = ::duro::__private::wasm_bindgen_futures,
                                js_sys = ::duro::__private::js_sys,
                                js_class = $class
                            )]
            impl $glue {
                #[wasm_bindgen(constructor)]
                pub fn new(
                    state: ::duro::__private::worker::worker_sys::DurableObjectState,
                    env: ::duro::__private::worker::Env,
                ) -> Self {
                    Self {
                        host: ::duro::__private::WasmHost::new(state, env),
                    }
                }

                pub async fn fetch(
                    &self,
                    req: ::duro::__private::worker::worker_sys::web_sys::Request,
                ) -> ::core::result::Result<
                    ::duro::__private::wasm_bindgen::JsValue,
                    ::duro::__private::wasm_bindgen::JsValue,
                > {
                    self.host.fetch(req).await
                }

                pub async fn alarm(
                    &self,
                ) -> ::core::result::Result<
                    ::duro::__private::wasm_bindgen::JsValue,
                    ::duro::__private::wasm_bindgen::JsValue,
                > {
                    self.host.alarm().await
                }

                #[wasm_bindgen(js_name = webSocketMessage)]
                pub async fn web_socket_message(
                    &self,
                    ws: ::duro::__private::worker::worker_sys::web_sys::WebSocket,
                    message: ::duro::__private::wasm_bindgen::JsValue,
                ) {
                    self.host.socket_message(ws, message).await
                }

                #[wasm_bindgen(js_name = webSocketClose)]
                pub async fn web_socket_close(
                    &self,
                    ws: ::duro::__private::worker::worker_sys::web_sys::WebSocket,
                ) {
                    self.host.socket_close(ws).await
                }

                /// A duro call over JS RPC (see `duro::wire`).
                #[wasm_bindgen(js_name = duroCall)]
                pub async fn duro_call(
                    &self,
                    protocol: Option<String>,
                    method: String,
                    name: Option<String>,
                    chain: Option<String>,
                    args: ::duro::__private::js_sys::Uint8Array,
                ) -> ::duro::__private::wasm_bindgen::JsValue {
                    self.host.call(protocol, method, name, chain, args).await
                }
            }
        };
    };
}
