//! Workers KV through `worker::kv::KvStore`.

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use worker::kv::KvStore;
use worker::Env;

use crate::error::{Error, ErrorKind, Result};
use crate::kv::{Kv, KvSource, ListPage, ListedKey, LIST_LIMIT};

/// A Workers KV namespace.
#[derive(Debug, Clone)]
pub struct WorkerKv {
    store: KvStore,
}

impl WorkerKv {
    /// Wraps a namespace.
    pub fn new(store: KvStore) -> Self {
        WorkerKv { store }
    }

    /// The namespace bound as `binding` in `env`.
    pub fn from_env(env: &Env, binding: &str) -> Result<Self> {
        env.kv(binding).map(WorkerKv::new).map_err(|e| {
            Error::new(
                ErrorKind::Binding,
                format!(
                    "no KV namespace bound as `{binding}` in this worker's env ({e}); add a \
                     [[kv_namespaces]] entry with binding = \"{binding}\" to wrangler.toml"
                ),
            )
        })
    }
}

fn kv_error(what: &str, key: &str, e: impl core::fmt::Display) -> Error {
    Error::kv(format!("KV {what} of {key:?} failed: {e}"))
}

impl Kv for WorkerKv {
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            self.store
                .get(key)
                .text()
                .await
                .map_err(|e| kv_error("get", key, e))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: String,
        metadata: Option<serde_json::Value>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut put = self
                .store
                .put(key, value.as_str())
                .map_err(|e| kv_error("put", key, e))?;
            if let Some(metadata) = metadata {
                put = put
                    .metadata(metadata)
                    .map_err(|e| kv_error("put", key, e))?;
            }
            put.execute().await.map_err(|e| kv_error("put", key, e))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.store
                .delete(key)
                .await
                .map_err(|e| kv_error("delete", key, e))
        })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<ListPage>> {
        Box::pin(async move {
            let mut list = self
                .store
                .list()
                .prefix(prefix.to_owned())
                .limit(limit.clamp(1, LIST_LIMIT) as u64);
            if let Some(cursor) = cursor {
                list = list.cursor(cursor.to_owned());
            }
            let page = list
                .execute()
                .await
                .map_err(|e| kv_error("list", prefix, e))?;
            let cursor = if page.list_complete {
                None
            } else {
                page.cursor.filter(|c| !c.is_empty())
            };
            Ok(ListPage {
                keys: page
                    .keys
                    .into_iter()
                    .map(|k| ListedKey {
                        name: k.name,
                        metadata: k.metadata,
                    })
                    .collect(),
                cursor,
            })
        })
    }
}

impl KvSource for Env {
    fn kv(&self, binding: &str) -> Result<Rc<dyn Kv>> {
        Ok(Rc::new(WorkerKv::from_env(self, binding)?))
    }
}
