//! How an entry is stored in KV.
//!
//! The value of `<index>/<name>` is JSON text:
//!
//! ```text
//! {"seq":<u64>,"at":<ms since the Unix epoch>,"v":<the projection as JSON>}
//! ```
//!
//! and the key's metadata is the same text, as a JSON string, when that string is at most
//! [`METADATA_LIMIT`] bytes (Workers KV's limit), so that `list` returns small projections
//! without a `get` per key; otherwise the metadata is `{"seq":…,"at":…}` alone (also as a
//! string) and readers fetch the value.
//!
//! The metadata is a string holding JSON, not a JSON object, because Workers KV keeps
//! metadata as a JavaScript value: the numbers of an object would become `f64`s, and a
//! projection holding an integer beyond ±2^53 (an `i64::MIN`, a `u64::MAX`) would come back
//! changed. A string comes back as it went. Readers also take metadata that is the object
//! itself (written by earlier builds) and fall back to the value when it does not decode.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};

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
    /// The KV metadata, JSON text.
    pub metadata: String,
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
/// assert_eq!(small.metadata, r#""{\"seq\":3,\"at\":1000,\"v\":{\"value\":7}}""#);
/// assert!(small.inline);
/// let big = format!("\"{}\"", "x".repeat(2000));
/// let big = record::encode(4, 1_000, big.as_bytes()).unwrap();
/// assert!(!big.inline);
/// assert_eq!(big.metadata, r#""{\"seq\":4,\"at\":1000}""#);
/// ```
pub fn encode(seq: u64, at_ms: u64, projection: &[u8]) -> Result<Encoded> {
    let bad = |e: &dyn fmt::Display| {
        Error::new(
            ErrorKind::Encode,
            format!("the projection is not valid JSON: {e}"),
        )
    };
    serde_json::from_slice::<IgnoredAny>(projection).map_err(|e| bad(&e))?;
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
    // The metadata is the value itself as a JSON string when it fits, measured as the
    // platform measures it: the string's JSON, quotes and escapes included.
    let whole = json_string(&value);
    let (metadata, inline) = if whole.len() <= METADATA_LIMIT {
        (whole, true)
    } else {
        (
            json_string(&format!("{{\"seq\":{seq},\"at\":{at_ms}}}")),
            false,
        )
    };
    Ok(Encoded {
        value,
        metadata,
        inline,
    })
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    // Serializing a `str` to a `String` cannot fail.
    serde_json::to_string(text).unwrap_or_default()
}

/// The record text a key's metadata carries: the string it is (written by this build), or
/// the metadata itself (an object, written by earlier builds). Everything here parses with
/// `from_slice`, as the value does: one reader type keeps one copy of each decoder in the
/// wasm.
fn metadata_text(metadata: &str) -> Cow<'_, str> {
    if metadata.trim_start().starts_with('"') {
        if let Ok(text) = serde_json::from_slice::<String>(metadata.as_bytes()) {
            return Cow::Owned(text);
        }
    }
    Cow::Borrowed(metadata)
}

/// One decoded version: `(seq, at_ms, projection)`.
pub type Version<T> = (u64, u64, T);

#[derive(Deserialize)]
struct Wire<T> {
    #[serde(deserialize_with = "js_u64")]
    seq: u64,
    #[serde(deserialize_with = "js_u64")]
    at: u64,
    v: T,
}

/// The head of a metadata object: its version, and whether it carries the projection.
#[derive(Deserialize)]
struct Head {
    #[serde(deserialize_with = "js_u64")]
    seq: u64,
    #[serde(rename = "at", deserialize_with = "js_u64")]
    _at: u64,
    #[serde(default, deserialize_with = "present")]
    v: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> core::result::Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// A non-negative integer, also when it arrives as a float (JavaScript numbers).
fn js_u64<'de, D: Deserializer<'de>>(d: D) -> core::result::Result<u64, D::Error> {
    struct Whole;
    impl de::Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative whole number")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> core::result::Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> core::result::Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("a negative number"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> core::result::Result<u64, E> {
            if v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
                Ok(v as u64)
            } else {
                Err(E::custom("not a whole number"))
            }
        }
    }
    d.deserialize_any(Whole)
}

/// Decodes a KV value written by [`encode`].
pub fn decode_value<T: DeserializeOwned>(key: &str, text: &str) -> Result<Version<T>> {
    let wire: Wire<T> = serde_json::from_slice(text.as_bytes()).map_err(|e| {
        Error::new(
            ErrorKind::Decode,
            format!("the index entry {key:?} does not decode: {e}"),
        )
    })?;
    Ok((wire.seq, wire.at, wire.v))
}

/// Decodes the projection carried in a key's metadata (JSON text); `None` when the
/// metadata does not carry it (a large projection, or a key written by something else).
pub fn decode_metadata<T: DeserializeOwned>(
    key: &str,
    metadata: &str,
) -> Option<Result<Version<T>>> {
    let metadata = metadata_text(metadata);
    let head: Head = serde_json::from_slice(metadata.as_bytes()).ok()?;
    if !head.v {
        return None;
    }
    Some(
        serde_json::from_slice::<Wire<T>>(metadata.as_bytes())
            .map(|w| (w.seq, w.at, w.v))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Decode,
                    format!("the metadata of index entry {key:?} does not decode: {e}"),
                )
            }),
    )
}

/// The `seq` a key's metadata (JSON text) announces, if any.
pub fn metadata_seq(metadata: &str) -> Option<u64> {
    serde_json::from_slice::<Head>(metadata_text(metadata).as_bytes())
        .ok()
        .map(|h| h.seq)
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
        assert_eq!(last.metadata.len(), METADATA_LIMIT);
        let over = fits(n + 1);
        assert!(!over.inline);
        assert!(decode_metadata::<Summary>("k", &over.metadata).is_none());
        assert_eq!(metadata_seq(&over.metadata), Some(1));
    }

    #[test]
    fn metadata_is_a_string_that_keeps_every_integer() {
        let bytes = br#"{"value":-9223372036854775808,"label":"18446744073709551615"}"#;
        let e = encode(1, 2, bytes).unwrap();
        assert!(e.metadata.starts_with('"'), "{}", e.metadata);
        assert_eq!(
            serde_json::from_str::<String>(&e.metadata).unwrap(),
            e.value
        );
        let (_, _, back): Version<Summary> = decode_metadata("k", &e.metadata).unwrap().unwrap();
        assert_eq!(back.value, i64::MIN);
        assert_eq!(metadata_seq(&e.metadata), Some(1));
        // Metadata written by earlier builds, an object, still reads.
        let (seq, _, old): Version<Summary> = decode_metadata("k", &e.value).unwrap().unwrap();
        assert_eq!((seq, old), (1, back));
        // A string that is not a record is not carried.
        assert!(decode_metadata::<Summary>("k", r#""hello""#).is_none());
    }

    #[test]
    fn javascript_numbers_decode() {
        let meta = r#"{"seq": 4.0, "at": 1000.0, "v": {"value": 2, "label": ""}}"#;
        let (seq, at, _): Version<Summary> = decode_metadata("k", meta).unwrap().unwrap();
        assert_eq!((seq, at), (4, 1000));
        assert!(decode_metadata::<Summary>("k", r#"{"seq": 4.5, "at": 1, "v": 1}"#).is_none());
        assert!(decode_metadata::<Summary>("k", r#"{"seq": -1, "at": 1, "v": 1}"#).is_none());
        assert_eq!(metadata_seq(r#"{"seq": 7.0, "at": 1}"#), Some(7));
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert!(decode_value::<Summary>("k", "not json").is_err());
        assert!(decode_value::<Summary>("k", r#"{"seq":1,"at":2,"v":3}"#).is_err());
        let meta = r#"{"seq": 1, "at": 2, "v": "wrong"}"#;
        assert!(decode_metadata::<Summary>("k", meta).unwrap().is_err());
        // A `null` projection is carried, and decodes as whatever null decodes to.
        let (_, _, unit): Version<Option<u8>> =
            decode_metadata("k", r#"{"seq":1,"at":2,"v":null}"#)
                .unwrap()
                .unwrap();
        assert_eq!(unit, None);
        assert!(decode_metadata::<Summary>("k", "not json").is_none());
        // Not a record of ours (no time): not carried, so the reader gets the value.
        assert!(
            decode_metadata::<Summary>("k", r#"{"seq":1,"v":{"value":1,"label":""}}"#).is_none()
        );
        assert!(encode(1, 2, &[0xff]).is_err());
        assert!(encode(1, 2, b"{nope").is_err());
    }
}
