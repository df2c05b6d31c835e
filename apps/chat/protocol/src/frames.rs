//! The room's WebSocket frames: JSON text frames, tagged by `type`.
//!
//! On connecting, the server sends a [`ServerFrame::Welcome`], then every stored message
//! after the `after` of the request in id order, then live messages as they come, and a
//! [`ServerFrame::Presence`] whenever someone joins or leaves. A frame it cannot accept
//! gets a [`ServerFrame::Error`] and the socket stays open.

use serde::{Deserialize, Serialize};

use crate::http::ErrorDetail;

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The first frame on every socket.
    Welcome(Welcome),
    /// A stored message: a replay after `after`, or a live one (the sender's own message
    /// coming back is its acknowledgement).
    Message(Message),
    /// Who is in the room now, after a join or a leave.
    Presence(Presence),
    /// A frame was refused (bad JSON, an unknown type, an invalid text); the socket stays
    /// open.
    Error(ErrorDetail),
}

/// `{"type":"welcome","room","you","members","last_id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Welcome {
    /// The room's name.
    pub room: String,
    /// The user this socket joined as.
    pub you: String,
    /// Everyone in the room, the joiner included.
    pub members: Vec<String>,
    /// The room's newest message id when the socket joined (0: none yet).
    pub last_id: u64,
}

/// A stored message: in frames (`{"type":"message",…}`) and in the history
/// ([`crate::MessagesPage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Message {
    /// Per room, consecutive from 1.
    pub id: u64,
    /// Who sent it.
    pub user: String,
    /// What they wrote.
    pub text: String,
    /// When the room stored it, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The sender's own id for the message, when it gave one; carried by every frame that
    /// delivers the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub client_id: Option<String>,
}

/// `{"type":"presence","members"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Presence {
    /// Everyone in the room now.
    pub members: Vec<String>,
}

/// A frame a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// `{"type":"send","text","client_id"?}`: store `text` and broadcast it as a message.
    Send {
        /// The message's text ([`crate::rules::check_text`]).
        text: String,
        /// The client's own id for the message ([`crate::rules::check_client_id`]),
        /// echoed in the frames that deliver it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        client_id: Option<String>,
    },
}

impl ClientFrame {
    /// Checks the frame's fields against the rules; the error goes back as an error frame.
    pub fn check(&self) -> Result<(), crate::Invalid> {
        match self {
            ClientFrame::Send { text, client_id } => {
                crate::rules::check_text(text)?;
                if let Some(client_id) = client_id {
                    crate::rules::check_client_id(client_id)?;
                }
                Ok(())
            }
        }
    }
}

impl From<crate::Invalid> for ServerFrame {
    fn from(invalid: crate::Invalid) -> ServerFrame {
        ServerFrame::Error(invalid.into())
    }
}
