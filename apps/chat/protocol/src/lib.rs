//! The chat's public API as Rust types, for the worker and for native tools alike.
//!
//! - [`frames`]: what goes over the room's WebSocket (`/api/rooms/<room>/ws`), as JSON
//!   text frames tagged by `type`: [`ServerFrame`] from the server, [`ClientFrame`] from
//!   a client.
//! - [`http`]: the bodies of the HTTP routes under `/api/rooms`.
//! - [`rules`]: which rooms, users, texts, client ids and query values are accepted.
//!
//! Only serde is needed, so the worker's wasm carries nothing else. With the `ts` feature,
//! `typescript()` writes the same types as TypeScript declarations; the page is built from
//! that file (`apps/chat/page/src/protocol.ts`, rewritten by `cargo xtask chat-types`).
//!
//! ```
//! use chat_protocol::{ClientFrame, ServerFrame, Message};
//!
//! let frame: ClientFrame = serde_json_like_parse();
//! # fn serde_json_like_parse() -> ClientFrame {
//! #     ClientFrame::Send { text: "hi".into(), client_id: Some("c1".into()) }
//! # }
//! let ClientFrame::Send { text, client_id } = frame;
//! chat_protocol::rules::check_text(&text).unwrap();
//! let reply = ServerFrame::Message(Message {
//!     id: 1,
//!     user: "ada".into(),
//!     text,
//!     at_ms: 1_700_000_000_000,
//!     client_id,
//! });
//! # let _ = reply;
//! ```

pub mod frames;
pub mod http;
pub mod rules;
#[cfg(feature = "ts")]
mod ts;

pub use frames::{ClientFrame, Message, Presence, ServerFrame, Welcome};
pub use http::{
    ErrorBody, ErrorDetail, MessagesPage, PostMessage, Posted, RoomInfo, RoomList, RoomSummary,
};
pub use rules::Invalid;
#[cfg(feature = "ts")]
pub use ts::typescript;
