//! Calls between objects from inside their turns, in workerd: a call that would come back
//! to an object waiting in its chain fails fast, and two objects waiting on each other
//! fail at the call deadline instead of wedging.

use std::time::{Duration, Instant};

use crate::counter::{add_ok, expect_json_error, expect_value, value};
use crate::harness::Fixture;
use crate::http::{Client, Reply};

/// `POST /counters/<name>/transfer` with `{"to": to, "by": by}`.
fn transfer(client: &Client, name: &str, to: &str, by: i64) -> Reply {
    let body = serde_json::json!({ "to": to, "by": by }).to_string();
    client.post(&format!("/counters/{name}/transfer"), body.as_bytes())
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn transfers_move_value_between_objects() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "from", 10);
    let reply = transfer(&client, "from", "to", 4);
    assert_eq!(expect_value(&reply, "transfer"), 6);
    assert_eq!(value(&client, "to"), 4);
    // The receiving side refuses (overflow): the sender keeps its value.
    add_ok(&client, "full", i64::MAX);
    let reply = transfer(&client, "from", "full", 1);
    assert_eq!(
        expect_json_error(&reply, 422, "overflowing transfer"),
        "user"
    );
    assert_eq!(value(&client, "from"), 6);
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_call_cycle_fails_fast_and_wedges_nothing() {
    let app = Fixture::with_vars("counter", &[("DURO_LOG", "warn")]);
    let client = app.worker.client();
    add_ok(&client, "loop", 5);
    let started = Instant::now();
    let reply = transfer(&client, "loop", "loop", 1);
    let code = expect_json_error(&reply, 508, "transfer to itself");
    assert_eq!(code, "call_cycle");
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("Counter/loop → Counter/loop"),
        "the message names the chain: {message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a cycle fails fast, not at a deadline ({:?})",
        started.elapsed()
    );
    // Rolled back, and the object still answers.
    assert_eq!(value(&client, "loop"), 5);
    assert_eq!(add_ok(&client, "loop", 1), 6);
    let line = app.wait_for_log("duro call refused", 8);
    assert!(
        line.as_deref().is_some_and(|l| l.contains("call cycle")),
        "the cycle is logged at warn: {line:?}\n{}",
        app.worker.log()
    );
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn objects_waiting_on_each_other_fail_at_the_deadline() {
    let app = Fixture::with_vars("counter", &[("DURO_CALL_TIMEOUT_MS", "2000")]);
    let client = app.worker.client();
    add_ok(&client, "east", 100);
    add_ok(&client, "west", 100);
    // Each transfer holds its counter's turn while it waits for the other's `add`.
    let started = Instant::now();
    let (a, b) = std::thread::scope(|scope| {
        let c1 = client.clone();
        let c2 = client.clone();
        let a = scope.spawn(move || transfer(&c1, "east", "west", 1));
        let b = scope.spawn(move || transfer(&c2, "west", "east", 1));
        (a.join().unwrap(), b.join().unwrap())
    });
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(20),
        "both transfers returned, in {elapsed:?}"
    );
    let statuses = [a.status, b.status];
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 504),
        "each transfer either went through or hit its deadline: {} {:?} / {} {:?}",
        a.status,
        a.text(),
        b.status,
        b.text()
    );
    if a.status == 200 && b.status == 200 {
        // They did not overlap (the machine was slow to start the second): nothing to
        // show, but nothing wedged either.
        eprintln!("the two transfers did not overlap");
    } else {
        let failed = if a.status == 504 { &a } else { &b };
        assert_eq!(
            expect_json_error(failed, 504, "deadlocked transfer"),
            "deadline_exceeded"
        );
        let line = app.wait_for_log("duro call deadline passed", 8);
        assert!(
            line.as_deref()
                .is_some_and(|l| l.contains("deadline_exceeded")),
            "logged at warn: {line:?}\n{}",
            app.worker.log()
        );
    }
    // Nothing is wedged: both answer at once.
    let started = Instant::now();
    value(&client, "east");
    value(&client, "west");
    add_ok(&client, "east", 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}
