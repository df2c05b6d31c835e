//! The "details that tools rely on" over HTTP: names on the raw path, query parameters,
//! texts (control characters, scalar values, lone surrogates), `client_id`, bodies and
//! their size limit.

use serde_json::{json, Value};

use crate::client::{
    assert_error, chunked, get_json, history, ok_id, post, raw_request, start, Socket,
};
use crate::http::Client;

/// The room's last id, to show that refused requests stored nothing.
fn last_id(client: &Client, room: &str) -> u64 {
    get_json(client, &format!("/api/rooms/{room}"))["last_id"]
        .as_u64()
        .expect("last_id")
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn room_names_are_checked_on_the_raw_path() {
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let long = "r".repeat(64);
    for room in ["a", "A-z_0.9", "...", "-", "_", long.as_str()] {
        let reply = client.get(&format!("/api/rooms/{room}"));
        assert_eq!(reply.status, 200, "room {room:?}: {}", reply.text());
        assert_eq!(reply.json()["name"], room);
        let (id, _) = ok_id(&post(&client, room, &json!({"user": "ann", "text": "x"})));
        assert_eq!(id, 1, "room {room:?}");
        assert_eq!(
            get_json(&client, &format!("/api/rooms/{room}/messages"))["messages"][0]["id"],
            1
        );
        let mut socket = Socket::connect(&base, room, "user=ann");
        socket.welcome(room, "ann");
    }
    let too_long = "r".repeat(65);
    for room in [
        "a%2Db",
        "a%2db",
        "%61",
        "a%20b",
        "a%2Fb",
        "a+b",
        "a~b",
        "a!b",
        "a:b",
        "a@b",
        "%C3%A9",
        too_long.as_str(),
    ] {
        let what = |route: &str| format!("{route} for room {room:?}");
        assert_error(
            &client.get(&format!("/api/rooms/{room}")),
            400,
            &what("GET"),
        );
        assert_error(
            &client.get(&format!("/api/rooms/{room}/messages")),
            400,
            &what("GET messages"),
        );
        assert_error(
            &post(&client, room, &json!({"user": "ann", "text": "x"})),
            400,
            &what("POST messages"),
        );
        let refused = Socket::try_connect(&base, room, "user=ann")
            .err()
            .unwrap_or_else(|| panic!("{} was upgraded", what("ws")));
        assert_eq!(refused.status, 400, "{}: {}", what("ws"), refused.body);
    }
    // `a%2Db` was refused, not taken for `a-b`.
    assert_eq!(last_id(&client, "a-b"), 0);
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn limit_and_after_must_be_plain_integers_in_range() {
    let app = start();
    let client = app.worker.client();
    ok_id(&post(&client, "q", &json!({"user": "ann", "text": "x"})));
    for query in [
        "limit=0",
        "limit=501",
        "limit=-1",
        "limit=1.5",
        "limit=1e2",
        "limit=+1",
        "limit=%201",
        "limit=abc",
        "limit=",
        "limit=99999999999999999999999",
        "after=-1",
        "after=1.0",
        "after=+1",
        "after=x",
        "after=",
        "after=0x1",
        "after=18446744073709551616",
    ] {
        assert_error(
            &client.get(&format!("/api/rooms/q/messages?{query}")),
            400,
            query,
        );
    }
    for query in ["limit=1", "limit=500", "limit=%35", "after=0", "after=%31"] {
        let reply = client.get(&format!("/api/rooms/q/messages?{query}"));
        assert_eq!(reply.status, 200, "{query}: {}", reply.text());
    }
    assert_eq!(
        get_json(&client, "/api/rooms/q/messages?after=%30")["messages"][0]["id"],
        1,
        "after is read after query decoding"
    );
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn users_and_client_ids_are_checked() {
    let app = start();
    let client = app.worker.client();
    let user32 = "u".repeat(32);
    let id64 = "c".repeat(64);
    for body in [
        json!({"user": user32, "text": "x"}),
        json!({"user": "A-z_0.9", "text": "x", "client_id": id64}),
        json!({"user": "ann", "text": "x", "client_id": "A-z_0.9"}),
    ] {
        ok_id(&post(&client, "names", &body));
    }
    let user33 = "u".repeat(33);
    let id65 = "c".repeat(65);
    for body in [
        json!({"user": user33, "text": "x"}),
        json!({"user": "", "text": "x"}),
        json!({"user": "a b", "text": "x"}),
        json!({"user": "é", "text": "x"}),
        json!({"user": "a/b", "text": "x"}),
        json!({"user": 7, "text": "x"}),
        json!({"user": null, "text": "x"}),
        json!({"text": "x"}),
        json!({"user": "ann", "text": "x", "client_id": id65}),
        json!({"user": "ann", "text": "x", "client_id": ""}),
        json!({"user": "ann", "text": "x", "client_id": "a b"}),
        json!({"user": "ann", "text": "x", "client_id": 5}),
    ] {
        assert_error(&post(&client, "names", &body), 400, &body.to_string());
    }
    assert_eq!(last_id(&client, "names"), 3, "refused posts stored nothing");
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn texts_refuse_control_characters_and_count_scalar_values() {
    let app = start();
    let client = app.worker.client();
    let emoji2000 = "😀".repeat(2000);
    let ascii2000 = "a".repeat(2000);
    let accepted = [
        "\n",
        " ",
        "   ",
        "\n\n",
        "line\nline",
        "\u{a0}",
        "\u{200b}",
        "\u{2028}",
        "\u{2029}",
        "\u{feff}",
        "\u{fffd}",
        "é ü ß ∑ 漢字",
        "😀👍🏽",
        emoji2000.as_str(),
        ascii2000.as_str(),
    ];
    let mut expected = Vec::new();
    for text in accepted {
        let reply = post(&client, "texts", &json!({"user": "ann", "text": text}));
        assert_eq!(
            reply.status,
            200,
            "text {:?}: {}",
            text.chars().take(8).collect::<String>(),
            reply.text()
        );
        let (id, at_ms) = ok_id(&reply);
        expected.push(json!({"id": id, "user": "ann", "text": text, "at_ms": at_ms}));
    }
    let emoji2001 = "😀".repeat(2001);
    let ascii2001 = "a".repeat(2001);
    let mut refused: Vec<String> = [
        "\t", "a\tb", "\r", "a\r\nb", "\u{0}", "\u{1}", "\u{1b}", "\u{1f}",
    ]
    .iter()
    .chain(&["\u{7f}", "\u{80}", "\u{85}", "\u{9f}", ""])
    .map(|s| s.to_string())
    .collect();
    refused.push(emoji2001);
    refused.push(ascii2001);
    for text in &refused {
        assert_error(
            &post(&client, "texts", &json!({"user": "ann", "text": text})),
            400,
            &format!("text {:?}", text.chars().take(8).collect::<String>()),
        );
    }
    // Escaped in the JSON: lone surrogates are refused, a pair is one scalar value.
    for body in [
        r#"{"user":"ann","text":"\ud800"}"#,
        r#"{"user":"ann","text":"a\udc00b"}"#,
        r#"{"user":"ann","text":"\ude00\ud83d"}"#,
        r#"{"user":"ann","text":"\u0009"}"#,
        r#"{"user":"ann","text":"\u007f"}"#,
        r#"{"user":"ann","text":7}"#,
        r#"{"user":"ann"}"#,
    ] {
        let reply = client.post_with(
            "/api/rooms/texts/messages",
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        assert_error(&reply, 400, body);
    }
    let pair = "\\ud83d\\ude00".repeat(2000);
    let reply = client.post_with(
        "/api/rooms/texts/messages",
        &[("content-type", "application/json")],
        format!(r#"{{"user":"ann","text":"{pair}"}}"#).as_bytes(),
    );
    let (id, at_ms) = ok_id(&reply);
    expected.push(json!({"id": id, "user": "ann", "text": emoji2000, "at_ms": at_ms}));
    assert_eq!(
        history(&client, "texts"),
        expected,
        "texts are kept exactly"
    );
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn bodies_must_be_json_objects_and_any_content_type_works() {
    let app = start();
    let client = app.worker.client();
    let good = br#"{"user":"ann","text":"x"}"#;
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "text/plain",
        "application/x-www-form-urlencoded",
    ] {
        let reply = client.post_with(
            "/api/rooms/bodies/messages",
            &[("content-type", content_type)],
            good,
        );
        assert_eq!(reply.status, 200, "{content_type}: {}", reply.text());
    }
    let reply = client.post_with("/api/rooms/bodies/messages", &[], good);
    assert_eq!(reply.status, 200, "no content type: {}", reply.text());
    // Unknown fields are ignored; a null client_id is no client_id.
    ok_id(&post(
        &client,
        "bodies",
        &json!({"user": "ann", "text": "x", "extra": [1, 2]}),
    ));
    ok_id(&post(
        &client,
        "bodies",
        &json!({"user": "ann", "text": "x", "client_id": null}),
    ));
    for body in [
        &b""[..],
        b"not json",
        b"{",
        b"[]",
        b"null",
        b"\"text\"",
        b"{\"user\":\"ann\",\"text\":\"x\"} trailing",
        b"{\"user\":\"ann\",\"text\":\"\xff\"}",
    ] {
        let reply = client.post_with(
            "/api/rooms/bodies/messages",
            &[("content-type", "application/json")],
            body,
        );
        assert_error(&reply, 400, &String::from_utf8_lossy(body));
    }
    assert_eq!(last_id(&client, "bodies"), 8);
}

/// A valid post body of exactly `size` bytes (padded with JSON whitespace).
fn body_of(size: usize) -> Vec<u8> {
    let mut body = br#"{"user":"ann","text":"padded"}"#.to_vec();
    let pad = size - body.len();
    body.splice(1..1, std::iter::repeat_n(b' ', pad));
    assert_eq!(body.len(), size);
    body
}

#[test]
#[ignore = "needs workerd: see main.rs"]
fn bodies_up_to_64_kib_are_accepted_and_larger_ones_are_413() {
    let app = start();
    let client = app.worker.client();
    let base = app.worker.base_url();
    let path = "/api/rooms/sizes/messages";

    let reply = client.post_with(
        path,
        &[("content-type", "application/json")],
        &body_of(65_536),
    );
    ok_id(&reply);
    let reply = client.post_with(
        path,
        &[("content-type", "application/json")],
        &body_of(65_537),
    );
    assert_error(&reply, 413, "65,537 bytes with Content-Length");
    let reply = client.post_with(
        path,
        &[("content-type", "application/json")],
        &body_of(1 << 20),
    );
    assert_error(&reply, 413, "1 MiB with Content-Length");

    let head = format!(
        "POST {path} HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    );
    let (status, body) = raw_request(&base, &head, &chunked(&body_of(65_536)));
    assert_eq!(status, 200, "65,536 bytes chunked: {body}");
    let (status, body) = raw_request(&base, &head, &chunked(&body_of(65_537)));
    assert_eq!(status, 413, "65,537 bytes chunked: {body}");
    let body: Value = serde_json::from_str(&body).expect("a JSON error");
    assert!(body["error"]["code"].is_string(), "{body}");
    let (status, body) = raw_request(&base, &head, &chunked(&body_of(1 << 20)));
    assert_eq!(status, 413, "1 MiB chunked: {body}");

    assert_eq!(
        last_id(&client, "sizes"),
        2,
        "only the two bodies of 65,536 bytes"
    );
}
