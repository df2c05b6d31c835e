//! The broadcast scenario: one chat room with [`SOCKETS`] WebSockets, duro's chat
//! (`apps/chat`) against a hand-written JavaScript object with hibernation
//! (`bench/baselines/js-chat`), the same API and socket frames on both sides
//! (`apps/chat/README.md`).
//!
//! Every round starts new workerd processes (on new state) and, for each implementation
//! in an order that rotates every round, opens the sockets to one room
//! (`GET /api/rooms/<room>/ws?user=u<i>`), one after the other, each read by a thread of
//! its own that skips the `welcome` and `presence` frames and counts the `message`
//! frames. Then one of the sockets, the sender, sends `{"type":"send","text":…}` in a
//! closed loop (the next when its own message came back) for a warm-up, then for the
//! measured window: messages/s (acknowledged by their echo to the sender), deliveries/s
//! (message frames received over every socket) and workerd's CPU per delivery and per
//! message. At the end of each round every socket must have received every message, in
//! id order, without a gap; a violation is a failure of that implementation, reported.

use std::io::ErrorKind;
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tungstenite::{Message, WebSocket};

use super::load::Call;
use super::sides::{Sides, Skippable};
use super::workerd::Server;
use super::{median, rotation, Impl, Plan};
use crate::workspace::{note, since, step};

/// Where each implementation is in [`Broadcast::impls`] and [`Broadcast::figures`]:
/// duro's chat app.
pub const DURO: usize = 0;
/// The JavaScript chat (`bench/baselines/js-chat`).
pub const JS: usize = 1;

/// Sockets in the room, the sender's included.
pub const SOCKETS: usize = 100;
/// The room.
const ROOM: &str = "bench";
/// How long a socket waits for a frame before it gives up (the sender), and how long
/// the sockets may take to receive the last message after the window.
const FRAME_WAIT: Duration = Duration::from_secs(10);
/// How often a reading socket looks at whether the round is over.
const POLL: Duration = Duration::from_millis(50);

/// One measured window of one implementation.
#[derive(Debug, Clone, Copy)]
pub struct BroadcastSample {
    /// Messages acknowledged by their echo to the sender, per second.
    pub messages_per_s: f64,
    /// Message frames received over every socket, per second.
    pub deliveries_per_s: f64,
    /// workerd CPU time per delivered frame and per message, in microseconds; NaN where
    /// /proc is not available.
    pub cpu_us_per_delivery: f64,
    pub cpu_us_per_message: f64,
    pub messages: u64,
    pub deliveries: u64,
}

/// What was measured of one implementation.
#[derive(Debug, Clone, Default)]
pub struct BroadcastFigures {
    /// Why this implementation was not measured, if it was not.
    pub skipped: Option<String>,
    /// One sample per round.
    pub samples: Vec<BroadcastSample>,
    /// Messages sent over the whole run (warm-ups included) and checked on every socket.
    pub checked_messages: u64,
    /// Failures seen anywhere, for the report.
    pub failures: Vec<String>,
}

impl BroadcastFigures {
    /// The median over the rounds of `figure`.
    pub fn median(&self, figure: fn(&BroadcastSample) -> f64) -> f64 {
        median(&self.samples.iter().map(figure).collect::<Vec<_>>())
    }
}

/// The implementations of the broadcast scenario and what was measured of them.
pub type Broadcast = Sides<BroadcastFigures>;

impl Skippable for BroadcastFigures {
    fn skipped(&self) -> Option<&str> {
        self.skipped.as_deref()
    }
}

impl Broadcast {
    /// duro's `apps/chat` and the JavaScript chat; either is skipped, with a note, when
    /// the tree does not have it.
    pub fn new(root: &Path) -> Broadcast {
        let impls = vec![
            Impl::new("duro-chat", "duro", root.join("apps/chat"), true),
            Impl::new(
                "js-chat",
                "JavaScript",
                root.join("bench/baselines/js-chat"),
                false,
            ),
        ];
        Sides::of(impls, |skipped| BroadcastFigures {
            skipped,
            ..BroadcastFigures::default()
        })
    }
}

/// Every round.
pub fn measure(
    plan: &Plan,
    workerd: &Path,
    broadcast: &mut Broadcast,
    scratch: &Path,
    state_root: &Path,
) -> Result<(), String> {
    let present = broadcast.present_indices(" chat");
    if present.is_empty() {
        return Ok(());
    }
    step(format!(
        "broadcast: {} rounds x {} implementations, one room of {SOCKETS} sockets, one \
         sender in a closed loop, {} ms warm-up + {} ms each; new workerd processes every \
         round",
        plan.rounds,
        present.len(),
        plan.process_warmup().as_millis(),
        plan.measure.as_millis()
    ));
    let start = Instant::now();
    for round in 0..plan.rounds {
        for k in rotation(present.len(), round) {
            let i = present[k];
            let imp = &broadcast.impls[i];
            let server = Server::start(
                workerd,
                imp.prepared()?,
                &state_root.join(imp.key).join(format!("broadcast-{round}")),
                &scratch.join(imp.key).join(format!("broadcast-{round}.log")),
                &Call::get_path(format!("/api/rooms/{ROOM}")),
            )?;
            let fig = &mut broadcast.figures[i];
            match run_round(plan, &server) {
                Ok(outcome) => {
                    fig.checked_messages += outcome.sent;
                    fig.samples.push(outcome.sample);
                    if !outcome.violations.is_empty() {
                        let line = format!(
                            "broadcast round {}: {} of {SOCKETS} sockets did not receive \
                             every message in order; first: {}",
                            round + 1,
                            outcome.violations.len(),
                            outcome.violations[0]
                        );
                        note(format!("{}: {line}", imp.label));
                        fig.failures.push(line);
                    }
                }
                Err(e) => {
                    let line = format!("broadcast round {}: {e}", round + 1);
                    note(format!("{}: {line}", imp.label));
                    fig.failures.push(line);
                }
            }
            server.stop();
        }
        note(format!("round {} of {} done", round + 1, plan.rounds));
    }
    let cells: Vec<String> = present
        .iter()
        .map(|&i| {
            let fig = &broadcast.figures[i];
            format!(
                "{} {:.0} msg/s {:.0} deliveries/s {:.1} µs/delivery",
                broadcast.impls[i].label,
                fig.median(|s| s.messages_per_s),
                fig.median(|s| s.deliveries_per_s),
                fig.median(|s| s.cpu_us_per_delivery)
            )
        })
        .collect();
    note(format!(
        "broadcast: {} ({})",
        cells.join(", "),
        since(start)
    ));
    Ok(())
}

/// One round of one implementation.
struct RoundOutcome {
    sample: BroadcastSample,
    /// Messages the sender sent and saw come back, warm-up included.
    sent: u64,
    /// One line per socket that missed a message or received one out of order.
    violations: Vec<String>,
}

/// What one socket saw of the messages.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Stream {
    first: Option<u64>,
    last: Option<u64>,
    count: u64,
    /// The first id that did not follow the one before.
    disorder: Option<(u64, u64)>,
    /// Why the socket stopped reading early, if it did.
    error: Option<String>,
}

impl Stream {
    /// Takes a message id.
    fn take(&mut self, id: u64) {
        if let Some(last) = self.last {
            if id != last + 1 && self.disorder.is_none() {
                self.disorder = Some((last, id));
            }
        } else {
            self.first = Some(id);
        }
        self.last = Some(id);
        self.count += 1;
    }

    /// Whether the socket received the messages `first..=last`, each once, in order;
    /// the reason if not.
    fn check(&self, first: u64, last: u64) -> Result<(), String> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if let Some((before, after)) = self.disorder {
            return Err(format!("message {after} came after {before}"));
        }
        let expected = last + 1 - first;
        if self.first != Some(first) || self.last != Some(last) || self.count != expected {
            return Err(format!(
                "received {} messages ({:?}..={:?}) instead of {expected} ({first}..={last})",
                self.count, self.first, self.last
            ));
        }
        Ok(())
    }
}

/// What a frame is to the benchmark.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    /// A `message` frame and its id.
    Message(u64),
    /// `welcome`, `presence`: skipped.
    Other,
}

fn parse_frame(text: &str) -> Result<Frame, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("a frame that is not JSON ({e}): {text}"))?;
    match value.get("type").and_then(serde_json::Value::as_str) {
        Some("message") => value
            .get("id")
            .and_then(serde_json::Value::as_u64)
            .map(Frame::Message)
            .ok_or_else(|| format!("a message frame without an id: {text}")),
        Some("welcome" | "presence") => Ok(Frame::Other),
        _ => Err(format!("an unexpected frame: {text}")),
    }
}

type Socket = WebSocket<TcpStream>;

/// Opens one socket to the room as `user`.
fn connect(port: u16, user: &str) -> Result<Socket, String> {
    let stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("{user}: connect: {e}"))?;
    stream
        .set_read_timeout(Some(FRAME_WAIT))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| format!("{user}: {e}"))?;
    let url = format!("ws://127.0.0.1:{port}/api/rooms/{ROOM}/ws?user={user}");
    let (socket, _) =
        tungstenite::client(url.as_str(), stream).map_err(|e| format!("{user}: handshake: {e}"))?;
    Ok(socket)
}

/// The next frame: `Ok(None)` when none came within the stream's read timeout.
fn next_frame(socket: &mut Socket) -> Result<Option<Frame>, String> {
    loop {
        match socket.read() {
            Ok(Message::Text(text)) => return parse_frame(text.as_str()).map(Some),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Ok(other) => return Err(format!("an unexpected frame: {other:?}")),
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// Reads `socket` until `stop`, counting message frames into `stream` and `delivered`.
fn read_until(socket: &mut Socket, stop: &AtomicBool, delivered: &AtomicU64) -> Stream {
    let mut stream = Stream::default();
    if let Err(e) = socket.get_ref().set_read_timeout(Some(POLL)) {
        stream.error = Some(e.to_string());
        return stream;
    }
    while !stop.load(Ordering::Relaxed) {
        match next_frame(socket) {
            Ok(Some(Frame::Message(id))) => {
                stream.take(id);
                delivered.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => {
                stream.error = Some(e);
                break;
            }
        }
    }
    stream
}

/// The sender's side of the round: messages in a closed loop until `until`; returns
/// (messages acknowledged, the first and the last id) or why it stopped.
fn send_until(
    socket: &mut Socket,
    stream: &mut Stream,
    delivered: &AtomicU64,
    until: Instant,
) -> Result<u64, String> {
    let mut acknowledged = 0;
    while Instant::now() < until {
        let text = format!(r#"{{"type":"send","text":"broadcast {}"}}"#, stream.count);
        socket
            .send(Message::text(text))
            .map_err(|e| format!("sender: send: {e}"))?;
        loop {
            match next_frame(socket).map_err(|e| format!("sender: {e}"))? {
                Some(Frame::Message(id)) => {
                    stream.take(id);
                    delivered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Some(Frame::Other) => {}
                None => {
                    return Err(format!(
                        "sender: its message did not come back within {} s",
                        FRAME_WAIT.as_secs()
                    ))
                }
            }
        }
        acknowledged += 1;
    }
    Ok(acknowledged)
}

fn run_round(plan: &Plan, server: &Server) -> Result<RoundOutcome, String> {
    let mut sockets = Vec::with_capacity(SOCKETS);
    for i in 0..SOCKETS {
        sockets.push(connect(server.port, &format!("u{i}"))?);
    }
    let mut sender = sockets.remove(0);
    let stop = AtomicBool::new(false);
    let delivered = AtomicU64::new(0);
    let streams: Mutex<Vec<Stream>> = Mutex::default();
    let result = std::thread::scope(|scope| {
        for mut socket in sockets {
            let (stop, delivered, streams) = (&stop, &delivered, &streams);
            scope.spawn(move || {
                let stream = read_until(&mut socket, stop, delivered);
                let _ = socket.get_ref().shutdown(Shutdown::Both);
                streams
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(stream);
            });
        }
        let result = (|| {
            let mut own = Stream::default();
            let warm = send_until(
                &mut sender,
                &mut own,
                &delivered,
                Instant::now() + plan.process_warmup(),
            )?;
            let before = delivered.load(Ordering::Relaxed);
            let started = Instant::now();
            let (messages, cpu) = server.cpu_ns_during(|| {
                send_until(&mut sender, &mut own, &delivered, started + plan.measure)
            });
            let messages = messages?;
            let seconds = started.elapsed().as_secs_f64();
            let deliveries = delivered.load(Ordering::Relaxed) - before;
            // Until every socket has the last message (or FRAME_WAIT is over).
            let total = (warm + messages) * SOCKETS as u64;
            let deadline = Instant::now() + FRAME_WAIT;
            while delivered.load(Ordering::Relaxed) < total && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let per = |n: u64| match cpu {
                Some(ns) if n > 0 => ns as f64 / 1000.0 / n as f64,
                _ => f64::NAN,
            };
            let sample = BroadcastSample {
                messages_per_s: messages as f64 / seconds,
                deliveries_per_s: deliveries as f64 / seconds,
                cpu_us_per_delivery: per(deliveries),
                cpu_us_per_message: per(messages),
                messages,
                deliveries,
            };
            Ok::<_, String>((sample, own))
        })();
        stop.store(true, Ordering::Relaxed);
        let _ = sender.get_ref().shutdown(Shutdown::Both);
        result
    });
    let (sample, own) = result?;
    let (Some(first), Some(last)) = (own.first, own.last) else {
        return Err("the sender sent no message".to_owned());
    };
    let mut streams = streams.into_inner().unwrap_or_else(|e| e.into_inner());
    streams.push(own);
    let violations = streams
        .iter()
        .filter_map(|s| s.check(first, last).err())
        .collect();
    Ok(RoundOutcome {
        sample,
        sent: last + 1 - first,
        violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_frames_it_counts() {
        assert_eq!(
            parse_frame(r#"{"type":"message","id":7,"user":"u0","text":"x","at_ms":1}"#),
            Ok(Frame::Message(7))
        );
        assert_eq!(
            parse_frame(r#"{"type":"presence","members":["u0"]}"#),
            Ok(Frame::Other)
        );
        assert_eq!(
            parse_frame(r#"{"type":"welcome","room":"bench","you":"u1","members":[],"last_id":0}"#),
            Ok(Frame::Other)
        );
        assert!(parse_frame(r#"{"type":"error","code":"bad_request"}"#).is_err());
        assert!(parse_frame(r#"{"type":"message"}"#).is_err());
        assert!(parse_frame("pong").is_err());
    }

    #[test]
    fn a_stream_must_hold_every_message_in_order() {
        let stream = |ids: &[u64]| {
            let mut s = Stream::default();
            for &id in ids {
                s.take(id);
            }
            s
        };
        assert_eq!(stream(&[3, 4, 5]).check(3, 5), Ok(()));
        let gap = stream(&[3, 5]).check(3, 5).unwrap_err();
        assert!(gap.contains("message 5 came after 3"), "{gap}");
        let swapped = stream(&[3, 5, 4]).check(3, 5).unwrap_err();
        assert!(swapped.contains("5 came after 3"), "{swapped}");
        assert!(stream(&[3, 4]).check(3, 5).is_err());
        assert!(stream(&[4, 5]).check(3, 5).is_err());
        assert!(stream(&[]).check(3, 5).is_err());
        let mut failed = stream(&[3, 4, 5]);
        failed.error = Some("read: reset".into());
        assert_eq!(failed.check(3, 5), Err("read: reset".into()));
    }
}
