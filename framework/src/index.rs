//! Object projections in Workers KV: read and list objects without waking them.
//!
//! An object declares one projection inside `#[duro::methods]`, a `&self` method returning
//! any `Serialize` type:
//!
//! ```
//! use duro::prelude::*;
//!
//! #[duro::object]
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Room { members: Vec<String>, log: Vec<String> }
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! pub struct RoomSummary { members: usize }
//!
//! #[duro::methods]
//! impl Room {
//!     #[rpc]
//!     fn join(&mut self, who: String) { self.members.push(who) }
//!
//!     /// Published to the KV namespace bound as "INDEX" under `rooms/<room name>`.
//!     #[index("rooms")]
//!     fn summary(&self) -> RoomSummary { RoomSummary { members: self.members.len() } }
//! }
//!
//! # futures::executor::block_on(async {
//! let env = duro::testing::TestEnv::new();
//! env.stub::<Room>("lobby").join("ada".into()).await?;
//! env.run_due_timers().await; // publishing runs as a timer
//! let rooms = duro::index::open::<Room>(&env)?; // or Index::<RoomSummary>::open(&env, "INDEX", "rooms")
//! let lobby = rooms.get("lobby").await?.unwrap();
//! assert_eq!(lobby.value, RoomSummary { members: 1 });
//! # Ok::<(), duro::Error>(())
//! # }).unwrap();
//! ```
//!
//! The KV namespace is chosen with `#[index("rooms", binding = "ROOMS_KV")]`
//! ([`DEFAULT_BINDING`] otherwise) and declared in wrangler.toml as
//! `[[kv_namespaces]] binding = "INDEX"`.
//!
//! # Publishing
//!
//! - After a mutating call or timer whose state change changed the projection (compared as
//!   JSON with the last published one), the object schedules a publish on its timer table
//!   (a reserved timer that duro runs itself). Projections that do not change cause no
//!   KV write, and `&self` methods never publish.
//! - **Debounce**: one object's entry is written at most once per [`MIN_INTERVAL`]
//!   (Workers KV allows one write per second per key). The publish timer is due one
//!   interval after the previous write, or at once; when it runs it publishes the state
//!   *at that moment*, so a burst of changes costs at most one write per second and the
//!   last change always lands.
//! - **Sequence numbers**: every write carries the object's `seq`, which only grows (a
//!   number is reserved in storage before the KV write that uses it, so a failed or
//!   uncertain write never reuses one), and the time of publishing. KV itself is
//!   last-write-wins by time; since one object writes its entry from one timer, one write
//!   at a time, a write with an older `seq` is never issued after a newer one, and readers
//!   can order what they see by `seq`.
//! - **Failures**: a failed KV write is retried through the timer retry path (exponential
//!   backoff capped at [`RETRY_CAP`], never dead-lettered). The object's own calls never
//!   fail because KV did; they are not held up by the KV write either (the object's turn
//!   is released while it is in flight).
//! - **Deletion**: `ctx.delete_state()` removes the object's entry (through the same
//!   timer). The bookkeeping (`__duro/index/<index>`, a few bytes) outlives the deletion
//!   so that a re-created object continues the sequence.
//! - **Cost**: the call that schedules a publish writes its bookkeeping in the same atomic
//!   storage write as the state; each publish then costs one KV write and one storage write.
//!
//! # Reading
//!
//! [`Index`] reads from KV only. Projections that fit in KV metadata (1024 bytes as JSON,
//! with the sequence number and time) come with `list` itself; larger ones cost one `get`
//! each. KV is eventually consistent: on Cloudflare a reader can see an entry up to about
//! a minute late; compare [`Entry::seq`] to order versions.
//!
//! # Rebuilding
//!
//! [`republish`] asks one object to publish again (even if unchanged: after a deploy that
//! changed the projection, or if KV lost an entry); [`republish_page`] does it for every
//! object the index lists, one page at a time. Durable Objects cannot be enumerated: the
//! index itself is the list of known names, so an object whose entry is missing must be
//! named by the caller (from the app's own records).

use serde::de::DeserializeOwned;

use crate::error::Error as DuroError;
use crate::names::REPUBLISH_METHOD;
use crate::object::Object;
use crate::platform::Connect;

pub use crate::host::{MIN_INTERVAL, RETRY_CAP};
pub use crate::object::IndexSpec;

#[cfg(target_arch = "wasm32")]
pub use duro_index::WorkerKv;
pub use duro_index::{
    check_index_name, key, record, Entry, Error, ErrorKind, Index, Kv, KvSource, ListPage,
    ListedKey, Page, Result, Skipped, LIST_LIMIT, MAX_INDEX_NAME,
};
#[cfg(feature = "testing")]
pub use duro_index::{KvStats, KvWrite, MemoryKv};

/// The KV binding an `#[index]` publishes to unless it names another.
pub const DEFAULT_BINDING: &str = "INDEX";

fn spec_of<O: Object>() -> crate::Result<IndexSpec> {
    O::__INDEX.ok_or_else(|| {
        DuroError::bad_request(format!("{} declares no #[index] projection", O::CLASS))
    })
}

/// The index object type `O` declares, typed by its projection.
pub fn open<O: Object>(source: &(impl KvSource + ?Sized)) -> crate::Result<Index<O::__Projection>>
where
    O::__Projection: DeserializeOwned,
{
    let spec = spec_of::<O>()?;
    Ok(Index::open(source, spec.binding, spec.index)?)
}

/// Asks object `name` to publish its projection again at its next publish slot, even if
/// it did not change (or to delete its entry if it has no state). Returns once the
/// request is stored, not once KV has it. This wakes the object.
pub async fn republish<O: Object>(
    source: &(impl Connect + ?Sized),
    name: &str,
) -> crate::Result<()> {
    spec_of::<O>()?;
    let client = source.connect(O::__TARGET, name)?;
    client.call_plain::<(), ()>(REPUBLISH_METHOD, &()).await
}

/// One page of [`republish_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republished {
    /// The objects asked to republish.
    pub names: Vec<String>,
    /// The next page; `None` when the index has been gone through.
    pub cursor: Option<String>,
}

/// Asks up to `limit` objects listed in `O`'s index, starting after `cursor`, to republish
/// (see [`republish`]). Each page wakes the objects it names; keep pages small enough for
/// the invocation's subrequest budget. Objects missing from the index are not found: name
/// them with [`republish`].
pub async fn republish_page<O: Object>(
    source: &(impl Connect + KvSource + ?Sized),
    cursor: Option<&str>,
    limit: usize,
) -> crate::Result<Republished> {
    let spec = spec_of::<O>()?;
    if !(1..=LIST_LIMIT).contains(&limit) {
        return Err(DuroError::bad_request(format!(
            "list limits are 1 to {LIST_LIMIT}, got {limit}"
        )));
    }
    let prefix = key(spec.index, "");
    let page = source
        .kv(spec.binding)?
        .list(&prefix, cursor, limit)
        .await?;
    let names: Vec<String> = page
        .keys
        .into_iter()
        .filter_map(|k| k.name.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    for name in &names {
        republish::<O>(source, name).await?;
    }
    Ok(Republished {
        names,
        cursor: page.cursor,
    })
}
