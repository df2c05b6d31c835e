//! The counter worker's HTTP API.

use duro::{CallError, ErrorCode, Object};
use serde::{Deserialize, Serialize};
use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::{valid_name, Counter, CounterError};

/// Largest request body the API accepts.
const BODY_LIMIT: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    by: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetInBody {
    seconds: u64,
}

/// Longest delay `reset-in` accepts: one year.
const MAX_RESET_DELAY_SECS: u64 = 366 * 24 * 3600;

/// Entries per page of `GET /counters` unless `limit` says otherwise.
const DEFAULT_LIST_LIMIT: usize = 100;

/// Parses a JSON object body into `T` (serde would also take an array for a struct).
fn parse_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        return Err(serde::de::Error::custom("the body must be a JSON object"));
    }
    serde_json::from_slice(bytes)
}

fn json_response<T: Serialize + ?Sized>(status: u16, body: &T) -> Result<Response> {
    json_text(status, serde_json::to_vec(body)?)
}

/// The one non-generic place that makes a JSON response.
fn json_text(status: u16, body: Vec<u8>) -> Result<Response> {
    let resp = Response::from_bytes(body)?.with_status(status);
    resp.headers().set("content-type", "application/json")?;
    Ok(resp)
}

fn error(status: u16, code: &str, message: impl AsRef<str>) -> Result<Response> {
    json_response(status, &duro::http::ErrorBody::new(code, message.as_ref()))
}

#[derive(Serialize)]
struct ValueBody {
    value: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reset_at_ms: Option<u64>,
}

fn value(value: i64) -> Result<Response> {
    json_response(
        200,
        &ValueBody {
            value,
            reset_at_ms: None,
        },
    )
}

#[derive(Serialize)]
struct Home {
    app: &'static str,
    routes: [&'static str; 8],
}

#[cfg(feature = "index")]
#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    value: i64,
    seq: u64,
    published_at_ms: u64,
}

#[cfg(feature = "index")]
#[derive(Serialize)]
struct ListBody<'a> {
    counters: Vec<Listed<'a>>,
    /// Entries left out because they do not decode, so that one bad entry does not fail
    /// the page.
    skipped: Vec<SkippedEntry<'a>>,
    cursor: Option<&'a str>,
}

#[cfg(feature = "index")]
#[derive(Serialize)]
struct SkippedEntry<'a> {
    name: &'a str,
    error: &'a str,
}

#[derive(Serialize)]
struct Deleted {
    deleted: bool,
}

#[derive(Serialize)]
struct Republished<'a, T: Serialize> {
    republished: T,
    cursor: Option<&'a str>,
}

fn call_error<E: std::fmt::Display>(e: CallError<E>) -> Result<Response> {
    let status = e.code().status();
    error(status, e.code().as_str(), e.to_string())
}

fn framework_error(e: duro::Error) -> Result<Response> {
    error(e.code().status(), e.code().as_str(), e.message())
}

/// Reads the body, refusing more than [`BODY_LIMIT`] bytes (by the declared length first).
async fn body(req: &mut Request) -> std::result::Result<Vec<u8>, Result<Response>> {
    duro::http::read_body(req, BODY_LIMIT)
        .await
        .map_err(framework_error)
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.inner().url();
    let path = duro::url::path(&url).to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = req.method();
    match (method.clone(), segments.as_slice()) {
        (Method::Get, [""]) => json_response(
            200,
            &Home {
                app: "duro counter",
                routes: [
                    "POST /counters/<name>/add {\"by\": <i64>}",
                    "POST /counters/<name>/transfer {\"to\": <name>, \"by\": <i64>}",
                    "GET /counters/<name>",
                    "POST /counters/<name>/reset",
                    "POST /counters/<name>/reset-in {\"seconds\": <u64>}",
                    "DELETE /counters/<name>",
                    "GET /counters?prefix=<p>&cursor=<c>&limit=<1-1000>",
                    "GET /counters/<name>/ws (WebSocket: value frames; send {\"type\": \"add\", \"by\": <i64>})",
                ],
            },
        ),
        (_, ["counters", name, ..]) if !valid_name(name) => error(
            400,
            ErrorCode::BadRequest.as_str(),
            "counter names are 1-128 characters of [A-Za-z0-9_.-]",
        ),
        (Method::Post, ["counters", name, "add"]) => {
            let bytes = match body(&mut req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            let AddBody { by } = match parse_object(&bytes) {
                Ok(b) => b,
                Err(e) => {
                    return error(
                        400,
                        ErrorCode::BadRequest.as_str(),
                        format!("expected {{\"by\": <i64>}}: {e}"),
                    )
                }
            };
            let counter = Counter::stub(&env, name)?;
            match counter.add(by).await {
                Ok(v) => value(v),
                Err(e @ CallError::User(CounterError::Overflow { .. })) => call_error(e),
                Err(e) => call_error(e),
            }
        }
        (Method::Get, ["counters", name, "ws"]) => {
            let upgrade = req.headers().get("upgrade")?;
            if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
                return error(426, "upgrade_required", "this route takes a WebSocket");
            }
            duro::forward::<Counter>(&env, name, req).await
        }
        (Method::Post, ["counters", name, "transfer"]) => {
            Box::pin(transfer(&mut req, &env, name)).await
        }
        // Boxed: the hot add/get path should not carry the (larger) state of the list
        // and test routes in every request's future.
        #[cfg(feature = "index")]
        (Method::Get, ["counters"]) => Box::pin(list_counters(&req, &env, true)).await,
        (Method::Delete, ["counters", name]) => match Counter::stub(&env, name)?.delete().await {
            Ok(()) => json_response(200, &Deleted { deleted: true }),
            Err(e) => framework_error(e),
        },
        (Method::Get, ["counters", name]) => match Counter::stub(&env, name)?.get().await {
            Ok(v) => value(v),
            Err(e) => framework_error(e),
        },
        (Method::Post, ["counters", name, "reset"]) => {
            match Counter::stub(&env, name)?.reset().await {
                Ok(v) => value(v),
                Err(e) => framework_error(e),
            }
        }
        (Method::Post, ["counters", name, "reset-in"]) => {
            let bytes = match body(&mut req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            let seconds = match parse_object::<ResetInBody>(&bytes) {
                Ok(b) if b.seconds <= MAX_RESET_DELAY_SECS => b.seconds,
                Ok(_) => {
                    return error(
                        400,
                        ErrorCode::BadRequest.as_str(),
                        format!("seconds must be at most {MAX_RESET_DELAY_SECS}"),
                    )
                }
                Err(e) => {
                    return error(
                        400,
                        ErrorCode::BadRequest.as_str(),
                        format!("expected {{\"seconds\": <u64>}}: {e}"),
                    )
                }
            };
            let counter = Counter::stub(&env, name)?;
            let at = match counter.reset_in(seconds).await {
                Ok(at) => at,
                Err(e) => return framework_error(e),
            };
            match counter.get().await {
                Ok(value) => json_response(
                    200,
                    &ValueBody {
                        value,
                        reset_at_ms: Some(at),
                    },
                ),
                Err(e) => framework_error(e),
            }
        }
        (_, ["counters"])
        | (_, ["counters", _])
        | (_, ["counters", _, "add" | "transfer" | "reset" | "reset-in"]) => error(
            405,
            "method_not_allowed",
            format!("{method:?} is not allowed on {path}"),
        ),
        (_, ["__test", ..]) if test_routes(&env) => {
            Box::pin(test_route(req, &env, &segments)).await
        }
        _ => error(404, "not_found", format!("no route for {method:?} {path}")),
    }
}

/// The body of `POST /counters/<name>/transfer`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to: String,
    by: i64,
}

async fn transfer(req: &mut Request, env: &Env, name: &str) -> Result<Response> {
    let bytes = match body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let TransferBody { to, by } = match parse_object(&bytes) {
        Ok(b) => b,
        Err(e) => {
            return error(
                400,
                ErrorCode::BadRequest.as_str(),
                format!("expected {{\"to\": <name>, \"by\": <i64>}}: {e}"),
            )
        }
    };
    if !valid_name(&to) {
        return error(
            400,
            ErrorCode::BadRequest.as_str(),
            "counter names are 1-128 characters of [A-Za-z0-9_.-]",
        );
    }
    match Counter::stub(env, name)?.transfer(to, by).await {
        Ok(v) => value(v),
        Err(e) => call_error(e),
    }
}

/// Query parameters of the list routes.
struct ListQuery {
    prefix: String,
    cursor: Option<String>,
    limit: usize,
}

/// Parses `prefix`, `cursor` and `limit` (1 to 1000); anything else is an error.
fn list_query(req: &Request) -> std::result::Result<ListQuery, Result<Response>> {
    let url = req.inner().url();
    let mut query = ListQuery {
        prefix: String::new(),
        cursor: None,
        limit: DEFAULT_LIST_LIMIT,
    };
    for (key, value) in duro::url::query(&url) {
        match &*key {
            "prefix" => query.prefix = value,
            "cursor" => query.cursor = Some(value).filter(|c| !c.is_empty()),
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => query.limit = n,
                _ => {
                    return Err(error(
                        400,
                        ErrorCode::BadRequest.as_str(),
                        "limit must be a number from 1 to 1000",
                    ))
                }
            },
            other => {
                return Err(error(
                    400,
                    ErrorCode::BadRequest.as_str(),
                    format!("unknown query parameter `{other}` (expected prefix, cursor, limit)"),
                ))
            }
        }
    }
    Ok(query)
}

/// `GET /counters`: one page of the `counters` index, read from KV. No counter is called
/// or woken. With `use_metadata` false every entry is read with its own KV `get` (for
/// comparison with the metadata fast path). Not in a build without the `index` feature.
#[cfg(feature = "index")]
async fn list_counters(req: &Request, env: &Env, use_metadata: bool) -> Result<Response> {
    let query = match list_query(req) {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    let index = match duro::index::open::<Counter>(env) {
        Ok(index) => index.use_metadata(use_metadata),
        Err(e) => return framework_error(e),
    };
    let page = match index
        .list(&query.prefix, query.cursor.as_deref(), query.limit)
        .await
    {
        Ok(page) => page,
        Err(e) => return framework_error(e.into()),
    };
    let counters = page
        .entries
        .iter()
        .map(|e| Listed {
            name: &e.name,
            value: e.value.value,
            seq: e.seq,
            published_at_ms: e.published_at_ms(),
        })
        .collect();
    let body = ListBody {
        counters,
        skipped: page
            .skipped
            .iter()
            .map(|s| SkippedEntry {
                name: &s.name,
                error: s.error.message(),
            })
            .collect(),
        cursor: page.cursor.as_deref(),
    };
    json_response(200, &body)
}

fn test_routes(env: &Env) -> bool {
    env.var("DURO_TEST_ROUTES")
        .map(|v| v.to_string() == "1")
        .unwrap_or(false)
}

/// Routes for end-to-end tests, enabled only by the `DURO_TEST_ROUTES = "1"` var.
async fn test_route(mut req: Request, env: &Env, segments: &[&str]) -> Result<Response> {
    match segments {
        ["__test", "raw", name, method] => {
            // Sends the bytes and the protocol version verbatim to the object.
            let bytes = req.bytes().await?;
            let protocol = req.headers().get("x-duro-protocol")?;
            let reply = duro::__private::raw_call(
                env,
                <Counter as Object>::BINDING,
                name,
                protocol.as_deref(),
                method,
                bytes,
            )
            .await
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
            Ok(Response::from_bytes(reply.body)?.with_status(reply.status))
        }
        #[cfg(feature = "index")]
        ["__test", "counters"] => list_counters(&req, env, false).await,
        ["__test", "republish", name] => match duro::index::republish::<Counter>(env, name).await {
            Ok(()) => json_response(
                200,
                &Republished {
                    republished: name,
                    cursor: None,
                },
            ),
            Err(e) => framework_error(e),
        },
        ["__test", "rebuild"] => {
            let query = match list_query(&req) {
                Ok(q) => q,
                Err(resp) => return resp,
            };
            let page =
                duro::index::republish_page::<Counter>(env, query.cursor.as_deref(), query.limit)
                    .await;
            match page {
                Ok(page) => json_response(
                    200,
                    &Republished {
                        republished: &page.names,
                        cursor: page.cursor.as_deref(),
                    },
                ),
                Err(e) => framework_error(e),
            }
        }
        ["__test", "stats", name] => {
            let json = duro::object_stats::<Counter>(env, name).await?;
            json_text(200, json.into_bytes())
        }
        _ => error(404, "not_found", "no such test route"),
    }
}
