//! The bodies of the HTTP routes, as JSON.
//!
//! | route | body |
//! |---|---|
//! | `GET /api/rooms?prefix=&cursor=&limit=` | [`RoomList`] |
//! | `GET /api/rooms/<room>` | [`RoomInfo`] |
//! | `GET /api/rooms/<room>/messages?after=&limit=` | [`MessagesPage`] |
//! | `POST /api/rooms/<room>/messages` | [`PostMessage`] in, [`Posted`] out |
//! | any refusal (400, 404, 413, 426) | [`ErrorBody`] |

use serde::{Deserialize, Serialize};

use crate::frames::Message;

/// `{"rooms":[…],"cursor":null|"<c>"}`: one page of the room directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoomList {
    /// Rooms in name order.
    pub rooms: Vec<RoomSummary>,
    /// Where the next page starts; `null` on the last page.
    pub cursor: Option<String>,
}

/// One room of the directory. It may lag a few seconds behind the room itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoomSummary {
    /// The room's name.
    pub name: String,
    /// How many users are in the room.
    pub members: u64,
    /// How many messages the room holds.
    pub messages: u64,
    /// When the newest message was stored, in milliseconds since the Unix epoch (0: none).
    pub last_at_ms: u64,
}

/// `{"name","members":[…],"messages","last_id"}`: one room, read from the room itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoomInfo {
    /// The room's name.
    pub name: String,
    /// Who is in the room now.
    pub members: Vec<String>,
    /// How many messages the room holds.
    pub messages: u64,
    /// The newest message's id (0: none yet).
    pub last_id: u64,
}

/// `{"messages":[…]}`: messages with ids after `after`, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MessagesPage {
    /// At most `limit` messages, ascending by id.
    pub messages: Vec<Message>,
}

/// `{"user","text","client_id"?}`: the body of `POST /api/rooms/<room>/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PostMessage {
    /// Who sends it ([`crate::rules::check_user`]).
    pub user: String,
    /// What they write ([`crate::rules::check_text`]).
    pub text: String,
    /// The sender's own id for the message ([`crate::rules::check_client_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub client_id: Option<String>,
}

impl PostMessage {
    /// Checks every field against the rules.
    pub fn check(&self) -> Result<(), crate::Invalid> {
        crate::rules::check_user(&self.user)?;
        crate::rules::check_text(&self.text)?;
        if let Some(client_id) = &self.client_id {
            crate::rules::check_client_id(client_id)?;
        }
        Ok(())
    }
}

/// `{"id","at_ms"}`: the reply to a post, sent once the message is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Posted {
    /// The message's id in its room.
    pub id: u64,
    /// When it was stored, in milliseconds since the Unix epoch; the same in every frame
    /// and in the history.
    pub at_ms: u64,
}

/// `{"error":{"code","message"}}`: the body of every refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// `{"code","message"}`: an error, in an [`ErrorBody`] or an error frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorDetail {
    /// A stable, machine-readable code (`invalid_text`, …).
    pub code: String,
    /// For people.
    pub message: String,
}

impl From<crate::Invalid> for ErrorDetail {
    fn from(invalid: crate::Invalid) -> ErrorDetail {
        ErrorDetail {
            code: invalid.code().to_owned(),
            message: invalid.to_string(),
        }
    }
}

impl From<crate::Invalid> for ErrorBody {
    fn from(invalid: crate::Invalid) -> ErrorBody {
        ErrorBody {
            error: invalid.into(),
        }
    }
}
