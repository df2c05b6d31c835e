//! # duro-index
//!
//! Object projections in Workers KV, so that workers read and list Durable Objects without
//! waking them. An object declares a projection inside `#[duro::methods]`:
//!
//! ```ignore
//! #[index("counters")]                      // KV binding "INDEX" by default
//! fn summary(&self) -> CounterSummary { CounterSummary { value: self.value } }
//! ```
//!
//! and duro publishes it to KV under `counters/<object name>` after every turn that changes
//! it (at most once per second per object; see `duro::index` for the publishing side). A
//! worker reads it back with an [`Index`]:
//!
//! ```ignore
//! let index = Index::<CounterSummary>::open(&env, "INDEX", "counters")?;
//! let one = index.get("visits").await?;            // Option<Entry<CounterSummary>>
//! let page = index.list("", None, 100).await?;     // Page { entries, skipped, cursor }
//! ```
//!
//! This crate holds what both sides share: the [`Kv`] interface (Workers KV on wasm32,
//! `MemoryKv` in tests with the feature "testing"), the [record format](record) and the
//! reader. Apps use it through `duro::index`, which re-exports it.
//!
//! # Consistency
//!
//! Workers KV is eventually consistent (a write can take up to about 60 seconds to be seen
//! everywhere) and last-write-wins by time. Every record carries the object's sequence
//! number (`seq`, increasing with every write of that object's entry) and the time it was
//! published, so a reader that sees two versions of an entry can tell which is newer
//! ([`Entry::is_newer_than`]). One object publishes its entry from one timer, one write
//! at a time, so a write with an older `seq` is never issued after a newer one.

mod error;
mod kv;
#[cfg(feature = "testing")]
mod memory;
mod reader;
pub mod record;
#[cfg(target_arch = "wasm32")]
mod worker_kv;

pub use error::{Error, ErrorKind, Result};
pub use kv::{Kv, KvSource, ListPage, ListedKey, LIST_LIMIT};
#[cfg(feature = "testing")]
pub use memory::{KvStats, KvWrite, MemoryKv};
pub use reader::{Entry, Index, Page, Skipped};
#[cfg(target_arch = "wasm32")]
pub use worker_kv::WorkerKv;

/// Longest index name, in bytes.
pub const MAX_INDEX_NAME: usize = 64;

/// Checks an index name: 1 to [`MAX_INDEX_NAME`] bytes, without `/`.
pub fn check_index_name(index: &str) -> Result<()> {
    if index.is_empty() || index.len() > MAX_INDEX_NAME || index.contains('/') {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!("index names are 1 to {MAX_INDEX_NAME} bytes without `/`, got {index:?}"),
        ));
    }
    Ok(())
}

/// The KV key of object `name`'s entry in `index`: `<index>/<name>`.
///
/// ```
/// assert_eq!(duro_index::key("counters", "visits"), "counters/visits");
/// ```
pub fn key(index: &str, name: &str) -> String {
    format!("{index}/{name}")
}
