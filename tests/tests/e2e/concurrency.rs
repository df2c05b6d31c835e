//! Many clients on one counter: no update is lost or applied twice.

use crate::counter::{add, expect_value, value};
use crate::harness::Fixture;

const CLIENTS: usize = 64;
const ADDS_PER_CLIENT: usize = 50;

#[test]
#[ignore = "needs the built wasm and workerd: run via cargo xtask test"]
fn concurrent_increments_are_all_counted_once() {
    let app = Fixture::new("counter");
    let base = app.worker.client();

    // Every add answers the value it produced: with calls one at a time per object, the
    // answers are exactly 1..=3200, each once.
    let mut seen: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let client = base.clone();
                std::thread::Builder::new()
                    .name(format!("client-{i}"))
                    .spawn_scoped(scope, move || {
                        (0..ADDS_PER_CLIENT)
                            .map(|n| {
                                let reply = add(&client, "shared", 1);
                                expect_value(&reply, &format!("client {i}, add #{n}"))
                            })
                            .collect::<Vec<i64>>()
                    })
                    .expect("spawn a client thread")
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a client thread panicked"))
            .collect()
    });

    let total = i64::try_from(CLIENTS * ADDS_PER_CLIENT).expect("fits");
    assert_eq!(value(&base, "shared"), total);
    seen.sort_unstable();
    let expected: Vec<i64> = (1..=total).collect();
    if seen != expected {
        let duplicates: Vec<&i64> = seen
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| &w[0])
            .collect();
        panic!(
            "the adds did not answer 1..={total} once each; {} answers, duplicates: {:?}",
            seen.len(),
            &duplicates[..duplicates.len().min(20)]
        );
    }
}
