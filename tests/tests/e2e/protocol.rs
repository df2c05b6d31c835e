//! The object's wire protocol, reached through the test-only raw route: every bad input
//! gets its documented status and code and leaves the state unchanged.

use crate::counter::{add_ok, expect_wire_error, raw, raw_ok, value};
use crate::harness::Fixture;
use crate::http::Client;

const MIB: usize = 1 << 20;

fn encode<T: serde::Serialize>(args: &T) -> Vec<u8> {
    rmp_serde::to_vec(args).expect("encode arguments")
}

/// Asserts the counter `name` still holds `expected`, through the public API and the
/// raw route.
fn assert_unchanged(client: &Client, name: &str, expected: i64, after: &str) {
    assert_eq!(value(client, name), expected, "GET after {after}");
    let raw_value: i64 = raw_ok(client, name, "get", &encode(&()));
    assert_eq!(raw_value, expected, "raw get after {after}");
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn raw_calls_round_trip() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    let got: i64 = raw_ok(&client, "r", "get", &encode(&()));
    assert_eq!(got, 0);
    let added: i64 = raw_ok(&client, "r", "add", &encode(&(5i64,)));
    assert_eq!(added, 5);
    let added: i64 = raw_ok(&client, "r", "add", &encode(&(-7i64,)));
    assert_eq!(added, -2);
    assert_unchanged(&client, "r", -2, "raw adds");
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn malformed_messagepack_is_400_bad_request() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "r", 5);
    let cases: [(&str, &[u8]); 6] = [
        ("an empty body", b""),
        ("the reserved byte 0xc1", &[0xc1]),
        ("a truncated array", &[0x91]),
        ("a truncated i64", &[0x91, 0xd3, 0x00]),
        (
            "an array claiming 4 billion items",
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
        ),
        ("text", b"hello, object"),
    ];
    for (what, body) in cases {
        let reply = raw(&client, "r", "add", Some("1"), body);
        let error = expect_wire_error(&reply, 400, "bad_request", &format!("add with {what}"));
        assert!(
            !error.retryable,
            "add with {what}: a bad request is not retryable"
        );
        assert_unchanged(&client, "r", 5, what);
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn wrong_argument_types_are_400_bad_request() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "r", 5);
    let cases: [(&str, Vec<u8>); 7] = [
        ("a string", encode(&("five",))),
        ("a float", encode(&(1.5f64,))),
        ("a bool", encode(&(true,))),
        ("a u64 above i64::MAX", encode(&(u64::MAX,))),
        ("no arguments", encode(&())),
        ("a bare i64, not a tuple", encode(&5i64)),
        (
            "a map",
            encode(&std::collections::BTreeMap::from([("by", 5i64)])),
        ),
    ];
    for (what, body) in cases {
        let reply = raw(&client, "r", "add", Some("1"), &body);
        expect_wire_error(&reply, 400, "bad_request", &format!("add with {what}"));
        assert_unchanged(&client, "r", 5, what);
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn unknown_methods_are_404_unknown_method() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "r", 5);
    for method in ["nope", "ADD", "add_", "__proto__", "constructor"] {
        let reply = raw(&client, "r", method, Some("1"), &encode(&(1i64,)));
        expect_wire_error(&reply, 404, "unknown_method", &format!("method {method:?}"));
        assert_unchanged(&client, "r", 5, &format!("method {method:?}"));
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn bodies_over_1_mib_are_413_payload_too_large() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "r", 5);
    // A valid call followed by padding: only the size is wrong.
    let mut body = encode(&(1i64,));
    body.resize(MIB + 1, 0);
    let reply = raw(&client, "r", "add", Some("1"), &body);
    expect_wire_error(&reply, 413, "payload_too_large", "add with 1 MiB + 1 byte");
    assert_unchanged(&client, "r", 5, "1 MiB + 1 byte");

    // At the limit the body is decoded (and rejected as malformed, not as too large).
    let reply = raw(&client, "r", "add", Some("1"), &vec![0xc1; MIB]);
    expect_wire_error(&reply, 400, "bad_request", "add with exactly 1 MiB of 0xc1");
    assert_unchanged(&client, "r", 5, "exactly 1 MiB");
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn missing_or_wrong_protocol_versions_are_400_unsupported_protocol() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "r", 5);
    let body = encode(&(1i64,));
    for protocol in [
        None,
        Some("0"),
        Some("2"),
        Some("1.0"),
        Some("v1"),
        Some("11"),
    ] {
        let what = format!("add with protocol header {protocol:?}");
        let reply = raw(&client, "r", "add", protocol, &body);
        expect_wire_error(&reply, 400, "unsupported_protocol", &what);
        assert_unchanged(&client, "r", 5, &what);
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_user_error_is_422_with_its_data_and_changes_nothing() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "r", i64::MAX);
    let reply = raw(&client, "r", "add", Some("1"), &encode(&(1i64,)));
    let error = expect_wire_error(&reply, 422, "user", "add past i64::MAX");
    assert!(
        error.data.as_ref().is_some_and(|d| !d.is_empty()),
        "a user error carries the user's encoded error in `data`: {error:?}"
    );
    assert!(!error.retryable, "a user error is not retryable: {error:?}");
    assert_unchanged(&client, "r", i64::MAX, "add past i64::MAX");
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_panic_loses_nothing_saved_and_the_next_call_works() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "p", 5);
    add_ok(&client, "other", 7);
    // The method adds, then panics: the wasm instance is reset and the addition, never
    // saved, is gone. The caller gets an error reply, not a hang.
    let reply = raw(
        &client,
        "p",
        "add_then_panic",
        Some("1"),
        &encode(&(100i64,)),
    );
    assert!(
        reply.status >= 500,
        "a panicking call: expected a 5xx, got {} {:?}",
        reply.status,
        reply.text()
    );
    assert_unchanged(&client, "p", 5, "a panic");
    // Every object of the isolate reloads its state from storage after the reset.
    assert_unchanged(&client, "other", 7, "another object's panic");
    add_ok(&client, "p", 1);
    assert_unchanged(&client, "p", 6, "an add after the panic");
}
