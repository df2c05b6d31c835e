//! WebSockets through `TestEnv`: connect and refuse, typed messages, broadcast order,
//! turns (a failed message rolls back and sends nothing but the error frame), calls that
//! broadcast, hibernation and restart with attachments kept.

use duro::prelude::*;
use duro::testing::TestEnv;
use duro::{Accept, Error, ErrorCode, Frame, Refuse, Socket, Sockets, Upgrade};
use serde_json::{json, Value};

/// A small room: members are sockets, messages are counted.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Room {
    sent: u64,
    joins: u64,
}

/// Who a socket is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Member {
    /// The user's name.
    user: String,
}

/// What clients send.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum In {
    /// A message.
    Send {
        /// Its text.
        text: String,
    },
    /// Makes the handler panic.
    Panic,
}

#[duro::methods]
impl Room {
    /// Messages sent so far.
    #[rpc]
    fn sent(&self) -> u64 {
        self.sent
    }

    /// An announcement from outside (an HTTP route, say): saved, then broadcast.
    #[rpc]
    fn announce(&mut self, ctx: &Ctx, text: String) -> duro::Result<u64> {
        self.sent += 1;
        ctx.sockets().broadcast(
            &json!({"type": "message", "n": self.sent, "user": "system", "text": text}),
        )?;
        Ok(self.sent)
    }
}

impl Room {
    fn members(ctx: &Ctx) -> duro::Result<Vec<String>> {
        let mut users: Vec<String> = ctx
            .sockets()
            .list::<Member>()?
            .into_iter()
            .map(|s| s.attachment().user.clone())
            .collect();
        users.sort();
        Ok(users)
    }
}

impl Sockets for Room {
    type Attachment = Member;
    type Message = In;

    async fn connect(&mut self, _ctx: &Ctx, req: &Upgrade) -> Result<Accept<Member>, Refuse> {
        let user = req
            .query("user")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Refuse::new(400, "user is missing"))?;
        if req.header("x-banned").is_some() {
            return Err(Refuse::new(403, "banned"));
        }
        self.joins += 1;
        Ok(Accept::new(Member { user }).tag("members"))
    }

    async fn open(&mut self, ctx: &Ctx, socket: &Socket<Member>) -> duro::Result<()> {
        let members = Room::members(ctx)?;
        ctx.sockets().send(
            socket.id(),
            &json!({"type": "welcome", "you": socket.attachment().user, "members": members}),
        )?;
        ctx.sockets().broadcast_except(
            socket.id(),
            &json!({"type": "presence", "members": members}),
        )
    }

    async fn message(&mut self, ctx: &Ctx, from: &Socket<Member>, message: In) -> duro::Result<()> {
        match message {
            In::Send { text } => {
                self.sent += 1;
                if text.is_empty() {
                    return Err(Error::new(ErrorCode::BadRequest, "empty text"));
                }
                ctx.sockets().broadcast(&json!({
                    "type": "message", "n": self.sent, "user": from.attachment().user, "text": text,
                }))
            }
            In::Panic => {
                self.sent += 100;
                ctx.sockets().broadcast(&json!({"type": "never"}))?;
                panic!("asked to panic")
            }
        }
    }

    async fn close(&mut self, ctx: &Ctx, _socket: &Socket<Member>) -> duro::Result<()> {
        ctx.sockets()
            .broadcast(&json!({"type": "presence", "members": Room::members(ctx)?}))
    }

    fn error_frame(&self, error: &Error) -> Option<Frame> {
        Frame::json(
            &json!({"type": "error", "code": error.code().as_str(), "message": error.message()}),
        )
        .ok()
    }
}

fn frames(socket: &duro::testing::TestSocket) -> Vec<Value> {
    socket
        .received()
        .into_iter()
        .map(|f| match f {
            Frame::Text(t) => serde_json::from_str(&t).expect("JSON frame"),
            Frame::Binary(b) => panic!("unexpected binary frame {b:?}"),
        })
        .collect()
}

#[tokio::test]
async fn connect_refuses_with_a_status_and_accepts_with_an_attachment() {
    let env = TestEnv::new();
    let err = env.socket::<Room>("r", "/ws", &[]).await.unwrap_err();
    assert_eq!((err.status(), err.message()), (400, "user is missing"));
    let err = env
        .socket::<Room>("r", "/ws?user=ann", &[("X-Banned", "1")])
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403);
    assert_eq!(env.socket_count::<Room>("r"), 0);

    let ann = env.socket::<Room>("r", "/ws?user=ann", &[]).await.unwrap();
    assert_eq!(
        frames(&ann),
        [json!({"type": "welcome", "you": "ann", "members": ["ann"]})]
    );
    let bob = env
        .socket::<Room>("r", "https://x/ws?user=b%6Fb", &[])
        .await
        .unwrap();
    assert_eq!(
        frames(&bob),
        [json!({"type": "welcome", "you": "bob", "members": ["ann", "bob"]})]
    );
    assert_eq!(
        frames(&ann),
        [json!({"type": "presence", "members": ["ann", "bob"]})]
    );
    assert_ne!(ann.id(), bob.id());
}

#[tokio::test]
async fn messages_are_turns_broadcast_in_order() {
    let env = TestEnv::new();
    let ann = env.socket::<Room>("r", "/ws?user=ann", &[]).await.unwrap();
    let bob = env.socket::<Room>("r", "/ws?user=bob", &[]).await.unwrap();
    ann.received();
    bob.received();
    for i in 0..5 {
        let from = if i % 2 == 0 { &ann } else { &bob };
        from.send_json(&json!({"type": "send", "text": format!("m{i}")}))
            .await;
    }
    let got: Vec<(u64, String)> = frames(&bob)
        .iter()
        .map(|f| {
            (
                f["n"].as_u64().unwrap(),
                f["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        (1..=5)
            .map(|n| (n, format!("m{}", n - 1)))
            .collect::<Vec<_>>()
    );
    assert_eq!(frames(&ann).len(), 5);
    assert_eq!(env.stub::<Room>("r").sent().await.unwrap(), 5);
}

#[tokio::test]
async fn a_bad_or_failed_message_rolls_back_and_answers_only_the_sender() {
    let env = TestEnv::new();
    let ann = env.socket::<Room>("r", "/ws?user=ann", &[]).await.unwrap();
    let bob = env.socket::<Room>("r", "/ws?user=bob", &[]).await.unwrap();
    ann.received();
    bob.received();

    ann.send_text("{not json").await;
    ann.send_json(&json!({"type": "send", "text": ""})).await;
    ann.send_json(&json!({"type": "panic"})).await;
    let errors = frames(&ann);
    let codes: Vec<&str> = errors.iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["bad_request", "bad_request", "internal"]);
    assert!(errors.iter().all(|f| f["type"] == "error"));
    assert!(frames(&bob).is_empty(), "nothing of a failed turn is sent");
    assert_eq!(env.stub::<Room>("r").sent().await.unwrap(), 0);

    // The socket stays open and keeps working.
    ann.send_json(&json!({"type": "send", "text": "ok"})).await;
    assert_eq!(frames(&bob)[0]["n"], 1);
    assert_eq!(env.stub::<Room>("r").sent().await.unwrap(), 1);
}

#[tokio::test]
async fn calls_broadcast_after_their_state_is_saved() {
    let env = TestEnv::new();
    let ann = env.socket::<Room>("r", "/ws?user=ann", &[]).await.unwrap();
    ann.received();
    assert_eq!(
        env.stub::<Room>("r").announce("hi".into()).await.unwrap(),
        1
    );
    assert_eq!(
        frames(&ann),
        [json!({"type": "message", "n": 1, "user": "system", "text": "hi"})]
    );
    // A failed save sends nothing.
    env.storage::<Room>("r").fail_next_writes(1);
    assert!(env.stub::<Room>("r").announce("lost".into()).await.is_err());
    assert!(frames(&ann).is_empty());
}

#[tokio::test]
async fn close_runs_without_the_closed_socket_listed() {
    let env = TestEnv::new();
    let ann = env.socket::<Room>("r", "/ws?user=ann", &[]).await.unwrap();
    let bob = env.socket::<Room>("r", "/ws?user=bob", &[]).await.unwrap();
    ann.received();
    bob.close().await;
    assert_eq!(
        frames(&ann),
        [json!({"type": "presence", "members": ["ann"]})]
    );
    assert_eq!(env.socket_count::<Room>("r"), 1);
}

#[tokio::test]
async fn sockets_and_attachments_survive_hibernation_and_restart() {
    let env = TestEnv::new();
    let ann = env.socket::<Room>("r", "/ws?user=ann", &[]).await.unwrap();
    let bob = env.socket::<Room>("r", "/ws?user=bob", &[]).await.unwrap();
    ann.send_json(&json!({"type": "send", "text": "before"}))
        .await;
    ann.received();
    bob.received();
    let before = env.stats::<Room>("r").activations;

    env.hibernate::<Room>("r");
    bob.send_json(&json!({"type": "send", "text": "after hibernation"}))
        .await;
    let got = frames(&ann);
    assert_eq!(got[0]["user"], "bob", "the attachment survived: {got:?}");
    assert_eq!(got[0]["n"], 2, "the state was saved and reloaded: {got:?}");
    assert_eq!(env.stats::<Room>("r").activations, before + 1);

    env.restart();
    ann.send_json(&json!({"type": "send", "text": "after restart"}))
        .await;
    assert_eq!(frames(&bob)[1]["n"], 3);
    assert_eq!(env.socket_count::<Room>("r"), 2);
}

/// An object without `Sockets` refuses upgrades.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Plain {
    n: u64,
}

#[duro::methods]
impl Plain {
    /// The count.
    #[rpc]
    fn n(&self) -> u64 {
        self.n
    }
}

#[tokio::test]
async fn objects_without_sockets_refuse_upgrades() {
    let env = TestEnv::new();
    let err = env.socket::<Plain>("p", "/ws", &[]).await.unwrap_err();
    assert_eq!(err.status(), 404);
    assert!(
        err.message().contains("does not implement duro::Sockets"),
        "{}",
        err.message()
    );
}
