//! Real-time objects: the [`Sockets`] trait an object implements to take WebSockets, and
//! [`SocketHub`] (`ctx.sockets()`), through which any turn sends to them.
//!
//! Sockets are accepted with the platform's hibernation API: an idle object is evicted
//! with its sockets open and costs nothing; the next message wakes it, loads its state and
//! runs [`Sockets::message`]. Each socket keeps its [`Socket::attachment`] and tags through
//! hibernation.
//!
//! Every handler runs as a turn, like a call: one at a time with calls and timers, its
//! state saved before anything it sends leaves the object. A handler that returns `Err`
//! (or panics) rolls the state back and sends nothing; the sender of a failed message gets
//! [`Sockets::error_frame`] instead.
//!
//! ```
//! use duro::prelude::*;
//! use duro::{Accept, Refuse, Socket, Sockets, Upgrade};
//!
//! #[duro::object]
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Echo { said: u64 }
//!
//! #[derive(Deserialize)]
//! pub struct Say { text: String }
//!
//! #[derive(Serialize)]
//! pub struct Heard<'a> { who: &'a str, text: &'a str, n: u64 }
//!
//! #[duro::methods]
//! impl Echo {
//!     /// How many messages were said.
//!     #[rpc]
//!     fn said(&self) -> u64 { self.said }
//! }
//!
//! impl Sockets for Echo {
//!     type Attachment = String; // the user's name
//!     type Message = Say;
//!
//!     async fn connect(&mut self, _ctx: &Ctx, req: &Upgrade) -> Result<Accept<String>, Refuse> {
//!         let user = req.query("user").ok_or_else(|| Refuse::new(400, "user is missing"))?;
//!         Ok(Accept::new(user))
//!     }
//!
//!     async fn message(&mut self, ctx: &Ctx, from: &Socket<String>, say: Say) -> duro::Result<()> {
//!         self.said += 1;
//!         let heard = Heard { who: from.attachment(), text: &say.text, n: self.said };
//!         ctx.sockets().broadcast(&heard)
//!     }
//! }
//! ```

use std::future::Future;

use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ctx::{Ctx, Out};
use crate::error::{Error, Result};
use crate::socket::{self, Accept, Frame, Refuse, Socket, Upgrade};

/// The WebSocket handlers of an object. Implement it next to `#[duro::methods]`; duro
/// finds the implementation (no attribute needed), and the object's `fetch` then accepts
/// WebSocket upgrades that a worker forwards to it (`duro::forward` in a worker,
/// `TestEnv::socket` in tests).
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes no WebSockets",
    label = "implement `duro::Sockets` for `{Self}`"
)]
pub trait Sockets: Sized + 'static {
    /// What each socket carries through hibernation (at most 16 KiB encoded, with its
    /// tags), given to every handler with the socket: typically who is connected.
    type Attachment: Serialize + DeserializeOwned + 'static;
    /// What clients send: text frames are decoded as JSON, binary frames as MessagePack.
    type Message: DeserializeOwned + 'static;

    /// A client asks to connect: accept it with its attachment (and tags), or refuse it
    /// with an HTTP status (the place for authentication). The state may change; it is
    /// saved before the socket is accepted.
    fn connect(
        &mut self,
        ctx: &Ctx,
        request: &Upgrade,
    ) -> impl Future<Output = core::result::Result<Accept<Self::Attachment>, Refuse>>;

    /// The socket is accepted (and listed by `ctx.sockets()`): the place to greet it and
    /// to tell the others. Runs right after [`connect`](Self::connect), as its own turn.
    fn open(
        &mut self,
        ctx: &Ctx,
        socket: &Socket<Self::Attachment>,
    ) -> impl Future<Output = Result<()>> {
        let _ = (ctx, socket);
        async { Ok(()) }
    }

    /// A message from `from`, decoded.
    fn message(
        &mut self,
        ctx: &Ctx,
        from: &Socket<Self::Attachment>,
        message: Self::Message,
    ) -> impl Future<Output = Result<()>>;

    /// The socket closed (by the client, by an error, or dropped). It is no longer
    /// listed by `ctx.sockets()`.
    fn close(
        &mut self,
        ctx: &Ctx,
        socket: &Socket<Self::Attachment>,
    ) -> impl Future<Output = Result<()>> {
        let _ = (ctx, socket);
        async { Ok(()) }
    }

    /// The frame sent to a socket whose message failed: it did not decode, or
    /// [`message`](Self::message) returned `Err` (the state is rolled back; nothing else
    /// is sent). `None` (the default) sends nothing. The socket stays open.
    fn error_frame(&self, error: &Error) -> Option<Frame> {
        let _ = error;
        None
    }
}

/// `connect` as the table holds it: returns the socket's envelope for the given id.
type ConnectFn<T> = for<'a> fn(
    &'a mut T,
    &'a Ctx,
    &'a Upgrade,
    u64,
) -> LocalBoxFuture<'a, core::result::Result<Vec<u8>, Refuse>>;
/// `open` and `close` as the table holds them: for the socket of an envelope.
type SocketFn<T> = for<'a> fn(&'a mut T, &'a Ctx, &'a [u8]) -> LocalBoxFuture<'a, Result<()>>;
/// `message` as the table holds it: decodes the frame first.
type MessageFn<T> =
    for<'a> fn(&'a mut T, &'a Ctx, &'a [u8], &'a Frame) -> LocalBoxFuture<'a, Result<()>>;

/// The handlers of an object that implements [`Sockets`], as the host calls them.
#[doc(hidden)]
pub struct SocketTable<T> {
    /// Runs `connect`.
    pub connect: ConnectFn<T>,
    /// Runs `open`.
    pub open: SocketFn<T>,
    /// Decodes the frame and runs `message`.
    pub message: MessageFn<T>,
    /// Runs `close`.
    pub close: SocketFn<T>,
    /// Runs `error_frame`.
    pub error_frame: fn(&T, &Error) -> Option<Frame>,
}

impl<T> Clone for SocketTable<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SocketTable<T> {}

fn connect<'a, T: Sockets>(
    this: &'a mut T,
    ctx: &'a Ctx,
    request: &'a Upgrade,
    id: u64,
) -> LocalBoxFuture<'a, core::result::Result<Vec<u8>, Refuse>> {
    Box::pin(async move {
        let accept = this.connect(ctx, request).await?;
        socket::envelope(id, &accept).map_err(Refuse::from)
    })
}

fn open<'a, T: Sockets>(
    this: &'a mut T,
    ctx: &'a Ctx,
    envelope: &'a [u8],
) -> LocalBoxFuture<'a, Result<()>> {
    Box::pin(async move {
        let socket = socket::socket::<T::Attachment>(envelope)?;
        this.open(ctx, &socket).await
    })
}

fn message<'a, T: Sockets>(
    this: &'a mut T,
    ctx: &'a Ctx,
    envelope: &'a [u8],
    frame: &'a Frame,
) -> LocalBoxFuture<'a, Result<()>> {
    Box::pin(async move {
        let socket = socket::socket::<T::Attachment>(envelope)?;
        let message = frame.decode::<T::Message>()?;
        this.message(ctx, &socket, message).await
    })
}

fn close<'a, T: Sockets>(
    this: &'a mut T,
    ctx: &'a Ctx,
    envelope: &'a [u8],
) -> LocalBoxFuture<'a, Result<()>> {
    Box::pin(async move {
        let socket = socket::socket::<T::Attachment>(envelope)?;
        this.close(ctx, &socket).await
    })
}

impl<T: Sockets> SocketTable<T> {
    /// The table of `T`'s handlers.
    pub const TABLE: SocketTable<T> = SocketTable {
        connect: connect::<T>,
        open: open::<T>,
        message: message::<T>,
        close: close::<T>,
        error_frame: T::error_frame,
    };
}

crate::hooks::probe! {
    /// Finds an object's [`Sockets`] implementation, if it has one, without an attribute:
    /// `(&&Probe::<T>::new()).__duro_sockets()` picks [`HasSockets`] when `T: Sockets` and
    /// [`NoSockets`] otherwise (method resolution tries `&Probe` before `Probe`).
    Probe, HasSockets, NoSockets, __duro_sockets: Sockets => SocketTable<T> = SocketTable::<T>::TABLE
}

/// The object's WebSockets, from any turn (a call, a timer or a socket handler):
/// `ctx.sockets()`. What it sends leaves once the turn's state is saved, in the order it
/// was sent; a turn that fails sends nothing.
pub struct SocketHub<'a> {
    ctx: &'a Ctx,
}

impl Ctx {
    /// The object's WebSockets: see [`SocketHub`].
    pub fn sockets(&self) -> SocketHub<'_> {
        SocketHub { ctx: self }
    }
}

impl SocketHub<'_> {
    /// Sends `message` as JSON to the socket with id `to`.
    pub fn send<M: Serialize + ?Sized>(&self, to: u64, message: &M) -> Result<()> {
        self.send_frame(to, Frame::json(message)?);
        Ok(())
    }

    /// Sends a frame to the socket with id `to`.
    pub fn send_frame(&self, to: u64, frame: Frame) {
        self.ctx.push_out(Out::To(to, frame));
    }

    /// Sends `message` as JSON to every socket.
    pub fn broadcast<M: Serialize + ?Sized>(&self, message: &M) -> Result<()> {
        self.broadcast_frame(None, None, Frame::json(message)?);
        Ok(())
    }

    /// Sends `message` as JSON to every socket but the one with id `except`.
    pub fn broadcast_except<M: Serialize + ?Sized>(&self, except: u64, message: &M) -> Result<()> {
        self.broadcast_frame(None, Some(except), Frame::json(message)?);
        Ok(())
    }

    /// Sends `message` as JSON to every socket with the tag `tag`.
    pub fn broadcast_tag<M: Serialize + ?Sized>(&self, tag: &str, message: &M) -> Result<()> {
        self.broadcast_frame(Some(tag), None, Frame::json(message)?);
        Ok(())
    }

    /// Sends a frame to every socket (with `tag`, if given) but `except`, if given.
    pub fn broadcast_frame(&self, tag: Option<&str>, except: Option<u64>, frame: Frame) {
        self.ctx.push_out(Out::All {
            tag: tag.map(str::to_owned),
            except,
            frame,
        });
    }

    /// Closes the socket with id `id` (its [`Sockets::close`] runs when the platform
    /// reports the close).
    pub fn close(&self, id: u64, code: u16, reason: &str) {
        self.ctx.push_out(Out::Close(id, code, reason.to_owned()));
    }

    /// The connected sockets, with their attachments decoded as `A` (the object's
    /// [`Sockets::Attachment`]). The socket whose close is being handled is not listed.
    pub fn list<A: DeserializeOwned>(&self) -> Result<Vec<Socket<A>>> {
        self.list_tagged(None)
    }

    /// The connected sockets with the tag `tag`.
    pub fn list_tag<A: DeserializeOwned>(&self, tag: &str) -> Result<Vec<Socket<A>>> {
        self.list_tagged(Some(tag))
    }

    fn list_tagged<A: DeserializeOwned>(&self, tag: Option<&str>) -> Result<Vec<Socket<A>>> {
        self.ctx
            .raw_sockets(tag)
            .iter()
            .map(|s| socket::socket(&s.envelope))
            .collect()
    }

    /// How many sockets are connected (the one being closed not counted).
    pub fn count(&self) -> usize {
        self.ctx.raw_sockets(None).len()
    }
}
