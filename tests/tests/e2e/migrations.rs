//! State migrations and cron timers in workerd: two builds of one object, `notes-v1`
//! (schema 1) and `notes-v2` (schema 2, `migrate = [v1::Note]`, a cron timer), run one
//! after the other on one state folder, as a deploy (and a rollback) would.
//!
//! Timing: the cron test waits at most [`DEADLINE`] for two runs of a once-a-second
//! schedule.

use std::time::{Duration, Instant};

use crate::harness::{app, Worker};
use crate::http::Client;

const DEADLINE: Duration = Duration::from_secs(30);

fn get(client: &Client, name: &str) -> serde_json::Value {
    let reply = client.get(&format!("/notes/{name}"));
    assert_eq!(reply.status, 200, "GET: {:?}", reply.text());
    reply.json()
}

fn set(client: &Client, name: &str, text: &str) -> (u16, serde_json::Value) {
    let reply = client.post(&format!("/notes/{name}"), text.as_bytes());
    (reply.status, reply.json())
}

fn state_folder() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("duro-e2e-state-")
        .tempdir()
        .expect("create a state folder")
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn v1_state_is_migrated_by_v2_and_v1_then_reads_but_does_not_write() {
    let state = state_folder();
    let mut v1 = Worker::start(&app("notes-v1"), state.path(), false, &[]);
    let (status, note) = set(&v1.client(), "a", "hello brave new world");
    assert_eq!(status, 200, "{note}");
    assert_eq!(note["schema"], 1);
    v1.stop();

    // v2 reads schema 1's state through its migration (the word count comes from it).
    let mut v2 = Worker::start(&app("notes-v2"), state.path(), false, &[]);
    let note = get(&v2.client(), "a");
    assert_eq!(note["schema"], 2, "{note}");
    assert_eq!(note["text"], "hello brave new world");
    assert_eq!(note["words"], 4, "{note}");
    // Reads did not save it: v1 still writes it (it would refuse schema 2's state).
    v2.stop();
    let mut v1 = Worker::start(&app("notes-v1"), state.path(), false, &[]);
    let (status, note) = set(&v1.client(), "a", "hello brave new world");
    assert_eq!(status, 200, "{note}");
    v1.stop();

    // A v2 write saves the migrated state as schema 2.
    let mut v2 = Worker::start(&app("notes-v2"), state.path(), false, &[]);
    let (status, note) = set(&v2.client(), "a", "two words");
    assert_eq!(status, 200, "{note}");
    assert_eq!(note["words"], 2);
    v2.stop();

    // v1 again, as while both versions run during a gradual deploy: it reads schema 2's
    // state (its fields are a subset) and refuses to overwrite it.
    let v1 = Worker::start(&app("notes-v1"), state.path(), false, &[]);
    let note = get(&v1.client(), "a");
    assert_eq!(
        (note["schema"].as_u64(), note["text"].as_str()),
        (Some(1), Some("two words"))
    );
    let (status, reply) = set(&v1.client(), "a", "lost");
    assert_eq!(status, 409, "{reply}");
    assert_eq!(reply["error"]["code"], "schema_conflict", "{reply}");
    drop(v1);

    // Nothing was lost.
    let v2 = Worker::start(&app("notes-v2"), state.path(), false, &[]);
    let note = get(&v2.client(), "a");
    assert_eq!(
        (note["text"].as_str(), note["words"].as_u64()),
        (Some("two words"), Some(2))
    );
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_cron_timer_fires_on_its_schedule() {
    let state = state_folder();
    let v2 = Worker::start(&app("notes-v2"), state.path(), false, &[]);
    let client = v2.client();
    let bad = client.post("/notes/c/cron", b"61 * * * *");
    assert_eq!(bad.status, 400, "{:?}", bad.text());
    // Every second (six fields: seconds first).
    let reply = client.post("/notes/c/cron", b"* * * * * *");
    assert_eq!(reply.status, 200, "{:?}", reply.text());
    let started = Instant::now();
    let ticks = loop {
        let ticks: Vec<u64> =
            serde_json::from_value(get(&client, "c")["ticks"].clone()).expect("ticks are numbers");
        if ticks.len() >= 2 {
            break ticks;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the cron timer ran {} times in {DEADLINE:?}",
            ticks.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Each run is at or after a whole second, and the second is later than the first.
    assert!(ticks[1] > ticks[0], "{ticks:?}");
    assert!(ticks[1] / 1000 > ticks[0] / 1000, "{ticks:?}");
}
