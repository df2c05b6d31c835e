//! The worker under test, a WebSocket client, raw HTTP for what ureq does not send
//! (chunked and oversized bodies), and checks shared by the tests.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tungstenite::handshake::HandshakeError;
use tungstenite::{Message, WebSocket};

use crate::harness::{self, Fixture};
use crate::http::{Client, Reply};

/// The worker folder the tests run against unless `DURO_CHAT_APP` names another
/// (relative to the workspace root, or absolute).
pub const DEFAULT_APP: &str = "bench/baselines/js-chat";

/// How long a test waits for a frame that must come. Generous: it bounds a failing test,
/// it is not a latency requirement.
pub const FRAME_WAIT: Duration = Duration::from_secs(30);
/// How long a test listens to show that no frame comes.
pub const QUIET: Duration = Duration::from_millis(1500);

/// The chat worker under test, on a fresh state folder.
pub fn start() -> Fixture {
    let dir = std::env::var("DURO_CHAT_APP").unwrap_or_else(|_| DEFAULT_APP.to_owned());
    let dir = PathBuf::from(dir);
    let dir = if dir.is_absolute() {
        dir
    } else {
        harness::root().join(dir)
    };
    Fixture::at(&dir, false, &[])
}

/// Now in epoch milliseconds.
pub fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    u64::try_from(since.as_millis()).expect("milliseconds fit in u64")
}

/// Asserts that `at_ms` is epoch milliseconds of about now (within a day: the worker's
/// clock is the machine's).
pub fn assert_recent(at_ms: u64) {
    let now = now_ms();
    let day = 86_400_000;
    assert!(
        at_ms + day > now && at_ms < now + day,
        "at_ms {at_ms} is not epoch milliseconds of now ({now})"
    );
}

/// The object's keys, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Asserts that the object has exactly these keys.
pub fn assert_keys(value: &Value, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(keys(value), expected, "the keys of {value}");
}

/// Asserts `status` and the error body `{"error":{"code","message"}}`.
pub fn assert_error(reply: &Reply, status: u16, what: &str) {
    assert_eq!(
        reply.status,
        status,
        "{what}: expected {status}, got {} {}",
        reply.status,
        reply.text()
    );
    let body = reply.json();
    assert_keys(&body, &["error"]);
    let error = &body["error"];
    assert_keys(error, &["code", "message"]);
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}: the code is not a string: {body}"
    );
    assert!(
        error["message"].is_string(),
        "{what}: the message is not a string: {body}"
    );
}

/// `POST /api/rooms/<room>/messages` with a JSON body.
pub fn post(client: &Client, room: &str, body: &Value) -> Reply {
    client.post_with(
        &format!("/api/rooms/{room}/messages"),
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// A message posted over HTTP: its `(id, at_ms)`.
pub fn post_ok(client: &Client, room: &str, user: &str, text: &str) -> (u64, u64) {
    let reply = post(client, room, &json!({"user": user, "text": text}));
    ok_id(&reply)
}

/// The `(id, at_ms)` of a 200 reply to a post; panics on anything else.
pub fn ok_id(reply: &Reply) -> (u64, u64) {
    assert_eq!(reply.status, 200, "post failed: {}", reply.text());
    let body = reply.json();
    assert_keys(&body, &["at_ms", "id"]);
    let id = body["id"].as_u64().expect("id is a u64");
    let at_ms = body["at_ms"].as_u64().expect("at_ms is a u64");
    (id, at_ms)
}

/// `GET path` as JSON, asserting 200.
pub fn get_json(client: &Client, path: &str) -> Value {
    let reply = client.get(path);
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
    reply.json()
}

/// The whole history of a room, paging with `after`.
pub fn history(client: &Client, room: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all.last().map_or(0, |m| m["id"].as_u64().expect("id"));
        let page = get_json(
            client,
            &format!("/api/rooms/{room}/messages?after={after}&limit=500"),
        );
        assert_keys(&page, &["messages"]);
        let messages = page["messages"].as_array().expect("messages").clone();
        if messages.is_empty() {
            return all;
        }
        all.extend(messages);
    }
}

/// Polls `check` every 200 ms until it returns `Some`, up to `deadline`.
pub fn poll<T>(deadline: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if start.elapsed() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A WebSocket client on the ws route.
pub struct Socket {
    ws: WebSocket<TcpStream>,
    /// For messages.
    pub name: String,
}

/// Why a connection was refused: the HTTP status and body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

impl Socket {
    /// Connects to `/api/rooms/<room>/ws?<query>`; panics unless it is upgraded.
    pub fn connect(base: &str, room: &str, query: &str) -> Socket {
        Socket::try_connect(base, room, query)
            .unwrap_or_else(|e| panic!("ws {room}?{query} was refused: {e:?}"))
    }

    /// Connects, or the refusal (panics on transport errors).
    pub fn try_connect(base: &str, room: &str, query: &str) -> Result<Socket, Refused> {
        Socket::try_connect_io(base, room, query)
            .unwrap_or_else(|e| panic!("ws {room}?{query}: {e}"))
    }

    /// Connects, or the refusal, or the transport error (for a worker that may be gone).
    pub fn try_connect_io(
        base: &str,
        room: &str,
        query: &str,
    ) -> Result<Result<Socket, Refused>, String> {
        let host = base.trim_start_matches("http://");
        let stream = TcpStream::connect(host).map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(FRAME_WAIT))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let url = format!("ws://{host}/api/rooms/{room}/ws?{query}");
        match tungstenite::client(url.as_str(), stream) {
            Ok((ws, response)) => {
                assert_eq!(response.status().as_u16(), 101);
                Ok(Ok(Socket {
                    ws,
                    name: format!("{room}?{query}"),
                }))
            }
            Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => Ok(Err(Refused {
                status: response.status().as_u16(),
                body: String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                    .into_owned(),
            })),
            Err(e) => Err(format!("handshake: {e}")),
        }
    }

    /// Sends a text frame; `Err` if the connection is gone.
    pub fn try_send_text(&mut self, text: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .map_err(|e| format!("{}: send: {e}", self.name))
    }

    /// Sends a text frame.
    pub fn send_text(&mut self, text: &str) {
        if let Err(e) = self.try_send_text(text) {
            panic!("{e}");
        }
    }

    /// Sends `{"type":"send","text":…,"client_id":…}`.
    pub fn send(&mut self, text: &str, client_id: Option<&str>) {
        let mut frame = json!({"type": "send", "text": text});
        if let Some(client_id) = client_id {
            frame["client_id"] = json!(client_id);
        }
        self.send_text(&frame.to_string());
    }

    /// The next data frame within `wait`: `Ok(None)` on timeout, `Err` when the
    /// connection ends.
    pub fn try_next_message(&mut self, wait: Duration) -> Result<Option<Message>, String> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.ws
                .get_ref()
                .set_read_timeout(Some(left))
                .map_err(|e| e.to_string())?;
            match self.ws.read() {
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Ok(Message::Close(frame)) => {
                    return Err(format!("{}: closed by the server: {frame:?}", self.name))
                }
                Ok(message) => return Ok(Some(message)),
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    continue
                }
                Err(e) => return Err(format!("{}: read: {e}", self.name)),
            }
        }
    }

    /// The next text frame as JSON within `wait`: `Ok(None)` on timeout.
    pub fn try_next(&mut self, wait: Duration) -> Result<Option<Value>, String> {
        match self.try_next_message(wait)? {
            None => Ok(None),
            Some(Message::Text(text)) => serde_json::from_str(text.as_str())
                .map(Some)
                .map_err(|e| format!("{}: a text frame that is not JSON ({e}): {text}", self.name)),
            Some(other) => Err(format!(
                "{}: a frame that is not text: {other:?}",
                self.name
            )),
        }
    }

    /// The next text frame as JSON; panics if none comes within [`FRAME_WAIT`].
    pub fn next(&mut self) -> Value {
        match self.try_next(FRAME_WAIT) {
            Ok(Some(frame)) => frame,
            Ok(None) => panic!("{}: no frame within {}s", self.name, FRAME_WAIT.as_secs()),
            Err(e) => panic!("{e}"),
        }
    }

    /// The next frame, which must be of `kind` (`welcome`, `message`, …).
    pub fn next_of(&mut self, kind: &str) -> Value {
        let frame = self.next();
        assert_eq!(
            frame["type"], kind,
            "{}: expected a {kind} frame, got {frame}",
            self.name
        );
        frame
    }

    /// Asserts that no frame comes for a while.
    pub fn assert_quiet(&mut self) {
        match self.try_next(QUIET) {
            Ok(None) => {}
            Ok(Some(frame)) => panic!("{}: an unexpected frame: {frame}", self.name),
            Err(e) => panic!("{e}"),
        }
    }

    /// Asserts that no frame other than presence comes for a while.
    pub fn assert_no_message(&mut self) {
        let deadline = Instant::now() + QUIET;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.try_next(left) {
                Ok(None) => return,
                Ok(Some(frame)) if frame["type"] == "presence" => {}
                Ok(Some(frame)) => panic!("{}: an unexpected frame: {frame}", self.name),
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Reads the welcome, asserts its shape, and returns it.
    pub fn welcome(&mut self, room: &str, you: &str) -> Value {
        let welcome = self.next_of("welcome");
        assert_keys(&welcome, &["last_id", "members", "room", "type", "you"]);
        assert_eq!(welcome["room"], room, "{welcome}");
        assert_eq!(welcome["you"], you, "{welcome}");
        assert!(welcome["last_id"].is_u64(), "{welcome}");
        let members = members(&welcome);
        assert!(
            members.iter().any(|m| m == you),
            "the welcome's members lack {you}: {welcome}"
        );
        welcome
    }

    /// Closes with a close frame and waits for the server's.
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let deadline = Instant::now() + FRAME_WAIT;
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
    }

    /// Drops the connection without a close frame, as a lost client does.
    pub fn drop_connection(self) {
        let _ = self.ws.get_ref().shutdown(Shutdown::Both);
    }
}

/// The `members` of a welcome or presence frame, or of `GET /api/rooms/<room>`.
pub fn members(value: &Value) -> Vec<String> {
    value["members"]
        .as_array()
        .unwrap_or_else(|| panic!("members is not an array: {value}"))
        .iter()
        .map(|m| {
            m.as_str()
                .unwrap_or_else(|| panic!("a member is not a string: {value}"))
                .to_owned()
        })
        .collect()
}

/// Asserts a message frame's shape and returns its id.
pub fn message_id(frame: &Value) -> u64 {
    assert_eq!(frame["type"], "message", "not a message frame: {frame}");
    let mut expected = vec!["at_ms", "id", "text", "type", "user"];
    if frame.get("client_id").is_some() {
        assert!(
            frame["client_id"].is_string(),
            "client_id is not a string: {frame}"
        );
        expected.push("client_id");
    }
    assert_keys(frame, &expected);
    frame["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("id is not a u64: {frame}"))
}

/// A message frame as its history entry (`client_id` dropped).
pub fn as_history(frame: &Value) -> Value {
    json!({
        "id": frame["id"],
        "user": frame["user"],
        "text": frame["text"],
        "at_ms": frame["at_ms"],
    })
}

/// A raw HTTP/1.1 request on a fresh connection (`Connection: close`); the status and the
/// body (chunked replies decoded). The request's body is written as far as the server
/// reads it.
pub fn raw_request(base: &str, head: &str, body: &[u8]) -> (u16, String) {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!("{head}Host: {host}\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    // The server may answer (413) and close before reading it all.
    let _ = stream.write_all(body);
    let _ = stream.flush();
    let mut reply = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buffer[..n]),
            Err(e) if !reply.is_empty() && e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the reply to {head:?}: {e}"),
        }
    }
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete reply head: {:?}",
                String::from_utf8_lossy(&reply)
            )
        });
    let head_part = String::from_utf8_lossy(&reply[..split]).into_owned();
    let body_part = &reply[split + 4..];
    let status: u16 = head_part
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head_part:?}"));
    let chunked = head_part.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body_part)
    } else {
        body_part.to_vec()
    };
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        let size =
            usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        let after = &rest[line_end + 2..];
        if size == 0 || after.len() < size {
            break;
        }
        out.extend_from_slice(&after[..size]);
        rest = after[size..]
            .strip_prefix(b"\r\n")
            .unwrap_or(&after[size..]);
    }
    out
}

/// `body` as HTTP/1.1 chunks of at most 4096 bytes, with the last chunk.
pub fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(4096) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
