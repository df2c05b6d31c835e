//! Workers KV through the namespace binding's JavaScript methods (`get`, `put`, `delete`,
//! `list`), called directly: metadata crosses as JSON text, so no generic JS value
//! (de)serializer is linked into the worker.

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use worker::js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::error::{Error, ErrorKind, Result};
use crate::kv::{Kv, KvSource, ListPage, ListedKey, LIST_LIMIT};

/// A Workers KV namespace.
#[derive(Debug, Clone)]
pub struct WorkerKv {
    ns: JsValue,
    /// The binding's `get`, `put`, `delete` and `list`, looked up once.
    methods: [Function; 4],
}

const GET: usize = 0;
const PUT: usize = 1;
const DELETE: usize = 2;
const LIST: usize = 3;
const METHODS: [&str; 4] = ["get", "put", "delete", "list"];

impl WorkerKv {
    /// Wraps the namespace object bound as `binding` in `env`.
    pub fn from_env(env: &Env, binding: &str) -> Result<Self> {
        let ns = Reflect::get(env, &JsValue::from_str(binding)).unwrap_or(JsValue::UNDEFINED);
        let [get, put, delete, list] = METHODS.map(|m| method(&ns, m));
        match (get, put, delete, list) {
            (Some(get), Some(put), Some(delete), Some(list)) => Ok(WorkerKv {
                ns,
                methods: [get, put, delete, list],
            }),
            _ => Err(Error::new(
                ErrorKind::Binding,
                format!(
                    "no KV namespace bound as `{binding}` in this worker's env; add a \
                     [[kv_namespaces]] entry with binding = \"{binding}\" to wrangler.toml"
                ),
            )),
        }
    }

    /// Calls the binding's method `which` (one of [`METHODS`]) with `args` and awaits the
    /// promise it returns.
    async fn call(&self, which: usize, key: &str, args: &Array) -> Result<JsValue> {
        let what = METHODS[which];
        let promise = self.methods[which]
            .apply(&self.ns, args)
            .map_err(|e| kv_error(what, key, text(&e)))?;
        JsFuture::from(Promise::from(promise))
            .await
            .map_err(|e| kv_error(what, key, text(&e)))
    }
}

fn method(ns: &JsValue, name: &str) -> Option<Function> {
    if !ns.is_object() {
        return None;
    }
    Reflect::get(ns, &JsValue::from_str(name))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
}

fn text(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            Reflect::get(e, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "unknown JavaScript error".to_owned())
}

fn kv_error(what: &str, key: &str, e: impl core::fmt::Display) -> Error {
    Error::kv(format!("KV {what} of {key:?} failed: {e}"))
}

fn set(object: &Object, key: &str, value: &JsValue) {
    // Setting a property of a plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

impl Kv for WorkerKv {
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            let args = Array::of2(&JsValue::from_str(key), &JsValue::from_str("text"));
            Ok(self.call(GET, key, &args).await?.as_string())
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: String,
        metadata: Option<String>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let options = Object::new();
            if let Some(json) = metadata {
                let parsed = JSON::parse(&json).map_err(|e| kv_error("put", key, text(&e)))?;
                set(&options, "metadata", &parsed);
            }
            let args = Array::of3(
                &JsValue::from_str(key),
                &JsValue::from_str(&value),
                &options,
            );
            self.call(PUT, key, &args).await.map(|_| ())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let args = Array::of1(&JsValue::from_str(key));
            self.call(DELETE, key, &args).await.map(|_| ())
        })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<ListPage>> {
        Box::pin(async move {
            let options = Object::new();
            set(&options, "prefix", &JsValue::from_str(prefix));
            set(
                &options,
                "limit",
                &JsValue::from_f64(limit.clamp(1, LIST_LIMIT) as f64),
            );
            if let Some(cursor) = cursor {
                set(&options, "cursor", &JsValue::from_str(cursor));
            }
            let page = self.call(LIST, prefix, &Array::of1(&options)).await?;
            let field = |v: &JsValue, name: &str| {
                Reflect::get(v, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
            };
            let complete = field(&page, "list_complete").as_bool().unwrap_or(true);
            let cursor = if complete {
                None
            } else {
                field(&page, "cursor").as_string().filter(|c| !c.is_empty())
            };
            let listed = field(&page, "keys");
            if !Array::is_array(&listed) {
                return Err(kv_error("list", prefix, "the reply has no `keys` array"));
            }
            let mut keys = Vec::new();
            for k in Array::from(&listed).iter() {
                let Some(name) = field(&k, "name").as_string() else {
                    return Err(kv_error("list", prefix, "a listed key has no name"));
                };
                let meta = field(&k, "metadata");
                let metadata = if meta.is_undefined() || meta.is_null() {
                    None
                } else {
                    let json = JSON::stringify(&meta)
                        .ok()
                        .and_then(|s| s.as_string())
                        .ok_or_else(|| kv_error("list", prefix, "unreadable metadata"))?;
                    Some(json)
                };
                keys.push(ListedKey { name, metadata });
            }
            Ok(ListPage { keys, cursor })
        })
    }
}

impl KvSource for Env {
    fn kv(&self, binding: &str) -> Result<Rc<dyn Kv>> {
        Ok(Rc::new(WorkerKv::from_env(self, binding)?))
    }
}
