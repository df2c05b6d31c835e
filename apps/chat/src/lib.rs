//! # chat
//!
//! Chat rooms: each room is a duro object. Its messages are a [`duro::Log`] (appending
//! never rewrites the history), its members are its WebSockets (hibernated while idle),
//! and the room directory is a duro index in Workers KV (listing rooms wakes none of
//! them). The worker's routes (`api.rs`, run by `worker.rs` in workerd and natively in tests) and the page (`page/`, served from `public/`)
//! speak the API of `chat-protocol` (see README.md).

use chat_protocol::{
    rules, ClientFrame, ErrorDetail, Message, MessagesPage, Posted, Presence, RoomInfo,
    RoomSummary, ServerFrame, Welcome,
};
use duro::prelude::*;
use duro::{Accept, Error, ErrorCode, Frame, Log, Refuse, Socket, Sockets, Upgrade};

pub mod api;
#[cfg(all(target_arch = "wasm32", feature = "fetch"))]
mod worker;

/// Messages a socket's replay reads per storage list.
const REPLAY_PAGE: usize = 500;

/// A room. Its state is the time of its last message; the messages are a log.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Room {
    last_at_ms: u64,
    messages: Log<Stored>,
}

/// A message as the room keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    user: String,
    text: String,
    at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
}

impl Stored {
    fn message(self, id: u64) -> Message {
        Message {
            id,
            user: self.user,
            text: self.text,
            at_ms: self.at_ms,
            client_id: self.client_id,
        }
    }
}

/// Who a socket is, kept with it through hibernation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    user: String,
    /// The `after` of the request it connected with (the replay starts after it).
    after: Option<u64>,
}

fn invalid(e: chat_protocol::Invalid) -> Error {
    Error::bad_request(e.to_string())
}

#[duro::methods]
impl Room {
    /// The room: its members, message count and last id (a new room: `[]`, 0, 0).
    #[rpc]
    fn info(&self, ctx: &Ctx) -> duro::Result<RoomInfo> {
        Ok(RoomInfo {
            name: ctx.name().to_owned(),
            members: members(ctx)?,
            messages: self.messages.len(),
            last_id: self.messages.last_id().unwrap_or(0),
        })
    }

    /// Up to `limit` messages with ids over `after`, ascending.
    #[rpc]
    async fn history(&self, after: u64, limit: u32) -> duro::Result<MessagesPage> {
        let page = self.messages.range(after, limit as usize).await?;
        Ok(MessagesPage {
            messages: page
                .into_iter()
                .map(|(id, m)| Message {
                    client_id: None,
                    ..m.message(id)
                })
                .collect(),
        })
    }

    /// Stores a message and sends it to the room's sockets once it is saved.
    #[rpc]
    fn post(
        &mut self,
        ctx: &Ctx,
        user: String,
        text: String,
        client_id: Option<String>,
    ) -> duro::Result<Posted> {
        rules::check_user(&user).map_err(invalid)?;
        self.append(ctx, user, text, client_id)
    }

    /// The room's entry in the directory: rooms with messages only.
    #[index("rooms")]
    fn directory(&self, ctx: &Ctx) -> Option<RoomSummary> {
        let last_id = self.messages.last_id()?;
        Some(RoomSummary {
            name: ctx.name().to_owned(),
            members: members(ctx).map_or(0, |m| m.len() as u64),
            messages: last_id,
            last_at_ms: self.last_at_ms,
        })
    }
}

impl Room {
    fn append(
        &mut self,
        ctx: &Ctx,
        user: String,
        text: String,
        client_id: Option<String>,
    ) -> duro::Result<Posted> {
        rules::check_text(&text).map_err(invalid)?;
        if let Some(c) = &client_id {
            rules::check_client_id(c).map_err(invalid)?;
        }
        let at_ms = ctx.now_ms();
        let stored = Stored {
            user,
            text,
            at_ms,
            client_id,
        };
        let id = self.messages.push(stored.clone());
        self.last_at_ms = at_ms;
        ctx.sockets()
            .broadcast(&ServerFrame::Message(stored.message(id)))?;
        Ok(Posted { id, at_ms })
    }
}

/// The distinct users of the room's sockets, sorted.
fn members(ctx: &Ctx) -> duro::Result<Vec<String>> {
    let mut users: Vec<String> = ctx
        .sockets()
        .list::<Member>()?
        .into_iter()
        .map(|s| s.attachment().user.clone())
        .collect();
    users.sort();
    users.dedup();
    Ok(users)
}

impl Sockets for Room {
    type Attachment = Member;
    type Message = ClientFrame;

    async fn connect(&mut self, _ctx: &Ctx, request: &Upgrade) -> Result<Accept<Member>, Refuse> {
        let user = request.query("user").unwrap_or_default();
        rules::check_user(&user).map_err(|e| Refuse::new(400, e.to_string()))?;
        let after = match request.query("after") {
            Some(a) => Some(rules::parse_after(&a).map_err(|e| Refuse::new(400, e.to_string()))?),
            None => None,
        };
        Ok(Accept::new(Member { user, after }))
    }

    async fn open(&mut self, ctx: &Ctx, socket: &Socket<Member>) -> duro::Result<()> {
        let last_id = self.messages.last_id().unwrap_or(0);
        let sockets = ctx.sockets();
        let members = members(ctx)?;
        sockets.send(
            socket.id(),
            &ServerFrame::Welcome(Welcome {
                room: ctx.name().to_owned(),
                you: socket.attachment().user.clone(),
                members: members.clone(),
                last_id,
            }),
        )?;
        let mut after = socket.attachment().after.unwrap_or(last_id);
        while after < last_id {
            let page = self.messages.range(after, REPLAY_PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (id, m) in page {
                sockets.send(socket.id(), &ServerFrame::Message(m.message(id)))?;
            }
        }
        sockets.broadcast_except(socket.id(), &ServerFrame::Presence(Presence { members }))
    }

    async fn message(
        &mut self,
        ctx: &Ctx,
        from: &Socket<Member>,
        frame: ClientFrame,
    ) -> duro::Result<()> {
        frame.check().map_err(invalid)?;
        let ClientFrame::Send { text, client_id } = frame;
        self.append(ctx, from.attachment().user.clone(), text, client_id)
            .map(|_| ())
    }

    async fn close(&mut self, ctx: &Ctx, _socket: &Socket<Member>) -> duro::Result<()> {
        ctx.sockets().broadcast(&ServerFrame::Presence(Presence {
            members: members(ctx)?,
        }))
    }

    fn error_frame(&self, error: &Error) -> Option<Frame> {
        let code = match error.code() {
            ErrorCode::BadRequest => "bad_request",
            other => other.as_str(),
        };
        Frame::json(&ServerFrame::Error(ErrorDetail {
            code: code.to_owned(),
            message: error.message().to_owned(),
        }))
        .ok()
    }
}
