//! WebSockets as objects see them: [`Frame`]s, the [`Upgrade`] request a socket comes
//! from, an object's answer to it ([`Accept`] or [`Refuse`]), and the [`Socket`] handle
//! each handler gets. The handlers themselves are the [`Sockets`](crate::Sockets) trait.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, ErrorCode, Result};
use crate::wire;

/// Largest encoded attachment a socket may carry (it is kept by the platform through
/// hibernation).
pub const MAX_ATTACHMENT: usize = 16 * 1024;
/// Most tags a socket may have.
pub const MAX_TAGS: usize = 10;
/// Longest tag, in bytes.
pub const MAX_TAG_LEN: usize = 256;

/// One WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

impl Frame {
    /// A text frame holding `value` as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Frame> {
        serde_json::to_string(value)
            .map(Frame::Text)
            .map_err(|e| Error::internal(format!("a frame does not encode as JSON: {e}")))
    }

    /// A binary frame holding `value` as MessagePack.
    pub fn msgpack<T: Serialize + ?Sized>(value: &T) -> Result<Frame> {
        wire::encode(value).map(Frame::Binary)
    }

    /// Decodes a client's message: a text frame as JSON, a binary frame as MessagePack.
    /// A frame that does not decode is a `bad_request`.
    pub fn decode<M: DeserializeOwned>(&self) -> Result<M> {
        match self {
            Frame::Text(text) => serde_json::from_str(text).map_err(|e| {
                Error::bad_request(format!("the message is not the JSON expected: {e}"))
            }),
            Frame::Binary(bytes) => wire::decode(bytes).map_err(|e| {
                Error::bad_request(format!("the message is not the MessagePack expected: {e}"))
            }),
        }
    }
}

/// The HTTP request a WebSocket connection starts with, as an object's
/// [`Sockets::connect`](crate::Sockets::connect) sees it.
#[derive(Debug, Clone)]
pub struct Upgrade {
    path: String,
    query: String,
    headers: Vec<(String, String)>,
}

impl Upgrade {
    /// The request of `url` (a full URL or a path with its query) with `headers`.
    pub fn new(url: &str, headers: Vec<(String, String)>) -> Upgrade {
        let rest = url
            .split_once("://")
            .map(|(_, rest)| rest.find('/').map_or("/", |at| &rest[at..]))
            .unwrap_or(url);
        let rest = rest.split('#').next().unwrap_or_default();
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Upgrade {
            path: path.to_owned(),
            query: query.to_owned(),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        }
    }

    /// The path, as sent (not percent-decoded).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, without the `?`.
    pub fn raw_query(&self) -> &str {
        &self.query
    }

    /// The first value of the query parameter `name`, percent-decoded (`+` is a space).
    pub fn query(&self, name: &str) -> Option<String> {
        crate::url::query(&format!("?{}", self.query))
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An object's yes to a connection: the socket's attachment (kept through hibernation,
/// given to every later handler) and its tags (for [`broadcast_tag`]).
///
/// [`broadcast_tag`]: crate::SocketHub::broadcast_tag
#[derive(Debug, Clone)]
pub struct Accept<A> {
    pub(crate) attachment: A,
    pub(crate) tags: Vec<String>,
}

impl<A> Accept<A> {
    /// Accepts the socket with `attachment`.
    pub fn new(attachment: A) -> Self {
        Accept {
            attachment,
            tags: Vec::new(),
        }
    }

    /// Adds a tag (at most [`MAX_TAGS`], each at most [`MAX_TAG_LEN`] bytes).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
}

/// An object's no to a connection: the HTTP status and message the client gets instead
/// of `101 Switching Protocols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refuse {
    status: u16,
    message: String,
}

impl Refuse {
    /// Refuses with `status` (400–599) and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Refuse {
            status: if (400..=599).contains(&status) {
                status
            } else {
                500
            },
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<Error> for Refuse {
    fn from(e: Error) -> Self {
        Refuse::new(e.code().status(), e.message())
    }
}

/// One connected socket: its id (unique in its object), its attachment and its tags.
#[derive(Debug, Clone)]
pub struct Socket<A> {
    id: u64,
    attachment: A,
    tags: Vec<String>,
}

impl<A> Socket<A> {
    /// The socket's id, unique among the object's sockets.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The attachment it was accepted with.
    pub fn attachment(&self) -> &A {
        &self.attachment
    }

    /// Its tags.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
}

/// The first bytes of every socket envelope (and its format version).
const ENVELOPE_MAGIC: &[u8; 4] = b"DSK1";

/// Encodes what the platform keeps with a new socket: a fixed header (`DSK1`, the id as
/// u64 LE, the tag count as u8, each tag as u16 LE length and UTF-8), then the attachment
/// as MessagePack. The header is read without decoding the attachment, so listing and
/// routing sockets costs no deserializer. Checks the limits.
pub(crate) fn envelope<A: Serialize>(id: u64, accept: &Accept<A>) -> Result<Vec<u8>> {
    if accept.tags.len() > MAX_TAGS {
        return Err(Error::bad_request(format!(
            "a socket has at most {MAX_TAGS} tags, got {}",
            accept.tags.len()
        )));
    }
    if let Some(tag) = accept
        .tags
        .iter()
        .find(|t| t.is_empty() || t.len() > MAX_TAG_LEN)
    {
        return Err(Error::bad_request(format!(
            "socket tags are 1 to {MAX_TAG_LEN} bytes, got {}",
            tag.len()
        )));
    }
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(ENVELOPE_MAGIC);
    bytes.extend_from_slice(&id.to_le_bytes());
    bytes.push(accept.tags.len() as u8);
    for tag in &accept.tags {
        bytes.extend_from_slice(&(tag.len() as u16).to_le_bytes());
        bytes.extend_from_slice(tag.as_bytes());
    }
    bytes.extend_from_slice(&wire::encode(&accept.attachment)?);
    if bytes.len() > MAX_ATTACHMENT {
        return Err(Error::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "a socket attachment of {} bytes (with its id and tags) is over the limit of \
                 {MAX_ATTACHMENT}",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// Reads an envelope's header: the id, the tags, and where the attachment starts.
fn header(envelope: &[u8]) -> Result<(u64, Vec<String>, usize)> {
    let bad = || Error::internal("a socket's envelope is damaged");
    let rest = envelope.strip_prefix(ENVELOPE_MAGIC).ok_or_else(bad)?;
    let id = u64::from_le_bytes(
        rest.get(..8)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    );
    let count = *rest.get(8).ok_or_else(bad)?;
    let mut at = 9;
    let mut tags = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = rest.get(at..at + 2).ok_or_else(bad)?;
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        let tag = rest.get(at + 2..at + 2 + len).ok_or_else(bad)?;
        tags.push(String::from_utf8(tag.to_vec()).map_err(|_| bad())?);
        at += 2 + len;
    }
    Ok((id, tags, ENVELOPE_MAGIC.len() + at))
}

/// The id and tags of the socket whose envelope this is.
pub(crate) fn envelope_head(envelope: &[u8]) -> Result<(u64, Vec<String>)> {
    header(envelope).map(|(id, tags, _)| (id, tags))
}

/// The socket an envelope describes, with its attachment decoded as `A`.
pub(crate) fn socket<A: DeserializeOwned>(envelope: &[u8]) -> Result<Socket<A>> {
    let (id, tags, at) = header(envelope)?;
    let attachment = wire::decode::<A>(&envelope[at..]).map_err(|e| {
        Error::internal(format!(
            "the attachment of socket {id} does not decode: {e}"
        ))
    })?;
    Ok(Socket {
        id,
        attachment,
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_requests_read_path_query_and_headers() {
        let up = Upgrade::new(
            "https://chat.example/api/rooms/a%2Db/ws?user=al%20ice&after=3&x",
            vec![("Upgrade".into(), "websocket".into())],
        );
        assert_eq!(up.path(), "/api/rooms/a%2Db/ws");
        assert_eq!(up.query("user").as_deref(), Some("al ice"));
        assert_eq!(up.query("after").as_deref(), Some("3"));
        assert_eq!(up.query("x").as_deref(), Some(""));
        assert_eq!(up.query("missing"), None);
        assert_eq!(up.header("upgrade"), Some("websocket"));
        let bare = Upgrade::new("/ws?user=b+c", vec![]);
        assert_eq!(bare.path(), "/ws");
        assert_eq!(bare.query("user").as_deref(), Some("b c"));
    }

    #[test]
    fn envelopes_round_trip_and_check_limits() {
        let accept = Accept::new(("ann".to_owned(), 7u32)).tag("admins");
        let bytes = envelope(42, &accept).unwrap();
        assert_eq!(
            envelope_head(&bytes).unwrap(),
            (42, vec!["admins".to_owned()])
        );
        let s: Socket<(String, u32)> = socket(&bytes).unwrap();
        assert_eq!(s.id(), 42);
        assert_eq!(s.attachment(), &("ann".to_owned(), 7));
        assert_eq!(s.tags(), ["admins"]);
        let big = Accept::new(vec![0u8; MAX_ATTACHMENT + 1]);
        assert_eq!(
            envelope(1, &big).unwrap_err().code(),
            ErrorCode::PayloadTooLarge
        );
        let mut many = Accept::new(());
        for i in 0..=MAX_TAGS {
            many = many.tag(i.to_string());
        }
        assert_eq!(
            envelope(1, &many).unwrap_err().code(),
            ErrorCode::BadRequest
        );
        assert!(socket::<()>(&[0xc1]).is_err());
        for end in 0..bytes.len() {
            assert!(
                socket::<(String, u32)>(&bytes[..end]).is_err(),
                "cut at {end}"
            );
        }
    }

    #[test]
    fn frames_decode_json_text_and_msgpack_binary() {
        use serde::Deserialize;
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Send {
            text: String,
        }
        let text = Frame::json(&Send { text: "hi".into() }).unwrap();
        assert_eq!(text, Frame::Text("{\"text\":\"hi\"}".into()));
        assert_eq!(text.decode::<Send>().unwrap().text, "hi");
        let bin = Frame::msgpack(&Send { text: "yo".into() }).unwrap();
        assert_eq!(bin.decode::<Send>().unwrap().text, "yo");
        let bad = Frame::Text("{".into()).decode::<Send>().unwrap_err();
        assert_eq!(bad.code(), ErrorCode::BadRequest);
        let bad = Frame::Binary(vec![0xc1]).decode::<Send>().unwrap_err();
        assert_eq!(bad.code(), ErrorCode::BadRequest);
    }

    proptest::proptest! {
        #[test]
        fn envelopes_never_panic_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = envelope_head(&bytes);
            let _ = socket::<(String, u32)>(&bytes);
            let mut framed = ENVELOPE_MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            let _ = envelope_head(&framed);
            let _ = socket::<Vec<String>>(&framed);
        }
    }
}
