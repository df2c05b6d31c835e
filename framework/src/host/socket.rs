//! WebSocket turns: connect, open, message and close run like calls (one at a time, the
//! state saved before anything they send leaves; `Err` or a panic rolls back and sends
//! nothing).

use futures::future::LocalBoxFuture;

use super::{guard, Host};
use crate::error::{Error, ErrorCode};
use crate::object::Object;
use crate::platform::RawSocket;
use crate::socket::{self, Frame, Refuse, Upgrade};
use crate::sockets::SocketTable;
use crate::wire::Failure;

/// Close code sent when a socket's `open` failed.
const OPEN_FAILED: u16 = 1011;

/// What a socket turn runs.
enum Step<'s> {
    Connect(&'s Upgrade, u64),
    Open(&'s [u8]),
    Message(&'s [u8], &'s Frame),
    Close(&'s [u8]),
}

impl Step<'_> {
    fn name(&self) -> &'static str {
        match self {
            Step::Connect(..) => "connect",
            Step::Open(_) => "open",
            Step::Message(..) => "message",
            Step::Close(_) => "close",
        }
    }
}

/// Why a socket turn saved nothing.
enum Stop {
    Refused(Refuse),
    Failed(Failure),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Self {
        Stop::Failed(f)
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e.into())
    }
}

impl<T: Object> Host<T> {
    fn socket_table(&self) -> Result<SocketTable<T>, Error> {
        T::__sockets().ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownMethod,
                format!(
                    "{} takes no WebSockets (it does not implement duro::Sockets)",
                    T::CLASS
                ),
            )
        })
    }

    /// A WebSocket upgrade for this object: runs `connect`; when it accepts, `accept`
    /// hands the socket (its envelope) to the platform, then `open` runs. Returns what
    /// `accept` returned (the client end), or the refusal.
    pub async fn connect_socket<R>(
        &self,
        name: Option<&str>,
        request: &Upgrade,
        accept: impl FnOnce(&[u8], Vec<String>) -> Result<R, Error>,
    ) -> Result<R, Refuse> {
        self.remember_name(name);
        let table = self.socket_table()?;
        let id = self.platform.random_u64() >> 11;
        let envelope = match self.socket_turn(table, Step::Connect(request, id)).await {
            Ok(Some(envelope)) => envelope,
            Ok(None) => return Err(Refuse::new(500, "connect gave no socket")),
            Err(Stop::Refused(refuse)) => return Err(refuse),
            Err(Stop::Failed(f)) => return Err(f.error.into()),
        };
        let tags = socket::envelope_head(&envelope)
            .map(|(_, tags)| tags)
            .unwrap_or_default();
        let client = accept(&envelope, tags)?;
        if let Err(Stop::Failed(f)) = self.socket_turn(table, Step::Open(&envelope)).await {
            tracing::warn!(class = T::CLASS, error = %f.error, "duro socket open failed; closing it");
            let ctx = self.ctx(self.object_name());
            ctx.deliver(vec![crate::ctx::Out::Close(
                id,
                OPEN_FAILED,
                "open failed".to_owned(),
            )]);
        }
        Ok(client)
    }

    /// A message from a socket: decodes it and runs `message`. When that fails, the
    /// sender gets the object's error frame, if it has one.
    pub async fn socket_message(&self, from: &RawSocket, frame: &Frame) {
        let Ok(table) = self.socket_table() else {
            return;
        };
        if let Err(Stop::Failed(f)) = self
            .socket_turn(table, Step::Message(&from.envelope, frame))
            .await
        {
            tracing::debug!(class = T::CLASS, error = %f.error, "duro socket message failed");
            let reply = match self.slot.lock().await.as_ref() {
                Some(loaded) => (table.error_frame)(&loaded.value, &f.error),
                None => (table.error_frame)(&T::default(), &f.error),
            };
            if let Some(reply) = reply {
                from.handle.send(&reply);
            }
        }
    }

    /// A socket closed (or failed): runs `close`.
    pub async fn socket_close(&self, socket: &RawSocket) {
        let Ok(table) = self.socket_table() else {
            return;
        };
        if let Err(Stop::Failed(f)) = self.socket_turn(table, Step::Close(&socket.envelope)).await {
            tracing::warn!(class = T::CLASS, error = %f.error, "duro socket close failed");
        }
    }

    /// Runs one socket handler as a turn; delivers what it sent once it is saved.
    async fn socket_turn(
        &self,
        table: SocketTable<T>,
        step: Step<'_>,
    ) -> Result<Option<Vec<u8>>, Stop> {
        let what = step.name();
        let mut turn = self.turn().await?;
        Self::writable(&turn)?;
        let ctx = self.ctx(self.object_name());
        if let Step::Close(envelope) = &step {
            if let Ok((id, _)) = socket::envelope_head(envelope) {
                ctx.set_closing(id);
            }
        }
        let value = &mut turn.value;
        let ctx_ref = &ctx;
        let run: LocalBoxFuture<'_, Result<Option<Vec<u8>>, Stop>> = match step {
            Step::Connect(request, id) => Box::pin(async move {
                (table.connect)(value, ctx_ref, request, id)
                    .await
                    .map(Some)
                    .map_err(Stop::Refused)
            }),
            Step::Open(envelope) => Box::pin(async move {
                Ok((table.open)(value, ctx_ref, envelope)
                    .await
                    .map(|()| None)?)
            }),
            Step::Message(envelope, frame) => Box::pin(async move {
                Ok((table.message)(value, ctx_ref, envelope, frame)
                    .await
                    .map(|()| None)?)
            }),
            Step::Close(envelope) => Box::pin(async move {
                Ok((table.close)(value, ctx_ref, envelope)
                    .await
                    .map(|()| None)?)
            }),
        };
        let outcome = guard(what, &ctx, run).await;
        self.settle(turn, &ctx, outcome).await
    }
}
