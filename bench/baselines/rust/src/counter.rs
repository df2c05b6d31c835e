//! The worker (routes) and the `Counter` Durable Object.

use std::cell::Cell;

use serde::Deserialize;
use serde_json::json;
use worker::{
    durable_object, event, Context, DurableObject, Env, Method, Request, RequestInit, Response,
    Result, State,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    by: i64,
}

fn error(status: u16, code: &str, message: impl Into<String>) -> Result<Response> {
    Ok(
        Response::from_json(&json!({ "error": { "code": code, "message": message.into() } }))?
            .with_status(status),
    )
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = req.method();
    let target = match (method.clone(), segments.as_slice()) {
        (_, ["counters", name, ..]) if !valid_name(name) => {
            return error(
                400,
                "bad_request",
                "counter names are 1-128 characters of [A-Za-z0-9_.-]",
            )
        }
        (Method::Post, ["counters", name, "add"]) => {
            let bytes = req.bytes().await?;
            let body: AddBody = match serde_json::from_slice(&bytes) {
                Ok(body) => body,
                Err(e) => {
                    return error(
                        400,
                        "bad_request",
                        format!("expected {{\"by\": <i64>}}: {e}"),
                    )
                }
            };
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(
                serde_json::to_string(&json!({ "by": body.by }))?.into(),
            ));
            (name, Request::new_with_init("https://counter/add", &init)?)
        }
        (Method::Get, ["counters", name]) => {
            (name, Request::new("https://counter/get", Method::Get)?)
        }
        (Method::Get, ["__test", "stats", name]) if test_routes(&env) => {
            (name, Request::new("https://counter/stats", Method::Get)?)
        }
        _ => return error(404, "not_found", format!("no route for {method:?} {path}")),
    };
    let (name, request) = target;
    let stub = env.durable_object("COUNTER")?.get_by_name(name)?;
    stub.fetch_with_request(request).await
}

fn test_routes(env: &Env) -> bool {
    env.var("DURO_TEST_ROUTES")
        .map(|v| v.to_string() == "1")
        .unwrap_or(false)
}

/// One counter per name: the value is loaded once per activation, kept in memory and
/// written to storage before every reply that changed it.
#[durable_object]
pub struct Counter {
    state: State,
    value: Cell<Option<i64>>,
    activations: Cell<u64>,
    calls: Cell<u64>,
    reads: Cell<u64>,
    writes: Cell<u64>,
}

impl Counter {
    async fn value(&self) -> Result<i64> {
        if let Some(v) = self.value.get() {
            return Ok(v);
        }
        self.reads.set(self.reads.get() + 1);
        let v = self.state.storage().get::<i64>("value").await?.unwrap_or(0);
        self.value.set(Some(v));
        Ok(v)
    }
}

impl DurableObject for Counter {
    fn new(state: State, _env: Env) -> Self {
        Counter {
            state,
            value: Cell::new(None),
            activations: Cell::new(1),
            calls: Cell::new(0),
            reads: Cell::new(0),
            writes: Cell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/add" => {
                self.calls.set(self.calls.get() + 1);
                let AddBody { by } = req.json().await?;
                let Some(v) = self.value().await?.checked_add(by) else {
                    return error(422, "user_error", "the counter would leave the i64 range");
                };
                self.writes.set(self.writes.get() + 1);
                self.state.storage().put("value", v).await?;
                self.value.set(Some(v));
                Response::from_json(&json!({ "value": v }))
            }
            "/get" => {
                self.calls.set(self.calls.get() + 1);
                Response::from_json(&json!({ "value": self.value().await? }))
            }
            "/stats" => Response::from_json(&json!({
                "activations": self.activations.get(),
                "calls": self.calls.get(),
                "storage_reads": self.reads.get(),
                "storage_writes": self.writes.get(),
                "wasm_memory_pages": core::arch::wasm32::memory_size::<0>(),
            })),
            _ => error(404, "not_found", "no such object route"),
        }
    }
}
