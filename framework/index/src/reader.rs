//! [`Index`]: reading published projections.

use std::marker::PhantomData;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};
use crate::kv::{Kv, KvSource, LIST_LIMIT};
use crate::record;

/// One object's published projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    /// The object's name.
    pub name: String,
    /// The projection.
    pub value: T,
    /// The object's sequence number for this version: higher is newer.
    pub seq: u64,
    /// When the object published it (the object's clock).
    pub published_at: SystemTime,
}

impl<T> Entry<T> {
    /// [`published_at`](Self::published_at) in milliseconds since the Unix epoch.
    pub fn published_at_ms(&self) -> u64 {
        self.published_at
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    /// Whether this version is newer than `other` (of the same object): by sequence
    /// number, not by when it was read.
    pub fn is_newer_than(&self, other: &Entry<T>) -> bool {
        self.seq > other.seq
    }
}

/// One page of [`Index::list`].
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Entries in name order.
    pub entries: Vec<Entry<T>>,
    /// Entries listed but left out because neither their metadata nor their value decodes
    /// as `T` (written by an app whose projection type has since changed, or by something
    /// else), in name order. The rest of the page is unaffected.
    pub skipped: Vec<Skipped>,
    /// Pass it to the next `list` call for the next page; `None` on the last page.
    pub cursor: Option<String>,
}

/// An entry that [`Index::list`] left out of its page, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The object's name.
    pub name: String,
    /// Why its entry does not decode (kind [`ErrorKind::Decode`]).
    pub error: Error,
}

/// The published projections of one index, typed as `T`.
///
/// Reads go to KV only: no object is called or woken. KV is eventually consistent, so an
/// entry can lag behind its object (by up to about a minute on Cloudflare, not at all in
/// local development); [`Entry::seq`] orders the versions of one object.
pub struct Index<T> {
    kv: Rc<dyn Kv>,
    index: String,
    prefix: String,
    use_metadata: bool,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Clone for Index<T> {
    fn clone(&self) -> Self {
        Index {
            kv: self.kv.clone(),
            index: self.index.clone(),
            prefix: self.prefix.clone(),
            use_metadata: self.use_metadata,
            _marker: PhantomData,
        }
    }
}

impl<T> core::fmt::Debug for Index<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Index")
            .field("index", &self.index)
            .field("use_metadata", &self.use_metadata)
            .finish()
    }
}

impl<T: DeserializeOwned> Index<T> {
    /// The index `index` in the KV namespace bound as `binding` (`"INDEX"` unless the
    /// object's `#[index]` says otherwise).
    pub fn open(source: &(impl KvSource + ?Sized), binding: &str, index: &str) -> Result<Self> {
        Self::with_kv(source.kv(binding)?, index)
    }

    /// The index `index` in `kv`.
    pub fn with_kv(kv: Rc<dyn Kv>, index: &str) -> Result<Self> {
        crate::check_index_name(index)?;
        Ok(Index {
            kv,
            index: index.to_owned(),
            prefix: format!("{index}/"),
            use_metadata: true,
            _marker: PhantomData,
        })
    }

    /// Whether [`list`](Self::list) takes small projections from the keys' metadata (the
    /// default) or reads every value with its own `get` (slower; for comparison).
    pub fn use_metadata(mut self, yes: bool) -> Self {
        self.use_metadata = yes;
        self
    }

    /// The index's name.
    pub fn name(&self) -> &str {
        &self.index
    }

    /// The entry of object `name`, as KV currently shows it.
    pub async fn get(&self, name: &str) -> Result<Option<Entry<T>>> {
        let key = crate::key(&self.index, name);
        let Some(text) = self.kv.get(&key).await? else {
            return Ok(None);
        };
        let version = record::decode_value(&key, &text)?;
        Ok(Some(entry(name.to_owned(), version)))
    }

    /// Up to `limit` entries (1 to 1000) whose object names start with `prefix`, in name
    /// order, starting after `cursor` (from the previous page).
    ///
    /// Entries whose projection fits in KV metadata come with the listing itself; the
    /// others are read with one `get` each, concurrently, and so are entries whose
    /// metadata does not decode. An entry whose value does not decode either is left out
    /// and named in [`Page::skipped`]; a failed KV operation fails the page.
    pub async fn list(&self, prefix: &str, cursor: Option<&str>, limit: usize) -> Result<Page<T>> {
        if !(1..=LIST_LIMIT).contains(&limit) {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("list limits are 1 to {LIST_LIMIT}, got {limit}"),
            ));
        }
        let full_prefix = format!("{}{prefix}", self.prefix);
        let page = self.kv.list(&full_prefix, cursor, limit).await?;
        let mut slots: Vec<Option<Entry<T>>> = Vec::with_capacity(page.keys.len());
        let mut missing = Vec::new();
        for key in &page.keys {
            let name = key.name.strip_prefix(&self.prefix).unwrap_or(&key.name);
            let inline = if self.use_metadata {
                key.metadata
                    .as_deref()
                    .and_then(|m| record::decode_metadata::<T>(&key.name, m))
            } else {
                None
            };
            match inline {
                Some(Ok(version)) => slots.push(Some(entry(name.to_owned(), version))),
                // Not carried, or not decodable: the value, which KV keeps as text, decides.
                Some(Err(_)) | None => {
                    missing.push((slots.len(), key.name.as_str(), name));
                    slots.push(None);
                }
            }
        }
        let fetched = futures::future::join_all(
            missing
                .iter()
                .map(|(_, key, _)| async move { self.kv.get(key).await }),
        )
        .await;
        let mut skipped = Vec::new();
        for ((slot, key, name), text) in missing.into_iter().zip(fetched) {
            // A key deleted between the listing and the read is left out.
            if let Some(text) = text? {
                match record::decode_value(key, &text) {
                    Ok(version) => slots[slot] = Some(entry(name.to_owned(), version)),
                    Err(error) => skipped.push(Skipped {
                        name: name.to_owned(),
                        error,
                    }),
                }
            }
        }
        Ok(Page {
            entries: slots.into_iter().flatten().collect(),
            skipped,
            cursor: page.cursor,
        })
    }
}

fn entry<T>(name: String, (seq, at, value): record::Version<T>) -> Entry<T> {
    Entry {
        name,
        value,
        seq,
        published_at: UNIX_EPOCH + Duration::from_millis(at),
    }
}
