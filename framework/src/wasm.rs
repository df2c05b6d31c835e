//! The workerd side: Durable Object storage as a [`Storage`], stubs over JS RPC, and the
//! host behind each exported class.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Once;

use futures::future::LocalBoxFuture;
use worker::js_sys::{self, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::{web_sys, DurableObjectState, DurableObjectStorage};
use worker::{Env, Response};

use crate::client::{check_name, Client, Transport};
use crate::error::{Error, ErrorCode, Result};
use crate::host::Host;
use crate::names::{NAME_HEADER, RPC_METHOD, STATS_PATH};
use crate::object::Object;
use crate::platform::{
    sealed, Connect, HostParts, HostStats, Platform, RawSocket, SocketHandle, Target,
};
use crate::socket::{Frame, Refuse, Upgrade};
use crate::storage::{Counters, Entries, Storage, StorageStats};
use crate::wire::{self, CallHead, Reply};

fn js_error(what: &str, e: JsValue) -> Error {
    let text = e
        .as_string()
        .or_else(|| {
            Reflect::get(&e, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{e:?}"));
    let code = if text.contains("overloaded") {
        ErrorCode::Overloaded
    } else {
        ErrorCode::Internal
    };
    Error::new(code, format!("{what}: {text}"))
}

async fn wait(
    what: &'static str,
    promise: core::result::Result<js_sys::Promise, JsValue>,
) -> Result<JsValue> {
    let promise = promise.map_err(|e| js_error(what, e))?;
    JsFuture::from(promise).await.map_err(|e| js_error(what, e))
}

fn to_bytes(value: &JsValue) -> Vec<u8> {
    Uint8Array::new(value).to_vec()
}

/// A Durable Object's storage, holding values as bytes (`Uint8Array`).
pub struct WorkerStorage {
    raw: DurableObjectStorage,
    counters: Counters,
}

impl WorkerStorage {
    fn new(raw: DurableObjectStorage) -> Self {
        WorkerStorage {
            raw,
            counters: Counters::default(),
        }
    }
}

impl Storage for WorkerStorage {
    fn get<'a>(&'a self, keys: &'a [String]) -> LocalBoxFuture<'a, Result<Vec<Option<Vec<u8>>>>> {
        Counters::bump(&self.counters.reads);
        Box::pin(async move {
            if let [key] = keys {
                let v = wait("storage get", self.raw.get(key)).await?;
                return Ok(vec![(!v.is_undefined()).then(|| to_bytes(&v))]);
            }
            let js_keys = keys.iter().map(|k| JsValue::from_str(k)).collect();
            let map: js_sys::Map = wait("storage get", self.raw.get_multiple(js_keys))
                .await?
                .unchecked_into();
            Ok(keys
                .iter()
                .map(|k| {
                    let v = map.get(&JsValue::from_str(k));
                    (!v.is_undefined()).then(|| to_bytes(&v))
                })
                .collect())
        })
    }

    fn write<'a>(
        &'a self,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        self.counters.wrote(puts.len(), deletes.len());
        // Every promise is created before any is awaited: Durable Objects coalesce writes
        // issued without an intervening await into one atomic batch.
        let mut pending = Vec::new();
        if let [(key, value)] = &puts[..] {
            pending.push(self.raw.put(key, Uint8Array::from(&value[..]).into()));
        } else {
            for batch in puts.chunks(128) {
                let obj = js_sys::Object::new();
                for (key, value) in batch {
                    let _ =
                        Reflect::set(&obj, &JsValue::from_str(key), &Uint8Array::from(&value[..]));
                }
                pending.push(self.raw.put_multiple(obj.into()));
            }
        }
        for batch in deletes.chunks(128) {
            let keys = batch.iter().map(|k| JsValue::from_str(k)).collect();
            pending.push(self.raw.delete_multiple(keys));
        }
        Box::pin(async move {
            for p in pending {
                wait("storage write", p).await?;
            }
            Ok(())
        })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        start: Option<&'a str>,
        limit: Option<usize>,
    ) -> LocalBoxFuture<'a, Result<Entries>> {
        Counters::bump(&self.counters.lists);
        Box::pin(async move {
            let opts = js_sys::Object::new();
            let _ = Reflect::set(&opts, &"prefix".into(), &prefix.into());
            if let Some(start) = start {
                let _ = Reflect::set(&opts, &"start".into(), &start.into());
            }
            if let Some(limit) = limit {
                let _ = Reflect::set(&opts, &"limit".into(), &(limit as f64).into());
            }
            let map: js_sys::Map = wait("storage list", self.raw.list_with_options(opts))
                .await?
                .unchecked_into();
            let mut out = Vec::with_capacity(map.size() as usize);
            map.for_each(&mut |value, key| {
                out.push((key.as_string().unwrap_or_default(), to_bytes(&value)));
            });
            Ok(out)
        })
    }

    fn delete_all(&self) -> LocalBoxFuture<'_, Result<()>> {
        Counters::bump(&self.counters.writes);
        let all = self.raw.delete_all();
        let alarm = self.raw.delete_alarm(js_sys::Object::new());
        Box::pin(async move {
            wait("storage deleteAll", all).await?;
            wait("storage deleteAlarm", alarm).await?;
            Ok(())
        })
    }

    fn get_alarm(&self) -> LocalBoxFuture<'_, Result<Option<u64>>> {
        Counters::bump(&self.counters.alarm_ops);
        Box::pin(async move {
            let v = wait("getAlarm", self.raw.get_alarm(js_sys::Object::new())).await?;
            Ok(v.as_f64().map(|ms| ms as u64))
        })
    }

    fn set_alarm(&self, at_ms: Option<u64>) -> LocalBoxFuture<'_, Result<()>> {
        Counters::bump(&self.counters.alarm_ops);
        let p = match at_ms {
            Some(ms) => self.raw.set_alarm(
                js_sys::Date::new(&JsValue::from_f64(ms as f64)),
                js_sys::Object::new(),
            ),
            None => self.raw.delete_alarm(js_sys::Object::new()),
        };
        Box::pin(async move {
            wait("setAlarm", p).await?;
            Ok(())
        })
    }

    fn stats(&self) -> StorageStats {
        self.counters.snapshot()
    }
}

struct WorkerPlatform {
    env: Env,
    state: DurableObjectState,
}

impl Platform for WorkerPlatform {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn connect(&self, target: Target, name: &str) -> Result<Client> {
        self.env.connect(target, name)
    }

    fn wait_until(&self, work: LocalBoxFuture<'static, ()>) {
        let promise = worker::wasm_bindgen_futures::future_to_promise(async move {
            work.await;
            Ok(JsValue::UNDEFINED)
        });
        let _ = self.state.wait_until(&promise);
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(worker::Delay::from(core::time::Duration::from_millis(ms)))
    }

    fn var(&self, name: &str) -> Option<String> {
        self.env
            .var(name)
            .or_else(|_| self.env.secret(name))
            .ok()
            .map(|v| v.to_string())
    }

    fn id(&self) -> String {
        self.state
            .id()
            .ok()
            .and_then(|id| id.to_string().ok())
            .unwrap_or_default()
    }

    fn random_u64(&self) -> u64 {
        let hi = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        let lo = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        (hi << 32) | lo
    }

    fn env(&self) -> &Env {
        &self.env
    }

    fn sockets(&self, tag: Option<&str>) -> Vec<RawSocket> {
        let all = match tag {
            Some(tag) => self.state.get_websockets_with_tag(tag),
            None => self.state.get_websockets(),
        };
        all.unwrap_or_default()
            .into_iter()
            .filter_map(|ws| raw_socket(ws).ok())
            .collect()
    }

    fn kv(&self, binding: &str) -> Result<Rc<dyn crate::index::Kv>> {
        Ok(Rc::new(crate::index::WorkerKv::from_env(
            &self.env, binding,
        )?))
    }
}

/// A hibernatable WebSocket of this object.
struct WasmSocket(web_sys::WebSocket);

impl SocketHandle for WasmSocket {
    fn send(&self, frame: &Frame) {
        let _ = match frame {
            Frame::Text(text) => self.0.send_with_str(text),
            Frame::Binary(bytes) => self.0.send_with_u8_array(bytes),
        };
    }

    fn close(&self, code: u16, reason: &str) {
        let _ = self.0.close_with_code_and_reason(code, reason);
    }
}

/// The socket with what duro keeps with it (its attachment).
fn raw_socket(ws: web_sys::WebSocket) -> Result<RawSocket> {
    use worker::worker_sys::ext::WebSocketExt;
    let attachment = ws
        .deserialize_attachment()
        .map_err(|e| js_error("reading a socket's attachment", e))?;
    if !attachment.is_instance_of::<Uint8Array>() {
        return Err(Error::internal(
            "a WebSocket of this object has no duro attachment",
        ));
    }
    Ok(RawSocket {
        envelope: to_bytes(&attachment),
        handle: Rc::new(WasmSocket(ws)),
    })
}

struct WorkerTransport {
    stub: worker::worker_sys::DurableObject,
}

impl Transport for WorkerTransport {
    fn send<'a>(
        &'a self,
        method: &'a str,
        name: &'a str,
        chain: Option<&'a str>,
        body: Vec<u8>,
    ) -> LocalBoxFuture<'a, Result<Reply>> {
        Box::pin(rpc(
            &self.stub,
            Some(wire::PROTOCOL_VERSION),
            method,
            name,
            chain,
            body,
        ))
    }
}

/// One call of an object's [`RPC_METHOD`] through its stub: the arguments cross as a
/// `Uint8Array`, the reply comes back as `[status, Uint8Array]`.
async fn rpc(
    stub: &JsValue,
    protocol: Option<&str>,
    method: &str,
    name: &str,
    chain: Option<&str>,
    body: Vec<u8>,
) -> Result<Reply> {
    let unavailable = |e: JsValue| {
        let e = js_error("calling", e);
        if e.code() == ErrorCode::Overloaded {
            return e;
        }
        Error::new(
            ErrorCode::Unavailable,
            format!("calling `{method}` on {name:?} failed: {}", e.message()),
        )
    };
    let opt = |v: Option<&str>| v.map_or(JsValue::NULL, JsValue::from_str);
    let args = js_sys::Array::of5(
        &opt(protocol),
        &JsValue::from_str(method),
        &JsValue::from_str(name),
        &opt(chain),
        &Uint8Array::from(&body[..]),
    );
    // `Reflect.apply`, not `Function.prototype.apply`: on an RPC stub, `apply` is itself a
    // remote property.
    let call = Reflect::get(stub, &JsValue::from_str(RPC_METHOD)).map_err(unavailable)?;
    let pending: JsValue = Reflect::apply(call.unchecked_ref::<js_sys::Function>(), stub, &args)
        .map_err(unavailable)?;
    let pending = JsFuture::from(js_sys::Promise::resolve(&pending));
    let reply: JsValue = pending.await.map_err(unavailable)?;
    let reply: js_sys::Array = reply.unchecked_into();
    let status = reply.get(0).as_f64().unwrap_or(0.0) as u16;
    let body = reply.get(1);
    if status == 0 || !body.is_instance_of::<Uint8Array>() {
        return Err(Error::internal(format!(
            "calling `{method}` on {name:?}: the object's reply is not [status, bytes] \
             (is the worker's entry the one `cargo xtask build` generates?)"
        )));
    }
    Ok(Reply {
        status,
        body: to_bytes(&body),
    })
}

impl sealed::Sealed for Env {}

impl Connect for Env {
    fn connect(&self, target: Target, name: &str) -> Result<Client> {
        check_name(name)?;
        let ns = self.durable_object(target.binding).map_err(|e| {
            Error::internal(format!(
                "no Durable Object binding `{}` for class {} in this worker's env ({e}); \
                 add it to wrangler.toml",
                target.binding, target.class
            ))
        })?;
        let stub = ns
            .get_by_name(name)
            .map_err(|e| Error::internal(format!("getting the stub of {name:?} failed: {e}")))?;
        Ok(Client::new(
            Rc::new(WorkerTransport {
                stub: stub.into_rpc(),
            }),
            target.class,
            name,
        ))
    }
}

/// Reads the stats of object `name` (activations, calls, storage operations, wasm memory
/// pages) as JSON. Objects are never reachable from the internet: route this only behind
/// your own authentication.
pub async fn object_stats<T: Object>(env: &Env, name: &str) -> Result<String> {
    check_name(name)?;
    let ns = env
        .durable_object(T::BINDING)
        .map_err(|e| Error::internal(format!("no binding {}: {e}", T::BINDING)))?;
    let stub = ns
        .get_by_name(name)
        .map_err(|e| Error::internal(e.to_string()))?;
    let mut resp = stub
        .fetch_with_str(&format!("https://duro.internal{STATS_PATH}"))
        .await
        .map_err(|e| Error::new(ErrorCode::Unavailable, e.to_string()))?;
    resp.text()
        .await
        .map_err(|e| Error::new(ErrorCode::Unavailable, e.to_string()))
}

/// Sends raw argument bytes to `method` of the object `name` bound as `binding`, with the
/// given protocol version: the e2e tests' way to send what no typed stub would.
#[doc(hidden)]
pub async fn raw_call(
    env: &Env,
    binding: &str,
    name: &str,
    protocol: Option<&str>,
    method: &str,
    body: Vec<u8>,
) -> Result<Reply> {
    let stub = env
        .durable_object(binding)
        .and_then(|ns| ns.get_by_name(name))
        .map_err(|e| Error::internal(e.to_string()))?;
    rpc(&stub.into_rpc(), protocol, method, name, None, body).await
}

static TRACING: Once = Once::new();

/// Installs the worker's `tracing` subscriber once per isolate: tracing-wasm's layer, which
/// writes one console line per event (so lines show in `wrangler dev` and `wrangler tail`),
/// at the level the `DURO_LOG` var names (`warn` by default).
///
/// Configured for workerd: no colours (the console is not a browser's), no performance
/// timeline, and events only. tracing-wasm marks and measures every span it sees with
/// `performance.mark`/`measure` and never prints span fields, so spans would cost a
/// timeline entry per call and show nothing; duro's events carry the fields a reader needs
/// (class, object, method) themselves. The filter's level hint makes disabled levels cost
/// nothing at their call sites.
fn init_tracing(env: &Env) {
    use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
    TRACING.call_once(|| {
        let level = env
            .var("DURO_LOG")
            .ok()
            .and_then(|v| parse_level(&v.to_string()))
            .unwrap_or(tracing::Level::WARN);
        let config = tracing_wasm::WASMLayerConfigBuilder::new()
            .set_report_logs_in_timings(false)
            .set_console_config(tracing_wasm::ConsoleConfig::ReportWithoutConsoleColor)
            .set_max_level(level)
            .build();
        let events =
            tracing_subscriber::filter::filter_fn(move |m| m.is_event() && *m.level() <= level)
                .with_max_level_hint(level);
        let subscriber = tracing_subscriber::registry()
            .with(tracing_wasm::WASMLayer::new(config).with_filter(events));
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Parses a `DURO_LOG` value (`error`, `warn`, `info`, `debug`, `trace`, any case).
fn parse_level(value: &str) -> Option<tracing::Level> {
    value.trim().parse().ok()
}

/// The host behind an exported Durable Object class.
#[doc(hidden)]
pub struct WasmHost<T: Object> {
    host: Host<T>,
    state: DurableObjectState,
    fetches: Cell<u64>,
}

impl<T: Object> WasmHost<T> {
    /// Called from the class constructor.
    pub fn new(state: DurableObjectState, env: Env) -> Self {
        init_tracing(&env);
        let body_limit = env
            .var("DURO_BODY_LIMIT")
            .ok()
            .and_then(|v| v.to_string().parse().ok())
            .unwrap_or(wire::DEFAULT_BODY_LIMIT);
        let raw = state
            .storage()
            .expect("a Durable Object always has storage");
        let storage = Rc::new(WorkerStorage::new(raw));
        if T::__sockets().is_some() {
            // Pings are answered by the platform, without waking the object.
            if let Ok(pair) = worker::worker_sys::WebSocketRequestResponsePair::new("ping", "pong")
            {
                let _ = state.set_websocket_auto_response(&pair);
            }
        }
        let platform = Rc::new(WorkerPlatform {
            env,
            state: state.clone().unchecked_into(),
        });
        WasmHost {
            host: Host::new(HostParts {
                storage,
                platform,
                body_limit,
            }),
            state,
            fetches: Cell::new(0),
        }
    }

    /// The class's `fetch` handler: WebSocket upgrades forwarded by `duro::forward`, then
    /// the stats view, then every other request for the object's own
    /// [`Fetch`](crate::Fetch) handler. Calls come over JS RPC ([`WasmHost::call`]), not
    /// `fetch`.
    pub async fn fetch(&self, req: web_sys::Request) -> core::result::Result<JsValue, JsValue> {
        self.fetches.set(self.fetches.get() + 1);
        // The raw web_sys request: worker's wrappers parse the URL with the `url` crate
        // (~60 KiB of wasm).
        let url = req.url();
        let headers = req.headers();
        let upgrade = headers.get("upgrade").ok().flatten();
        if upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
            return self.upgrade(&url, &headers).await;
        }
        if crate::url::path(&url) == STATS_PATH {
            return self.stats_response();
        }
        if T::__fetch().is_none() {
            // Made like a refused upgrade's response: an object without a handler carries
            // none of `duro::http`'s parsing.
            let resp = refused(&Refuse::from(Host::<T>::no_fetch()))
                .map_err(|e| JsValue::from_str(&e.to_string()))?;
            return Ok(web_sys::Response::from(resp).into());
        }
        // Boxed: a branch of an async fn stays in its state machine even when its condition
        // is constant, but a future made only where the object has a handler does not.
        let serve: LocalBoxFuture<'_, _> = Box::pin(self.serve(req, headers));
        serve.await
    }

    /// A request for the object's own [`Fetch`](crate::Fetch) handler.
    async fn serve(
        &self,
        req: web_sys::Request,
        headers: web_sys::Headers,
    ) -> core::result::Result<JsValue, JsValue> {
        let name = headers.get(NAME_HEADER).ok().flatten();
        let mut req = worker::Request::from(without_header(&req, &headers, NAME_HEADER)?);
        let response = match crate::http::from_worker(&mut req, self.host.body_limit()).await {
            Ok(request) => self
                .host
                .fetch(name.as_deref(), request)
                .await
                .unwrap_or_else(crate::http::Response::from),
            Err(e) => e.into(),
        };
        let resp =
            crate::http::to_worker(response).map_err(|e| JsValue::from_str(&e.to_string()))?;
        Ok(web_sys::Response::from(resp).into())
    }

    /// A WebSocket upgrade: the object's `connect` decides; an accepted socket is taken
    /// with the hibernation API, its envelope as its attachment.
    async fn upgrade(
        &self,
        url: &str,
        headers: &web_sys::Headers,
    ) -> core::result::Result<JsValue, JsValue> {
        use worker::worker_sys::ext::WebSocketExt;
        let mut pairs = Vec::new();
        if let Ok(Some(entries)) = js_sys::try_iter(headers) {
            for entry in entries.flatten() {
                let entry: js_sys::Array = entry.unchecked_into();
                if let (Some(k), Some(v)) = (entry.get(0).as_string(), entry.get(1).as_string()) {
                    pairs.push((k, v));
                }
            }
        }
        let name = headers.get(NAME_HEADER).ok().flatten();
        let request = Upgrade::new(url, pairs);
        let state = &self.state;
        let accepted = self
            .host
            .connect_socket(name.as_deref(), &request, |envelope, tags| {
                let mut pair = worker::worker_sys::WebSocketPair::new()
                    .map_err(|e| js_error("making a WebSocket pair", e))?;
                let server = pair.server().map_err(|e| js_error("WebSocket pair", e))?;
                let client = pair.client().map_err(|e| js_error("WebSocket pair", e))?;
                let tags = tags.into_iter().map(JsValue::from).collect();
                state
                    .accept_websocket_with_tags(&server, tags)
                    .map_err(|e| js_error("accepting a WebSocket", e))?;
                server
                    .serialize_attachment(Uint8Array::from(envelope).into())
                    .map_err(|e| js_error("keeping a socket's attachment", e))?;
                Ok(client)
            })
            .await;
        let resp = match accepted {
            Ok(client) => Response::from_websocket(worker::WebSocket::from(client)),
            Err(refuse) => refused(&refuse),
        }
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
        Ok(web_sys::Response::from(resp).into())
    }

    /// The class's `webSocketMessage` handler.
    pub async fn socket_message(&self, ws: web_sys::WebSocket, message: JsValue) {
        let frame = match message.as_string() {
            Some(text) => Frame::Text(text),
            None => Frame::Binary(to_bytes(&message)),
        };
        if let Ok(raw) = raw_socket(ws) {
            self.host.socket_message(&raw, &frame).await;
        }
    }

    /// The class's `webSocketClose` and `webSocketError` handlers.
    pub async fn socket_close(&self, ws: web_sys::WebSocket) {
        if let Ok(raw) = raw_socket(ws) {
            self.host.socket_close(&raw).await;
        }
    }

    /// The class's RPC method ([`RPC_METHOD`]): checks the call's head, and the argument
    /// length before the bytes are copied out of the `Uint8Array`, then runs the call.
    /// Answers `[status, Uint8Array]`.
    pub async fn call(
        &self,
        protocol: Option<String>,
        method: String,
        name: Option<String>,
        chain: Option<String>,
        args: Uint8Array,
    ) -> JsValue {
        let head = CallHead {
            method: &method,
            protocol: protocol.as_deref(),
            content_length: Some(u64::from(args.length())),
            chain: chain.as_deref(),
        };
        let reply = match wire::check_head(&head, self.host.body_limit()) {
            Ok(method) => {
                self.host
                    .call(method, name.as_deref(), head.chain, &args.to_vec())
                    .await
            }
            Err(e) => self.host.reject(e),
        };
        js_sys::Array::of2(
            &JsValue::from(reply.status),
            &Uint8Array::from(&reply.body[..]),
        )
        .into()
    }

    /// The class's `alarm` handler. An error makes the platform retry the alarm.
    pub async fn alarm(&self) -> core::result::Result<JsValue, JsValue> {
        match self.host.alarm().await {
            Ok(_) => Ok(JsValue::UNDEFINED),
            Err(e) => Err(JsValue::from_str(&e.to_string())),
        }
    }

    fn stats_response(&self) -> core::result::Result<JsValue, JsValue> {
        let HostStats {
            activations,
            calls,
            alarms,
            index_writes,
            storage,
        } = self.host.stats();
        let pages = core::arch::wasm32::memory_size::<0>();
        let json = format!(
            "{{\"class\":\"{}\",\"activations\":{activations},\"calls\":{calls},\"alarms\":{alarms},\"index_writes\":{index_writes},\
             \"storage_reads\":{},\"storage_writes\":{},\"storage_lists\":{},\
             \"alarm_ops\":{},\"keys_put\":{},\"keys_deleted\":{},\"wasm_memory_pages\":{pages}}}",
            T::CLASS,
            storage.reads,
            storage.writes,
            storage.lists,
            storage.alarm_ops,
            storage.keys_put,
            storage.keys_deleted
        );
        let resp = Response::ok(json).map_err(|e| JsValue::from_str(&e.to_string()))?;
        let _ = resp.headers().set("content-type", "application/json");
        Ok(web_sys::Response::from(resp).into())
    }
}

/// `req` without its header `name` (a received request's headers cannot change: the
/// copy has headers of its own).
fn without_header(
    req: &web_sys::Request,
    headers: &web_sys::Headers,
    name: &str,
) -> core::result::Result<web_sys::Request, JsValue> {
    let headers = web_sys::Headers::new_with_headers(headers)?;
    headers.delete(name)?;
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers);
    web_sys::Request::new_with_request_and_init(req, &init)
}

/// The response to a refused upgrade: its status, with a JSON error body.
fn refused(refuse: &Refuse) -> worker::Result<Response> {
    let code = ErrorCode::ALL
        .iter()
        .find(|c| c.status() == refuse.status())
        .map_or("refused", |c| c.as_str());
    #[derive(serde::Serialize)]
    struct Body<'a> {
        error: Detail<'a>,
    }
    #[derive(serde::Serialize)]
    struct Detail<'a> {
        code: &'a str,
        message: &'a str,
    }
    let body = Body {
        error: Detail {
            code,
            message: refuse.message(),
        },
    };
    let body = serde_json::to_vec(&body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let resp = Response::from_bytes(body)?.with_status(refuse.status());
    resp.headers().set("content-type", "application/json")?;
    Ok(resp)
}

/// Forwards a worker's request to the object `name` of class `T`: a WebSocket upgrade
/// (answered by the object's [`Sockets`](crate::Sockets) handlers) or any other request
/// (answered by its [`Fetch`](crate::Fetch) handler, or 404 without one).
///
/// ```ignore
/// // In a worker's fetch handler:
/// return duro::forward::<Room>(&env, room, req).await;
/// ```
pub async fn forward<T: Object>(
    env: &Env,
    name: &str,
    req: worker::Request,
) -> worker::Result<Response> {
    check_name(name).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let stub = env.durable_object(T::BINDING)?.get_by_name(name)?;
    let raw = req.inner();
    let headers = web_sys::Headers::new_with_headers(&raw.headers())
        .map_err(|e| worker::Error::JsError(format!("{e:?}")))?;
    headers.set(NAME_HEADER, name)?;
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers);
    let forwarded = web_sys::Request::new_with_request_and_init(raw, &init)
        .map_err(|e| worker::Error::JsError(format!("{e:?}")))?;
    stub.fetch_with_request(worker::Request::from(forwarded))
        .await
}
