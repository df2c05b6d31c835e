//! Fetch turns: a request to the object's own [`Fetch`](crate::Fetch) handler runs like a
//! write call (one at a time, the state saved before the response leaves; `Err` or a
//! panic rolls back, and the runtime answers with the error as JSON).

use futures::future::LocalBoxFuture;

use super::{guard, log_failure, Host};
use crate::error::{Error, ErrorCode, Result};
use crate::fetch::FetchFn;
use crate::http::{Request, Response};
use crate::object::Object;
use crate::wire::{self, Failure};

impl<T: Object> Host<T> {
    /// A request for the object's fetch handler, from the object `name` (which a
    /// forwarded request carries): the handler's response, or the error to answer with
    /// (`unknown_method` when the object has no handler).
    ///
    /// Not an `async fn`, and the error not yet a response: for an object without a
    /// handler the turn's future is never made, so its wasm carries neither the turn
    /// nor `duro::http`'s response building (`Endpoint` makes this for every object).
    pub fn fetch<'a>(
        &'a self,
        name: Option<&'a str>,
        request: Request,
    ) -> LocalBoxFuture<'a, Result<Response>> {
        match T::__fetch() {
            Some(handler) => Box::pin(self.fetch_turn(name, handler, request)),
            None => Box::pin(core::future::ready(Err(Self::no_fetch()))),
        }
    }

    /// The error of a request to an object without a fetch handler.
    pub fn no_fetch() -> Error {
        Error::new(
            ErrorCode::UnknownMethod,
            format!(
                "{} has no fetch handler (it does not implement duro::Fetch)",
                T::CLASS
            ),
        )
    }

    async fn fetch_turn(
        &self,
        name: Option<&str>,
        handler: FetchFn<T>,
        request: Request,
    ) -> Result<Response> {
        self.remember_name(name);
        // No span of its own (calls have one): it would cost an app about 3 KiB of wasm
        // for fields that tracing-wasm does not print; a failure is logged as a call's is.
        self.run_fetch(handler, request).await.map_err(|f| {
            log_failure::<T>(&self.object_name(), "fetch", &f.error);
            f.error
        })
    }

    async fn run_fetch(
        &self,
        handler: FetchFn<T>,
        request: Request,
    ) -> core::result::Result<Response, Failure> {
        wire::check_len(request.body().len() as u64, self.body_limit)?;
        let mut turn = self.turn().await?;
        Self::writable(&turn)?;
        let ctx = self.ctx(self.object_name());
        let run = async { Ok::<_, Failure>(handler(&mut turn.value, &ctx, request).await?) };
        let outcome = guard("fetch", &ctx, run).await;
        self.settle(turn, &ctx, outcome).await
    }
}
