//! An object's own route in workerd: notes-v2's `/notes/<name>/text`, which the worker
//! forwards with `duro::forward` to the note's `duro::Fetch` handler. What a request
//! changes is saved before its response (calls see it, a restart keeps it); a handler's
//! `Err` rolls its change back and answers with the JSON error. notes-v1's note, without a
//! handler, answers the same route with 404.

use crate::harness::{app, Worker};

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_note_s_own_route_saves_what_it_changes_and_rolls_back_its_errors() {
    let state = tempfile::Builder::new()
        .prefix("duro-e2e-state-")
        .tempdir()
        .expect("create a state folder");
    let mut worker = Worker::start(&app("notes-v2"), state.path(), false, &[]);
    let client = worker.client();

    let reply = client.post("/notes/a/text", b"first line");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let note = reply.json();
    assert_eq!(
        (note["schema"].as_u64(), note["words"].as_u64()),
        (Some(2), Some(2))
    );
    let reply = client.post("/notes/a/text", b"second");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["text"], "first line\nsecond");

    // The handler's response, headers included, as it made it.
    let reply = client.get("/notes/a/text");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "first line\nsecond");
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(reply.header("x-note-words"), Some("3"));

    // What the route saved is what the object's RPC methods see.
    let reply = client.get("/notes/a");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["text"], "first line\nsecond");

    // Over the word limit: the handler appended, then returned `Err`; nothing stays.
    let long = "word ".repeat(1000);
    let reply = client.post("/notes/a/text", long.as_bytes());
    assert_eq!(reply.status, 400, "{}", reply.text());
    let error = reply.json();
    assert_eq!(error["error"]["code"], "bad_request", "{error}");
    assert_eq!(
        error["error"]["message"], "a note holds at most 1000 words",
        "{error}"
    );
    // A body that is not text is refused the same way.
    let reply = client.post("/notes/a/text", &[0xff, 0xfe]);
    assert_eq!(reply.status, 400, "{}", reply.text());
    // A method the route does not take: the handler's own answer.
    let reply = client.delete("/notes/a/text");
    assert_eq!(reply.status, 405, "{}", reply.text());
    assert_eq!(reply.header("allow"), Some("GET, POST"));
    assert_eq!(reply.json()["error"]["code"], "method_not_allowed");

    // Saved before the responses left: a restart keeps it, without the refused lines.
    worker.restart();
    let client = worker.client();
    let reply = client.get("/notes/a/text");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "first line\nsecond");
    assert_eq!(client.get("/notes/a").json()["words"], 3);
    worker.stop();

    // notes-v1's note has no handler: the route it forwards the same way answers 404.
    let v1 = Worker::start(&app("notes-v1"), state.path(), false, &[]);
    let reply = v1.client().get("/notes/a/text");
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "unknown_method");
}
