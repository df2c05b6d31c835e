//! The chat room through `TestEnv`: the same dispatch path as in workerd, with simulated
//! sockets, a manual clock and in-memory storage and KV.

use chat::Room;
use chat_protocol::{RoomSummary, ServerFrame};
use duro::index::Index;
use duro::testing::{TestEnv, TestSocket};
use serde_json::{json, Value};

async fn join(env: &TestEnv, room: &str, user: &str, after: Option<u64>) -> TestSocket {
    let url = match after {
        Some(a) => format!("/api/rooms/{room}/ws?user={user}&after={a}"),
        None => format!("/api/rooms/{room}/ws?user={user}"),
    };
    env.socket::<Room>(room, &url, &[("upgrade", "websocket")])
        .await
        .unwrap_or_else(|r| panic!("{user} could not join {room}: {r:?}"))
}

fn frames(socket: &TestSocket) -> Vec<Value> {
    socket
        .received()
        .into_iter()
        .map(|f| match f {
            duro::Frame::Text(t) => serde_json::from_str(&t).expect("JSON frame"),
            other => panic!("unexpected frame {other:?}"),
        })
        .collect()
}

fn ids(frames: &[Value]) -> Vec<u64> {
    frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn joining_gets_a_welcome_and_the_others_a_presence() {
    let env = TestEnv::new();
    let ann = join(&env, "r", "ann", None).await;
    assert_eq!(
        frames(&ann),
        [json!({"type": "welcome", "room": "r", "you": "ann", "members": ["ann"], "last_id": 0})]
    );
    let bob = join(&env, "r", "bob", None).await;
    assert_eq!(frames(&bob)[0]["members"], json!(["ann", "bob"]));
    assert_eq!(
        frames(&ann),
        [json!({"type": "presence", "members": ["ann", "bob"]})]
    );
    // A bad user is refused before any socket exists.
    let refused = env
        .socket::<Room>("r", "/api/rooms/r/ws?user=a%20b", &[])
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 400);
    bob.close().await;
    assert_eq!(
        frames(&ann),
        [json!({"type": "presence", "members": ["ann"]})]
    );
}

#[tokio::test]
async fn messages_are_stored_then_broadcast_in_id_order() {
    let env = TestEnv::new();
    let ann = join(&env, "r", "ann", None).await;
    let bob = join(&env, "r", "bob", None).await;
    ann.received();
    bob.received();
    let stub = env.stub::<Room>("r");
    for i in 0..6 {
        if i % 2 == 0 {
            ann.send_json(
                &json!({"type": "send", "text": format!("s{i}"), "client_id": format!("c{i}")}),
            )
            .await;
        } else {
            let posted = stub
                .post("bob".into(), format!("h{i}"), None)
                .await
                .unwrap();
            assert_eq!(posted.id, i + 1);
        }
    }
    let got = frames(&bob);
    assert_eq!(ids(&got), [1, 2, 3, 4, 5, 6]);
    assert_eq!(got[0]["client_id"], "c0");
    assert!(got[1].get("client_id").is_none());
    assert_eq!(ids(&frames(&ann)), [1, 2, 3, 4, 5, 6]);
    let history = stub.history(2, 3).await.unwrap();
    let listed: Vec<u64> = history.messages.iter().map(|m| m.id).collect();
    assert_eq!(listed, [3, 4, 5]);
    assert!(history.messages.iter().all(|m| m.client_id.is_none()));
    let info = stub.info().await.unwrap();
    assert_eq!((info.messages, info.last_id), (6, 6));
}

#[tokio::test]
async fn bad_frames_get_an_error_frame_and_change_nothing() {
    let env = TestEnv::new();
    let ann = join(&env, "r", "ann", None).await;
    let bob = join(&env, "r", "bob", None).await;
    ann.received();
    bob.received();
    ann.send_text("not json").await;
    ann.send_json(&json!({"type": "send", "text": "tab\there"}))
        .await;
    ann.send_json(&json!({"type": "shout", "text": "x"})).await;
    ann.send_json(&json!({"type": "send", "text": "x".repeat(2001)}))
        .await;
    let errors = frames(&ann);
    assert_eq!(errors.len(), 4, "{errors:?}");
    for e in &errors {
        let frame: ServerFrame = serde_json::from_value(e.clone()).expect("an error frame");
        assert!(matches!(frame, ServerFrame::Error(_)), "{e}");
    }
    assert!(frames(&bob).is_empty());
    assert_eq!(env.stub::<Room>("r").info().await.unwrap().last_id, 0);
    // The socket keeps working.
    ann.send_json(&json!({"type": "send", "text": "ok"})).await;
    assert_eq!(ids(&frames(&bob)), [1]);
}

#[tokio::test]
async fn a_socket_replays_after_its_after_then_goes_live() {
    let env = TestEnv::new();
    let stub = env.stub::<Room>("r");
    for i in 0..1203u64 {
        stub.post("ann".into(), format!("m{i}"), None)
            .await
            .unwrap();
    }
    let late = join(&env, "r", "bob", Some(2)).await;
    let got = frames(&late);
    assert_eq!(got[0]["type"], "welcome");
    assert_eq!(got[0]["last_id"], 1203);
    assert_eq!(ids(&got), (3..=1203).collect::<Vec<_>>());
    let fresh = join(&env, "r", "cat", None).await;
    assert!(
        ids(&frames(&fresh)).is_empty(),
        "after defaults to the last id"
    );
    stub.post("ann".into(), "live".into(), None).await.unwrap();
    assert_eq!(ids(&frames(&late)), [1204]);
}

#[tokio::test]
async fn hibernation_and_restart_keep_sockets_users_and_history() {
    let env = TestEnv::new();
    let ann = join(&env, "r", "ann", None).await;
    let bob = join(&env, "r", "bob", None).await;
    ann.send_json(&json!({"type": "send", "text": "one"})).await;
    ann.received();
    bob.received();

    env.hibernate::<Room>("r");
    bob.send_json(&json!({"type": "send", "text": "two"})).await;
    let got = frames(&ann);
    assert_eq!(ids(&got), [2]);
    assert_eq!(got[0]["user"], "bob", "the attachment survived hibernation");

    env.restart();
    let info = env.stub::<Room>("r").info().await.unwrap();
    assert_eq!(info.members, ["ann", "bob"]);
    assert_eq!(info.last_id, 2);
    ann.send_json(&json!({"type": "send", "text": "three"}))
        .await;
    assert_eq!(ids(&frames(&bob)), [2, 3]);
}

#[tokio::test]
async fn the_directory_lists_rooms_with_messages_without_waking_them() {
    let env = TestEnv::new();
    join(&env, "quiet", "ann", None).await;
    for (room, n) in [("b-room", 2), ("a-room", 1)] {
        for i in 0..n {
            env.stub::<Room>(room)
                .post("ann".into(), format!("m{i}"), None)
                .await
                .unwrap();
        }
    }
    env.run_due_timers().await;
    let calls = env.stats::<Room>("a-room").calls;
    let index = Index::<RoomSummary>::open(&env, "INDEX", "rooms").unwrap();
    let page = index.list("", None, 10).await.unwrap();
    let listed: Vec<(String, u64)> = page
        .entries
        .iter()
        .map(|e| (e.value.name.clone(), e.value.messages))
        .collect();
    assert_eq!(listed, [("a-room".to_owned(), 1), ("b-room".to_owned(), 2)]);
    assert_eq!(
        env.stats::<Room>("a-room").calls,
        calls,
        "listing woke no room"
    );
}
