//! The counter's public HTTP API: happy paths and every documented error status.

use crate::counter::{add, add_ok, expect_json_error, expect_value, reset, value};
use crate::harness::Fixture;

const MIB: usize = 1 << 20;

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_new_counter_is_zero_and_names_are_independent() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    assert_eq!(value(&client, "fresh"), 0);
    assert_eq!(add_ok(&client, "a", 3), 3);
    assert_eq!(add_ok(&client, "b", -4), -4);
    assert_eq!(value(&client, "a"), 3);
    assert_eq!(value(&client, "b"), -4);
    assert_eq!(value(&client, "fresh"), 0);
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn add_get_and_reset() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    assert_eq!(add_ok(&client, "c", 2), 2);
    assert_eq!(add_ok(&client, "c", 40), 42);
    assert_eq!(add_ok(&client, "c", -50), -8);
    assert_eq!(add_ok(&client, "c", 0), -8);
    assert_eq!(value(&client, "c"), -8);
    assert_eq!(expect_value(&reset(&client, "c"), "reset c"), 0);
    assert_eq!(value(&client, "c"), 0);
    assert_eq!(add_ok(&client, "c", 1), 1);
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn bad_json_is_400_and_changes_nothing() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "c", 5);
    for body in [
        "",
        "{",
        "{\"by\":}",
        "not json",
        "{\"by\":1} trailing",
        "\u{0}\u{1}",
    ] {
        let reply = client.post("/counters/c/add", body.as_bytes());
        expect_json_error(&reply, 400, &format!("add with body {body:?}"));
        assert_eq!(value(&client, "c"), 5, "after add with body {body:?}");
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn wrong_types_are_400_and_change_nothing() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "c", 5);
    for body in [
        r#"{"by":"2"}"#,
        r#"{"by":1.5}"#,
        r#"{"by":null}"#,
        r#"{"by":true}"#,
        r#"{"by":[1]}"#,
        r#"{"by":9223372036854775808}"#,
        r#"{"by":-9223372036854775809}"#,
        r#"{}"#,
        r#"[]"#,
        r#""by""#,
        r#"7"#,
    ] {
        let reply = client.post("/counters/c/add", body.as_bytes());
        expect_json_error(&reply, 400, &format!("add with body {body}"));
        assert_eq!(value(&client, "c"), 5, "after add with body {body}");
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn an_array_is_not_the_add_object() {
    // serde accepts a struct as a JSON array of its fields; the API documents an object.
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "c", 5);
    for body in ["[1]", "[1,2]"] {
        let reply = client.post("/counters/c/add", body.as_bytes());
        expect_json_error(&reply, 400, &format!("add with body {body}"));
        assert_eq!(value(&client, "c"), 5, "after add with body {body}");
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn unknown_routes_are_404() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "c", 5);
    // `GET /` is the app's index, so it is not in this list.
    for path in [
        "/nope",
        "/counterz",
        "/counters/c/add/more",
        "/counters/c/frobnicate",
    ] {
        let reply = client.get(path);
        assert_eq!(reply.status, 404, "GET {path}: {:?}", reply.text());
    }
    for path in [
        "/",
        "/counters/c/frobnicate",
        "/counters/c/add/more",
        "/counters/c/get",
    ] {
        let reply = client.post(path, br#"{"by":1}"#);
        assert_eq!(reply.status, 404, "POST {path}: {:?}", reply.text());
    }
    assert_eq!(value(&client, "c"), 5);
}

/// `{"by":1}` padded with JSON whitespace to exactly `len` bytes: valid JSON of any size.
fn padded_add_one(len: usize) -> Vec<u8> {
    let mut body = br#"{"by":1}"#.to_vec();
    body.resize(len, b' ');
    body
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn bodies_over_1_mib_are_413_and_change_nothing() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "c", 5);
    for len in [MIB + 1, 4 * MIB] {
        let reply = client.post("/counters/c/add", &padded_add_one(len));
        expect_json_error(&reply, 413, &format!("add with a {len}-byte body"));
        assert_eq!(value(&client, "c"), 5, "after a {len}-byte body");
    }
    // The limit itself is allowed.
    let reply = client.post("/counters/c/add", &padded_add_one(MIB));
    assert_eq!(
        expect_value(&reply, "add with a body of exactly 1 MiB"),
        6,
        "a body of exactly 1 MiB is within the limit"
    );
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn names_must_be_1_to_128_safe_characters() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    let longest = "n".repeat(128);
    for name in [
        "a",
        "Z",
        "0",
        "A-z_0.9",
        "with.dots-and_underscores",
        &longest,
    ] {
        assert_eq!(add_ok(&client, name, 1), 1, "valid name {name:?}");
        assert_eq!(value(&client, name), 1, "valid name {name:?}");
    }
    let too_long = "n".repeat(129);
    for name in [
        "",
        &too_long,
        "a%20b",
        "a%2Fb",
        "caf%C3%A9",
        "a$b",
        "a~b",
        "a%00",
    ] {
        let what = format!("add to the name {name:?}");
        expect_json_error(&add(&client, name, 1), 400, &what);
        if !name.is_empty() {
            let reply = client.get(&format!("/counters/{name}"));
            expect_json_error(&reply, 400, &format!("get the name {name:?}"));
            expect_json_error(
                &reset(&client, name),
                400,
                &format!("reset the name {name:?}"),
            );
        }
    }
    // 128 chars was accepted and 129 was not: the longest name still holds its value.
    assert_eq!(value(&client, &longest), 1);
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn overflow_is_422_user_and_changes_nothing() {
    let app = Fixture::new("counter");
    let client = app.worker.client();

    assert_eq!(add_ok(&client, "high", i64::MAX), i64::MAX);
    for by in [1, i64::MAX] {
        let code = expect_json_error(&add(&client, "high", by), 422, &format!("add {by} to MAX"));
        assert_eq!(code, "user", "add {by} to MAX");
        assert_eq!(value(&client, "high"), i64::MAX);
    }
    assert_eq!(add_ok(&client, "high", -1), i64::MAX - 1);

    assert_eq!(add_ok(&client, "low", i64::MIN), i64::MIN);
    for by in [-1, i64::MIN] {
        let code = expect_json_error(&add(&client, "low", by), 422, &format!("add {by} to MIN"));
        assert_eq!(code, "user", "add {by} to MIN");
        assert_eq!(value(&client, "low"), i64::MIN);
    }
    assert_eq!(add_ok(&client, "low", i64::MAX), -1);
}

/// Polls the worker's output for `needle` for up to five seconds (console lines reach
/// wrangler's output asynchronously); returns the text from the line holding it through the
/// `following` lines after (tracing-wasm writes an event's fields one per line).
#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_failed_call_is_logged_with_its_fields_at_the_chosen_level() {
    // At the default level (warn) a user error is not logged.
    let quiet = Fixture::new("counter");
    let client = quiet.worker.client();
    assert_eq!(add_ok(&client, "loud", i64::MAX), i64::MAX);
    expect_json_error(&add(&client, "loud", 1), 422, "overflow");
    assert_eq!(quiet.wait_for_log("duro call failed", 0), None);
    drop(quiet);

    // With DURO_LOG=debug it is, with the class, the object, the method and the outcome.
    let app = Fixture::with_vars("counter", &[("DURO_LOG", "debug")]);
    let client = app.worker.client();
    assert_eq!(add_ok(&client, "loud", i64::MAX), i64::MAX);
    expect_json_error(&add(&client, "loud", 1), 422, "overflow");
    let line = app.wait_for_log("duro call failed", 8).unwrap_or_else(|| {
        panic!(
            "no log line for the failed call; the worker printed:\n{}",
            app.worker.log()
        )
    });
    for part in [
        "DEBUG ",
        "adding 1 to 9223372036854775807 leaves the i64 range",
        "class = \"Counter\";",
        "object = \"loud\";",
        "method = \"add\";",
        "outcome = \"user\";",
    ] {
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
}
