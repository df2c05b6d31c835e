//! State survives stopping workerd, and a crash loses no acknowledged write.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::counter::{add, add_ok, raw_ok, value};
use crate::harness::Fixture;

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn values_survive_a_restart() {
    let mut app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "kept", 5);
    add_ok(&client, "kept", 7);
    add_ok(&client, "other", -3);

    app.worker.restart();
    let client = app.worker.client();
    assert_eq!(value(&client, "kept"), 12, "after the first restart");
    assert_eq!(value(&client, "other"), -3, "after the first restart");
    assert_eq!(add_ok(&client, "kept", 1), 13);

    app.worker.restart();
    let client = app.worker.client();
    assert_eq!(value(&client, "kept"), 13, "after the second restart");
    let via_raw: i64 = raw_ok(
        &client,
        "kept",
        "get",
        &rmp_serde::to_vec(&()).expect("encode"),
    );
    assert_eq!(via_raw, 13, "raw get after the second restart");
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_crash_mid_load_loses_no_acknowledged_write() {
    const CLIENTS: usize = 8;
    let mut app = Fixture::new("counter");
    let client = app.worker.client();
    let sent = AtomicU64::new(0);
    let acknowledged = AtomicU64::new(0);
    let stop = AtomicBool::new(false);

    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            let client = client.clone();
            let (sent, acknowledged, stop) = (&sent, &acknowledged, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    sent.fetch_add(1, Ordering::SeqCst);
                    let body = br#"{"by":1}"#;
                    match client.try_post_with("/counters/load/add", &[], body) {
                        Ok(reply) if reply.status == 200 => {
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                        // The worker is gone (or answering errors while it dies).
                        _ => break,
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(2));
        // SIGKILL to wrangler and workerd while the clients are mid-request.
        app.worker.kill();
        stop.store(true, Ordering::SeqCst);
    });

    let sent = sent.load(Ordering::SeqCst);
    let acknowledged = acknowledged.load(Ordering::SeqCst);
    assert!(acknowledged > 0, "no add was acknowledged before the kill");

    app.worker.restart();
    let client = app.worker.client();
    let after = u64::try_from(value(&client, "load")).expect("the value is not negative");
    assert!(
        (acknowledged..=sent).contains(&after),
        "after the crash the value is {after}; {acknowledged} adds were acknowledged, {sent} sent"
    );
    // And the counter still works.
    let next = add(&client, "load", 1);
    assert_eq!(next.status, 200, "{:?}", next.text());
}
