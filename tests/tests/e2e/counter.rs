//! The counter app's HTTP API and its test-only routes, as the tests use them.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::http::{Client, Reply};

/// `POST /counters/<name>/add` with `{"by": by}`.
pub fn add(client: &Client, name: &str, by: i64) -> Reply {
    let body = serde_json::json!({ "by": by }).to_string();
    client.post(&format!("/counters/{name}/add"), body.as_bytes())
}

/// Adds and returns the new value; panics unless the reply is `200 {"value": n}`.
pub fn add_ok(client: &Client, name: &str, by: i64) -> i64 {
    expect_value(&add(client, name, by), &format!("add {by} to {name}"))
}

/// The counter's value; panics unless `GET /counters/<name>` is `200 {"value": n}`.
pub fn value(client: &Client, name: &str) -> i64 {
    let reply = client.get(&format!("/counters/{name}"));
    expect_value(&reply, &format!("get {name}"))
}

/// `POST /counters/<name>/reset`.
pub fn reset(client: &Client, name: &str) -> Reply {
    client.post(&format!("/counters/{name}/reset"), b"")
}

/// The `value` of a `200 {"value": n}` reply; panics with `what` otherwise.
pub fn expect_value(reply: &Reply, what: &str) -> i64 {
    assert_eq!(
        reply.status,
        200,
        "{what}: expected 200, got {} {:?}",
        reply.status,
        reply.text()
    );
    reply.json()["value"].as_i64().unwrap_or_else(|| {
        panic!(
            "{what}: expected {{\"value\": <i64>}}, got {:?}",
            reply.text()
        )
    })
}

/// Asserts `reply` is `status` with the JSON error shape
/// `{"error": {"code": "...", "message": "..."}}` and returns the code.
pub fn expect_json_error(reply: &Reply, status: u16, what: &str) -> String {
    assert_eq!(
        reply.status,
        status,
        "{what}: expected {status}, got {} {:?}",
        reply.status,
        reply.text()
    );
    let body = reply.json();
    let code = body["error"]["code"].as_str();
    let message = body["error"]["message"].as_str();
    match (code, message) {
        (Some(code), Some(message)) if !code.is_empty() && !message.is_empty() => code.to_owned(),
        _ => panic!(
            "{what}: expected {{\"error\": {{\"code\": \"…\", \"message\": \"…\"}}}}, got {body}"
        ),
    }
}

/// `POST /__test/raw/<name>/<method>`: forwarded verbatim to the object's
/// `POST /__duro/call/<method>`, with `x-duro-protocol: <protocol>` when given.
pub fn raw(
    client: &Client,
    name: &str,
    method: &str,
    protocol: Option<&str>,
    body: &[u8],
) -> Reply {
    let headers: Vec<(&str, &str)> = protocol
        .map(|p| vec![("x-duro-protocol", p)])
        .unwrap_or_default();
    client.post_with(&format!("/__test/raw/{name}/{method}"), &headers, body)
}

/// A raw call with the current protocol version that must succeed; returns the decoded
/// MessagePack result.
pub fn raw_ok<T: DeserializeOwned>(client: &Client, name: &str, method: &str, args: &[u8]) -> T {
    let reply = raw(client, name, method, Some("1"), args);
    assert_eq!(
        reply.status,
        200,
        "raw {method} on {name}: expected 200, got {} {:?}",
        reply.status,
        wire_error_text(&reply.body)
    );
    rmp_serde::from_slice(&reply.body).unwrap_or_else(|e| {
        panic!(
            "raw {method} on {name}: the 200 body is not the expected MessagePack ({e}): {:?}",
            reply.body
        )
    })
}

/// The MessagePack error body of a failed call.
#[derive(Debug, Deserialize)]
pub struct WireError {
    /// Stable snake_case code.
    pub code: String,
    /// Message for humans.
    pub message: String,
    /// The user's error, encoded, for `user` errors.
    pub data: Option<serde_bytes::ByteBuf>,
    /// Whether the caller may retry.
    pub retryable: bool,
}

fn wire_error_text(body: &[u8]) -> String {
    match rmp_serde::from_slice::<WireError>(body) {
        Ok(e) => format!("{e:?}"),
        Err(_) => format!("undecodable body {:?}", String::from_utf8_lossy(body)),
    }
}

/// Asserts `reply` is `status` with a MessagePack error body (a map with field names)
/// carrying `code`, and returns it.
pub fn expect_wire_error(reply: &Reply, status: u16, code: &str, what: &str) -> WireError {
    let shown = wire_error_text(&reply.body);
    assert_eq!(
        reply.status, status,
        "{what}: expected {status} {code}, got {} {shown}",
        reply.status
    );
    let is_map = matches!(reply.body.first(), Some(0x80..=0x8f | 0xde | 0xdf));
    assert!(
        is_map,
        "{what}: the error body must be a MessagePack map with field names, got {:?}",
        reply.body
    );
    let error: WireError = rmp_serde::from_slice(&reply.body).unwrap_or_else(|e| {
        panic!(
            "{what}: cannot decode the error body as {{code, message, data, retryable}} ({e}): {:?}",
            reply.body
        )
    });
    assert_eq!(error.code, code, "{what}: wrong code in {error:?}");
    assert!(
        !error.message.is_empty(),
        "{what}: empty message in {error:?}"
    );
    error
}

/// The per-object counters of `GET /__test/stats/<name>`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Stats {
    /// Times the object was loaded.
    pub activations: u64,
    /// Calls dispatched.
    pub calls: u64,
    /// Storage reads.
    pub storage_reads: u64,
    /// Storage writes.
    pub storage_writes: u64,
    /// Index entries written to KV.
    #[serde(default)]
    pub index_writes: u64,
}

/// `GET /__test/stats/<name>`.
pub fn stats(client: &Client, name: &str) -> Stats {
    let reply = client.get(&format!("/__test/stats/{name}"));
    assert_eq!(
        reply.status,
        200,
        "stats of {name}: expected 200, got {} {:?}",
        reply.status,
        reply.text()
    );
    serde_json::from_slice(&reply.body).unwrap_or_else(|e| {
        panic!(
            "stats of {name}: expected {{activations, calls, storage_reads, storage_writes}} ({e}), got {:?}",
            reply.text()
        )
    })
}
