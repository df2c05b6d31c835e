//! The counter object under `TestEnv`: the same encode → dispatch → persist → decode path
//! as in workerd, with in-memory storage.

use counter::{Counter, CounterError};
use duro::testing::TestEnv;
use duro::wire::{self, ErrorBody};
use duro::{CallError, ErrorCode};

#[tokio::test]
async fn adds_reads_and_resets() {
    let env = TestEnv::new();
    let c = env.stub::<Counter>("a");
    assert_eq!(c.get().await.unwrap(), 0);
    assert_eq!(c.add(2).await.unwrap(), 2);
    assert_eq!(c.add(-5).await.unwrap(), -3);
    assert_eq!(c.get().await.unwrap(), -3);
    assert_eq!(c.reset().await.unwrap(), 0);
    assert_eq!(c.get().await.unwrap(), 0);
    // Counters are independent.
    assert_eq!(env.stub::<Counter>("b").get().await.unwrap(), 0);
}

#[tokio::test]
async fn state_survives_restarts() {
    let env = TestEnv::new();
    let c = env.stub::<Counter>("a");
    c.add(40).await.unwrap();
    env.restart();
    assert_eq!(c.add(2).await.unwrap(), 42);
    env.restart();
    assert_eq!(c.get().await.unwrap(), 42);
    assert_eq!(env.stats::<Counter>("a").activations, 3);
}

#[tokio::test]
async fn overflow_is_a_user_error_and_changes_nothing() {
    let env = TestEnv::new();
    let c = env.stub::<Counter>("a");
    c.add(i64::MAX - 1).await.unwrap();
    let writes = env.stats::<Counter>("a").storage.writes;
    let err = c.add(2).await.unwrap_err();
    assert_eq!(
        err,
        CallError::User(CounterError::Overflow {
            value: i64::MAX - 1,
            by: 2
        })
    );
    assert_eq!(err.code(), ErrorCode::User);
    assert_eq!(env.stats::<Counter>("a").storage.writes, writes);
    assert_eq!(c.get().await.unwrap(), i64::MAX - 1);
    env.restart();
    assert_eq!(c.get().await.unwrap(), i64::MAX - 1);
    assert!(c.add(i64::MIN).await.is_ok());
}

#[tokio::test]
async fn storage_operations_are_counted() {
    let env = TestEnv::new();
    let c = env.stub::<Counter>("a");
    // A new counter: one read on activation, nothing written by reads.
    c.get().await.unwrap();
    c.get().await.unwrap();
    let s = env.stats::<Counter>("a");
    assert_eq!(
        (s.activations, s.storage.reads, s.storage.writes),
        (1, 1, 0)
    );
    // Resetting a counter that is already in its default state writes nothing.
    c.reset().await.unwrap();
    assert_eq!(env.stats::<Counter>("a").storage.writes, 0);
    // One write per changing call.
    for i in 1..=10 {
        c.add(1).await.unwrap();
        assert_eq!(env.stats::<Counter>("a").storage.writes, i);
    }
    // Adding zero changes nothing and writes nothing.
    c.add(0).await.unwrap();
    let s = env.stats::<Counter>("a");
    assert_eq!((s.storage.reads, s.storage.writes, s.calls), (1, 10, 14));
}

#[tokio::test]
async fn a_failed_save_rolls_back() {
    let env = TestEnv::new();
    let c = env.stub::<Counter>("a");
    c.add(1).await.unwrap();
    env.storage::<Counter>("a").fail_next_writes(1);
    let err = c.add(5).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(err.framework().unwrap().is_retryable());
    // Neither memory nor storage kept the failed change.
    assert_eq!(c.get().await.unwrap(), 1);
    env.restart();
    assert_eq!(c.get().await.unwrap(), 1);
    assert_eq!(c.add(5).await.unwrap(), 6);
}

async fn raw(env: &TestEnv, method: &str, protocol: Option<&str>, body: &[u8]) -> (u16, ErrorBody) {
    let reply = env.raw_call::<Counter>("a", method, protocol, body).await;
    let body: ErrorBody = wire::decode(&reply.body).expect("error bodies are MessagePack");
    (reply.status, body)
}

#[tokio::test]
async fn bad_requests_get_their_status_and_change_nothing() {
    let env = TestEnv::new();
    let c = env.stub::<Counter>("a");
    c.add(7).await.unwrap();
    let good = wire::encode(&(1i64,)).unwrap();

    let (status, body) = raw(&env, "add", Some("1"), &[0xc1, 0xff, 0x00]).await;
    assert_eq!((status, body.code), (400, ErrorCode::BadRequest));
    assert!(!body.retryable);

    let wrong = wire::encode(&("seven",)).unwrap();
    let (status, body) = raw(&env, "add", Some("1"), &wrong).await;
    assert_eq!((status, body.code), (400, ErrorCode::BadRequest));
    assert!(body.message.contains("add"), "{}", body.message);

    let (status, body) = raw(&env, "nope", Some("1"), &good).await;
    assert_eq!((status, body.code), (404, ErrorCode::UnknownMethod));

    let big = vec![0u8; wire::DEFAULT_BODY_LIMIT + 1];
    let (status, body) = raw(&env, "add", Some("1"), &big).await;
    assert_eq!((status, body.code), (413, ErrorCode::PayloadTooLarge));

    let (status, body) = raw(&env, "add", Some("2"), &good).await;
    assert_eq!((status, body.code), (400, ErrorCode::UnsupportedProtocol));
    let (status, body) = raw(&env, "add", None, &good).await;
    assert_eq!((status, body.code), (400, ErrorCode::UnsupportedProtocol));

    assert_eq!(c.get().await.unwrap(), 7);
    assert_eq!(env.stats::<Counter>("a").storage.writes, 1);

    // The same bytes with the right header do work.
    let ok = env.raw_call::<Counter>("a", "add", Some("1"), &good).await;
    assert_eq!(ok.status, 200);
    assert_eq!(wire::decode::<i64>(&ok.body).unwrap(), 8);
}

#[tokio::test]
async fn many_interleaved_callers_lose_no_update() {
    let env = TestEnv::new();
    let stubs: Vec<_> = (0..64).map(|_| env.stub::<Counter>("shared")).collect();
    let calls = stubs.iter().flat_map(|s| (0..50).map(move |_| s.add(1)));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(env.stub::<Counter>("shared").get().await.unwrap(), 3200);
}

#[test]
fn names_are_checked() {
    assert!(counter::valid_name("a"));
    assert!(counter::valid_name("A-z_0.9"));
    assert!(counter::valid_name(&"x".repeat(128)));
    assert!(!counter::valid_name(""));
    assert!(!counter::valid_name(&"x".repeat(129)));
    assert!(!counter::valid_name("a/b"));
    assert!(!counter::valid_name("ü"));
}

#[tokio::test]
async fn reset_in_resets_later_and_survives_restarts() {
    let env = TestEnv::new();
    let c = env.stub::<Counter>("a");
    c.add(9).await.unwrap();
    let at = c.reset_in(30).await.unwrap();
    assert_eq!(at, duro::testing::START_MS + 30_000);
    env.advance(std::time::Duration::from_secs(29)).await;
    assert_eq!(c.get().await.unwrap(), 9);
    env.restart();
    // Scheduling again replaces the earlier reset.
    c.reset_in(60).await.unwrap();
    env.advance(std::time::Duration::from_secs(31)).await;
    assert_eq!(c.get().await.unwrap(), 9);
    env.advance(std::time::Duration::from_secs(60)).await;
    assert_eq!(c.get().await.unwrap(), 0);
}
