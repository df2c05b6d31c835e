//! The counters index in Workers KV (local KV in workerd): `GET /counters` lists counters
//! from KV without waking them; entries converge to the last value after bursts; deleting a
//! counter removes its entry.
//!
//! Local KV is immediately consistent; what the tests wait for is the publish interval
//! (one write per counter per second), with a generous deadline for slow machines.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::counter::{add_ok, stats, value};
use crate::harness::Fixture;
use crate::http::Client;

const DEADLINE: Duration = Duration::from_secs(30);

/// One entry of `GET /counters`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Listed {
    pub name: String,
    pub value: i64,
    pub seq: u64,
    pub published_at_ms: u64,
}

#[derive(Debug, Deserialize)]
struct Page {
    counters: Vec<Listed>,
    skipped: Vec<SkippedEntry>,
    cursor: Option<String>,
}

/// An entry `GET /counters` left out because it does not decode.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read through Debug
struct SkippedEntry {
    name: String,
    error: String,
}

/// `GET <route>?<query>` as a page of entries; panics unless 200.
fn page(client: &Client, route: &str, query: &str) -> Page {
    let reply = client.get(&format!("{route}?{query}"));
    assert_eq!(reply.status, 200, "GET {route}?{query}: {:?}", reply.text());
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("GET {route}?{query}: not a page ({e}): {:?}", reply.text()))
}

/// Every entry of the index, following cursors.
fn list_all(client: &Client, route: &str, limit: usize) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = format!("limit={limit}");
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={c}"));
        }
        let p = page(client, route, &query);
        out.extend(p.counters);
        match p.cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// The entry of `name`, if listed.
fn entry(client: &Client, name: &str) -> Option<Listed> {
    page(client, "/counters", &format!("prefix={name}"))
        .counters
        .into_iter()
        .find(|e| e.name == name)
}

/// Polls until `check` holds for the entry of `name`; returns it and how long it took.
fn wait_for(
    client: &Client,
    name: &str,
    what: &str,
    check: impl Fn(Option<&Listed>) -> bool,
) -> (Option<Listed>, Duration) {
    let start = Instant::now();
    loop {
        let e = entry(client, name);
        if check(e.as_ref()) {
            return (e, start.elapsed());
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the index entry of {name} did not become {what} within {DEADLINE:?}; last: {e:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_value(client: &Client, name: &str, value: i64) -> (Listed, Duration) {
    let (e, took) = wait_for(client, name, &format!("{value}"), |e| {
        e.is_some_and(|e| e.value == value)
    });
    (e.expect("checked"), took)
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn a_burst_converges_to_the_last_value_with_about_one_write_per_second() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    let start = Instant::now();
    let mut last = 0;
    while start.elapsed() < Duration::from_secs(3) {
        last = add_ok(&client, "burst", 1);
    }
    let burst = start.elapsed();
    let (e, took) = wait_for_value(&client, "burst", last);
    assert_eq!(value(&client, "burst"), last);
    let s = stats(&client, "burst");
    let per_second = s.index_writes as f64 / (burst + took).as_secs_f64();
    println!(
        "burst: {last} adds in {burst:?}; the index showed the last value {took:?} after the \
         last add; {} KV writes (seq {}): {per_second:.2} writes/s",
        s.index_writes, e.seq
    );
    assert!(last > 10, "the burst made only {last} adds");
    // At most one write per second, plus the first one at once.
    let bound = (burst + took).as_secs() + 2;
    assert!(
        s.index_writes <= bound,
        "{} KV writes in {:?} (bound {bound})",
        s.index_writes,
        burst + took
    );
    assert!(
        took < Duration::from_secs(5),
        "converged only after {took:?}"
    );
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn listing_does_not_wake_the_counters() {
    const N: i64 = 5;
    let mut app = Fixture::new("counter");
    let client = app.worker.client();
    let names: Vec<String> = (0..N).map(|i| format!("quiet-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        add_ok(&client, name, i as i64 + 1);
    }
    for (i, name) in names.iter().enumerate() {
        wait_for_value(&client, name, i as i64 + 1);
    }
    // Reading stats wakes nothing up that was not up already, but does construct an
    // instance: read them only before and after.
    let before: Vec<_> = names.iter().map(|n| stats(&client, n)).collect();
    for _ in 0..3 {
        let listed = page(&client, "/counters", "prefix=quiet-").counters;
        assert_eq!(listed.len(), N as usize, "{listed:?}");
    }
    let after: Vec<_> = names.iter().map(|n| stats(&client, n)).collect();
    for ((name, b), a) in names.iter().zip(&before).zip(&after) {
        assert_eq!(
            (a.activations, a.calls),
            (b.activations, b.calls),
            "listing called {name}"
        );
    }

    // After a restart nothing is loaded; listing still returns every value and loads
    // nothing.
    app.worker.restart();
    let client = app.worker.client();
    let listed = page(&client, "/counters", "prefix=quiet-").counters;
    let values: Vec<(String, i64)> = listed.into_iter().map(|e| (e.name, e.value)).collect();
    let expected: Vec<(String, i64)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i as i64 + 1))
        .collect();
    assert_eq!(values, expected);
    for name in &names {
        let s = stats(&client, name);
        assert_eq!(
            (s.activations, s.calls),
            (0, 0),
            "{name} was loaded by a list: {s:?}"
        );
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn deleting_a_counter_removes_its_entry() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "doomed", 4);
    add_ok(&client, "kept", 5);
    let (first, _) = wait_for_value(&client, "doomed", 4);
    wait_for_value(&client, "kept", 5);
    let reply = client.delete("/counters/doomed");
    assert_eq!(reply.status, 200, "{:?}", reply.text());
    assert_eq!(value(&client, "doomed"), 0);
    wait_for(&client, "doomed", "absent", |e| e.is_none());
    assert_eq!(entry(&client, "kept").map(|e| e.value), Some(5));
    // A counter used again gets a new entry with a higher sequence number.
    add_ok(&client, "doomed", 1);
    let (again, _) = wait_for_value(&client, "doomed", 1);
    assert!(again.seq > first.seq, "{again:?} after {first:?}");
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn the_list_pages_by_cursor_and_checks_its_query() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    for i in 0..5 {
        add_ok(&client, &format!("p{i}"), 10 + i);
    }
    for i in 0..5 {
        wait_for_value(&client, &format!("p{i}"), 10 + i);
    }
    let first = page(&client, "/counters", "prefix=p&limit=2");
    assert_eq!(first.counters.len(), 2);
    let cursor = first.cursor.expect("more pages");
    let second = page(
        &client,
        "/counters",
        &format!("prefix=p&limit=2&cursor={cursor}"),
    );
    assert_eq!(second.counters[0].name, "p2");
    let all = list_all(&client, "/counters", 2);
    let values: Vec<i64> = all.iter().map(|e| e.value).collect();
    assert_eq!(values, [10, 11, 12, 13, 14]);
    for query in ["limit=0", "limit=1001", "limit=x", "nope=1"] {
        let reply = client.get(&format!("/counters?{query}"));
        assert_eq!(reply.status, 400, "{query}: {:?}", reply.text());
    }
    let reply = client.post("/counters", b"{}");
    assert_eq!(reply.status, 405, "{:?}", reply.text());
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn rebuilding_republishes_every_listed_counter() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    for i in 0..3 {
        add_ok(&client, &format!("r{i}"), 1);
    }
    let before: Vec<Listed> = (0..3)
        .map(|i| wait_for_value(&client, &format!("r{i}"), 1).0)
        .collect();
    let mut cursor = String::new();
    let mut republished = Vec::new();
    loop {
        let reply = client.post(&format!("/__test/rebuild?limit=2&cursor={cursor}"), b"");
        assert_eq!(reply.status, 200, "{:?}", reply.text());
        let body = reply.json();
        for name in body["republished"].as_array().expect("names") {
            republished.push(name.as_str().expect("a name").to_owned());
        }
        match body["cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(republished, ["r0", "r1", "r2"]);
    for b in &before {
        let (after, _) = wait_for(&client, &b.name, "republished", |e| {
            e.is_some_and(|e| e.seq > b.seq)
        });
        assert_eq!(after.expect("checked").value, 1);
    }
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn listing_100_counters_from_metadata_gives_what_a_get_per_key_gives() {
    const N: usize = 100;
    const ROUNDS: usize = 15;
    let app = Fixture::new("counter");
    let client = app.worker.client();
    for i in 0..N {
        add_ok(&client, &format!("m{i:03}"), i as i64 + 1);
    }
    let start = Instant::now();
    loop {
        let listed = page(&client, "/counters", "prefix=m&limit=100").counters;
        if listed.len() == N
            && listed
                .iter()
                .all(|e| e.name[1..].parse::<i64>().ok() == Some(e.value - 1))
        {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "only {} of {N} listed",
            listed.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let time = |route: &str| -> Duration {
        let mut samples: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                let p = page(&client, route, "prefix=m&limit=100");
                let took = t.elapsed();
                assert_eq!(p.counters.len(), N);
                took
            })
            .collect();
        samples.sort();
        samples[ROUNDS / 2]
    };
    // Warm both paths, then measure them alternately.
    time("/counters");
    time("/__test/counters");
    let fast = time("/counters");
    let slow = time("/__test/counters");
    println!(
        "listing {N} entries (median of {ROUNDS}): {fast:?} with the metadata fast path, \
         {slow:?} with a get per key: {:.1}x",
        slow.as_secs_f64() / fast.as_secs_f64()
    );
    assert_eq!(
        page(&client, "/counters", "prefix=m&limit=100").counters,
        page(&client, "/__test/counters", "prefix=m&limit=100").counters
    );
}

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn values_beyond_two_to_the_53_list_exactly() {
    let app = Fixture::new("counter");
    let client = app.worker.client();
    add_ok(&client, "extreme-min", i64::MIN);
    add_ok(&client, "extreme-max", i64::MAX);
    add_ok(&client, "extreme-odd", (1 << 53) + 1);
    add_ok(&client, "extreme-small", 3);
    for (name, value) in [
        ("extreme-min", i64::MIN),
        ("extreme-max", i64::MAX),
        ("extreme-odd", (1 << 53) + 1),
        ("extreme-small", 3),
    ] {
        wait_for_value(&client, name, value);
    }
    let p = page(&client, "/counters", "prefix=extreme-");
    assert!(p.skipped.is_empty(), "{:?}", p.skipped);
    let values: Vec<(String, i64)> = p.counters.into_iter().map(|e| (e.name, e.value)).collect();
    assert_eq!(
        values,
        [
            ("extreme-max".to_string(), i64::MAX),
            ("extreme-min".to_string(), i64::MIN),
            ("extreme-odd".to_string(), (1 << 53) + 1),
            ("extreme-small".to_string(), 3),
        ]
    );
}
