//! The byte-level half of the collections, shared by every `Log<T>` and `Map<K, V>`: the
//! storage keys, the header, the changes of the running turn and what a commit writes.
//! Nothing here is generic; the typed halves (`log.rs`, `map.rs`) only encode and decode.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::names::COLLECTION_PREFIX;
use crate::storage::{Batch, Entries, Storage};

/// The most a collection entry's key and value may weigh together: the limit of
/// SQLite-backed Durable Objects (2 MB). A larger entry fails its turn's commit.
pub const MAX_ENTRY_BYTES: usize = 2_000_000;

/// How many entries one `list` call of a map's activation reads.
const LOAD_PAGE: usize = 1000;

/// Where a bound collection lives: the field it is stored under and the object's storage.
#[derive(Clone)]
pub(crate) struct Bound {
    pub name: &'static str,
    pub storage: Rc<dyn Storage>,
}

/// `__duro/c/<field>`: a log's header.
pub(crate) fn header_key(name: &str) -> String {
    format!("{COLLECTION_PREFIX}{name}")
}

/// `__duro/c/<field>/`: the prefix of a collection's entries.
fn entry_prefix(name: &str) -> String {
    format!("{COLLECTION_PREFIX}{name}/")
}

/// `__duro/c/<field>/<id, 20 digits>`: a log entry, so that key order is id order.
fn log_key(name: &str, id: u64) -> String {
    format!("{COLLECTION_PREFIX}{name}/{id:020}")
}

fn damaged(name: &str, what: impl core::fmt::Display) -> Error {
    Error::internal(format!("the stored collection `{name}` is damaged: {what}"))
}

/// Checks the size of one entry about to be written.
fn check_size(name: &str, key: &str, value: &[u8]) -> Result<()> {
    if key.len() + value.len() > MAX_ENTRY_BYTES {
        return Err(Error::internal(format!(
            "an entry of the collection `{name}` is {} bytes with its key, over the {MAX_ENTRY_BYTES}-byte \
             limit of a stored value; the turn was rolled back",
            key.len() + value.len()
        )));
    }
    Ok(())
}

/// The non-generic state of a [`Log`](super::Log): its id range, the entries pushed in the
/// running turn (encoded), and where it is stored.
pub struct LogCore {
    bound: Option<Bound>,
    /// First id kept and next id to give, as last committed.
    saved: (u64, u64),
    first: u64,
    next: u64,
    /// The entries pushed since the last commit: ids `saved.1`, `saved.1 + 1`, ….
    pending: Vec<Vec<u8>>,
    /// The first value of the running turn that did not encode.
    error: Option<Error>,
}

impl Default for LogCore {
    fn default() -> Self {
        LogCore {
            bound: None,
            saved: (1, 1),
            first: 1,
            next: 1,
            pending: Vec::new(),
            error: None,
        }
    }
}

impl LogCore {
    pub(crate) fn push(&mut self, value: Result<Vec<u8>>) -> u64 {
        let id = self.next;
        self.next += 1;
        match value {
            Ok(bytes) => self.pending.push(bytes),
            Err(e) => {
                self.pending.push(Vec::new());
                self.error.get_or_insert(e);
            }
        }
        id
    }

    pub(crate) fn len(&self) -> u64 {
        self.next - self.first
    }

    pub(crate) fn first_id(&self) -> Option<u64> {
        (self.next > self.first).then_some(self.first)
    }

    pub(crate) fn last_id(&self) -> Option<u64> {
        (self.next > self.first).then(|| self.next - 1)
    }

    pub(crate) fn trim_before(&mut self, id: u64) {
        self.first = self.first.max(id.min(self.next));
    }

    fn name(&self) -> &'static str {
        self.bound.as_ref().map_or("(unbound)", |b| b.name)
    }

    /// The bytes of a pending entry, or the error that kept it from encoding.
    fn pending_at(&self, id: u64) -> Result<Vec<u8>> {
        match &self.pending[(id - self.saved.1) as usize] {
            bytes if bytes.is_empty() => Err(self.error.clone().unwrap_or_else(|| {
                Error::internal(format!("entry {id} of `{}` is empty", self.name()))
            })),
            bytes => Ok(bytes.clone()),
        }
    }

    pub(crate) async fn get(&self, id: u64) -> Result<Option<Vec<u8>>> {
        if id < self.first || id >= self.next {
            return Ok(None);
        }
        if id >= self.saved.1 {
            return self.pending_at(id).map(Some);
        }
        let Some(bound) = &self.bound else {
            return Ok(None);
        };
        let key = log_key(bound.name, id);
        let mut values = bound.storage.get(std::slice::from_ref(&key)).await?;
        Ok(values.pop().flatten())
    }

    pub(crate) async fn range(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let start = after.saturating_add(1).max(self.first);
        let mut out = Vec::new();
        if limit == 0 || start >= self.next {
            return Ok(out);
        }
        if let (Some(bound), true) = (&self.bound, start < self.saved.1) {
            let prefix = entry_prefix(bound.name);
            let from = log_key(bound.name, start);
            let want = limit.min((self.saved.1 - start).try_into().unwrap_or(usize::MAX));
            for (key, value) in bound.storage.list(&prefix, Some(&from), Some(want)).await? {
                let id = key[prefix.len()..]
                    .parse::<u64>()
                    .ok()
                    .filter(|_| key.len() == prefix.len() + 20)
                    .ok_or_else(|| damaged(bound.name, format_args!("the key {key:?}")))?;
                if id >= self.saved.1 {
                    break;
                }
                out.push((id, value));
            }
        }
        let mut id = start.max(self.saved.1);
        while out.len() < limit && id < self.next {
            out.push((id, self.pending_at(id)?));
            id += 1;
        }
        Ok(out)
    }

    /// Binds the log to its field and its stored header.
    pub(crate) fn bind(&mut self, bound: Bound, header: Option<&[u8]>) -> Result<()> {
        let name = bound.name;
        if self.next != 1 || self.first != 1 {
            return Err(filled(name));
        }
        let (first, next) = match header {
            None => (1, 1),
            Some(bytes) => {
                let (a, b) = bytes
                    .split_at_checked(8)
                    .filter(|(_, b)| b.len() == 8)
                    .ok_or_else(|| damaged(name, "its header is not 16 bytes"))?;
                let first = u64::from_le_bytes(a.try_into().unwrap_or_default());
                let next = u64::from_le_bytes(b.try_into().unwrap_or_default());
                if first == 0 || first > next {
                    return Err(damaged(
                        name,
                        format_args!("its header holds ids {first}..{next}"),
                    ));
                }
                (first, next)
            }
        };
        *self = LogCore {
            bound: Some(bound),
            saved: (first, next),
            first,
            next,
            pending: Vec::new(),
            error: None,
        };
        Ok(())
    }

    /// Adds the running turn's changes to `batch`; true if there are any.
    pub(crate) fn plan(&self, field: &'static str, batch: &mut Batch) -> Result<bool> {
        let bound = self.check(field)?;
        if let Some(e) = &self.error {
            return Err(encode_failed(field, e));
        }
        for (i, bytes) in self.pending.iter().enumerate() {
            let id = self.saved.1 + i as u64;
            if id >= self.first {
                let key = log_key(bound.name, id);
                check_size(field, &key, bytes)?;
                batch.puts.push((key, bytes.clone()));
            }
        }
        for id in self.saved.0..self.first.min(self.saved.1) {
            batch.deletes.push(log_key(bound.name, id));
        }
        let changed = (self.first, self.next) != self.saved;
        if changed {
            let mut header = Vec::with_capacity(16);
            header.extend_from_slice(&self.first.to_le_bytes());
            header.extend_from_slice(&self.next.to_le_bytes());
            batch.puts.push((header_key(bound.name), header));
        }
        Ok(changed)
    }

    fn check(&self, field: &'static str) -> Result<&Bound> {
        check_bound(field, self.bound.as_ref())
    }

    pub(crate) fn committed(&mut self) {
        self.saved = (self.first, self.next);
        self.pending.clear();
        self.error = None;
    }

    pub(crate) fn undo(&mut self) {
        (self.first, self.next) = self.saved;
        self.pending.clear();
        self.error = None;
    }

    pub(crate) fn bound_name(&self) -> Option<&'static str> {
        self.bound.as_ref().map(|b| b.name)
    }

    /// Whether serializing the log would lose entries: it holds some and is not stored.
    pub(crate) fn loses_data(&self) -> bool {
        self.bound.is_none() && self.next != 1
    }
}

/// The non-generic state of a [`Map`](super::Map): the changes of the running turn by
/// entry key (`Some`: the new value, encoded; `None`: removed), and where it is stored.
#[derive(Default)]
pub struct MapCore {
    bound: Option<Bound>,
    changes: BTreeMap<String, Option<Vec<u8>>>,
    error: Option<Error>,
}

impl MapCore {
    /// Records the change of one entry.
    pub(crate) fn record(&mut self, key: String, value: Option<Result<Vec<u8>>>) {
        let value = match value {
            None => None,
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(e)) => {
                self.error.get_or_insert(e);
                Some(Vec::new())
            }
        };
        self.changes.insert(key, value);
    }

    /// Whether `key` changed earlier in the running turn.
    pub(crate) fn has_change(&self, key: &str) -> bool {
        self.changes.contains_key(key)
    }

    /// Binds the map to its field (an unbound map records no changes).
    pub(crate) fn bind(&mut self, bound: Bound) {
        self.bound = Some(bound);
    }

    pub(crate) fn name(&self) -> &'static str {
        self.bound.as_ref().map_or("(unbound)", |b| b.name)
    }

    /// Adds the running turn's changes to `batch`; true if there are any.
    pub(crate) fn plan(&self, field: &'static str, batch: &mut Batch) -> Result<bool> {
        let bound = check_bound(field, self.bound.as_ref())?;
        if let Some(e) = &self.error {
            return Err(encode_failed(field, e));
        }
        let prefix = entry_prefix(bound.name);
        for (key, value) in &self.changes {
            let key = format!("{prefix}{key}");
            match value {
                Some(bytes) => {
                    check_size(field, &key, bytes)?;
                    batch.puts.push((key, bytes.clone()));
                }
                None => batch.deletes.push(key),
            }
        }
        Ok(!self.changes.is_empty())
    }

    pub(crate) fn committed(&mut self) {
        self.changes.clear();
        self.error = None;
    }

    pub(crate) fn undo(&mut self) {
        self.changes.clear();
        self.error = None;
    }

    pub(crate) fn bound_name(&self) -> Option<&'static str> {
        self.bound.as_ref().map(|b| b.name)
    }

    pub(crate) fn is_bound(&self) -> bool {
        self.bound.is_some()
    }
}

/// Reads every entry of the map stored under `name`, in pages, with each key's part after
/// the map's prefix.
pub(crate) async fn load_map(storage: &dyn Storage, name: &str) -> Result<Entries> {
    let prefix = entry_prefix(name);
    let mut out: Entries = Vec::new();
    loop {
        // Pages start at the last key read (inclusive, so that no key is ever skipped),
        // which is then dropped.
        let start = out.last().map(|(k, _)| format!("{prefix}{k}"));
        let page = storage
            .list(&prefix, start.as_deref(), Some(LOAD_PAGE + 1))
            .await?;
        let full = page.len() > LOAD_PAGE;
        let before = out.len();
        for (key, value) in page {
            if start.as_deref() == Some(key.as_str()) {
                continue;
            }
            out.push((key[prefix.len()..].to_owned(), value));
        }
        if !full || out.len() == before {
            return Ok(out);
        }
    }
}

fn check_bound<'b>(field: &'static str, bound: Option<&'b Bound>) -> Result<&'b Bound> {
    match bound {
        Some(b) if b.name == field => Ok(b),
        Some(b) => Err(Error::internal(format!(
            "the field `{field}` holds the collection of the field `{}`: collections stay in \
             their field (move entries, not collections); the turn was rolled back",
            b.name
        ))),
        None => Err(Error::internal(format!(
            "the field `{field}` holds a collection that is not the object's (it was replaced, \
             e.g. by `Default::default()`): collections stay in their field, empty them with \
             `clear` or `trim_before`; the turn was rolled back"
        ))),
    }
}

pub(crate) fn filled(name: &str) -> Error {
    Error::internal(format!(
        "the collection `{name}` holds entries before its stored entries were loaded (from \
         `Default` or a migration): fill collections in methods"
    ))
}

fn encode_failed(field: &str, e: &Error) -> Error {
    Error::internal(format!(
        "a value of the collection `{field}` did not encode: {}; the turn was rolled back",
        e.message()
    ))
}

/// A damaged entry's error.
pub(crate) fn damaged_entry(name: &str, key: &str, e: impl core::fmt::Display) -> Error {
    damaged(name, format_args!("the entry {key:?} does not decode: {e}"))
}
