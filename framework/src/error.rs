//! Errors: the framework's [`Error`] with a stable [`ErrorCode`], and [`CallError`], what a
//! typed stub returns for methods that have a user error type.

use core::fmt;

use serde::{Deserialize, Serialize};

/// `Result` with duro's [`Error`] as the default error type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A stable, machine-readable reason for a failed call. Each code maps to one HTTP status
/// on the wire (see [`ErrorCode::status`]).
///
/// On the wire and in JSON a code is its [`as_str`](ErrorCode::as_str) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Malformed or wrong-typed arguments (400).
    BadRequest,
    /// A missing or different protocol version header (400).
    UnsupportedProtocol,
    /// The object has no RPC method of that name (404).
    UnknownMethod,
    /// The request body is over the size limit (413).
    PayloadTooLarge,
    /// The stored state was written by a newer schema, which this code refuses to overwrite,
    /// or by an older one that no migration covers (409).
    SchemaConflict,
    /// The method returned its own error type (422); the error travels in `data`.
    User,
    /// The object or the platform is overloaded; try again later (503).
    Overloaded,
    /// Anything else: storage failure, a panic, a reply that does not decode (500).
    Internal,
    /// The object could not be reached at all (no HTTP status was received; 502).
    Unavailable,
    /// The call would re-enter an object already waiting in its call chain, which would
    /// wait on itself forever (508). Not retryable: the same call cycles again.
    CallCycle,
    /// A call made from inside a turn got no reply before its deadline (504). Retryable.
    DeadlineExceeded,
}

impl ErrorCode {
    /// The HTTP status this code travels with.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::UnsupportedProtocol => 400,
            ErrorCode::UnknownMethod => 404,
            ErrorCode::SchemaConflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::User => 422,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 502,
            ErrorCode::Overloaded => 503,
            ErrorCode::DeadlineExceeded => 504,
            ErrorCode::CallCycle => 508,
        }
    }

    /// The snake_case name used on the wire and in logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::UnknownMethod => "unknown_method",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::SchemaConflict => "schema_conflict",
            ErrorCode::User => "user",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::CallCycle => "call_cycle",
            ErrorCode::DeadlineExceeded => "deadline_exceeded",
        }
    }

    /// Whether a caller may retry the same call. Only the codes that say nothing about the
    /// request itself are retryable by default.
    pub const fn default_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Overloaded
                | ErrorCode::Unavailable
                | ErrorCode::Internal
                | ErrorCode::DeadlineExceeded
        )
    }
}

impl ErrorCode {
    pub(crate) const ALL: [ErrorCode; 11] = [
        ErrorCode::BadRequest,
        ErrorCode::UnsupportedProtocol,
        ErrorCode::UnknownMethod,
        ErrorCode::PayloadTooLarge,
        ErrorCode::SchemaConflict,
        ErrorCode::User,
        ErrorCode::Overloaded,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::CallCycle,
        ErrorCode::DeadlineExceeded,
    ];

    /// The code named `name` (its [`as_str`](ErrorCode::as_str)).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

// Written by hand, as the name string (what the derive wrote for these unit variants):
// the derived enum visitors weighed about 4 KiB of wasm for nine names.
impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = ErrorCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duro error code name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ErrorCode, E> {
                ErrorCode::from_name(v)
                    .ok_or_else(|| E::custom(format_args!("unknown error code {v:?}")))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ErrorCode, E> {
                let v = core::str::from_utf8(v)
                    .map_err(|_| E::custom("an error code name is not UTF-8"))?;
                self.visit_str(v)
            }
        }
        deserializer.deserialize_str(Name)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A framework error: a [code](ErrorCode), a message for humans and a retryable flag.
///
/// ```
/// use duro::{Error, ErrorCode};
/// let e = Error::new(ErrorCode::BadRequest, "`by` must be a number");
/// assert_eq!(e.code().status(), 400);
/// assert!(!e.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    code: ErrorCode,
    message: String,
    retryable: bool,
}

impl Error {
    /// An error with `code`'s default retryable flag.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            retryable: code.default_retryable(),
        }
    }

    /// An internal error (500, retryable).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
    }

    /// A bad-request error (400, not retryable).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::BadRequest, message)
    }

    /// Overrides the retryable flag.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the same call may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// What a typed stub returns for a method declared as `-> Result<T, E>`: either the
/// method's own error, or a framework [`Error`] (bad arguments, storage, transport …).
///
/// ```
/// use duro::{CallError, Error};
/// let e: CallError<String> = CallError::User("insufficient funds".into());
/// assert_eq!(e.user(), Some(&"insufficient funds".to_string()));
/// let f: CallError<String> = Error::internal("boom").into();
/// assert!(f.framework().is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError<E> {
    /// The error the method returned.
    #[error("{0}")]
    User(E),
    /// The call failed in duro or on the platform.
    #[error("{0}")]
    Framework(Error),
}

impl<E> CallError<E> {
    /// The user's error, if that is what this is.
    pub fn user(&self) -> Option<&E> {
        match self {
            CallError::User(e) => Some(e),
            CallError::Framework(_) => None,
        }
    }

    /// The framework error, if that is what this is.
    pub fn framework(&self) -> Option<&Error> {
        match self {
            CallError::User(_) => None,
            CallError::Framework(e) => Some(e),
        }
    }

    /// The wire code: [`ErrorCode::User`] for user errors.
    pub fn code(&self) -> ErrorCode {
        match self {
            CallError::User(_) => ErrorCode::User,
            CallError::Framework(e) => e.code(),
        }
    }
}

impl From<duro_index::Error> for Error {
    fn from(e: duro_index::Error) -> Self {
        let code = match e.kind() {
            duro_index::ErrorKind::Invalid => ErrorCode::BadRequest,
            duro_index::ErrorKind::Kv => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        };
        Error::new(code, e.message().to_owned())
    }
}

impl<E> From<Error> for CallError<E> {
    fn from(e: Error) -> Self {
        CallError::Framework(e)
    }
}

#[cfg(target_arch = "wasm32")]
impl From<Error> for worker::Error {
    fn from(e: Error) -> Self {
        worker::Error::RustError(e.to_string())
    }
}

#[cfg(target_arch = "wasm32")]
impl<E: fmt::Display> From<CallError<E>> for worker::Error {
    fn from(e: CallError<E>) -> Self {
        worker::Error::RustError(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_travel_as_their_names() {
        for code in ErrorCode::ALL {
            let bytes = crate::wire::encode(&code).unwrap();
            // A MessagePack string holding the name, as the derive wrote it.
            let mut expected = vec![0xa0 | code.as_str().len() as u8];
            expected.extend_from_slice(code.as_str().as_bytes());
            assert_eq!(bytes, expected, "{code}");
            assert_eq!(crate::wire::decode::<ErrorCode>(&bytes).unwrap(), code);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(code));
        }
        let unknown = crate::wire::encode("teapot").unwrap();
        let err = crate::wire::decode::<ErrorCode>(&unknown).unwrap_err();
        assert!(
            err.to_string().contains("unknown error code \"teapot\""),
            "{err}"
        );
        assert!(crate::wire::decode::<ErrorCode>(&crate::wire::encode(&7u8).unwrap()).is_err());
    }

    #[test]
    fn messages_read_as_before() {
        let e = Error::new(ErrorCode::BadRequest, "`by` must be a number");
        assert_eq!(e.to_string(), "bad_request: `by` must be a number");
        assert!(std::error::Error::source(&e).is_none());
        let user: CallError<String> = CallError::User("insufficient funds".into());
        assert_eq!(user.to_string(), "insufficient funds");
        let framework: CallError<String> = e.clone().into();
        assert_eq!(framework.to_string(), e.to_string());
        let boxed: Box<dyn std::error::Error> = Box::new(framework);
        assert!(boxed.source().is_none());
    }
}
