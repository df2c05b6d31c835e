//! [`Map<K, V>`]: a sorted map whose entries each have a storage key of their own.

use core::borrow::Borrow;
use core::fmt;
use std::collections::btree_map;
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::key::MapKey;
use super::store::{damaged_entry, filled, MapCore};
use crate::error::{Error, Result};
use crate::storage::Entries;
use crate::wire;

/// How to undo the first change of a key in the running turn.
pub(super) enum Undo {
    /// The key was absent.
    Absent,
    /// The key held this value (encoded).
    Was(Vec<u8>),
    /// The old value did not encode: the turn cannot be undone in memory.
    Lost,
}

/// A sorted map, as a field of an object's state: each entry is stored under a key of its
/// own (`MapKey` makes the key), so a call that changes one entry writes that entry,
/// whatever the map's size. The whole map is loaded when the object activates (one
/// storage `list` per 1000 entries); reads are synchronous, like a `BTreeMap`'s.
///
/// Like the rest of the state, the changes of a call that returns `Err` or panics are
/// undone, in memory (in time proportional to the changes) and in storage.
///
/// ```
/// use duro::prelude::*;
/// use duro::Map;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Scores {
///     best: Map<String, u32>,
/// }
///
/// #[duro::methods]
/// impl Scores {
///     /// Records a score; returns the player's best.
///     #[rpc]
///     fn record(&mut self, player: String, score: u32) -> u32 {
///         let best = self.best.get(&player).copied().unwrap_or(0).max(score);
///         self.best.insert(player, best);
///         best
///     }
///
///     /// Every player with their best, by name.
///     #[rpc]
///     fn all(&self) -> Vec<(String, u32)> {
///         self.best.iter().map(|(p, s)| (p.clone(), *s)).collect()
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let env = duro::testing::TestEnv::new();
/// let s = env.stub::<Scores>("game");
/// s.record("bo".into(), 3).await?;
/// s.record("al".into(), 5).await?;
/// assert_eq!(s.record("bo".into(), 2).await?, 3);
/// env.restart();
/// assert_eq!(s.all().await?, vec![("al".to_string(), 5), ("bo".to_string(), 3)]);
/// # Ok::<(), duro::Error>(())
/// # }).unwrap();
/// ```
///
/// A map works only as a direct field of the state struct (`#[duro::object]` finds it by
/// its type and stores it under the field's name). It serializes as nothing (`nil`): a
/// map elsewhere holds entries in memory only, and serializing one that holds any is an
/// error. Replacing the field fails the call; use [`clear`](Self::clear).
pub struct Map<K, V> {
    entries: BTreeMap<K, V>,
    undo: Vec<(K, Undo)>,
    core: MapCore,
}

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Map {
            entries: BTreeMap::new(),
            undo: Vec::new(),
            core: MapCore::default(),
        }
    }
}

impl<K: Ord, V> Map<K, V> {
    /// An empty map (what `Default` makes; the object binds it to storage on load).
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.entries.get(key)
    }

    /// Whether the map holds `key`.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.entries.contains_key(key)
    }

    /// How many entries the map holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in key order.
    pub fn iter(&self) -> btree_map::Iter<'_, K, V> {
        self.entries.iter()
    }

    /// The keys, in order.
    pub fn keys(&self) -> btree_map::Keys<'_, K, V> {
        self.entries.keys()
    }

    /// The values, in key order.
    pub fn values(&self) -> btree_map::Values<'_, K, V> {
        self.entries.values()
    }
}

impl<K: MapKey, V: Serialize + DeserializeOwned> Map<K, V> {
    /// Sets `key` to `value`; returns the value it replaces.
    ///
    /// The value is encoded now; if it does not encode (or is larger than a stored value
    /// may be, 2 MB with its key), the call fails when it commits and its changes are
    /// undone.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if !self.core.is_bound() {
            return self.entries.insert(key, value);
        }
        let encoded = key.encode_key();
        let first = !self.core.has_change(&encoded);
        self.core.record(encoded, Some(wire::encode(&value)));
        let old = self.entries.insert(key.clone(), value);
        if first {
            self.remember(key, old.as_ref());
        }
        old
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let (key, old) = self.entries.remove_entry(key)?;
        if self.core.is_bound() {
            let encoded = key.encode_key();
            let first = !self.core.has_change(&encoded);
            self.core.record(encoded, None);
            if first {
                self.remember(key, Some(&old));
            }
        }
        Some(old)
    }

    /// Removes every entry (one key deleted per entry when the call commits).
    pub fn clear(&mut self) {
        if !self.core.is_bound() {
            self.entries.clear();
            return;
        }
        for (key, old) in std::mem::take(&mut self.entries) {
            let encoded = key.encode_key();
            let first = !self.core.has_change(&encoded);
            self.core.record(encoded, None);
            if first {
                self.remember(key, Some(&old));
            }
        }
    }

    /// Notes how to undo the first change of `key` in this turn.
    fn remember(&mut self, key: K, old: Option<&V>) {
        let undo = match old {
            None => Undo::Absent,
            Some(v) => wire::encode(v).map_or(Undo::Lost, Undo::Was),
        };
        self.undo.push((key, undo));
    }

    /// Undoes the running turn's changes; an error if an old value cannot be restored.
    pub(super) fn undo(&mut self) -> Result<()> {
        self.core.undo();
        let mut result = Ok(());
        for (key, undo) in self.undo.drain(..).rev() {
            match undo {
                Undo::Absent => {
                    self.entries.remove(&key);
                }
                Undo::Was(bytes) => match wire::decode(&bytes) {
                    Ok(v) => {
                        self.entries.insert(key, v);
                    }
                    Err(e) => result = Err(Error::internal(format!("undo failed: {e}"))),
                },
                Undo::Lost => result = Err(Error::internal("undo failed: a value did not encode")),
            }
        }
        result
    }

    pub(super) fn committed(&mut self) {
        self.core.committed();
        self.undo.clear();
    }

    /// Loads the stored entries (keys without the map's prefix).
    pub(super) fn load(&mut self, stored: Entries) -> Result<()> {
        let name = self.core.name();
        if !self.entries.is_empty() {
            return Err(filled(name));
        }
        let mut entries = Vec::with_capacity(stored.len());
        for (key, bytes) in stored {
            let k = K::decode_key(&key)
                .ok_or_else(|| damaged_entry(name, &key, "the key is not one of this map's"))?;
            let v = wire::decode(&bytes).map_err(|e| damaged_entry(name, &key, e))?;
            entries.push((k, v));
        }
        self.entries = entries.into_iter().collect();
        Ok(())
    }

    pub(super) fn core(&mut self) -> &mut MapCore {
        &mut self.core
    }
}

impl<K: Ord, V> Map<K, V> {
    pub(super) fn holds_entries(&self) -> bool {
        !self.entries.is_empty()
    }

    pub(super) fn is_unbound(&self) -> bool {
        !self.core.is_bound()
    }
}

impl<'a, K, V> IntoIterator for &'a Map<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = btree_map::Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Map<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

impl<K: Ord, V> Serialize for Map<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        if self.is_unbound() && self.holds_entries() {
            return Err(serde::ser::Error::custom(
                "a duro::Map that is not a field of an object's state holds entries, which \
                 would be lost",
            ));
        }
        serializer.serialize_unit()
    }
}

impl<'de, K, V> Deserialize<'de> for Map<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> core::result::Result<Self, D::Error> {
        <()>::deserialize(deserializer)?;
        Ok(Map::default())
    }
}
