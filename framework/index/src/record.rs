//! How an entry is stored in KV.
//!
//! The value of `<index>/<name>` is JSON text:
//!
//! ```text
//! {"seq":<u64>,"at":<ms since the Unix epoch>,"v":<the projection as JSON>}
//! ```
//!
//! and the key's metadata is the same object when its JSON is at most [`METADATA_LIMIT`]
//! bytes (Workers KV's limit), so that `list` returns small projections without a `get`
//! per key; otherwise the metadata is `{"seq":…,"at":…}` alone and readers fetch the value.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// Largest metadata Workers KV accepts, as serialized JSON.
pub const METADATA_LIMIT: usize = 1024;
/// Largest value Workers KV accepts.
pub const VALUE_LIMIT: usize = 25 * 1024 * 1024;

/// What the publisher writes for one version of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The KV value.
    pub value: String,
    /// The KV metadata.
    pub metadata: Value,
    /// Whether the metadata carries the projection (the `list` fast path).
    pub inline: bool,
}

/// A projection as JSON bytes, the form the publisher compares and stores.
pub fn encode_projection<T: Serialize + ?Sized>(projection: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(projection).map_err(|e| {
        Error::new(
            ErrorKind::Encode,
            format!("the projection does not encode as JSON: {e}"),
        )
    })
}

/// Builds the value and metadata of version `seq` of a projection (JSON bytes from
/// [`encode_projection`]) published at `at_ms`.
///
/// ```
/// use duro_index::record;
/// let small = record::encode(3, 1_000, br#"{"value":7}"#).unwrap();
/// assert_eq!(small.value, r#"{"seq":3,"at":1000,"v":{"value":7}}"#);
/// assert!(small.inline);
/// let big = format!("\"{}\"", "x".repeat(2000));
/// let big = record::encode(4, 1_000, big.as_bytes()).unwrap();
/// assert!(!big.inline);
/// assert_eq!(big.metadata, serde_json::json!({"seq": 4, "at": 1000}));
/// ```
pub fn encode(seq: u64, at_ms: u64, projection: &[u8]) -> Result<Encoded> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::Encode,
            format!("the projection is not valid JSON: {e}"),
        )
    };
    let text = std::str::from_utf8(projection).map_err(|e| bad(&e))?;
    let value = format!("{{\"seq\":{seq},\"at\":{at_ms},\"v\":{text}}}");
    if value.len() > VALUE_LIMIT {
        return Err(Error::new(
            ErrorKind::Encode,
            format!(
                "the projection is {} bytes; Workers KV values are at most {VALUE_LIMIT}",
                projection.len()
            ),
        ));
    }
    let (metadata, inline) = if value.len() <= METADATA_LIMIT {
        let full: Value = serde_json::from_str(&value).map_err(|e| bad(&e))?;
        // The limit applies to the metadata as the platform serializes it.
        let size = serde_json::to_string(&full)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size <= METADATA_LIMIT {
            (full, true)
        } else {
            (header(seq, at_ms), false)
        }
    } else {
        (header(seq, at_ms), false)
    };
    Ok(Encoded {
        value,
        metadata,
        inline,
    })
}

fn header(seq: u64, at_ms: u64) -> Value {
    serde_json::json!({ "seq": seq, "at": at_ms })
}

/// One decoded version: `(seq, at_ms, projection)`.
pub type Version<T> = (u64, u64, T);

#[derive(Deserialize)]
struct Wire<T> {
    seq: u64,
    at: u64,
    v: T,
}

/// Decodes a KV value written by [`encode`].
pub fn decode_value<T: DeserializeOwned>(key: &str, text: &str) -> Result<Version<T>> {
    let wire: Wire<T> = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::Decode,
            format!("the index entry {key:?} does not decode: {e}"),
        )
    })?;
    Ok((wire.seq, wire.at, wire.v))
}

/// Decodes the projection carried in a key's metadata; `None` when the metadata does not
/// carry it (a large projection, or a key written by something else).
pub fn decode_metadata<T: DeserializeOwned>(
    key: &str,
    metadata: &Value,
) -> Option<Result<Version<T>>> {
    let v = metadata.get("v")?;
    let seq = number(metadata.get("seq")?)?;
    let at = number(metadata.get("at")?)?;
    Some(
        T::deserialize(v)
            .map(|value| (seq, at, value))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Decode,
                    format!("the metadata of index entry {key:?} does not decode: {e}"),
                )
            }),
    )
}

/// The `seq` a key's metadata announces, if any.
pub fn metadata_seq(metadata: &Value) -> Option<u64> {
    number(metadata.get("seq")?)
}

/// A non-negative integer, also when it arrives as a float (JavaScript numbers).
fn number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f <= 9_007_199_254_740_991.0)
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Summary {
        value: i64,
        label: String,
    }

    #[test]
    fn round_trips_through_value_and_metadata() {
        let s = Summary {
            value: -5,
            label: "hé \"quoted\"".into(),
        };
        let bytes = encode_projection(&s).unwrap();
        let e = encode(9, 1_735_689_600_000, &bytes).unwrap();
        assert!(e.inline);
        let (seq, at, back): Version<Summary> = decode_value("k", &e.value).unwrap();
        assert_eq!((seq, at, &back), (9, 1_735_689_600_000, &s));
        let (seq, _, back): Version<Summary> = decode_metadata("k", &e.metadata).unwrap().unwrap();
        assert_eq!((seq, back), (9, s));
    }

    #[test]
    fn the_metadata_limit_is_exact() {
        // Find the largest label that still fits, and check one more byte does not.
        let fits = |n: usize| {
            let s = Summary {
                value: 1,
                label: "x".repeat(n),
            };
            encode(1, 2, &encode_projection(&s).unwrap()).unwrap()
        };
        let mut n = 0;
        while fits(n + 1).inline {
            n += 1;
        }
        let last = fits(n);
        assert!(last.inline);
        assert_eq!(
            serde_json::to_string(&last.metadata).unwrap().len(),
            METADATA_LIMIT
        );
        let over = fits(n + 1);
        assert!(!over.inline);
        assert!(decode_metadata::<Summary>("k", &over.metadata).is_none());
        assert_eq!(metadata_seq(&over.metadata), Some(1));
    }

    #[test]
    fn javascript_numbers_decode() {
        let meta = serde_json::json!({"seq": 4.0, "at": 1000.0, "v": {"value": 2, "label": ""}});
        let (seq, at, _): Version<Summary> = decode_metadata("k", &meta).unwrap().unwrap();
        assert_eq!((seq, at), (4, 1000));
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert!(decode_value::<Summary>("k", "not json").is_err());
        assert!(decode_value::<Summary>("k", r#"{"seq":1,"at":2,"v":3}"#).is_err());
        let meta = serde_json::json!({"seq": 1, "at": 2, "v": "wrong"});
        assert!(decode_metadata::<Summary>("k", &meta).unwrap().is_err());
        assert!(encode(1, 2, &[0xff]).is_err());
        assert!(encode(1, 2, b"{nope").is_err());
    }
}
