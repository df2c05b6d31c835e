//! HTTP for a worker's routes and an object's raw `fetch` handler: the `http`
//! crate's request and response with the body as bytes, so the same route code runs in
//! workerd and natively against `TestEnv`; JSON replies; and duro's errors as JSON error
//! responses in one call.
//!
//! ```
//! use duro::http::{self, Response};
//! use duro::{Error, ErrorCode};
//!
//! fn reply(result: duro::Result<u64>) -> Response {
//!     match result {
//!         Ok(n) => http::json(200, &n),
//!         // {"error":{"code":"bad_request","message":"…"}} with status 400.
//!         Err(e) => e.into(),
//!     }
//! }
//!
//! let resp = reply(Err(Error::new(ErrorCode::BadRequest, "`by` must be a number")));
//! assert_eq!(resp.status(), 400);
//! assert_eq!(resp.headers()["content-type"], "application/json");
//! assert_eq!(
//!     resp.body().as_slice(),
//!     br#"{"error":{"code":"bad_request","message":"`by` must be a number"}}"#
//! );
//! ```

use serde::Serialize;

use crate::error::{CallError, Error, ErrorCode};

pub use ::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};

/// A request with its body read into bytes.
pub type Request = ::http::Request<Vec<u8>>;

/// A response with its body as bytes.
pub type Response = ::http::Response<Vec<u8>>;

/// A request builder, for tests and for requests a worker sends on.
///
/// ```
/// let req: duro::http::Request = duro::http::request()
///     .method("POST")
///     .uri("/api/rooms/lobby/messages")
///     .header("content-type", "application/json")
///     .body(br#"{"user":"ann","text":"hi"}"#.to_vec())
///     .unwrap();
/// assert_eq!(req.uri().path(), "/api/rooms/lobby/messages");
/// ```
pub fn request() -> ::http::request::Builder {
    ::http::Request::builder()
}

/// A response of `status` with `body` as JSON (`content-type: application/json`).
///
/// A status outside 100–999 becomes 500; a body that does not serialize (a map with
/// non-string keys) becomes a 500 error response.
pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => with_body(status, "application/json", bytes),
        Err(e) => Error::internal(format!("the reply does not serialize as JSON: {e}")).into(),
    }
}

/// A response of `status` with `body` and its content type.
#[inline(never)]
pub fn with_body(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The body of an error response, `{"error":{"code","message"}}`, for routes that
/// write their responses some other way (a worker's own `worker::Response`).
///
/// ```
/// let body = duro::http::ErrorBody::new("not_found", "no route");
/// assert_eq!(
///     serde_json::to_string(&body).unwrap(),
///     r#"{"error":{"code":"not_found","message":"no route"}}"#
/// );
/// ```
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The code and message.
    pub error: ErrorDetail<'a>,
}

/// The `error` of an [`ErrorBody`].
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// A stable, machine-readable code (`bad_request`, or an app's own).
    pub code: &'a str,
    /// A message for humans.
    pub message: &'a str,
}

impl<'a> ErrorBody<'a> {
    /// `{"error":{"code":code,"message":message}}`.
    pub fn new(code: &'a str, message: &'a str) -> Self {
        ErrorBody {
            error: ErrorDetail { code, message },
        }
    }
}

/// An error response: `status` and `{"error":{"code","message"}}`.
#[inline(never)]
pub fn error(status: u16, code: &str, message: &str) -> Response {
    json(status, &ErrorBody::new(code, message))
}

/// `{"error":{"code","message"}}` with the code's status (see [`ErrorCode::status`]). A
/// retryable error carries `retry-after: 1`.
impl From<Error> for Response {
    #[inline(never)]
    fn from(e: Error) -> Response {
        let mut resp = error(e.code().status(), e.code().as_str(), e.message());
        if e.is_retryable() && e.code() != ErrorCode::Internal {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// A framework error as [`From<Error>`](#impl-From<Error>-for-Response) does; the method's
/// own error as 422 `{"error":{"code":"user","message":<its Display>}}`.
impl<E: core::fmt::Display> From<CallError<E>> for Response {
    fn from(e: CallError<E>) -> Response {
        match e {
            CallError::Framework(e) => e.into(),
            CallError::User(e) => error(
                ErrorCode::User.status(),
                ErrorCode::User.as_str(),
                &e.to_string(),
            ),
        }
    }
}

/// The decoded query pairs of `uri`, in order (`+` is a space, `%XX` a byte).
///
/// ```
/// let uri: duro::http::Uri = "/rooms?user=ann%20b&after=3".parse().unwrap();
/// assert_eq!(duro::http::query_pairs(&uri), [("user".into(), "ann b".into()), ("after".into(), "3".into())]);
/// ```
pub fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query().map(crate::url::pairs).unwrap_or_default()
}

/// The decoded value of the query parameter `name` of `uri`, if present (the first one).
///
/// ```
/// let uri: duro::http::Uri = "/rooms?user=ann%20b&after=3".parse().unwrap();
/// assert_eq!(duro::http::query(&uri, "user").as_deref(), Some("ann b"));
/// assert_eq!(duro::http::query(&uri, "limit"), None);
/// ```
pub fn query(uri: &Uri, name: &str) -> Option<String> {
    query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[cfg(target_arch = "wasm32")]
mod worker_conv {
    use super::{header, HeaderValue, Method, Request, Response};
    use crate::error::{Error, ErrorCode};

    /// Reads a worker's request into a [`Request`]: method, URL, headers, and the body of
    /// at most `body_limit` bytes (413 beyond, whether declared by `content-length` or
    /// not). GET, HEAD and OPTIONS requests keep an empty body and leave `req`'s body
    /// unread (so a WebSocket upgrade can still be [forwarded](crate::forward)).
    pub async fn from_worker(
        req: &mut worker::Request,
        body_limit: usize,
    ) -> crate::Result<Request> {
        let mut out = head(req)?;
        if !matches!(*out.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            *out.body_mut() = read_body(req, body_limit).await?;
        }
        Ok(out)
    }

    /// The request without its body. Not inlined: the header parsing is large, and the
    /// caller is an async function that every route's code is inlined into.
    #[inline(never)]
    fn head(req: &worker::Request) -> crate::Result<Request> {
        let method = Method::from_bytes(req.method().as_ref().as_bytes())
            .map_err(|e| Error::bad_request(format!("bad method: {e}")))?;
        let mut out = ::http::Request::builder()
            .method(method)
            .uri(req.inner().url());
        if let Some(headers) = out.headers_mut() {
            for (k, v) in req.headers().entries() {
                if let (Ok(k), Ok(v)) = (
                    header::HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    headers.append(k, v);
                }
            }
        }
        out.body(Vec::new())
            .map_err(|e| Error::bad_request(format!("bad request: {e}")))
    }

    /// Reads a worker's request body of at most `body_limit` bytes: 413
    /// `payload_too_large` beyond, whether declared by `content-length` or not (a declared
    /// length over the limit is refused before anything is read); 400 when it cannot be
    /// read.
    pub async fn read_body(req: &mut worker::Request, body_limit: usize) -> crate::Result<Vec<u8>> {
        let too_large = || {
            Error::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is over {body_limit} bytes"),
            )
        };
        let declared = req
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > body_limit as u64) {
            return Err(too_large());
        }
        let body = req
            .bytes()
            .await
            .map_err(|e| Error::bad_request(format!("reading the body failed: {e}")))?;
        if body.len() > body_limit {
            return Err(too_large());
        }
        Ok(body)
    }

    /// A [`Response`] as a worker's response.
    pub fn to_worker(resp: Response) -> worker::Result<worker::Response> {
        let (parts, body) = resp.into_parts();
        let headers = worker::Headers::new();
        for (k, v) in &parts.headers {
            if let Ok(v) = v.to_str() {
                headers.append(k.as_str(), v)?;
            }
        }
        let out = if body.is_empty() {
            worker::Response::empty()?
        } else {
            worker::Response::from_bytes(body)?
        };
        Ok(out.with_status(parts.status.as_u16()).with_headers(headers))
    }
}

#[cfg(target_arch = "wasm32")]
pub use worker_conv::{from_worker, read_body, to_worker};
