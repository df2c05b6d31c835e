//! What is and is not reachable from outside, and the storage operations per call.

use crate::counter::{add_ok, stats, value};
use crate::harness::Fixture;

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn test_routes_are_off_unless_enabled() {
    let app = Fixture::with_test_routes("counter", false);
    let client = app.worker.client();
    add_ok(&client, "c", 5);
    let body = rmp_serde::to_vec(&(1i64,)).expect("encode");
    let reply = client.post_with("/__test/raw/c/add", &[("x-duro-protocol", "1")], &body);
    assert_eq!(
        reply.status,
        404,
        "raw route without DURO_TEST_ROUTES: {:?}",
        reply.text()
    );
    let reply = client.get("/__test/stats/c");
    assert_eq!(
        reply.status,
        404,
        "stats route without DURO_TEST_ROUTES: {:?}",
        reply.text()
    );
    assert_eq!(value(&client, "c"), 5);
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn objects_are_not_reachable_from_outside() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "c", 5);
    let body = rmp_serde::to_vec(&(1i64,)).expect("encode");
    let headers = [("x-duro-protocol", "1"), ("x-duro-object", "c")];
    for path in ["/__duro/call/add", "/counters/c/__duro/call/add"] {
        let reply = client.post_with(path, &headers, &body);
        assert_eq!(reply.status, 404, "POST {path}: {:?}", reply.text());
    }
    assert_eq!(value(&client, "c"), 5);
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn storage_operations_per_call() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    for i in 1..=10 {
        assert_eq!(add_ok(&client, "s", 1), i);
    }
    for _ in 0..10 {
        assert_eq!(value(&client, "s"), 10);
    }
    // Adding 0 changes nothing, so nothing is written.
    assert_eq!(add_ok(&client, "s", 0), 10);
    let s = stats(&client, "s");
    assert_eq!(s.activations, 1, "one activation for all calls: {s:?}");
    assert_eq!(
        s.storage_reads, s.activations,
        "one read per activation: {s:?}"
    );
    // Publishing the index entry costs one storage write per KV write, on top.
    assert_eq!(
        s.storage_writes - s.index_writes,
        10,
        "one write per changing add, none for reads or add 0: {s:?}"
    );
    assert!(s.calls >= 21, "21 calls were made: {s:?}");
}
