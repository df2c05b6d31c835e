//! The room directory: every room with messages within 20 s of its last message, with
//! the exact count and `last_at_ms`; `prefix`, `cursor` and `limit`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::client::{assert_error, assert_keys, get_json, poll, post_ok, start};
use crate::http::Client;

/// The contract's deadline for the directory.
const DIRECTORY_DEADLINE: Duration = Duration::from_secs(20);

/// Every room listed under `prefix`, following cursors `limit` at a time.
fn list_all(client: &Client, prefix: &str, limit: usize) -> Vec<Value> {
    let mut rooms = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/api/rooms?prefix={prefix}&limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", encode(cursor)));
        }
        let page = get_json(client, &path);
        assert_keys(&page, &["cursor", "rooms"]);
        let listed = page["rooms"].as_array().expect("rooms");
        assert!(
            listed.len() <= limit,
            "{} rooms for limit {limit}",
            listed.len()
        );
        for room in listed {
            assert_keys(room, &["last_at_ms", "members", "messages", "name"]);
            assert!(
                room["members"].is_u64() || room["members"].is_array(),
                "members is a count or a list: {room}"
            );
        }
        rooms.extend(listed.iter().cloned());
        match &page["cursor"] {
            Value::Null => return rooms,
            Value::String(next) => cursor = Some(next.clone()),
            other => panic!("cursor is {other}"),
        }
    }
    panic!("more than 100 pages");
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The directory's entries as `(name, messages, last_at_ms)`, sorted by name.
fn summary(rooms: &[Value]) -> Vec<(String, u64, u64)> {
    let mut summary: Vec<(String, u64, u64)> = rooms
        .iter()
        .map(|r| {
            (
                r["name"].as_str().expect("name").to_owned(),
                r["messages"].as_u64().expect("messages"),
                r["last_at_ms"].as_u64().expect("last_at_ms"),
            )
        })
        .collect();
    summary.sort();
    summary
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn the_directory_lists_rooms_with_messages_within_20_s() {
    let app = start();
    let client = app.worker.client();
    assert_eq!(
        get_json(&client, "/api/rooms"),
        json!({"rooms": [], "cursor": null})
    );

    let mut expected = Vec::new();
    for (room, count) in [("dir-a", 3), ("dir-b", 1), ("dir-c", 2), ("else", 4)] {
        let mut last = 0;
        for i in 0..count {
            last = post_ok(&client, room, "ann", &format!("{room} {i}")).1;
        }
        expected.push((room.to_owned(), count, last));
    }
    // A room that was only looked at has no messages: it is not listed.
    get_json(&client, "/api/rooms/looked-at");

    let listed = poll(DIRECTORY_DEADLINE, || {
        let rooms = list_all(&client, "", 100);
        (summary(&rooms) == expected).then_some(rooms)
    });
    assert!(
        listed.is_some(),
        "after 20 s the directory is {:?}, expected {expected:?}",
        summary(&list_all(&client, "", 100))
    );

    // Sorted by name, across pages too.
    for limit in [1, 100] {
        let names: Vec<Value> = list_all(&client, "", limit)
            .iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(
            names,
            json!(["dir-a", "dir-b", "dir-c", "else"])
                .as_array()
                .expect("names")
                .clone(),
            "limit {limit}"
        );
    }

    // Prefix and paging.
    let dirs: Vec<_> = expected[..3].to_vec();
    assert_eq!(summary(&list_all(&client, "dir-", 100)), dirs);
    assert_eq!(summary(&list_all(&client, "dir-", 1)), dirs);
    assert_eq!(summary(&list_all(&client, "", 2)), expected);
    assert_eq!(summary(&list_all(&client, "dir-b", 10)), dirs[1..2]);
    assert_eq!(summary(&list_all(&client, "nothing", 10)), []);
    let page = get_json(&client, "/api/rooms?limit=2");
    assert_eq!(page["rooms"].as_array().expect("rooms").len(), 2);
    assert!(
        page["cursor"].is_string(),
        "two of four rooms: a cursor: {page}"
    );

    // More messages: the count and last_at_ms follow within 20 s.
    let (_, at_ms) = post_ok(&client, "dir-b", "bob", "more");
    post_ok(&client, "fresh-room", "bob", "first");
    let (_, fresh_at) = post_ok(&client, "fresh-room", "bob", "second");
    let caught_up = poll(DIRECTORY_DEADLINE, || {
        let rooms = summary(&list_all(&client, "", 100));
        (rooms.contains(&("dir-b".to_owned(), 2, at_ms))
            && rooms.contains(&("fresh-room".to_owned(), 2, fresh_at)))
        .then_some(())
    });
    assert!(
        caught_up.is_some(),
        "after 20 s the directory is {:?}",
        summary(&list_all(&client, "", 100))
    );

    let long_prefix = format!("prefix={}", "p".repeat(65));
    for query in [
        "limit=0",
        "limit=501",
        "limit=x",
        "limit=-1",
        "prefix=a%20b",
        "prefix=a%2Fb",
        long_prefix.as_str(),
    ] {
        assert_error(&client.get(&format!("/api/rooms?{query}")), 400, query);
    }
}
