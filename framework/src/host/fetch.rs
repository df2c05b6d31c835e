//! Fetch turns: a request to the object's own [`Fetch`](crate::Fetch) handler runs like a
//! write call (one at a time, the state saved before the response leaves; `Err` or a
//! panic rolls back and answers with the error as JSON).

use super::{guard, log_failure, Host};
use crate::error::{Error, ErrorCode};
use crate::http::{Request, Response};
use crate::object::Object;
use crate::wire::{self, Failure};

impl<T: Object> Host<T> {
    /// A request for the object's fetch handler, from the object `name` (which a
    /// forwarded request carries). Answers 404 `unknown_method` when the object has none.
    pub async fn fetch(&self, name: Option<&str>, request: Request) -> Response {
        self.remember_name(name);
        // No span of its own (calls have one): it would cost an app about 3 KiB of wasm
        // for fields that tracing-wasm does not print; a failure is logged as a call's is.
        match self.fetch_turn(request).await {
            Ok(response) => response,
            Err(f) => {
                log_failure::<T>(&self.object_name(), "fetch", &f.error);
                f.error.into()
            }
        }
    }

    async fn fetch_turn(&self, request: Request) -> Result<Response, Failure> {
        let Some(fetch) = T::__fetch() else {
            return Err(no_fetch(T::CLASS).into());
        };
        wire::check_len(request.body().len() as u64, self.body_limit)?;
        let mut turn = self.turn().await?;
        Self::writable(&turn)?;
        let ctx = self.ctx(self.object_name());
        let run = async { Ok::<_, Failure>(fetch(&mut turn.value, &ctx, request).await?) };
        let outcome = guard("fetch", &ctx, run).await;
        self.settle(turn, &ctx, outcome).await
    }
}

/// The error of a request to an object without a fetch handler.
fn no_fetch(class: &str) -> Error {
    Error::new(
        ErrorCode::UnknownMethod,
        format!("{class} has no fetch handler (it does not implement duro::Fetch)"),
    )
}
