//! [`Log<T>`]: an append-only list whose entries each have a storage key of their own.

use core::fmt;
use core::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::store::{damaged_entry, LogCore};
use crate::error::Result;
use crate::wire;

/// An append-only log, as a field of an object's state: each entry is stored under a key
/// of its own, so a call that pushes one entry writes that entry (and the log's 16-byte
/// header), whatever the log's length. Entries are read from storage on demand.
///
/// Entries get consecutive ids from 1; `push` is synchronous and returns the id. Reads
/// ([`get`](Self::get), [`range`](Self::range)) are `async` (they read storage) and see the
/// entries pushed earlier in the same call. Like the rest of the state, the pushes and
/// trims of a call that returns `Err` or panics are undone, in memory and in storage.
///
/// ```
/// use duro::prelude::*;
/// use duro::Log;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Chat {
///     messages: Log<String>,
/// }
///
/// #[duro::methods]
/// impl Chat {
///     /// Appends a message; returns its id.
///     #[rpc]
///     fn say(&mut self, text: String) -> u64 {
///         self.messages.push(text)
///     }
///
///     /// Up to `limit` messages after the id `after`, oldest first.
///     #[rpc]
///     async fn since(&self, after: u64, limit: u32) -> duro::Result<Vec<(u64, String)>> {
///         self.messages.range(after, limit as usize).await
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let env = duro::testing::TestEnv::new();
/// let chat = env.stub::<Chat>("lobby");
/// assert_eq!(chat.say("hi".into()).await?, 1);
/// assert_eq!(chat.say("there".into()).await?, 2);
/// env.restart();
/// assert_eq!(chat.since(1, 10).await?, vec![(2, "there".to_string())]);
/// # Ok::<(), duro::Error>(())
/// # }).unwrap();
/// ```
///
/// A log works only as a direct field of the state struct (`#[duro::object]` finds it by
/// its type and stores it under the field's name). It serializes as nothing (`nil`): a
/// log elsewhere (in a `Vec`, an argument) holds entries in memory only, and serializing
/// one that holds any is an error. Replacing the field (`self.log = Log::new()`) fails the
/// call; use [`trim_before`](Self::trim_before) to drop entries.
pub struct Log<T> {
    core: LogCore,
    _entries: PhantomData<fn() -> T>,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log {
            core: LogCore::default(),
            _entries: PhantomData,
        }
    }
}

impl<T> Log<T> {
    /// An empty log (what `Default` makes; the object binds it to storage on load).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries the log holds (pushed and not trimmed).
    pub fn len(&self) -> u64 {
        self.core.len()
    }

    /// Whether the log holds no entry.
    pub fn is_empty(&self) -> bool {
        self.core.len() == 0
    }

    /// The id of the oldest entry kept, if any.
    pub fn first_id(&self) -> Option<u64> {
        self.core.first_id()
    }

    /// The id of the newest entry, if any.
    pub fn last_id(&self) -> Option<u64> {
        self.core.last_id()
    }

    /// Drops every entry whose id is below `id` (all of them if `id` is past the last).
    /// Their keys are deleted when the call commits; ids are never given again.
    pub fn trim_before(&mut self, id: u64) {
        self.core.trim_before(id)
    }

    pub(super) fn core(&mut self) -> &mut LogCore {
        &mut self.core
    }
}

impl<T: Serialize + DeserializeOwned> Log<T> {
    /// Appends `value` and returns its id (the last id plus one; 1 for the first entry).
    ///
    /// The value is encoded now; if it does not encode (or is larger than a stored value
    /// may be, 2 MB), the call fails when it commits and its changes are undone.
    pub fn push(&mut self, value: T) -> u64 {
        self.core.push(wire::encode(&value))
    }

    /// The entry `id`, if the log holds it.
    pub async fn get(&self, id: u64) -> Result<Option<T>> {
        match self.core.get(id).await? {
            Some(bytes) => Ok(Some(self.decode(id, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` entries with ids above `after`, oldest first (`after = 0`: from the
    /// first). One storage read, plus none for entries pushed in the running call.
    pub async fn range(&self, after: u64, limit: usize) -> Result<Vec<(u64, T)>> {
        self.core
            .range(after, limit)
            .await?
            .into_iter()
            .map(|(id, bytes)| Ok((id, self.decode(id, &bytes)?)))
            .collect()
    }

    fn decode(&self, id: u64, bytes: &[u8]) -> Result<T> {
        wire::decode(bytes).map_err(|e| {
            damaged_entry(
                self.core.bound_name().unwrap_or("(unbound)"),
                &id.to_string(),
                e,
            )
        })
    }
}

impl<T> fmt::Debug for Log<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("first_id", &self.first_id())
            .field("last_id", &self.last_id())
            .finish()
    }
}

impl<T> Serialize for Log<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        if self.core.loses_data() {
            return Err(serde::ser::Error::custom(
                "a duro::Log that is not a field of an object's state holds entries, which \
                 would be lost",
            ));
        }
        serializer.serialize_unit()
    }
}

impl<'de, T> Deserialize<'de> for Log<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> core::result::Result<Self, D::Error> {
        <()>::deserialize(deserializer)?;
        Ok(Log::default())
    }
}
