//! WebSockets on real workerd: the counter's watchers (`GET /counters/<name>/ws`), taken
//! with the hibernation API through duro's entry.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::counter::{add_ok, value};
use crate::harness::Fixture;

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Connects a watcher to counter `name`.
fn watch(app: &Fixture, name: &str) -> Socket {
    let url = format!(
        "{}/counters/{name}/ws",
        app.worker.base_url().replacen("http://", "ws://", 1)
    );
    let (socket, response) = tungstenite::connect(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(response.status().as_u16(), 101);
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
    }
    socket
}

/// The next JSON text frame (pings and pongs skipped); fails after 10 s.
fn next(socket: &mut Socket) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no frame within 10 s");
        match socket.read().expect("a frame") {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .expect("send");
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn watchers_see_every_change_in_order_and_can_add() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "w", 5);
    let mut ann = watch(&app, "w");
    let mut bob = watch(&app, "w");
    assert_eq!(next(&mut ann), json!({"value": 5}));
    assert_eq!(next(&mut bob), json!({"value": 5}));

    add_ok(&client, "w", 2);
    assert_eq!(next(&mut ann), json!({"value": 7}));
    assert_eq!(next(&mut bob), json!({"value": 7}));

    // A frame is a turn: saved, then seen by every watcher.
    for by in [1, 10, 100] {
        send(&mut ann, json!({"type": "add", "by": by}));
    }
    for expected in [8, 18, 118] {
        assert_eq!(next(&mut bob), json!({"value": expected}));
        assert_eq!(next(&mut ann), json!({"value": expected}));
    }
    assert_eq!(value(&client, "w"), 118);

    // A bad frame gets an error frame; the socket stays open and the value unchanged.
    send(&mut ann, json!({"type": "add", "by": "ten"}));
    assert_eq!(next(&mut ann)["error"]["code"], "bad_request");
    send(&mut ann, json!({"type": "add", "by": i64::MAX}));
    assert_eq!(next(&mut ann)["error"]["code"], "user");
    send(&mut ann, json!({"type": "add", "by": -18}));
    assert_eq!(next(&mut ann), json!({"value": 100}));
    assert_eq!(next(&mut bob), json!({"value": 100}));
    assert_eq!(value(&client, "w"), 100);

    // The route refuses plain requests.
    let reply = client.get("/counters/w/ws");
    assert_eq!(reply.status, 426, "{}", reply.text());
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn watchers_reconnect_after_a_restart_and_see_the_saved_value() {
    let mut app = Fixture::new("counter");
    let mut ann = watch(&app, "r");
    assert_eq!(next(&mut ann), json!({"value": 0}));
    send(&mut ann, json!({"type": "add", "by": 3}));
    assert_eq!(next(&mut ann), json!({"value": 3}));
    drop(ann);
    app.worker.restart();
    let mut ann = watch(&app, "r");
    assert_eq!(next(&mut ann), json!({"value": 3}));
    add_ok(&app.worker.client(), "r", 1);
    assert_eq!(next(&mut ann), json!({"value": 4}));
}
