//! The reader over a `MemoryKv` holding records as the publisher writes them.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use duro_index::{record, Index, Kv, MemoryKv};
use futures::executor::block_on;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Summary {
    value: i64,
    note: String,
}

fn kv() -> (Rc<Cell<u64>>, Rc<MemoryKv>) {
    let now = Rc::new(Cell::new(1_735_689_600_000));
    let clock = now.clone();
    let kv = Rc::new(MemoryKv::new(move || clock.get()));
    kv.set_rate_limit(false);
    (now, kv)
}

fn publish(kv: &MemoryKv, index: &str, name: &str, seq: u64, summary: &Summary) {
    let bytes = record::encode_projection(summary).unwrap();
    let e = record::encode(seq, 1_735_689_600_000 + seq, &bytes).unwrap();
    block_on(kv.put(&duro_index::key(index, name), e.value, Some(e.metadata))).unwrap();
}

fn summary(value: i64, note_len: usize) -> Summary {
    Summary {
        value,
        note: "n".repeat(note_len),
    }
}

#[test]
fn get_reads_one_entry() {
    let (_, kv) = kv();
    publish(&kv, "things", "a", 7, &summary(3, 0));
    let index = Index::<Summary>::with_kv(kv.clone(), "things").unwrap();
    let e = block_on(index.get("a")).unwrap().unwrap();
    assert_eq!((e.name.as_str(), e.seq, e.value.value), ("a", 7, 3));
    assert_eq!(e.published_at_ms(), 1_735_689_600_007);
    assert_eq!(block_on(index.get("b")).unwrap(), None);
    // Another index in the same namespace is separate.
    let other = Index::<Summary>::with_kv(kv, "others").unwrap();
    assert_eq!(block_on(other.get("a")).unwrap(), None);
}

#[test]
fn small_entries_list_from_metadata_large_ones_fall_back_to_gets() {
    let (_, kv) = kv();
    for i in 0..10 {
        // Every third entry is too large for the metadata.
        let note = if i % 3 == 0 { 2_000 } else { 10 };
        publish(
            &kv,
            "things",
            &format!("n{i}"),
            i + 1,
            &summary(i as i64, note),
        );
    }
    let index = Index::<Summary>::with_kv(kv.clone(), "things").unwrap();
    let page = block_on(index.list("", None, 100)).unwrap();
    assert_eq!(page.entries.len(), 10);
    assert_eq!(page.cursor, None);
    for (i, e) in page.entries.iter().enumerate() {
        assert_eq!(e.name, format!("n{i}"));
        assert_eq!(e.value.value, i as i64);
        assert_eq!(e.seq, i as u64 + 1);
    }
    assert_eq!(kv.stats().lists, 1);
    assert_eq!(
        kv.stats().gets,
        4,
        "one get per large entry (n0, n3, n6, n9)"
    );

    // Without the metadata fast path: one get per entry.
    let slow = index.clone().use_metadata(false);
    let again = block_on(slow.list("", None, 100)).unwrap();
    assert_eq!(again, page);
    assert_eq!(kv.stats().gets, 4 + 10);
}

#[test]
fn pages_by_cursor_and_prefix() {
    let (_, kv) = kv();
    for name in ["apple", "apricot", "banana", "avocado", "blueberry"] {
        publish(&kv, "fruit", name, 1, &summary(name.len() as i64, 0));
    }
    publish(&kv, "fruits", "apple", 1, &summary(0, 0));
    let index = Index::<Summary>::with_kv(kv, "fruit").unwrap();
    let p1 = block_on(index.list("a", None, 2)).unwrap();
    let names: Vec<&str> = p1.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["apple", "apricot"]);
    let p2 = block_on(index.list("a", p1.cursor.as_deref(), 2)).unwrap();
    let names: Vec<&str> = p2.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["avocado"]);
    assert_eq!(p2.cursor, None);
    assert_eq!(
        block_on(index.list("", None, 1000)).unwrap().entries.len(),
        5
    );
    assert!(block_on(index.list("", None, 0)).is_err());
    assert!(block_on(index.list("", None, 1001)).is_err());
}

#[test]
fn stale_reads_show_the_older_version() {
    let (now, kv) = kv();
    kv.set_delay(Duration::from_secs(30));
    publish(&kv, "things", "a", 1, &summary(1, 0));
    now.set(now.get() + 30_000);
    publish(&kv, "things", "a", 2, &summary(2, 0));
    let index = Index::<Summary>::with_kv(kv, "things").unwrap();
    let seen = block_on(index.get("a")).unwrap().unwrap();
    assert_eq!((seen.seq, seen.value.value), (1, 1));
    now.set(now.get() + 30_000);
    let fresh = block_on(index.get("a")).unwrap().unwrap();
    assert_eq!((fresh.seq, fresh.value.value), (2, 2));
    assert!(fresh.is_newer_than(&seen));
}

#[test]
fn bad_names_and_records_are_errors() {
    let (_, kv) = kv();
    assert!(Index::<Summary>::with_kv(kv.clone(), "").is_err());
    assert!(Index::<Summary>::with_kv(kv.clone(), "a/b").is_err());
    block_on(kv.put("things/x", "garbage".into(), None)).unwrap();
    let index = Index::<Summary>::with_kv(kv, "things").unwrap();
    assert!(block_on(index.get("x")).is_err());
    // Listing leaves it out and says so (see also the test below).
    let page = block_on(index.list("", None, 10)).unwrap();
    assert_eq!(page.entries, []);
    assert_eq!(page.skipped.len(), 1);
    assert_eq!(page.skipped[0].name, "x");
}

/// A projection holding integers a JavaScript number cannot: KV metadata is kept as a
/// JavaScript value, so they must not travel as JSON numbers there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wide {
    i: i64,
    u: u64,
}

#[test]
fn integers_beyond_two_to_the_53_round_trip_exactly() {
    let (_, kv) = kv();
    let values = [
        Wide {
            i: i64::MIN,
            u: u64::MAX,
        },
        Wide {
            i: i64::MAX,
            u: (1 << 53) + 1,
        },
        Wide {
            i: -(1 << 53) - 1,
            u: 0,
        },
        Wide {
            i: 0,
            u: u64::MAX - 1,
        },
    ];
    for (n, w) in values.iter().enumerate() {
        let bytes = record::encode_projection(w).unwrap();
        let e = record::encode(n as u64 + 1, 1_000, &bytes).unwrap();
        assert!(e.inline, "small enough for the metadata: {}", e.metadata);
        let key = duro_index::key("wide", &format!("w{n}"));
        block_on(kv.put(&key, e.value, Some(e.metadata))).unwrap();
    }
    let index = Index::<Wide>::with_kv(kv.clone(), "wide").unwrap();
    let page = block_on(index.list("", None, 100)).unwrap();
    let got: Vec<&Wide> = page.entries.iter().map(|e| &e.value).collect();
    assert_eq!(got, values.iter().collect::<Vec<_>>());
    assert_eq!(page.skipped, []);
    assert_eq!(kv.stats().gets, 0, "all from the metadata");
    for (n, w) in values.iter().enumerate() {
        let e = block_on(index.get(&format!("w{n}"))).unwrap().unwrap();
        assert_eq!(&e.value, w);
    }
}

#[test]
fn an_entry_that_does_not_decode_is_skipped_not_the_page() {
    let (_, kv) = kv();
    publish(&kv, "things", "a", 1, &summary(1, 0));
    // Not a record at all, with no metadata.
    block_on(kv.put("things/b", "not json".into(), None)).unwrap();
    // Metadata and value that hold another type.
    let other = record::encode(1, 2, br#"{"value":"seven","note":""}"#).unwrap();
    block_on(kv.put("things/c", other.value, Some(other.metadata))).unwrap();
    publish(&kv, "things", "d", 4, &summary(4, 3_000));
    // Metadata written by an older build, as a JSON object whose number lost its precision
    // in KV: the value, which is text, still holds it.
    let exact = record::encode(5, 6, br#"{"value":-9223372036854775808,"note":""}"#).unwrap();
    block_on(kv.put("things/e", exact.value.clone(), Some(exact.value))).unwrap();

    let index = Index::<Summary>::with_kv(kv.clone(), "things").unwrap();
    let page = block_on(index.list("", None, 100)).unwrap();
    let names: Vec<(&str, i64)> = page
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.value.value))
        .collect();
    assert_eq!(names, [("a", 1), ("d", 4), ("e", i64::MIN)]);
    let skipped: Vec<&str> = page.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, ["b", "c"]);
    for s in &page.skipped {
        assert_eq!(s.error.kind(), duro_index::ErrorKind::Decode);
        assert!(
            s.error.message().contains(&format!("things/{}", s.name)),
            "{}",
            s.error
        );
    }
    // Reading one entry still reports its error.
    assert!(block_on(index.get("b")).is_err());
}
