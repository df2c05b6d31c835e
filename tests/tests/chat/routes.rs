//! Every HTTP route and status of the contract: the page, a room, its history, posting,
//! unknown routes, and the ws route refused without an upgrade.

use serde_json::json;

use crate::client::{
    assert_error, assert_keys, assert_recent, get_json, ok_id, post, post_ok, raw_request, start,
};

#[test]
#[ignore = "needs workerd: see main.rs"]
fn the_page_is_html() {
    let app = start();
    let head = raw_head(&app.worker.base_url(), "/");
    assert!(head.starts_with("HTTP/1.1 200 "), "GET /: {head}");
    let content_type = head
        .lines()
        .find_map(|l| {
            let lower = l.to_ascii_lowercase();
            lower
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no content-type in {head}"));
    assert!(
        content_type.starts_with("text/html"),
        "GET / is {content_type}"
    );
}

/// The reply head of `GET path`.
fn raw_head(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read");
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn a_new_room_is_empty() {
    let app = start();
    let client = app.worker.client();
    let room = get_json(&client, "/api/rooms/fresh");
    assert_eq!(
        room,
        json!({"name": "fresh", "members": [], "messages": 0, "last_id": 0})
    );
    let page = get_json(&client, "/api/rooms/fresh/messages");
    assert_eq!(page, json!({"messages": []}));
    // Reading does not create messages.
    assert_eq!(get_json(&client, "/api/rooms/fresh")["last_id"], 0);
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn posted_messages_get_consecutive_ids_per_room_and_are_kept() {
    let app = start();
    let client = app.worker.client();
    let mut sent = Vec::new();
    for (i, text) in ["one", "two", "three", "four", "five"].iter().enumerate() {
        let user = if i % 2 == 0 { "ann" } else { "bob.2" };
        let (id, at_ms) = post_ok(&client, "kept", user, text);
        assert_eq!(id, i as u64 + 1, "ids are consecutive from 1");
        assert_recent(at_ms);
        sent.push(json!({"id": id, "user": user, "text": text, "at_ms": at_ms}));
    }
    // Another room counts on its own.
    assert_eq!(post_ok(&client, "other_room", "ann", "hello").0, 1);
    assert_eq!(post_ok(&client, "other_room", "ann", "again").0, 2);

    let page = get_json(&client, "/api/rooms/kept/messages");
    assert_keys(&page, &["messages"]);
    assert_eq!(page["messages"], json!(sent), "the history, exactly");
    for message in page["messages"].as_array().expect("messages") {
        assert_keys(message, &["at_ms", "id", "text", "user"]);
    }
    assert_eq!(
        get_json(&client, "/api/rooms/kept"),
        json!({"name": "kept", "members": [], "messages": 5, "last_id": 5})
    );
    assert_eq!(get_json(&client, "/api/rooms/other_room")["last_id"], 2);

    // `after` and `limit`.
    let page = |query: &str| get_json(&client, &format!("/api/rooms/kept/messages?{query}"));
    assert_eq!(page("after=2")["messages"], json!(sent[2..]));
    assert_eq!(page("limit=2")["messages"], json!(sent[..2]));
    assert_eq!(page("after=1&limit=3")["messages"], json!(sent[1..4]));
    assert_eq!(page("limit=3&after=1")["messages"], json!(sent[1..4]));
    assert_eq!(page("after=0&limit=500")["messages"], json!(sent));
    assert_eq!(page("after=4&limit=1")["messages"], json!(sent[4..]));
    assert_eq!(page("after=5")["messages"], json!([]), "after the last id");
    assert_eq!(
        page("after=1000")["messages"],
        json!([]),
        "past the last id"
    );
    assert_eq!(
        page("after=18446744073709551615")["messages"],
        json!([]),
        "the largest u64"
    );
    assert_eq!(
        page("after=01")["messages"],
        json!(sent[1..]),
        "leading zeros"
    );
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn history_pages_hold_at_most_limit_and_default_to_100() {
    let app = start();
    let client = app.worker.client();
    for i in 0..120 {
        post_ok(&client, "long", "ann", &format!("m{i}"));
    }
    let ids = |query: &str| -> Vec<u64> {
        get_json(&client, &format!("/api/rooms/long/messages{query}"))["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["id"].as_u64().expect("id"))
            .collect()
    };
    assert_eq!(ids(""), (1..=100).collect::<Vec<_>>(), "default limit 100");
    assert_eq!(ids("?after=100"), (101..=120).collect::<Vec<_>>());
    assert_eq!(ids("?limit=500"), (1..=120).collect::<Vec<_>>());
    assert_eq!(ids("?after=7&limit=1"), vec![8]);
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn unknown_routes_are_404() {
    let app = start();
    let client = app.worker.client();
    post_ok(&client, "r", "ann", "so that the room exists");
    // The page's own files (`/index.html`, `/app.js`, `/style.css`) are served where the
    // worker has static assets; they are not unknown routes.
    for path in [
        "/nope",
        "/api",
        "/api/",
        "/api/room",
        "/api/rooms/",
        "/api/rooms/r/",
        "/api/rooms/r/messages/",
        "/api/rooms/r/ws/",
        "/api/rooms/r/members",
        "/api/rooms/r/messages/1",
        "/api/rooms//messages",
        "/api/rooms/r//messages",
        "/api/rooms/r/Messages",
        "/API/rooms/r",
        "//api/rooms/r",
    ] {
        assert_error(&client.get(path), 404, &format!("GET {path}"));
    }
    for (path, what) in [
        ("/api/rooms", "POST /api/rooms"),
        ("/api/rooms/r", "POST to a room"),
        ("/api/rooms/r/ws", "POST to the ws route"),
        ("/api/rooms/r/messages/", "POST with a trailing slash"),
        ("/", "POST /"),
    ] {
        let reply = client.post_with(
            path,
            &[("content-type", "application/json")],
            br#"{"user":"ann","text":"x"}"#,
        );
        assert_error(&reply, 404, what);
    }
    assert_error(&client.delete("/api/rooms/r"), 404, "DELETE a room");
    assert_error(
        &client.delete("/api/rooms/r/messages"),
        404,
        "DELETE the history",
    );
    let base = app.worker.base_url();
    for (head, what) in [
        (
            "PUT /api/rooms/r/messages HTTP/1.1\r\nContent-Length: 0\r\n",
            "PUT",
        ),
        (
            "PATCH /api/rooms/r HTTP/1.1\r\nContent-Length: 0\r\n",
            "PATCH",
        ),
    ] {
        let (status, body) = raw_request(&base, head, b"");
        assert_eq!(status, 404, "{what}: {body}");
    }
    // Nothing above was stored.
    assert_eq!(get_json(&client, "/api/rooms/r")["last_id"], 1);
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn the_ws_route_without_an_upgrade_is_426() {
    let app = start();
    let client = app.worker.client();
    assert_error(&client.get("/api/rooms/r/ws?user=ann"), 426, "no Upgrade");
    assert_error(
        &client.get("/api/rooms/r/ws?user=ann&after=0"),
        426,
        "no Upgrade, with after",
    );
    // A bad user or after is a 400 whether or not the request asks for an upgrade.
    assert_error(&client.get("/api/rooms/r/ws"), 400, "no user, no Upgrade");
    assert_error(
        &client.get("/api/rooms/r/ws?user=ann&after=x"),
        400,
        "bad after, no Upgrade",
    );
    assert_error(&client.get("/api/rooms/a%2Db/ws?user=ann"), 400, "bad room");
    let base = app.worker.base_url();
    let (status, body) = raw_request(
        &base,
        "GET /api/rooms/r/ws?user=ann HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n",
        b"",
    );
    assert_eq!(status, 426, "an upgrade to something else: {body}");
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn the_post_reply_is_the_id_and_at_ms_only() {
    let app = start();
    let client = app.worker.client();
    let reply = post(
        &client,
        "r",
        &json!({"user": "ann", "text": "hi", "client_id": "c-1"}),
    );
    let (id, at_ms) = ok_id(&reply);
    assert_eq!(id, 1);
    let page = get_json(&client, "/api/rooms/r/messages");
    assert_eq!(
        page["messages"],
        json!([{"id": 1, "user": "ann", "text": "hi", "at_ms": at_ms}]),
        "the history's entries are id, user, text and at_ms"
    );
}
