//! # counter
//!
//! One counter per name, behind a small JSON HTTP API. The object is plain Rust; the
//! worker in `http.rs` maps routes to typed stub calls.
//!
//! | route | body | reply |
//! |---|---|---|
//! | `POST /counters/<name>/add` | `{"by": <i64>}` | `{"value": <i64>}` |
//! | `GET /counters/<name>` | | `{"value": <i64>}` (0 for a new name) |
//! | `POST /counters/<name>/transfer` | `{"to": <name>, "by": <i64>}` | `{"value": <i64>}` (this counter's) |
//! | `POST /counters/<name>/reset` | | `{"value": 0}` |
//! | `POST /counters/<name>/reset-in` | `{"seconds": <u64>}` | `{"value": <i64>, "reset_at_ms": <u64>}` |
//! | `DELETE /counters/<name>` | | `{"deleted": true}` |
//! | `GET /counters?prefix=&cursor=&limit=` | | `{"counters": [{"name", "value", "seq", "published_at_ms"}], "cursor"}` |
//! | `GET /counters/<name>/ws` (WebSocket) | `{"type": "add", "by": <i64>}` frames | `{"value": <i64>}` frames |
//!
//! A WebSocket on `/counters/<name>/ws` watches a counter: it gets the value when it
//! connects and after every change, whoever made it, and may add with a frame of its own
//! (a bad frame gets `{"error": {"code", "message"}}`; the socket stays open).
//!
//! `GET /counters` lists counters from the index in Workers KV (binding `INDEX`) without
//! waking any of them; it lags the counters by up to a second (the publish interval), and
//! on Cloudflare by KV's propagation delay.

use std::time::Duration;

use duro::prelude::*;
use duro::{Accept, Frame, Refuse, Socket, Sockets, Upgrade};

#[cfg(target_arch = "wasm32")]
mod http;

/// A counter. Its state is this struct, saved after every call that changes it.
#[duro::object]
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

/// What the index publishes for each counter, so that `GET /counters` lists values
/// without waking the counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSummary {
    /// The counter's value when it was published.
    pub value: i64,
}

/// Why an addition was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CounterError {
    /// `value + by` is outside the `i64` range.
    Overflow {
        /// The value before the addition.
        value: i64,
        /// The amount that did not fit.
        by: i64,
    },
}

impl std::fmt::Display for CounterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CounterError::Overflow { value, by } => {
                write!(f, "adding {by} to {value} leaves the i64 range")
            }
        }
    }
}

#[duro::methods]
impl Counter {
    /// Adds `by` and returns the new value. Leaving the `i64` range is an error and
    /// changes nothing.
    #[rpc]
    fn add(&mut self, ctx: &Ctx, by: i64) -> Result<i64, CounterError> {
        self.value = self.value.checked_add(by).ok_or(CounterError::Overflow {
            value: self.value,
            by,
        })?;
        self.tell_watchers(ctx);
        Ok(self.value)
    }

    /// Moves `by` from this counter to the counter `to` and returns this counter's new
    /// value. `to` is called from inside this turn, so this counter's change is saved only
    /// once `to` has accepted the addition. A transfer to itself fails fast with
    /// `call_cycle`; one whose call gets no reply within the call deadline (the
    /// `DURO_CALL_TIMEOUT_MS` var, 30 s by default) fails with `deadline_exceeded` and
    /// leaves this counter as it was.
    #[rpc]
    async fn transfer(
        &mut self,
        ctx: &Ctx,
        to: String,
        by: i64,
    ) -> Result<i64, CallError<CounterError>> {
        let overflow = CounterError::Overflow {
            value: self.value,
            by: by.wrapping_neg(),
        };
        self.value = self
            .value
            .checked_sub(by)
            .ok_or(CallError::User(overflow))?;
        ctx.stub::<Counter>(&to)?.add(by).await?;
        self.tell_watchers(ctx);
        Ok(self.value)
    }

    /// Adds `by`, then panics. A panic resets the worker's wasm instance; the addition was
    /// never saved, so the next call sees the value as it was (the e2e tests' proof).
    #[rpc]
    fn add_then_panic(&mut self, by: i64) -> i64 {
        self.value = self.value.wrapping_add(by);
        panic!("add_then_panic({by}): panicking as asked")
    }

    /// The current value (0 for a counter never added to). A read: never writes storage.
    #[rpc]
    fn get(&self) -> i64 {
        self.value
    }

    /// Sets the value back to zero and returns it.
    #[rpc]
    fn reset(&mut self, ctx: &Ctx) -> i64 {
        self.value = 0;
        self.tell_watchers(ctx);
        self.value
    }

    /// Resets the counter `seconds` from now, replacing any earlier schedule; returns when
    /// (milliseconds since the Unix epoch). The timer survives restarts and deploys.
    #[rpc]
    fn reset_in(&mut self, ctx: &Ctx, seconds: u64) -> duro::Result<u64> {
        let delay = Duration::from_secs(seconds);
        ctx.timers()
            .named("reset")
            .after(delay, Self::scheduled_reset, ())?;
        Ok(ctx.now_ms() + seconds * 1000)
    }

    /// The durable timer behind `reset_in`.
    #[timer]
    fn scheduled_reset(&mut self, ctx: &Ctx) {
        self.value = 0;
        self.tell_watchers(ctx);
    }

    /// Deletes the counter: its state, its timers and (shortly after) its index entry.
    #[rpc]
    fn delete(&mut self, ctx: &Ctx) {
        ctx.delete_state();
    }

    /// The counter's entry in the `counters` index (KV binding `INDEX`). Without the
    /// `index` feature (on by default) the counter publishes nothing: the benchmark's
    /// like-with-like build (`bench/baselines/duro-noindex`).
    #[cfg(feature = "index")]
    #[index("counters")]
    fn summary(&self) -> CounterSummary {
        CounterSummary { value: self.value }
    }
}

/// What a watcher receives: the value, when it connects and after every change.
#[derive(Serialize)]
struct Watched {
    value: i64,
}

/// What a watcher may send: `{"type": "add", "by": <i64>}` adds `by`, as
/// `POST /counters/<name>/add` does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatcherMessage {
    /// What to do: `add`.
    #[serde(rename = "type")]
    pub kind: WatcherAction,
    /// The amount.
    pub by: i64,
}

/// What a watcher's message does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatcherAction {
    /// Adds.
    Add,
}

/// The frame a watcher gets for a message that failed.
#[derive(Serialize)]
struct WatcherError<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

impl Counter {
    /// Sends the value to every watcher, once this turn is saved.
    fn tell_watchers(&self, ctx: &Ctx) {
        // Encoding an i64 cannot fail.
        let _ = ctx.sockets().broadcast(&Watched { value: self.value });
    }
}

/// Watchers: WebSockets that see every change.
impl Sockets for Counter {
    type Attachment = ();
    type Message = WatcherMessage;

    async fn connect(&mut self, _ctx: &Ctx, _request: &Upgrade) -> Result<Accept<()>, Refuse> {
        Ok(Accept::new(()))
    }

    async fn open(&mut self, ctx: &Ctx, socket: &Socket<()>) -> duro::Result<()> {
        ctx.sockets()
            .send(socket.id(), &Watched { value: self.value })
    }

    async fn message(
        &mut self,
        ctx: &Ctx,
        _from: &Socket<()>,
        message: WatcherMessage,
    ) -> duro::Result<()> {
        let WatcherMessage {
            kind: WatcherAction::Add,
            by,
        } = message;
        self.add(ctx, by)
            .map(|_| ())
            .map_err(|e| duro::Error::new(duro::ErrorCode::User, e.to_string()))
    }

    fn error_frame(&self, error: &duro::Error) -> Option<Frame> {
        Frame::json(&WatcherError {
            error: ErrorDetail {
                code: error.code().as_str(),
                message: error.message(),
            },
        })
        .ok()
    }
}

/// Whether `name` is a valid counter name: 1–128 characters of `[A-Za-z0-9_.-]`.
pub fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}
