//! The part of Workers KV the index uses.

use std::rc::Rc;

use futures::future::LocalBoxFuture;

use crate::error::Result;

/// Most keys one `list` call returns (the Workers KV maximum).
pub const LIST_LIMIT: usize = 1000;

/// One key of a [`ListPage`], with the metadata it was written with.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedKey {
    /// The full key.
    pub name: String,
    /// The metadata of the key's current value as JSON text, if it has any.
    pub metadata: Option<String>,
}

/// One page of a `list`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    /// Keys in lexicographic order.
    pub keys: Vec<ListedKey>,
    /// Where the next page starts; `None` when this is the last page.
    pub cursor: Option<String>,
}

/// A KV namespace: Workers KV in a worker (`WorkerKv`), `MemoryKv` (feature "testing") in
/// tests.
///
/// Values are text (the index stores JSON). Like Workers KV, an implementation may be
/// eventually consistent: a read can return an older value than the last write.
pub trait Kv {
    /// The value of `key`, if it has one.
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<String>>>;

    /// Writes `value` with optional `metadata`: JSON text of at most 1024 bytes.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: String,
        metadata: Option<String>,
    ) -> LocalBoxFuture<'a, Result<()>>;

    /// Removes `key`. Removing a missing key succeeds.
    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<()>>;

    /// Up to `limit` (at most [`LIST_LIMIT`]) keys starting with `prefix`, in order, after
    /// `cursor` (from the previous page).
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<ListPage>>;
}

/// Where KV namespaces come from: a worker's `Env` (by binding name), or a test's
/// `TestEnv`.
pub trait KvSource {
    /// The KV namespace bound as `binding`.
    fn kv(&self, binding: &str) -> Result<Rc<dyn Kv>>;
}

impl<S: KvSource + ?Sized> KvSource for &S {
    fn kv(&self, binding: &str) -> Result<Rc<dyn Kv>> {
        (**self).kv(binding)
    }
}
