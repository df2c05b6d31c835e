//! Typed collections as fields of an object's state: [`Log<T>`] (append-only, read on
//! demand) and [`Map<K, V>`] (sorted, loaded on activation). Each entry lives under a
//! storage key of its own, so a call that changes a few entries writes those entries and
//! not the collection: the cost of a call does not grow with the collection's size.
//!
//! ```
//! use duro::prelude::*;
//! use duro::{Log, Map};
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct Message { from: String, text: String }
//!
//! #[duro::object]
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Room {
//!     topic: String,
//!     messages: Log<Message>,
//!     members: Map<String, u64>, // member → messages sent
//! }
//!
//! #[duro::methods]
//! impl Room {
//!     /// Posts a message; returns its id.
//!     #[rpc]
//!     fn post(&mut self, from: String, text: String) -> u64 {
//!         let sent = self.members.get(&from).copied().unwrap_or(0);
//!         self.members.insert(from.clone(), sent + 1);
//!         self.messages.push(Message { from, text })
//!     }
//!
//!     /// The texts of up to 50 messages after `after`.
//!     #[rpc]
//!     async fn read(&self, after: u64) -> duro::Result<Vec<String>> {
//!         let page = self.messages.range(after, 50).await?;
//!         Ok(page.into_iter().map(|(_, m)| format!("{}: {}", m.from, m.text)).collect())
//!     }
//! }
//!
//! # futures::executor::block_on(async {
//! let env = duro::testing::TestEnv::new();
//! let room = env.stub::<Room>("rust");
//! room.post("ana".into(), "hello".into()).await?;
//! let before = env.stats::<Room>("rust").storage;
//! room.post("ana".into(), "again".into()).await?;
//! let after = env.stats::<Room>("rust").storage;
//! // One atomic write: the message, the log's header and ana's entry.
//! assert_eq!((after.writes - before.writes, after.keys_put - before.keys_put), (1, 3));
//! env.restart();
//! assert_eq!(room.read(0).await?, ["ana: hello", "ana: again"]);
//! # Ok::<(), duro::Error>(())
//! # }).unwrap();
//! ```
//!
//! How it works: `#[duro::object]` reports every field whose type is a collection to the
//! runtime (no attribute needed); the collection is stored under the field's name, its
//! entries under `__duro/c/<field>/<entry key>` and a log's id range under
//! `__duro/c/<field>`. In the state's own bytes a collection is `nil`. Changes are kept per
//! entry during a call and written in the same atomic write as the state (and the timers
//! the call scheduled); a call that fails writes none of them and undoes them in memory.
//!
//! Limits: an entry's key and value together at most 2 MB (SQLite-backed objects'
//! limit; a larger one fails its call at commit). One call's changes all go in one atomic
//! write whatever their number; they are sent as `put`/`delete` calls of 128 keys each,
//! issued without an `await` between them, which Durable Objects apply atomically.

mod key;
mod log;
mod map;
mod store;

use std::any::Any;
use std::rc::Rc;

pub use key::MapKey;
pub use log::Log;
pub use map::Map;
pub use store::MAX_ENTRY_BYTES;
#[doc(hidden)]
pub use store::{LogCore, MapCore};

use crate::error::{Error, Result};
use crate::storage::{Batch, Entries, Storage};
use serde::de::DeserializeOwned;
use serde::Serialize;
use store::Bound;

/// A collection field as the host drives it; implemented by [`Log`] and [`Map`] only.
#[doc(hidden)]
pub trait Collection {
    /// The non-generic half.
    fn __core(&mut self) -> CoreMut<'_>;
    /// Takes a map's stored entries (keys without the map's prefix); logs read on demand.
    fn __load(&mut self, entries: Entries) -> Result<()>;
    /// Undoes the running turn's changes.
    fn __undo(&mut self) -> Result<()>;
    /// Forgets the running turn's changes: they are stored.
    fn __committed(&mut self);
    /// Moves the collection out (leaving an empty, unbound one).
    fn __take(&mut self) -> Box<dyn Any>;
    /// Moves a collection taken from a field of the same type back in.
    fn __restore(&mut self, from: Box<dyn Any>) -> bool;
}

/// The non-generic half of a collection.
#[doc(hidden)]
pub enum CoreMut<'a> {
    Log(&'a mut LogCore),
    Map(&'a mut MapCore),
}

impl<T: Serialize + DeserializeOwned + 'static> Collection for Log<T> {
    fn __core(&mut self) -> CoreMut<'_> {
        CoreMut::Log(self.core())
    }

    fn __load(&mut self, _: Entries) -> Result<()> {
        Ok(())
    }

    fn __undo(&mut self) -> Result<()> {
        self.core().undo();
        Ok(())
    }

    fn __committed(&mut self) {
        self.core().committed()
    }

    fn __take(&mut self) -> Box<dyn Any> {
        Box::new(std::mem::take(self))
    }

    fn __restore(&mut self, from: Box<dyn Any>) -> bool {
        from.downcast::<Self>().map(|b| *self = *b).is_ok()
    }
}

impl<K: MapKey + 'static, V: Serialize + DeserializeOwned + 'static> Collection for Map<K, V> {
    fn __core(&mut self) -> CoreMut<'_> {
        CoreMut::Map(self.core())
    }

    fn __load(&mut self, entries: Entries) -> Result<()> {
        self.load(entries)
    }

    fn __undo(&mut self) -> Result<()> {
        self.undo()
    }

    fn __committed(&mut self) {
        self.committed()
    }

    fn __take(&mut self) -> Box<dyn Any> {
        Box::new(std::mem::take(self))
    }

    fn __restore(&mut self, from: Box<dyn Any>) -> bool {
        from.downcast::<Self>().map(|b| *self = *b).is_ok()
    }
}

/// The probe `#[duro::object]` emits for each field: `(&mut FieldProbe(&mut self.field))
/// .__duro_probe("field", f)` reaches [`ProbeCollection`] when the field is a collection
/// (method lookup tries the receiver as it is first) and [`ProbeOther`], which does
/// nothing, otherwise (found one reference further).
#[doc(hidden)]
pub struct FieldProbe<'a, T>(pub &'a mut T);

#[doc(hidden)]
pub trait ProbeCollection {
    fn __duro_probe(
        &mut self,
        name: &'static str,
        f: &mut dyn FnMut(&'static str, &mut dyn Collection),
    );
}

impl<T: Collection> ProbeCollection for FieldProbe<'_, T> {
    fn __duro_probe(
        &mut self,
        name: &'static str,
        f: &mut dyn FnMut(&'static str, &mut dyn Collection),
    ) {
        f(name, &mut *self.0)
    }
}

#[doc(hidden)]
pub trait ProbeOther {
    fn __duro_probe(
        &mut self,
        name: &'static str,
        f: &mut dyn FnMut(&'static str, &mut dyn Collection),
    );
}

impl<T> ProbeOther for &mut FieldProbe<'_, T> {
    #[inline(always)]
    fn __duro_probe(
        &mut self,
        _: &'static str,
        _: &mut dyn FnMut(&'static str, &mut dyn Collection),
    ) {
    }
}

/// The collection fields of a state type, by name: what an activation reads.
#[derive(Default)]
pub(crate) struct Layout {
    /// Each field's name, and whether it is a log (else a map).
    fields: Vec<(&'static str, bool)>,
}

impl Layout {
    /// Notes one field (called by the state's probe).
    pub fn note(&mut self, name: &'static str, c: &mut dyn Collection) {
        let log = matches!(c.__core(), CoreMut::Log(_));
        self.fields.push((name, log));
    }

    /// The header keys of the logs, to read with the state.
    pub fn header_keys(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(_, log)| *log)
            .map(|(name, _)| store::header_key(name))
            .collect()
    }

    /// Reads the maps' entries; `headers` are the values of [`header_keys`](Self::header_keys).
    pub async fn read(
        &self,
        storage: &dyn Storage,
        headers: Vec<Option<Vec<u8>>>,
    ) -> Result<Found> {
        let mut headers = headers.into_iter();
        let mut found = Found::default();
        for &(name, log) in &self.fields {
            let source = if log {
                Source::Header(headers.next().flatten())
            } else {
                Source::Entries(store::load_map(storage, name).await?)
            };
            found.fields.push((name, source));
        }
        Ok(found)
    }
}

enum Source {
    Header(Option<Vec<u8>>),
    Entries(Entries),
}

/// What an activation read for each collection field; binds the fields of the decoded state.
#[derive(Default)]
pub(crate) struct Found {
    fields: Vec<(&'static str, Source)>,
}

impl Found {
    /// Binds the field `name` to its storage and stored entries (none if nothing was read).
    pub fn bind(
        &mut self,
        name: &'static str,
        c: &mut dyn Collection,
        storage: &Rc<dyn Storage>,
    ) -> Result<()> {
        let source = self
            .fields
            .iter_mut()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| std::mem::replace(s, Source::Entries(Vec::new())));
        let bound = Bound {
            name,
            storage: storage.clone(),
        };
        match c.__core() {
            CoreMut::Log(core) => {
                let header = match &source {
                    Some(Source::Header(h)) => h.as_deref(),
                    _ => None,
                };
                core.bind(bound, header)
            }
            CoreMut::Map(core) => {
                core.bind(bound);
                // A map that holds entries before this refuses them (see `Map::load`).
                match source {
                    Some(Source::Entries(entries)) => c.__load(entries),
                    _ => c.__load(Vec::new()),
                }
            }
        }
    }
}

/// Adds the changes of the collection in field `name` to `batch`; true if it has any.
pub(crate) fn plan(name: &'static str, c: &mut dyn Collection, batch: &mut Batch) -> Result<bool> {
    match c.__core() {
        CoreMut::Log(core) => core.plan(name, batch),
        CoreMut::Map(core) => core.plan(name, batch),
    }
}

/// The collections of a state being rolled back, moved out of it to go into the state
/// decoded from the saved bytes.
#[derive(Default)]
pub(crate) struct Kept {
    taken: Vec<(&'static str, Box<dyn Any>)>,
    failed: Option<Error>,
}

impl Kept {
    /// Undoes the changes of one collection of the old state and keeps it.
    pub fn take(&mut self, c: &mut dyn Collection) {
        if let Err(e) = c.__undo() {
            self.failed.get_or_insert(e);
        }
        let name = match c.__core() {
            CoreMut::Log(core) => core.bound_name(),
            CoreMut::Map(core) => core.bound_name(),
        };
        if let Some(name) = name {
            self.taken.push((name, c.__take()));
        }
    }

    /// Puts the kept collection of field `name` into the new state.
    pub fn restore(&mut self, name: &'static str, c: &mut dyn Collection) {
        let at = self.taken.iter().position(|(n, _)| *n == name);
        let restored = at.is_some_and(|i| c.__restore(self.taken.swap_remove(i).1));
        if !restored {
            self.failed.get_or_insert_with(|| {
                Error::internal(format!("the collection `{name}` was lost"))
            });
        }
    }

    /// `Err` if some collection could not be rolled back: the state must be reloaded.
    pub fn finish(self) -> Result<()> {
        self.failed.map_or(Ok(()), Err)
    }
}
