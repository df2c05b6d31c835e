//! Runtime behaviour through `TestEnv`: rollback on panic, calls between objects, schema
//! conflicts, large states, deleting state.

use std::time::Duration;

use duro::prelude::*;
use duro::testing::TestEnv;
use duro::ErrorCode;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
/// A bag of items and a blob.
pub struct Bag {
    items: Vec<String>,
    blob: Vec<u8>,
}

#[duro::methods]
impl Bag {
    /// Adds an item, then panics if asked to: the addition must not survive.
    #[rpc]
    fn put(&mut self, item: String, panic: bool) -> usize {
        self.items.push(item);
        if panic {
            panic!("asked to panic");
        }
        self.items.len()
    }

    #[rpc]
    fn items(&self) -> Vec<String> {
        self.items.clone()
    }

    /// Adds an item, then fails: the addition must not survive.
    #[rpc]
    async fn put_then_fail(&mut self, item: String) -> duro::Result<()> {
        self.items.push(item);
        Err(duro::Error::bad_request("refused"))
    }

    #[rpc]
    fn set_blob(&mut self, size: u32) -> usize {
        self.blob = (0..size).map(|i| (i % 251) as u8).collect();
        self.blob.len()
    }

    #[rpc]
    fn blob_sum(&self) -> u64 {
        self.blob.iter().map(|&b| u64::from(b)).sum()
    }

    #[rpc]
    fn clear(&mut self, ctx: &Ctx) {
        ctx.delete_state();
    }

    /// Forwards an item to another bag through `Ctx`.
    #[rpc]
    async fn forward(&mut self, ctx: &Ctx, to: String, item: String) -> duro::Result<usize> {
        let other = ctx.stub::<Bag>(&to)?;
        let n = other.put(item.clone(), false).await?;
        self.items.push(format!("sent {item} to {to}"));
        Ok(n)
    }

    #[rpc(name = "whoami")]
    fn who(&self, ctx: &Ctx) -> (String, String, u64) {
        (ctx.class().to_owned(), ctx.name().to_owned(), ctx.now_ms())
    }
}

#[tokio::test]
async fn a_panicking_method_changes_nothing() {
    let env = TestEnv::new();
    let bag = env.stub::<Bag>("b");
    assert_eq!(bag.put("a".into(), false).await.unwrap(), 1);
    let err = bag.put("b".into(), true).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(err.message().contains("asked to panic"), "{err}");
    assert_eq!(bag.items().await.unwrap(), vec!["a".to_string()]);
    env.restart();
    assert_eq!(bag.items().await.unwrap(), vec!["a".to_string()]);
    assert_eq!(env.stats::<Bag>("b").storage.writes, 1);
}

#[tokio::test]
async fn an_error_changes_nothing() {
    let env = TestEnv::new();
    let bag = env.stub::<Bag>("b");
    bag.put("a".into(), false).await.unwrap();
    let err = bag.put_then_fail("x".into()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadRequest);
    assert_eq!(bag.items().await.unwrap(), vec!["a".to_string()]);
}

#[tokio::test]
async fn objects_call_each_other_through_ctx() {
    let env = TestEnv::new();
    let a = env.stub::<Bag>("a");
    assert_eq!(a.forward("b".into(), "gift".into()).await.unwrap(), 1);
    assert_eq!(a.items().await.unwrap(), vec!["sent gift to b".to_string()]);
    assert_eq!(
        env.stub::<Bag>("b").items().await.unwrap(),
        vec!["gift".to_string()]
    );
}

#[tokio::test]
async fn ctx_knows_the_object_and_the_clock() {
    let env = TestEnv::new();
    let bag = env.stub::<Bag>("named");
    let (class, name, t0) = bag.who().await.unwrap();
    assert_eq!((class.as_str(), name.as_str()), ("Bag", "named"));
    env.advance(Duration::from_secs(90)).await;
    let (_, _, t1) = bag.who().await.unwrap();
    assert_eq!(t1 - t0, 90_000);
}

#[tokio::test]
async fn sixteen_mib_of_state_round_trips() {
    let env = TestEnv::new();
    let bag = env.stub::<Bag>("big");
    let size = 16 * 1024 * 1024;
    assert_eq!(bag.set_blob(size).await.unwrap(), size as usize);
    let expected: u64 = (0..size).map(|i| u64::from(i % 251)).sum();
    let stats = env.stats::<Bag>("big");
    assert_eq!(stats.storage.writes, 1, "one atomic write");
    assert!(env.storage::<Bag>("big").dump().len() > 128, "chunked");
    env.restart();
    assert_eq!(bag.blob_sum().await.unwrap(), expected);
    // Shrinking removes the chunks.
    bag.set_blob(10).await.unwrap();
    assert_eq!(env.storage::<Bag>("big").dump().len(), 1);
    env.restart();
    assert_eq!(bag.blob_sum().await.unwrap(), (0..10u64).sum::<u64>());
}

#[tokio::test]
async fn deleting_state_empties_storage() {
    let env = TestEnv::new();
    let bag = env.stub::<Bag>("d");
    bag.put("a".into(), false).await.unwrap();
    assert!(!env.storage::<Bag>("d").dump().is_empty());
    bag.clear().await.unwrap();
    assert!(env.storage::<Bag>("d").dump().is_empty());
    assert!(bag.items().await.unwrap().is_empty());
    env.restart();
    assert!(bag.items().await.unwrap().is_empty());
}

/// The same class name as `Bag`, with a newer schema, as after a deploy.
mod newer {
    use duro::prelude::*;

    #[duro::object(class = "Bag", schema = 2)]
    #[derive(Default, Serialize, Deserialize)]
    pub struct BagV2 {
        pub items: Vec<String>,
        pub blob: Vec<u8>,
        pub tags: Vec<String>,
    }

    #[duro::methods]
    impl BagV2 {
        #[rpc]
        fn tag(&mut self, tag: String) -> usize {
            self.tags.push(tag);
            self.tags.len()
        }
    }
}

#[tokio::test]
async fn older_code_refuses_to_overwrite_newer_state() {
    let env = TestEnv::new();
    // The newer code writes first (same class, same storage).
    let v2 = env.stub::<newer::BagV2>("s");
    assert_eq!(v2.tag("new".into()).await.unwrap(), 1);
    // Same class name, same storage: the older code takes over after a restart, as when
    // an older version still serves some requests during a deploy.
    env.restart();
    let old = env.stub::<Bag>("s");
    assert!(old.items().await.unwrap().is_empty());
    let err = old.put("x".into(), false).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaConflict);
    assert_eq!(err.code().status(), 409);
    // Nothing was lost: the newer code still sees its field.
    env.restart();
    assert_eq!(env.stats::<Bag>("s").storage.writes, 1);
    assert_eq!(v2.tag("again".into()).await.unwrap(), 2);
}
