//! bench/scale in workerd: a `duro::Log` and a `duro::Map` survive a restart, a failed
//! batch leaves the log as it was, and ranges come back in id order.

use serde_json::{json, Value};

use crate::harness::{root, Worker};
use crate::http::Client;

fn post(client: &Client, path: &str, body: Value) -> (u16, Value) {
    let reply = client.post(path, body.to_string().as_bytes());
    (reply.status, reply.json())
}

fn ok(client: &Client, path: &str, body: Value) -> Value {
    let (status, reply) = post(client, path, body);
    assert_eq!(status, 200, "POST {path}: {reply}");
    reply
}

fn get(client: &Client, path: &str) -> Value {
    let reply = client.get(path);
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
    reply.json()
}

fn ids(page: &Value) -> Vec<u64> {
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["id"].as_u64().expect("an id"))
        .collect()
}

fn start(state: &std::path::Path) -> Worker {
    Worker::start(&root().join("bench").join("scale"), state, true, &[])
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn scale_collections_survive_a_restart_and_failed_batches_keep_nothing() {
    let state = tempfile::Builder::new()
        .prefix("duro-e2e-state-")
        .tempdir()
        .expect("a state folder");
    let mut worker = start(state.path());
    let client = worker.client();

    assert_eq!(
        ok(&client, "/log/j/fill", json!({"count": 1000}))["len"],
        1000
    );
    assert_eq!(
        ok(&client, "/log/j/append", json!({"text": "last"}))["id"],
        1001
    );
    let before = get(&client, "/log/j");
    assert_eq!(before, json!({"len": 1001, "last_id": 1001}));

    // A batch with an empty text: 422, and nothing of it is kept.
    let (status, reply) = post(
        &client,
        "/log/j/append-batch",
        json!({"texts": ["a", "b", ""]}),
    );
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["error"]["code"], "user", "{reply}");
    assert_eq!(get(&client, "/log/j"), before);
    let tail = get(&client, "/log/j/range?after=999&limit=10");
    assert_eq!(
        tail,
        json!({"entries": [{"id": 1000, "text": "entry 1000"}, {"id": 1001, "text": "last"}]})
    );
    assert_eq!(
        ok(&client, "/log/j/append-batch", json!({"texts": ["x", "y"]}))["len"],
        1003
    );

    // Ranges: ids in order, across the stored entries.
    let page = get(&client, "/log/j/range?after=10&limit=1000");
    let got = ids(&page);
    assert_eq!(got.len(), 993);
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "ids out of order");
    assert_eq!((got[0], got[992]), (11, 1003));
    assert_eq!(page["entries"][0]["text"], "entry 11");

    // A push writes its entry and the header, not the log.
    let stats = |client: &Client| get(client, "/__test/stats/log/j");
    let s0 = stats(&client);
    ok(&client, "/log/j/append", json!({"text": "one more"}));
    let s1 = stats(&client);
    assert_eq!(
        s1["keys_put"].as_u64().unwrap() - s0["keys_put"].as_u64().unwrap(),
        2,
        "{s0} → {s1}"
    );

    // The board: a map.
    assert_eq!(
        ok(&client, "/board/b/fill", json!({"count": 500, "seed": 3}))["players"],
        500
    );
    let top = ok(
        &client,
        "/board/b/score",
        json!({"player": "ana", "score": 2_000_000}),
    );
    assert_eq!(top["rank"], 1, "{top}");
    assert_eq!(top["top"].as_array().unwrap().len(), 10);

    worker.restart();
    let client = worker.client();
    assert_eq!(
        get(&client, "/log/j"),
        json!({"len": 1004, "last_id": 1004})
    );
    assert_eq!(
        get(&client, "/log/j/range?after=1002&limit=5"),
        json!({"entries": [{"id": 1003, "text": "y"}, {"id": 1004, "text": "one more"}]})
    );
    // Still 501 players and ana first: a new score ranks against the stored ones.
    let reply = ok(
        &client,
        "/board/b/score",
        json!({"player": "bo", "score": 0}),
    );
    assert_eq!(
        reply["top"][0],
        json!({"player": "ana", "score": 2_000_000})
    );
    assert_eq!(reply["rank"], 502, "{reply}");
    assert_eq!(
        ok(&client, "/board/b/fill", json!({"count": 1, "seed": 3}))["players"],
        503
    );
    // Bad input.
    let (status, reply) = post(&client, "/log/j/fill", json!({"count": 0}));
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["error"]["code"], "bad_request");
    assert_eq!(client.get("/nowhere").status, 404);
}
