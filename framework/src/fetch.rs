//! The raw HTTP hook: [`Fetch`], an object's own routes, reached by the requests a worker
//! forwards to it.

use std::future::Future;

use futures::future::LocalBoxFuture;

use crate::ctx::Ctx;
use crate::error::Result;
use crate::http::{Request, Response};

/// An object's own HTTP handler: every request a worker forwards to the object
/// (`duro::forward::<T>(&env, name, req)` in a worker, `TestEnv::fetch` in tests) that
/// is neither a WebSocket upgrade (those go to [`Sockets`](crate::Sockets)) nor duro's
/// stats view. Implement it next to `#[duro::methods]`; duro finds the implementation
/// (no attribute needed). An object without one answers such requests with 404
/// `{"error":{"code":"unknown_method",…}}`.
///
/// Each request is a turn, like a call: one at a time with calls, timers and socket
/// messages; what it changed in `self` (and in its collections) is saved before the
/// response leaves, and only if it changed. An `Err` or a panic rolls the state back and
/// answers with the error as JSON (`{"error":{"code","message"}}` with the code's status,
/// 500 for a panic). When the stored state was written by a newer schema, the request is
/// refused with 409 `schema_conflict` before the handler runs, as writes are. The body is
/// at most the object's body limit (`DURO_BODY_LIMIT`; 413 beyond).
///
/// ```
/// use duro::http::{self, Method, Request, Response};
/// use duro::prelude::*;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Page { text: String, edits: u64 }
///
/// #[duro::methods]
/// impl Page {
///     /// How many times the page was edited.
///     #[rpc]
///     fn edits(&self) -> u64 { self.edits }
/// }
///
/// impl duro::Fetch for Page {
///     async fn fetch(&mut self, _ctx: &Ctx, request: Request) -> duro::Result<Response> {
///         match *request.method() {
///             Method::GET => Ok(http::with_body(200, "text/plain", self.text.clone().into_bytes())),
///             Method::PUT => {
///                 self.text = String::from_utf8(request.into_body())
///                     .map_err(|_| duro::Error::bad_request("the page is not UTF-8"))?;
///                 self.edits += 1;
///                 Ok(http::json(200, &self.edits))
///             }
///             _ => Ok(http::error(405, "method_not_allowed", "GET or PUT")),
///         }
///     }
/// }
///
/// // In a worker: `duro::forward::<Page>(&env, "home", req).await`. In a test:
/// # futures::executor::block_on(async {
/// let env = duro::testing::TestEnv::new();
/// let put = http::request().method("PUT").uri("/page").body(b"hello".to_vec()).unwrap();
/// assert_eq!(env.fetch::<Page>("home", put).await.status(), 200);
/// env.restart(); // the edit was saved before the response left
/// let get = http::request().uri("/page").body(Vec::new()).unwrap();
/// let got = env.fetch::<Page>("home", get).await;
/// assert_eq!(got.body().as_slice(), b"hello");
/// assert_eq!(env.stub::<Page>("home").edits().await.unwrap(), 1);
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no fetch handler",
    label = "implement `duro::Fetch` for `{Self}`"
)]
pub trait Fetch: Sized + 'static {
    /// Answers one request.
    fn fetch(&mut self, ctx: &Ctx, request: Request) -> impl Future<Output = Result<Response>>;
}

/// The fetch handler as the host calls it.
#[doc(hidden)]
pub type FetchFn<T> =
    for<'a> fn(&'a mut T, &'a Ctx, Request) -> LocalBoxFuture<'a, Result<Response>>;

fn fetch<'a, T: Fetch>(
    this: &'a mut T,
    ctx: &'a Ctx,
    request: Request,
) -> LocalBoxFuture<'a, Result<Response>> {
    Box::pin(this.fetch(ctx, request))
}

crate::hooks::probe! {
    /// Finds an object's [`Fetch`] implementation, like `Probe` does for sockets.
    FetchProbe, HasFetch, NoFetch, __duro_fetch: Fetch => FetchFn<T> = fetch::<T>
}
