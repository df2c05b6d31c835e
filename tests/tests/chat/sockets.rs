//! The ws route: the welcome, the replay after `after`, live messages, `client_id`,
//! presence, bad frames, ping, refusals before the upgrade, and dropped connections.

use std::time::Duration;

use serde_json::{json, Value};

use crate::client::{
    as_history, assert_keys, get_json, history, members, message_id, ok_id, poll, post, post_ok,
    start, Socket,
};

/// The contract's deadline for a dropped socket to leave `members`.
const DROP_DEADLINE: Duration = Duration::from_secs(10);

#[test]
#[ignore = "needs workerd: see main.rs"]
fn welcome_then_replay_after_then_live_messages() {
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let first = ok_id(&post(
        &client,
        "lobby",
        &json!({"user": "ann", "text": "one", "client_id": "c-1"}),
    ));
    let second = post_ok(&client, "lobby", "bob", "two");
    let third = ok_id(&post(
        &client,
        "lobby",
        &json!({"user": "ann", "text": "three", "client_id": "c-3"}),
    ));
    assert_eq!((first.0, second.0, third.0), (1, 2, 3));

    // after=1: the welcome, then 2 and 3, with client_id where the message had one.
    let mut replayed = Socket::connect(&base, "lobby", "user=cat&after=1");
    let welcome = replayed.welcome("lobby", "cat");
    assert_eq!(welcome["last_id"], 3);
    assert_eq!(members(&welcome), ["cat"]);
    let frame = replayed.next_of("message");
    message_id(&frame);
    assert_eq!(
        frame,
        json!({"type": "message", "id": 2, "user": "bob", "text": "two", "at_ms": second.1})
    );
    let frame = replayed.next_of("message");
    message_id(&frame);
    assert_eq!(
        frame,
        json!({"type": "message", "id": 3, "user": "ann", "text": "three", "at_ms": third.1,
               "client_id": "c-3"})
    );

    // No after: the welcome and no replay. after=0: everything. after past the end: none.
    let mut live = Socket::connect(&base, "lobby", "user=dan");
    assert_eq!(live.welcome("lobby", "dan")["last_id"], 3);
    let mut all = Socket::connect(&base, "lobby", "user=eve&after=0");
    all.welcome("lobby", "eve");
    let ids: Vec<u64> = (0..3)
        .map(|_| message_id(&all.next_of("message")))
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    let mut beyond = Socket::connect(&base, "lobby", "user=fay&after=1000");
    assert_eq!(beyond.welcome("lobby", "fay")["last_id"], 3);

    // Joins came after: the earlier sockets see presence frames, then the live message.
    let fourth = ok_id(&post(
        &client,
        "lobby",
        &json!({"user": "bob", "text": "four", "client_id": "c-4"}),
    ));
    assert_eq!(fourth.0, 4);
    let expected = json!({"type": "message", "id": 4, "user": "bob", "text": "four",
                          "at_ms": fourth.1, "client_id": "c-4"});
    for socket in [&mut replayed, &mut live, &mut all, &mut beyond] {
        let frame = next_message(socket);
        assert_eq!(frame, expected, "{}", socket.name);
        socket.assert_quiet();
    }
    assert_eq!(
        history(&client, "lobby"),
        vec![
            json!({"id": 1, "user": "ann", "text": "one", "at_ms": first.1}),
            json!({"id": 2, "user": "bob", "text": "two", "at_ms": second.1}),
            json!({"id": 3, "user": "ann", "text": "three", "at_ms": third.1}),
            json!({"id": 4, "user": "bob", "text": "four", "at_ms": fourth.1}),
        ]
    );
}

/// The next message frame, skipping presence frames.
fn next_message(socket: &mut Socket) -> Value {
    loop {
        let frame = socket.next();
        if frame["type"] == "presence" {
            assert_keys(&frame, &["members", "type"]);
            continue;
        }
        message_id(&frame);
        return frame;
    }
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn a_sent_frame_is_stored_and_comes_back_to_every_socket() {
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let mut ann = Socket::connect(&base, "talk", "user=ann");
    ann.welcome("talk", "ann");
    let mut bob = Socket::connect(&base, "talk", "user=bob");
    bob.welcome("talk", "bob");
    ann.next_of("presence");

    ann.send("hello\nthere 😀", Some("ann-1"));
    let acknowledgement = ann.next_of("message");
    assert_eq!(message_id(&acknowledgement), 1);
    assert_eq!(acknowledgement["user"], "ann");
    assert_eq!(acknowledgement["text"], "hello\nthere 😀");
    assert_eq!(acknowledgement["client_id"], "ann-1");
    assert_eq!(
        bob.next_of("message"),
        acknowledgement,
        "every socket gets the same frame"
    );

    bob.send("", None);
    let error = bob.next_of("error");
    assert_keys(&error, &["code", "message", "type"]);
    bob.send(" ", None);
    let blank = bob.next_of("message");
    assert_eq!(message_id(&blank), 2, "refused frames take no id");
    assert!(blank.get("client_id").is_none(), "no client_id: {blank}");
    assert_eq!(ann.next_of("message"), blank);

    // An HTTP post reaches both sockets in id order after the socket's messages.
    let (id, at_ms) = post_ok(&client, "talk", "cat", "from http");
    assert_eq!(id, 3);
    for socket in [&mut ann, &mut bob] {
        let frame = socket.next_of("message");
        assert_eq!(
            frame,
            json!({"type": "message", "id": 3, "user": "cat", "text": "from http", "at_ms": at_ms})
        );
    }
    let stored = history(&client, "talk");
    assert_eq!(
        stored,
        vec![
            as_history(&acknowledgement),
            as_history(&blank),
            json!({"id": 3, "user": "cat", "text": "from http", "at_ms": at_ms})
        ]
    );
    // A replay carries client_id too.
    let mut later = Socket::connect(&base, "talk", "user=dan&after=0");
    later.welcome("talk", "dan");
    assert_eq!(later.next_of("message"), acknowledgement);
    assert_eq!(later.next_of("message"), blank);
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn bad_frames_get_error_frames_and_the_socket_keeps_working() {
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let mut ann = Socket::connect(&base, "frames", "user=ann");
    ann.welcome("frames", "ann");
    let mut bob = Socket::connect(&base, "frames", "user=bob");
    bob.welcome("frames", "bob");
    ann.next_of("presence");

    let too_long = json!({"type": "send", "text": "a".repeat(2001)}).to_string();
    let oversized = json!({"type": "send", "text": " ".repeat(70_000)}).to_string();
    let bad_frames = [
        "not json".to_owned(),
        "{".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        "42".to_owned(),
        r#""send""#.to_owned(),
        r#"{"text":"no type"}"#.to_owned(),
        r#"{"type":"shout","text":"x"}"#.to_owned(),
        r#"{"type":"send"}"#.to_owned(),
        r#"{"type":"send","text":7}"#.to_owned(),
        r#"{"type":"send","text":""}"#.to_owned(),
        r#"{"type":"send","text":"a\tb"}"#.to_owned(),
        r#"{"type":"send","text":"a\rb"}"#.to_owned(),
        r#"{"type":"send","text":"\u0085"}"#.to_owned(),
        r#"{"type":"send","text":"\ud800"}"#.to_owned(),
        r#"{"type":"send","text":"x","client_id":""}"#.to_owned(),
        r#"{"type":"send","text":"x","client_id":"a b"}"#.to_owned(),
        too_long,
        oversized,
    ];
    for frame in &bad_frames {
        ann.send_text(frame);
        let error = ann.next_of("error");
        assert_keys(&error, &["code", "message", "type"]);
        assert!(
            error["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{error}"
        );
        assert!(error["message"].is_string(), "{error}");
    }
    bob.assert_quiet();
    // Still open and working, and nothing was stored.
    assert_eq!(get_json(&client, "/api/rooms/frames")["last_id"], 0);
    ann.send(&"😀".repeat(2000), Some("c.1"));
    let frame = ann.next_of("message");
    assert_eq!(message_id(&frame), 1);
    assert_eq!(bob.next_of("message"), frame);
    // Unknown fields in a send frame are ignored; a null client_id is none.
    ann.send_text(r#"{"type":"send","text":"x","client_id":null,"extra":1}"#);
    let frame = ann.next_of("message");
    assert_eq!(message_id(&frame), 2);
    assert!(frame.get("client_id").is_none(), "{frame}");
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn ping_is_answered_with_pong() {
    let app = start();
    let base = app.worker.base_url();
    let mut ann = Socket::connect(&base, "pings", "user=ann");
    ann.welcome("pings", "ann");
    for _ in 0..3 {
        ann.send_text("ping");
        let reply = ann
            .try_next_message(crate::client::FRAME_WAIT)
            .expect("open");
        match reply {
            Some(tungstenite::Message::Text(text)) => assert_eq!(text.as_str(), "pong"),
            other => panic!("ping got {other:?}"),
        }
    }
    ann.send("after the pings", None);
    assert_eq!(message_id(&ann.next_of("message")), 1);
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn bad_users_and_afters_are_refused_before_the_upgrade() {
    let app = start();
    let base = app.worker.base_url();
    let user33 = format!("user={}", "u".repeat(33));
    for query in [
        "",
        "user=",
        user33.as_str(),
        "user=a%20b",
        "user=a%2Fb",
        "user=%C3%A9",
        "user=a+b",
        "user=ann&after=-1",
        "user=ann&after=x",
        "user=ann&after=1.0",
        "user=ann&after=",
        "after=0",
    ] {
        match Socket::try_connect(&base, "gate", query) {
            Ok(_) => panic!("ws ?{query} was upgraded"),
            Err(refused) => {
                assert_eq!(refused.status, 400, "ws ?{query}: {}", refused.body);
            }
        }
    }
    // `user` is checked after query decoding.
    let mut socket = Socket::connect(&base, "gate", "user=a%2Db%2E_");
    socket.welcome("gate", "a-b._");
    let user32 = format!("user={}", "u".repeat(32));
    let mut socket = Socket::connect(&base, "gate", &user32);
    socket.welcome("gate", &"u".repeat(32));
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn presence_on_every_join_and_leave() {
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let mut ann = Socket::connect(&base, "people", "user=ann");
    assert_eq!(members(&ann.welcome("people", "ann")), ["ann"]);
    assert_eq!(members(&get_json(&client, "/api/rooms/people")), ["ann"]);

    let mut cat = Socket::connect(&base, "people", "user=cat");
    let mut joined = members(&cat.welcome("people", "cat"));
    joined.sort();
    assert_eq!(joined, ["ann", "cat"]);
    assert_eq!(sorted_members(&ann.next_of("presence")), ["ann", "cat"]);
    cat.assert_quiet();

    let mut bob = Socket::connect(&base, "people", "user=bob");
    assert_eq!(
        sorted_members(&bob.welcome("people", "bob")),
        ["ann", "bob", "cat"]
    );
    for socket in [&mut ann, &mut cat] {
        let presence = socket.next_of("presence");
        assert_keys(&presence, &["members", "type"]);
        assert_eq!(sorted_members(&presence), ["ann", "bob", "cat"]);
    }
    let mut room = members(&get_json(&client, "/api/rooms/people"));
    room.sort();
    assert_eq!(room, ["ann", "bob", "cat"]);

    // A second socket of a user already there: a presence frame, members unchanged.
    let mut ann2 = Socket::connect(&base, "people", "user=ann");
    assert_eq!(
        sorted_members(&ann2.welcome("people", "ann")),
        ["ann", "bob", "cat"]
    );
    for socket in [&mut ann, &mut bob, &mut cat] {
        assert_eq!(
            sorted_members(&socket.next_of("presence")),
            ["ann", "bob", "cat"]
        );
    }

    // A clean close.
    cat.close();
    for socket in [&mut ann, &mut bob, &mut ann2] {
        assert_eq!(sorted_members(&socket.next_of("presence")), ["ann", "bob"]);
    }
    // One of ann's two sockets leaves: ann stays a member.
    ann2.close();
    for socket in [&mut ann, &mut bob] {
        assert_eq!(sorted_members(&socket.next_of("presence")), ["ann", "bob"]);
    }
    let mut room = members(&get_json(&client, "/api/rooms/people"));
    room.sort();
    assert_eq!(room, ["ann", "bob"]);
    // Messages still flow after the leaves.
    bob.send("still here", None);
    assert_eq!(message_id(&bob.next_of("message")), 1);
    assert_eq!(message_id(&ann.next_of("message")), 1);
}

fn sorted_members(frame: &Value) -> Vec<String> {
    let mut members = members(frame);
    members.sort();
    members
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn a_dropped_socket_leaves_members_within_10_s() {
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let mut ann = Socket::connect(&base, "drops", "user=ann");
    ann.welcome("drops", "ann");
    for round in 0..2 {
        let mut lost = Socket::connect(&base, "drops", "user=lost");
        lost.welcome("drops", "lost");
        assert_eq!(sorted_members(&ann.next_of("presence")), ["ann", "lost"]);
        lost.drop_connection();
        let left = poll(DROP_DEADLINE, || {
            let room = get_json(&client, "/api/rooms/drops");
            (members(&room) == ["ann"]).then_some(())
        });
        assert!(
            left.is_some(),
            "round {round}: the dropped socket is still a member after 10 s: {}",
            get_json(&client, "/api/rooms/drops")
        );
        let presence = ann.next_of("presence");
        assert_eq!(members(&presence), ["ann"], "round {round}");
    }
    // The room still works for the one that stayed.
    ann.send("alone", None);
    assert_eq!(message_id(&ann.next_of("message")), 1);
    let (id, _) = post_ok(&client, "drops", "bob", "hi");
    assert_eq!(id, 2);
    assert_eq!(message_id(&ann.next_of("message")), 2);
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn an_idle_room_still_delivers() {
    // An idle room is evicted with its sockets open (hibernation; local workerd evicts
    // an object idle for about 10 s): after a quiet spell, messages still reach the
    // sockets, and a socket's attachment still names its user.
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let mut ann = Socket::connect(&base, "idle", "user=ann");
    ann.welcome("idle", "ann");
    let mut bob = Socket::connect(&base, "idle", "user=bob");
    bob.welcome("idle", "bob");
    ann.next_of("presence");
    std::thread::sleep(Duration::from_secs(15));
    let (id, at_ms) = post_ok(&client, "idle", "cat", "wake up");
    assert_eq!(id, 1);
    for socket in [&mut ann, &mut bob] {
        assert_eq!(socket.next_of("message")["at_ms"], at_ms);
    }
    std::thread::sleep(Duration::from_secs(15));
    bob.send("still me", None);
    for socket in [&mut ann, &mut bob] {
        let frame = socket.next_of("message");
        assert_eq!(message_id(&frame), 2);
        assert_eq!(frame["user"], "bob");
    }
    let mut room = members(&get_json(&client, "/api/rooms/idle"));
    room.sort();
    assert_eq!(room, ["ann", "bob"]);
}
