//! The worker ⇄ object wire protocol.
//!
//! A call is one JS RPC call of the object's [`RPC_METHOD`] with the protocol version
//! (`"1"`), the method's name, the object's name, the call [`Chain`] (or `null`) and a
//! MessagePack `Uint8Array` holding the argument tuple. It answers `[status, bytes]`: `200`
//! with the MessagePack result, or the status of its [`ErrorCode`] with a MessagePack
//! [`ErrorBody`]. The codec is rmp-serde: structs are encoded with field names
//! (`rmp_serde::to_vec_named`), so reordering fields is not a breaking change; decoders also
//! take structs as arrays, as rmp-serde's does.
//!
//! Every decoder here returns an error for bad bytes and never panics; the property tests
//! in this module and `tests/` feed them arbitrary input. Before rmp-serde sees the bytes, a
//! flat scan checks that they hold exactly one value nested at most [`MAX_DEPTH`] deep:
//! rmp-serde counts the depth of arrays and maps but not of enums, so a recursive enum type
//! could otherwise be made to overflow the stack.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{CallError, Error, ErrorCode};

/// How deep arrays, maps and enums may nest in decoded input.
pub const MAX_DEPTH: usize = 128;

/// Why MessagePack bytes did not decode (or a value did not encode).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MsgpackError {
    /// The input ends inside a value.
    #[error("unexpected end of input")]
    Eof,
    /// Arrays and maps (enums among them) nest deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Bytes are left after the value.
    #[error("{0} trailing bytes after the value")]
    Trailing(usize),
    /// The bytes are one well-formed value that rmp-serde does not decode as the type.
    #[error(transparent)]
    Decode(#[from] rmp_serde::decode::Error),
    /// The value does not encode.
    #[error(transparent)]
    Encode(#[from] rmp_serde::encode::Error),
}

/// Checks, without recursion, that `bytes` hold exactly one MessagePack value whose arrays
/// and maps nest at most [`MAX_DEPTH`] deep. Declared lengths are counted, never allocated.
fn scan(bytes: &[u8]) -> Result<(), MsgpackError> {
    let mut at = 0usize;
    // Values still to read in each open array or map; the bottom is the top-level value.
    let mut open: Vec<u64> = vec![1];
    let read = |at: &mut usize, n: usize| -> Result<u64, MsgpackError> {
        let end = at.checked_add(n).filter(|&e| e <= bytes.len());
        let field = &bytes[*at..end.ok_or(MsgpackError::Eof)?];
        *at += n;
        Ok(field.iter().fold(0u64, |v, &b| v << 8 | u64::from(b)))
    };
    while let Some(left) = open.last_mut() {
        if *left == 0 {
            open.pop();
            continue;
        }
        *left -= 1;
        let marker = read(&mut at, 1)? as u8;
        // (bytes to skip, values inside)
        let (skip, inside) = match marker {
            0x80..=0x8f => (0, 2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => (0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (u64::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => (read(&mut at, 1)?, 0),
            0xc5 | 0xda => (read(&mut at, 2)?, 0),
            0xc6 | 0xdb => (read(&mut at, 4)?, 0),
            0xc7 => (read(&mut at, 1)? + 1, 0),
            0xc8 => (read(&mut at, 2)? + 1, 0),
            0xc9 => (read(&mut at, 4)? + 1, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xd4..=0xd8 => (1 + (1 << (marker - 0xd4)), 0),
            0xdc => (0, read(&mut at, 2)?),
            0xdd => (0, read(&mut at, 4)?),
            0xde => (0, 2 * read(&mut at, 2)?),
            0xdf => (0, 2 * read(&mut at, 4)?),
            // Fixints, nil, booleans, and the reserved 0xc1 (left to rmp-serde to refuse).
            _ => (0, 0),
        };
        read(&mut at, usize::try_from(skip).unwrap_or(usize::MAX))?;
        if inside > 0 {
            if open.len() > MAX_DEPTH {
                return Err(MsgpackError::TooDeep);
            }
            open.push(inside);
        }
    }
    match bytes.len() - at {
        0 => Ok(()),
        rest => Err(MsgpackError::Trailing(rest)),
    }
}

pub use crate::names::RPC_METHOD;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: &str = "1";
/// Default limit on request bodies, enforced before decoding.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes bytes as unpadded base64url (the text form of a call's [`Chain`]).
///
/// ```
/// assert_eq!(duro::wire::base64url_encode(b"duro?"), "ZHVybz8");
/// assert_eq!(duro::wire::base64url_decode("ZHVybz8").unwrap(), b"duro?");
/// ```
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes unpadded base64url; a failure is a `bad_request`. Never panics.
pub fn base64url_decode(text: &str) -> Result<Vec<u8>, Error> {
    let bad = || Error::bad_request("not base64url");
    let digits = text.as_bytes();
    if digits.len() % 4 == 1 {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => return Err(bad()),
            };
            n |= u32::from(v) << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Ok(out)
}

/// The MessagePack body of a failed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code.
    pub code: ErrorCode,
    /// Message for humans.
    pub message: String,
    /// The user's error, MessagePack-encoded, when `code` is `user`.
    #[serde(with = "serde_bytes", default)]
    pub data: Option<Vec<u8>>,
    /// Whether the caller may retry.
    #[serde(default)]
    pub retryable: bool,
}

/// A method's failure as the dispatcher produces it: a framework error plus, for user
/// errors, the encoded user error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error (code [`ErrorCode::User`] for user errors).
    pub error: Error,
    /// The encoded user error.
    pub data: Option<Vec<u8>>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure { error, data: None }
    }
}

/// Status and body of a reply, before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// MessagePack body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A 200 reply.
    pub fn ok(body: Vec<u8>) -> Self {
        Reply { status: 200, body }
    }

    /// An error reply with its status and MessagePack [`ErrorBody`].
    pub fn failure(f: &Failure) -> Self {
        let body = ErrorBody {
            code: f.error.code(),
            message: f.error.message().to_owned(),
            data: f.data.clone(),
            retryable: f.error.is_retryable(),
        };
        // Encoding a struct of strings and bytes into a Vec cannot fail.
        let body = rmp_serde::to_vec_named(&body).unwrap_or_default();
        Reply {
            status: f.error.code().status(),
            body,
        }
    }

    /// An error reply for a framework error.
    pub fn error(e: Error) -> Self {
        Reply::failure(&Failure::from(e))
    }
}

/// A call as it arrives at an object, before its arguments are read.
#[derive(Debug, Clone, Copy)]
pub struct CallHead<'a> {
    /// The method's wire name.
    pub method: &'a str,
    /// The caller's protocol version, if it sent one.
    pub protocol: Option<&'a str>,
    /// The length of the arguments (checked before they are copied or decoded).
    pub content_length: Option<u64>,
    /// The [`Chain`] of an object-to-object call, if any.
    pub chain: Option<&'a str>,
}

/// Longest method name a call may carry.
const MAX_METHOD: usize = 256;

/// Checks a call's method name, protocol version and argument length, and returns the
/// method name.
///
/// ```
/// use duro::wire::{check_head, CallHead};
/// let head = CallHead { method: "add", protocol: Some("1"), content_length: Some(3), chain: None };
/// assert_eq!(check_head(&head, 1024).unwrap(), "add");
/// let bad = CallHead { protocol: Some("2"), ..head };
/// assert_eq!(check_head(&bad, 1024).unwrap_err().code(), duro::ErrorCode::UnsupportedProtocol);
/// ```
pub fn check_head<'a>(head: &CallHead<'a>, limit: usize) -> Result<&'a str, Error> {
    let method = head.method;
    if method.is_empty() || method.len() > MAX_METHOD || method.contains('/') {
        return Err(Error::new(
            ErrorCode::UnknownMethod,
            format!("not a method name: {:?}", truncate(method)),
        ));
    }
    match head.protocol {
        Some(PROTOCOL_VERSION) => {}
        Some(other) => {
            return Err(Error::new(
                ErrorCode::UnsupportedProtocol,
                format!(
                    "protocol version {:?} is not supported; this object speaks version {PROTOCOL_VERSION}",
                    truncate(other)
                ),
            ))
        }
        None => {
            return Err(Error::new(
                ErrorCode::UnsupportedProtocol,
                format!("the call names no protocol version; this object speaks version {PROTOCOL_VERSION}"),
            ))
        }
    }
    if let Some(len) = head.content_length {
        check_len(len, limit)?;
    }
    Ok(method)
}

/// Fails with `payload_too_large` when `len` is over `limit`.
pub fn check_len(len: u64, limit: usize) -> Result<(), Error> {
    if len > limit as u64 {
        return Err(Error::new(
            ErrorCode::PayloadTooLarge,
            format!("request body of {len} bytes is over the limit of {limit} bytes"),
        ));
    }
    Ok(())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Encodes a value as MessagePack with field names.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    rmp_serde::to_vec_named(value).map_err(|e| Error::internal(format!("encoding failed: {e}")))
}

/// Decodes a value from MessagePack, rejecting trailing bytes and nesting deeper than
/// [`MAX_DEPTH`] (deep nesting would exhaust the wasm stack). Never panics.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MsgpackError> {
    scan(bytes)?;
    Ok(rmp_serde::from_slice(bytes)?)
}

/// Decodes a method's argument tuple; a failure is a `bad_request` naming the method.
pub fn decode_args<A: DeserializeOwned>(method: &str, bytes: &[u8]) -> Result<A, Error> {
    decode(bytes).map_err(|e| {
        Error::bad_request(format!(
            "arguments of `{method}` do not decode as {}: {e}",
            core::any::type_name::<A>()
        ))
    })
}

/// Turns a reply into the typed result a stub returns.
pub fn decode_reply<T: DeserializeOwned, E: DeserializeOwned>(
    reply: &Reply,
) -> Result<T, CallError<E>> {
    if reply.status == 200 {
        return decode(&reply.body).map_err(|e| {
            CallError::Framework(Error::internal(format!("reply does not decode: {e}")))
        });
    }
    let body: ErrorBody = match decode(&reply.body) {
        Ok(b) => b,
        Err(_) => {
            // Not one of ours (a platform error page, say): keep the status and the text.
            let text = String::from_utf8_lossy(&reply.body);
            let code = match reply.status {
                400 => ErrorCode::BadRequest,
                404 => ErrorCode::UnknownMethod,
                409 => ErrorCode::SchemaConflict,
                413 => ErrorCode::PayloadTooLarge,
                503 => ErrorCode::Overloaded,
                _ => ErrorCode::Internal,
            };
            return Err(CallError::Framework(Error::new(
                code,
                format!("status {}: {}", reply.status, truncate(&text)),
            )));
        }
    };
    if body.code == ErrorCode::User {
        if let Some(data) = &body.data {
            if let Ok(user) = decode::<E>(data) {
                return Err(CallError::User(user));
            }
        }
    }
    Err(CallError::Framework(
        Error::new(body.code, body.message).with_retryable(body.retryable),
    ))
}

/// The objects a call came through, oldest first, as `Class/name`: it travels with every
/// object-to-object call as text (base64url MessagePack), so that a call that
/// would re-enter an object already waiting for it fails fast instead of waiting forever.
///
/// ```
/// use duro::wire::Chain;
/// let chain = Chain::default().then("Lobby", "a").then("Player", "p");
/// assert!(chain.contains("Lobby", "a"));
/// assert_eq!(Chain::decode(&chain.encode()).unwrap(), chain);
/// assert_eq!(chain.describe("Lobby", "a"), "Lobby/a → Player/p → Lobby/a");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain(Vec<String>);

/// Longest call chain: deeper calls fail with `call_cycle` (a chain this deep is a
/// runaway recursion across objects, even without a cycle).
pub const MAX_CHAIN: usize = 32;

impl Chain {
    fn entry(class: &str, name: &str) -> String {
        format!("{class}/{name}")
    }

    /// Whether the object `class`/`name` is in the chain.
    pub fn contains(&self, class: &str, name: &str) -> bool {
        let entry = Self::entry(class, name);
        self.0.contains(&entry)
    }

    /// The chain of a call made by `class`/`name` while running a call of this chain.
    pub fn then(&self, class: &str, name: &str) -> Chain {
        let mut next = self.0.clone();
        next.push(Self::entry(class, name));
        Chain(next)
    }

    /// How many objects the call came through.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the call came from a worker, not an object.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The chain, followed by `class`/`name`, for messages.
    pub fn describe(&self, class: &str, name: &str) -> String {
        let mut out = String::new();
        for entry in &self.0 {
            out.push_str(entry);
            out.push_str(" → ");
        }
        out.push_str(&Self::entry(class, name));
        out
    }

    /// The header value.
    pub fn encode(&self) -> String {
        // A list of strings always encodes.
        base64url_encode(&encode(&self.0).unwrap_or_default())
    }

    /// Reads a header value; a bad one is a `bad_request`.
    pub fn decode(header: &str) -> Result<Chain, Error> {
        let bytes = base64url_decode(header)?;
        decode::<Vec<String>>(&bytes)
            .map(Chain)
            .map_err(|e| Error::bad_request(format!("the call chain does not decode: {e}")))
    }

    /// Fails with `call_cycle` if a call of this chain to `class`/`name` would wait on
    /// itself (or the chain is longer than [`MAX_CHAIN`]).
    pub fn check(&self, class: &str, name: &str) -> Result<(), Error> {
        if self.contains(class, name) {
            return Err(Error::new(
                ErrorCode::CallCycle,
                format!(
                    "call cycle: {} (an object waiting for a reply was called again; \
                     schedule a timer or call from the worker instead)",
                    self.describe(class, name)
                ),
            ));
        }
        if self.len() >= MAX_CHAIN {
            return Err(Error::new(
                ErrorCode::CallCycle,
                format!(
                    "call chain deeper than {MAX_CHAIN} objects: {}",
                    self.describe(class, name)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn args_round_trip() {
        let bytes = encode(&(5i64, "x".to_string())).unwrap();
        let (a, b): (i64, String) = decode_args("m", &bytes).unwrap();
        assert_eq!((a, b.as_str()), (5, "x"));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&(5i64,)).unwrap();
        bytes.push(0);
        let err = decode_args::<(i64,)>("add", &bytes).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadRequest);
        assert!(err.message().contains("trailing"), "{}", err.message());
    }

    #[test]
    fn wrong_types_are_bad_requests() {
        let bytes = encode(&("five",)).unwrap();
        let err = decode_args::<(i64,)>("add", &bytes).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadRequest);
        assert!(err.message().contains("`add`"));
    }

    #[test]
    fn head_checks() {
        let head = CallHead {
            method: "add",
            protocol: Some("1"),
            content_length: Some(10),
            chain: None,
        };
        assert_eq!(check_head(&head, 10).unwrap(), "add");
        let big = CallHead {
            content_length: Some(11),
            ..head
        };
        assert_eq!(
            check_head(&big, 10).unwrap_err().code(),
            ErrorCode::PayloadTooLarge
        );
        let missing = CallHead {
            protocol: None,
            ..head
        };
        assert_eq!(
            check_head(&missing, 10).unwrap_err().code(),
            ErrorCode::UnsupportedProtocol
        );
        let path = CallHead {
            method: "a/b",
            ..head
        };
        assert_eq!(
            check_head(&path, 10).unwrap_err().code(),
            ErrorCode::UnknownMethod
        );
    }

    #[test]
    fn error_replies_round_trip() {
        let f = Failure {
            error: Error::new(ErrorCode::User, "overflow"),
            data: Some(encode(&"too big").unwrap()),
        };
        let reply = Reply::failure(&f);
        assert_eq!(reply.status, 422);
        let r: Result<i64, CallError<String>> = decode_reply(&reply);
        assert_eq!(r, Err(CallError::User("too big".into())));

        let reply = Reply::error(Error::new(ErrorCode::Overloaded, "busy"));
        let r: Result<i64, CallError<String>> = decode_reply(&reply);
        let e = r.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Overloaded);
        assert!(e.framework().unwrap().is_retryable());
    }

    #[test]
    fn foreign_error_pages_keep_their_status() {
        let reply = Reply {
            status: 503,
            body: b"<html>busy</html>".to_vec(),
        };
        let r: Result<i64, CallError<String>> = decode_reply(&reply);
        assert_eq!(r.unwrap_err().code(), ErrorCode::Overloaded);
    }

    /// Every decoder of duro over `bytes`: arguments, replies, error bodies, state envelopes
    /// and the state inside them.
    fn decode_all(bytes: &[u8]) {
        let _ = decode_args::<(i64,)>("m", bytes);
        let _ = decode_args::<(String, Vec<u8>, Option<u32>)>("m", bytes);
        let _ = decode_args::<()>("m", bytes);
        let _ = decode_args::<(Chain, serde_json::Value)>("m", bytes);
        let _ = decode::<ErrorBody>(bytes);
        let _ = decode::<serde::de::IgnoredAny>(bytes);
        for status in [200, 400, 422, 500] {
            let reply = Reply {
                status,
                body: bytes.to_vec(),
            };
            let _ = decode_reply::<i64, String>(&reply);
            let _ = decode_reply::<serde_json::Value, Chain>(&reply);
        }
        if let Ok(stored) = crate::persist::decode_envelope(bytes) {
            let _ = decode::<serde_json::Value>(&stored.body);
        }
        let _ = decode::<serde_json::Value>(bytes);
    }

    /// A recursive enum: rmp-serde does not count its nesting.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Chain {
        Next(Box<Chain>),
        End,
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,8}", inner, 0..20)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn nested_arrays(n: usize) -> Vec<u8> {
        let mut bytes = vec![0x91; n];
        bytes.push(0xc0);
        bytes
    }

    fn nested_maps(n: usize) -> Vec<u8> {
        let mut bytes = b"\x81\xa1k".repeat(n);
        bytes.push(0xc0);
        bytes
    }

    fn chain(n: usize) -> Vec<u8> {
        let mut bytes = b"\x81\xa4Next".repeat(n);
        bytes.extend_from_slice(b"\xa3End");
        bytes
    }

    #[test]
    fn nesting_is_limited_cleanly() {
        for nested in [nested_arrays, nested_maps, chain] {
            assert!(decode::<serde_json::Value>(&nested(MAX_DEPTH)).is_ok());
            assert!(decode::<serde::de::IgnoredAny>(&nested(MAX_DEPTH)).is_ok());
            for n in [MAX_DEPTH + 1, 100_000] {
                let err = decode::<serde_json::Value>(&nested(n)).unwrap_err();
                assert!(matches!(err, MsgpackError::TooDeep), "{err}");
                let err = decode_args::<(Chain,)>("m", &nested(n)).unwrap_err();
                assert_eq!(err.code(), ErrorCode::BadRequest);
                assert!(err.message().contains("nesting deeper than 128"), "{err}");
            }
        }
        // A recursive enum up to the limit decodes; deeper, a clean error where rmp-serde
        // alone, which does not count enums, would run out of stack.
        let mut value = Chain::End;
        for _ in 0..MAX_DEPTH {
            value = Chain::Next(Box::new(value));
        }
        assert_eq!(decode::<Chain>(&chain(MAX_DEPTH)).unwrap(), value);
        assert!(matches!(
            decode::<Chain>(&chain(1_000_000)),
            Err(MsgpackError::TooDeep)
        ));
    }

    #[test]
    fn short_and_long_inputs_are_errors() {
        assert!(matches!(decode::<u8>(b""), Err(MsgpackError::Eof)));
        assert!(matches!(decode::<u8>(b"\xcd\x01"), Err(MsgpackError::Eof)));
        // A declared length far beyond the input allocates nothing and fails.
        assert!(matches!(
            decode::<Vec<u8>>(b"\xdd\xff\xff\xff\xff\x01"),
            Err(MsgpackError::Eof)
        ));
        assert!(matches!(
            decode::<serde::de::IgnoredAny>(b"\xc0\xc0\xc0"),
            Err(MsgpackError::Trailing(2))
        ));
        let err = decode_args::<(i64,)>("add", b"\xc1").unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadRequest);
    }

    #[test]
    fn base64url_known_values() {
        for (raw, text) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"\xff\xfe\xfd", "__79"),
        ] {
            assert_eq!(base64url_encode(raw), text);
            assert_eq!(base64url_decode(text).unwrap(), raw);
        }
        assert!(base64url_decode("Z").is_err());
        assert!(base64url_decode("Zm9v+").is_err());
    }

    proptest! {
        #[test]
        fn base64url_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            prop_assert_eq!(base64url_decode(&base64url_encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn base64url_decoding_never_panics(text in ".{0,64}") {
            let _ = base64url_decode(&text);
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            decode_all(&bytes);
        }

        #[test]
        fn damaged_encodings_never_panic(
            value in json(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            how in 0..3u8,
        ) {
            let mut bytes = encode(&(value, Chain::Next(Box::new(Chain::End)))).unwrap();
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
            decode_all(&bytes);
        }

        #[test]
        fn nested_values_round_trip(value in json()) {
            let bytes = encode(&value).unwrap();
            prop_assert_eq!(decode::<serde_json::Value>(&bytes).unwrap(), value);
            for end in 0..bytes.len() {
                prop_assert!(decode::<serde_json::Value>(&bytes[..end]).is_err());
            }
        }

        #[test]
        fn heads_never_panic(method in ".{0,80}", proto in proptest::option::of(".{0,8}"), len in any::<Option<u64>>()) {
            let head = CallHead { method: &method, protocol: proto.as_deref(), content_length: len, chain: None };
            let _ = check_head(&head, DEFAULT_BODY_LIMIT);
        }

        #[test]
        fn encoded_args_decode(a in any::<i64>(), s in ".{0,32}", v in proptest::collection::vec(any::<u8>(), 0..64)) {
            let bytes = encode(&(a, s.clone(), v.clone())).unwrap();
            let back: (i64, String, Vec<u8>) = decode_args("m", &bytes).unwrap();
            prop_assert_eq!(back, (a, s, v));
        }
    }
}

/// The bytes on the wire and in storage, pinned: changing the codec must not change them
/// (objects and callers of different builds talk to each other during a deploy, and
/// stored state outlives every build).
#[cfg(test)]
mod pinned_bytes {
    use super::*;
    use crate::persist;
    use std::collections::BTreeMap;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Args {
        by: i64,
        label: Option<String>,
        #[serde(with = "serde_bytes")]
        raw: Vec<u8>,
        tags: Vec<u16>,
        kind: Kind,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Kind {
        Plain,
        Scaled(f64),
        Range { lo: i32, hi: u64 },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    struct State {
        value: i64,
        names: BTreeMap<String, bool>,
        unit: (),
    }

    /// `(encoded, expected hex)`, and that each decodes back to its value.
    fn check<T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug>(value: T, want: &str) {
        let bytes = encode(&value).unwrap();
        assert_eq!(hex(&bytes), want, "{value:?}");
        assert_eq!(decode::<T>(&bytes).unwrap(), value);
    }

    #[test]
    fn call_args() {
        check((5i64, "x".to_string()), "9205a178");
        check(
            (i64::MIN, u64::MAX, -1i8, 300u16),
            "94d38000000000000000cfffffffffffffffffffcd012c",
        );
        check((), "c0");
        check(
            (Args {
                by: -70000,
                label: Some("é".into()),
                raw: vec![0, 255],
                tags: vec![1, 200, 40000],
                kind: Kind::Range { lo: -5, hi: 1 << 40 },
            },),
            "9185a26279d2fffeee90a56c6162656ca2c3a9a3726177c40200ffa4746167739301ccc8cd9c40a46b696e6481a552616e676582a26c6ffba26869cf0000010000000000",
        );
        check(
            (Kind::Plain, Kind::Scaled(1.5), None::<u8>),
            "93a5506c61696e81a65363616c6564cb3ff8000000000000c0",
        );
        check(
            (0.1f32, f64::MAX, true, 'z'),
            "94ca3dcccccdcb7fefffffffffffffc3a17a",
        );
    }

    #[test]
    fn replies() {
        check(8i64, "08");
        check("done".to_string(), "a4646f6e65");
        check(Some(vec![-1i32, 128]), "92ffcc80");
        let reply = Reply::ok(encode(&42u64).unwrap());
        assert_eq!(decode_reply::<u64, String>(&reply), Ok(42));
    }

    #[test]
    fn error_bodies() {
        let user = Reply::failure(&Failure {
            error: Error::new(ErrorCode::User, "overflow"),
            data: Some(encode(&"too big").unwrap()),
        });
        assert_eq!((user.status, hex(&user.body).as_str()), (422, "84a4636f6465a475736572a76d657373616765a86f766572666c6f77a464617461c408a7746f6f20626967a9726574727961626c65c2"));
        let framework = Reply::error(Error::bad_request("arguments of `add` do not decode"));
        assert_eq!((framework.status, hex(&framework.body).as_str()), (400, "84a4636f6465ab6261645f72657175657374a76d657373616765d920617267756d656e7473206f6620606164646020646f206e6f74206465636f6465a464617461c0a9726574727961626c65c2"));
        let busy = Reply::error(Error::new(ErrorCode::Overloaded, ""));
        assert_eq!((busy.status, hex(&busy.body).as_str()), (503, "84a4636f6465aa6f7665726c6f61646564a76d657373616765a0a464617461c0a9726574727961626c65c3"));
    }

    #[test]
    fn state_envelope() {
        let state = State {
            value: -300,
            names: [("a".to_string(), true), ("bc".to_string(), false)].into(),
            unit: (),
        };
        let body = encode(&state).unwrap();
        assert_eq!(
            hex(&body),
            "83a576616c7565d1fed4a56e616d657382a161c3a26263c2a4756e6974c0"
        );
        let (puts, deletes, chunks) = persist::plan_write(2, Some("lobby-1"), &body, 0);
        assert_eq!((deletes.len(), chunks), (0, 0));
        assert_eq!(puts.len(), 1);
        assert_eq!(puts[0].0, "__duro/state");
        assert_eq!(
            hex(&puts[0].1),
            "4455524f01020000000000000007006c6f6262792d31\
             83a576616c7565d1fed4a56e616d657382a161c3a26263c2a4756e6974c0"
        );
        let stored = persist::decode_envelope(&puts[0].1).unwrap();
        assert_eq!(decode::<State>(&stored.body).unwrap(), state);
        assert_eq!(
            hex(&encode(&State::default()).unwrap()),
            "83a576616c756500a56e616d657380a4756e6974c0"
        );
    }
}
