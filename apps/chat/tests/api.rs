//! The chat's routes (`chat::api`) natively, against `TestEnv`: the same code that answers
//! in workerd, with the rooms in memory.

use chat::api::{self, Routed};
use chat::Room;
use duro::http::{Method, Request, Response};
use duro::testing::TestEnv;
use serde_json::{json, Value};

fn request(method: Method, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    let mut b = duro::http::request().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.to_vec()).expect("a valid request")
}

async fn send(env: &TestEnv, method: Method, uri: &str, body: &[u8]) -> Routed {
    api::handle(env, request(method, uri, &[], body)).await
}

fn reply(routed: Routed) -> Response {
    match routed {
        Routed::Reply(r) => r,
        other => panic!("expected a reply, got {other:?}"),
    }
}

/// Status and JSON body of a route that replies.
async fn call(env: &TestEnv, method: Method, uri: &str, body: &[u8]) -> (u16, Value) {
    let resp = reply(send(env, method, uri, body).await);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = serde_json::from_slice(resp.body()).expect("a JSON body");
    (resp.status().as_u16(), body)
}

async fn get(env: &TestEnv, uri: &str) -> (u16, Value) {
    call(env, Method::GET, uri, b"").await
}

async fn post(env: &TestEnv, uri: &str, body: Value) -> (u16, Value) {
    call(env, Method::POST, uri, body.to_string().as_bytes()).await
}

fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

#[tokio::test]
async fn a_post_is_in_the_history_and_the_room_counts_it() {
    let env = TestEnv::new();
    assert_eq!(
        get(&env, "/api/rooms/lobby").await,
        (
            200,
            json!({"name": "lobby", "members": [], "messages": 0, "last_id": 0})
        )
    );
    let (status, posted) = post(
        &env,
        "/api/rooms/lobby/messages",
        json!({"user": "ann", "text": "hello", "client_id": "c-1"}),
    )
    .await;
    assert_eq!((status, posted["id"].as_u64()), (200, Some(1)));
    let at_ms = posted["at_ms"].as_u64().unwrap();
    post(
        &env,
        "/api/rooms/lobby/messages",
        json!({"user": "bob", "text": " "}),
    )
    .await;
    let (status, page) = get(&env, "/api/rooms/lobby/messages?after=0&limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(
        page,
        json!({"messages": [{"id": 1, "user": "ann", "text": "hello", "at_ms": at_ms}]})
    );
    let (_, page) = get(&env, "/api/rooms/lobby/messages?after=1").await;
    assert_eq!(page["messages"][0]["user"], "bob");
    let (_, page) = get(&env, "/api/rooms/lobby/messages?after=9").await;
    assert_eq!(page, json!({"messages": []}));
    let (_, room) = get(&env, "/api/rooms/lobby").await;
    assert_eq!(
        (room["messages"].as_u64(), room["last_id"].as_u64()),
        (Some(2), Some(2))
    );
}

#[tokio::test]
async fn the_directory_lists_rooms_from_the_index() {
    let env = TestEnv::new();
    for room in ["b-room", "a-room", "b-room"] {
        let uri = format!("/api/rooms/{room}/messages");
        post(&env, &uri, json!({"user": "ann", "text": "hi"})).await;
    }
    env.run_due_timers().await;
    let (status, list) = get(&env, "/api/rooms?limit=10").await;
    assert_eq!(status, 200);
    let rooms: Vec<(&str, u64)> = list["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["messages"].as_u64().unwrap()))
        .collect();
    assert_eq!(rooms, [("a-room", 1), ("b-room", 2)]);
    assert_eq!(list["cursor"], Value::Null);
    let (_, list) = get(&env, "/api/rooms?prefix=b").await;
    assert_eq!(list["rooms"].as_array().unwrap().len(), 1);
    let (status, body) = get(&env, "/api/rooms?limit=0").await;
    assert_eq!((status, code(&body)), (400, "invalid_limit"));
}

#[tokio::test]
async fn bad_names_numbers_and_texts_are_400_with_the_rule_code() {
    let env = TestEnv::new();
    let cases = [
        ("/api/rooms/a%2Db", "invalid_room"),
        ("/api/rooms/a%2Db/messages", "invalid_room"),
        (&*format!("/api/rooms/{}", "r".repeat(65)), "invalid_room"),
        ("/api/rooms/lobby/messages?limit=501", "invalid_limit"),
        ("/api/rooms/lobby/messages?limit=1.0", "invalid_limit"),
        ("/api/rooms/lobby/messages?after=-1", "invalid_after"),
        ("/api/rooms/lobby/ws?user=a%20b", "invalid_user"),
        (
            "/api/rooms/lobby/ws?user=ann&after=x",
            "invalid_user_or_after",
        ),
    ];
    for (uri, expected) in cases {
        let (status, body) = get(&env, uri).await;
        assert_eq!(status, 400, "{uri}");
        if expected == "invalid_user_or_after" {
            assert_eq!(code(&body), "invalid_after", "{uri}");
        } else {
            assert_eq!(code(&body), expected, "{uri}");
        }
    }
    for (body, expected) in [
        (json!({"user": "ann", "text": "tab\there"}), "invalid_text"),
        (
            json!({"user": "ann", "text": "x".repeat(2001)}),
            "invalid_text",
        ),
        (json!({"user": "", "text": "hi"}), "invalid_user"),
        (
            json!({"user": "ann", "text": "hi", "client_id": "a b"}),
            "invalid_client_id",
        ),
        (json!({"user": "ann"}), "bad_request"),
        (json!([1]), "bad_request"),
    ] {
        let (status, reply) = post(&env, "/api/rooms/lobby/messages", body.clone()).await;
        assert_eq!((status, code(&reply)), (400, expected), "{body}");
    }
    let (_, room) = get(&env, "/api/rooms/lobby").await;
    assert_eq!(room["messages"], 0, "nothing refused was stored");
}

#[tokio::test]
async fn bodies_are_limited_to_64_kib() {
    let env = TestEnv::new();
    let prefix = br#"{"user":"ann","text":"hi"}"#;
    let mut body = prefix.to_vec();
    body.resize(65_536, b' ');
    let (status, _) = call(&env, Method::POST, "/api/rooms/lobby/messages", &body).await;
    assert_eq!(status, 200);
    body.push(b' ');
    let (status, reply) = call(&env, Method::POST, "/api/rooms/lobby/messages", &body).await;
    assert_eq!((status, code(&reply)), (413, "payload_too_large"));
}

#[tokio::test]
async fn unknown_routes_are_404_and_the_page_is_the_assets() {
    let env = TestEnv::new();
    for (method, uri) in [
        (Method::GET, "/api/rooms/"),
        (Method::GET, "/api/rooms/lobby/"),
        (Method::GET, "/api/rooms//messages"),
        (Method::GET, "/api/rooms/lobby/other"),
        (Method::GET, "/api"),
        (Method::DELETE, "/api/rooms/lobby"),
        (Method::POST, "/api/rooms"),
        (Method::POST, "/"),
    ] {
        let (status, body) = call(&env, method.clone(), uri, b"").await;
        assert_eq!((status, code(&body)), (404, "not_found"), "{method} {uri}");
    }
    for uri in ["/", "/app.js", "/rooms/lobby"] {
        assert!(
            matches!(send(&env, Method::GET, uri, b"").await, Routed::Asset),
            "{uri}"
        );
    }
    assert!(matches!(
        send(&env, Method::HEAD, "/", b"").await,
        Routed::Asset
    ));
}

#[tokio::test]
async fn the_socket_route_checks_before_the_upgrade() {
    let env = TestEnv::new();
    let resp = reply(send(&env, Method::GET, "/api/rooms/lobby/ws?user=ann", b"").await);
    assert_eq!(resp.status(), 426);
    assert_eq!(resp.headers()["upgrade"], "websocket");
    let upgrade = request(
        Method::GET,
        "/api/rooms/lobby/ws?user=ann&after=3",
        &[("upgrade", "WebSocket")],
        b"",
    );
    match api::handle(&env, upgrade).await {
        Routed::Connect(room) => assert_eq!(room, "lobby"),
        other => panic!("expected the upgrade to go to the room, got {other:?}"),
    }
}

#[tokio::test]
async fn a_post_reaches_the_rooms_sockets() {
    let env = TestEnv::new();
    let ann = env
        .socket::<Room>(
            "lobby",
            "/api/rooms/lobby/ws?user=ann",
            &[("upgrade", "websocket")],
        )
        .await
        .unwrap();
    let welcome: Value = ann.recv_json();
    assert_eq!(welcome["type"], "welcome");
    let (_, posted) = post(
        &env,
        "/api/rooms/lobby/messages",
        json!({"user": "bob", "text": "hi ann", "client_id": "b-1"}),
    )
    .await;
    let frame: Value = ann.recv_json();
    assert_eq!(
        frame,
        json!({"type": "message", "id": 1, "user": "bob", "text": "hi ann",
               "at_ms": posted["at_ms"], "client_id": "b-1"})
    );
    let (_, room) = get(&env, "/api/rooms/lobby").await;
    assert_eq!(room["members"], json!(["ann"]));
}

#[tokio::test]
async fn a_room_error_becomes_a_json_error_response() {
    let env = TestEnv::new();
    // The call is over the room's body limit: duro's error, as JSON, through one `?`.
    env.set_body_limit(16);
    let (status, body) = post(
        &env,
        "/api/rooms/lobby/messages",
        json!({"user": "ann", "text": "a text longer than the body limit"}),
    )
    .await;
    assert_eq!((status, code(&body)), (413, "payload_too_large"));
    assert!(
        body["error"]["message"].as_str().unwrap().contains("16"),
        "{body}"
    );
}
