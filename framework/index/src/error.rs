//! The index's [`Error`].

/// `Result` with the index's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The worker has no KV namespace under that binding name.
    Binding,
    /// A KV operation failed (network, rate limit, platform error).
    Kv,
    /// A stored record does not decode as the expected type.
    Decode,
    /// A projection does not encode, or is too large for KV.
    Encode,
    /// A bad argument (an index name, a limit).
    Invalid,
}

/// An index error: a [kind](ErrorKind) and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A failed KV operation.
    pub fn kv(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Kv, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(target_arch = "wasm32")]
impl From<Error> for worker::Error {
    fn from(e: Error) -> Self {
        worker::Error::RustError(e.to_string())
    }
}
