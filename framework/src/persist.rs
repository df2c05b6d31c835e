//! How an object's state is laid out in storage.
//!
//! The state lives under the reserved key `__duro/state` as a versioned envelope:
//!
//! ```text
//! "DURO" | format: u8 = 1 | schema: u32 LE | chunks: u32 LE | name_len: u16 LE | name | body
//! ```
//!
//! `body` is the state as MessagePack with field names. When it is larger than
//! 120 KiB, the envelope holds no body and the body is split across
//! `__duro/state/00000`, `__duro/state/00001`, …; all chunks and the envelope are written in
//! one atomic storage write, and chunks left over from a larger earlier state are deleted in
//! the same write.

use crate::error::{Error, Result};
use crate::names::STATE_KEY;
use crate::storage::{Entries, Storage};

/// Largest body stored inline, and the size of each chunk beyond it: under the 128 KiB
/// value limit of Durable Object storage, with room for the envelope.
pub(crate) const CHUNK_SIZE: usize = 120 * 1024;

const MAGIC: &[u8; 4] = b"DURO";
const FORMAT: u8 = 1;
const FIXED: usize = 4 + 1 + 4 + 4 + 2;

/// A decoded state envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub schema: u32,
    pub name: Option<String>,
    pub chunks: u32,
    pub body: Vec<u8>,
}

fn chunk_key(i: u32) -> String {
    format!("{STATE_KEY}/{i:05}")
}

/// Encodes an envelope header followed by `body` (empty when chunked).
fn encode_envelope(schema: u32, name: Option<&str>, chunks: u32, body: &[u8]) -> Vec<u8> {
    let name = name.unwrap_or("").as_bytes();
    let name = &name[..name.len().min(u16::MAX as usize)];
    let mut out = Vec::with_capacity(FIXED + name.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(&schema.to_le_bytes());
    out.extend_from_slice(&chunks.to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(body);
    out
}

/// Decodes an envelope. Never panics, whatever the bytes.
pub(crate) fn decode_envelope(bytes: &[u8]) -> Result<Stored> {
    let bad = |why: &str| Error::internal(format!("stored state envelope is invalid: {why}"));
    if bytes.len() < FIXED {
        return Err(bad("too short"));
    }
    if &bytes[..4] != MAGIC {
        return Err(bad("bad magic"));
    }
    if bytes[4] != FORMAT {
        return Err(bad(&format!("unknown format {}", bytes[4])));
    }
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let schema = u32_at(5);
    let chunks = u32_at(9);
    let name_len = u16::from_le_bytes([bytes[13], bytes[14]]) as usize;
    let rest = &bytes[FIXED..];
    if rest.len() < name_len {
        return Err(bad("name runs past the end"));
    }
    let name = std::str::from_utf8(&rest[..name_len]).map_err(|_| bad("name is not UTF-8"))?;
    let body = &rest[name_len..];
    if chunks > 0 && !body.is_empty() {
        return Err(bad("chunked envelope with an inline body"));
    }
    Ok(Stored {
        schema,
        name: (!name.is_empty()).then(|| name.to_owned()),
        chunks,
        body: body.to_vec(),
    })
}

/// Reads the state: one storage read, plus one per 128 chunks for large states.
#[cfg(test)]
pub(crate) async fn load(storage: &dyn Storage) -> Result<Option<Stored>> {
    Ok(load_with(storage, &[]).await?.0)
}

/// Reads the state and the `extra` keys in the same storage read; the extra values come
/// back in order.
pub(crate) async fn load_with(
    storage: &dyn Storage,
    extra: &[String],
) -> Result<(Option<Stored>, Vec<Option<Vec<u8>>>)> {
    let mut keys = Vec::with_capacity(1 + extra.len());
    keys.push(STATE_KEY.to_owned());
    keys.extend_from_slice(extra);
    let mut values = storage.get(&keys).await?.into_iter();
    let state = values.next().flatten();
    let extra: Vec<Option<Vec<u8>>> = values.collect();
    let Some(bytes) = state else {
        return Ok((None, extra));
    };
    let mut stored = decode_envelope(&bytes)?;
    if stored.chunks > 0 {
        let keys: Vec<String> = (0..stored.chunks).map(chunk_key).collect();
        let mut body = Vec::new();
        for batch in keys.chunks(128) {
            for (key, value) in batch.iter().zip(storage.get(batch).await?) {
                let value = value.ok_or_else(|| {
                    Error::internal(format!("stored state is missing its chunk {key}"))
                })?;
                body.extend_from_slice(&value);
            }
        }
        stored.body = body;
    }
    Ok((Some(stored), extra))
}

/// The puts and deletes that store `body`, replacing a state that had `old_chunks` chunks.
pub(crate) fn plan_write(
    schema: u32,
    name: Option<&str>,
    body: &[u8],
    old_chunks: u32,
) -> (Entries, Vec<String>, u32) {
    if body.len() <= CHUNK_SIZE {
        let deletes = (0..old_chunks).map(chunk_key).collect();
        let puts = vec![(STATE_KEY.to_owned(), encode_envelope(schema, name, 0, body))];
        return (puts, deletes, 0);
    }
    let parts: Vec<&[u8]> = body.chunks(CHUNK_SIZE).collect();
    let chunks = parts.len() as u32;
    let mut puts = Vec::with_capacity(parts.len() + 1);
    puts.push((
        STATE_KEY.to_owned(),
        encode_envelope(schema, name, chunks, &[]),
    ));
    for (i, part) in parts.into_iter().enumerate() {
        puts.push((chunk_key(i as u32), part.to_vec()));
    }
    let deletes = (chunks..old_chunks).map(chunk_key).collect();
    (puts, deletes, chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;
    use proptest::prelude::*;

    fn store(s: &MemoryStorage, body: &[u8], old: u32) -> u32 {
        let (puts, deletes, chunks) = plan_write(3, Some("n"), body, old);
        futures::executor::block_on(s.write(puts, deletes)).unwrap();
        chunks
    }

    #[test]
    fn inline_round_trip() {
        let s = MemoryStorage::new();
        store(&s, b"hello", 0);
        let got = futures::executor::block_on(load(&s)).unwrap().unwrap();
        assert_eq!(got.body, b"hello");
        assert_eq!(got.schema, 3);
        assert_eq!(got.name.as_deref(), Some("n"));
        assert_eq!(s.stats().reads, 1);
    }

    #[test]
    fn sixteen_mib_round_trips_and_shrinks() {
        let s = MemoryStorage::new();
        let big: Vec<u8> = (0..16 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let chunks = store(&s, &big, 0);
        assert!(chunks > 128, "{chunks}");
        assert_eq!(s.stats().writes, 1, "one atomic write");
        let got = futures::executor::block_on(load(&s)).unwrap().unwrap();
        assert_eq!(got.body.len(), big.len());
        assert!(got.body == big);
        // Shrinking to inline removes every chunk.
        store(&s, b"small", chunks);
        assert_eq!(s.dump().len(), 1);
    }

    proptest! {
        #[test]
        fn envelopes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_envelope(&bytes);
        }

        #[test]
        fn envelopes_round_trip(schema in any::<u32>(), name in "[a-z]{0,20}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let bytes = encode_envelope(schema, Some(&name), 0, &body);
            let got = decode_envelope(&bytes).unwrap();
            prop_assert_eq!(got.schema, schema);
            prop_assert_eq!(got.name.unwrap_or_default(), name);
            prop_assert_eq!(got.body, body);
        }
    }
}
