//! State migrations through `TestEnv`: one class, `Doc`, in four builds (schemas 1, 2 and
//! 3, and a schema 3 whose chain starts at 2), sharing storage as one deploy after
//! another would.

use duro::testing::TestEnv;
use duro::ErrorCode;

/// Schema 1: a title.
mod v1 {
    use duro::prelude::*;

    #[duro::object(class = "Doc")]
    #[derive(Default, Serialize, Deserialize)]
    pub struct Doc {
        pub title: String,
    }

    #[duro::methods]
    impl Doc {
        #[rpc]
        fn set(&mut self, title: String) {
            self.title = title;
        }
    }
}

/// Schema 2: the title split into words.
mod v2 {
    use duro::prelude::*;

    #[duro::object(class = "Doc", schema = 2, migrate = [super::v1::Doc])]
    #[derive(Default, Clone, Serialize, Deserialize)]
    pub struct Doc {
        pub words: Vec<String>,
    }

    impl From<super::v1::Doc> for Doc {
        fn from(old: super::v1::Doc) -> Doc {
            Doc {
                words: old.title.split(' ').map(str::to_owned).collect(),
            }
        }
    }

    #[duro::methods]
    impl Doc {
        #[rpc]
        fn words(&self) -> Vec<String> {
            self.words.clone()
        }

        /// A write that changes nothing.
        #[rpc]
        fn touch(&mut self) {}

        /// A write that fails: it changes nothing, in memory or in storage.
        #[rpc]
        fn fail(&mut self) -> duro::Result<()> {
            self.words.clear();
            Err(duro::Error::bad_request("refused"))
        }
    }
}

/// Schema 3: words and their count, from schema 1 through 2.
mod v3 {
    use duro::prelude::*;

    #[duro::object(class = "Doc", schema = 3, migrate = [super::v1::Doc, super::v2::Doc])]
    #[derive(Default, Serialize, Deserialize)]
    pub struct Doc {
        pub words: Vec<String>,
        pub count: usize,
    }

    impl From<super::v2::Doc> for Doc {
        fn from(old: super::v2::Doc) -> Doc {
            Doc {
                count: old.words.len(),
                words: old.words,
            }
        }
    }

    #[duro::methods]
    impl Doc {
        #[rpc]
        fn count(&self) -> usize {
            self.count
        }

        #[rpc]
        fn add(&mut self, word: String) -> usize {
            self.words.push(word);
            self.count += 1;
            self.count
        }
    }
}

/// Schema 3 again, migrating only from schema 2: schema 1's state is not covered.
mod v3_from_2 {
    use duro::prelude::*;

    #[duro::object(class = "Doc", schema = 3, migrate = [super::v2::Doc])]
    #[derive(Default, Serialize, Deserialize)]
    pub struct Doc {
        pub words: Vec<String>,
    }

    impl From<super::v2::Doc> for Doc {
        fn from(old: super::v2::Doc) -> Doc {
            Doc { words: old.words }
        }
    }

    #[duro::methods]
    impl Doc {
        #[rpc]
        fn words(&self) -> Vec<String> {
            self.words.clone()
        }

        #[rpc]
        fn clear(&mut self) {
            self.words.clear();
        }
    }
}

/// The schema in the stored state's envelope (`"DURO" | format | schema u32 LE | …`).
fn stored_schema(env: &TestEnv, name: &str) -> u32 {
    let dump = env.storage::<v1::Doc>(name).dump();
    let envelope = &dump["__duro/state"];
    u32::from_le_bytes(envelope[5..9].try_into().unwrap())
}

fn writes(env: &TestEnv, name: &str) -> u64 {
    env.stats::<v1::Doc>(name).storage.writes
}

/// Stores `title` as schema 1's state of `name`, then restarts, as a deploy would.
async fn written_by_v1(env: &TestEnv, name: &str, title: &str) {
    env.stub::<v1::Doc>(name).set(title.into()).await.unwrap();
    assert_eq!(stored_schema(env, name), 1);
    env.restart();
}

#[tokio::test]
async fn older_state_is_migrated_on_load_and_saved_with_the_next_write_only() {
    let env = TestEnv::new();
    written_by_v1(&env, "d", "hello brave world").await;
    let doc = env.stub::<v2::Doc>("d");
    assert_eq!(doc.words().await.unwrap(), ["hello", "brave", "world"]);
    // Reads never write: the stored state is still schema 1's.
    assert_eq!(doc.words().await.unwrap().len(), 3);
    assert_eq!(writes(&env, "d"), 1);
    assert_eq!(stored_schema(&env, "d"), 1);
    // A write that fails saves nothing, and the migrated state stays in memory.
    assert_eq!(doc.fail().await.unwrap_err().code(), ErrorCode::BadRequest);
    assert_eq!(writes(&env, "d"), 1);
    assert_eq!(doc.words().await.unwrap().len(), 3);
    // The next write saves the migrated state, even one that changes nothing.
    doc.touch().await.unwrap();
    assert_eq!(writes(&env, "d"), 2);
    assert_eq!(stored_schema(&env, "d"), 2);
    doc.touch().await.unwrap();
    assert_eq!(writes(&env, "d"), 2, "unchanged state is not rewritten");
    env.restart();
    assert_eq!(doc.words().await.unwrap(), ["hello", "brave", "world"]);
}

#[tokio::test]
async fn a_chain_of_two_steps_migrates_from_either_older_schema() {
    let env = TestEnv::new();
    // Schema 1 → 2 → 3.
    written_by_v1(&env, "one", "a b c d").await;
    let doc = env.stub::<v3::Doc>("one");
    assert_eq!(doc.count().await.unwrap(), 4);
    assert_eq!(stored_schema(&env, "one"), 1);
    assert_eq!(doc.add("e".into()).await.unwrap(), 5);
    assert_eq!(stored_schema(&env, "one"), 3);
    // Schema 2 → 3.
    written_by_v1(&env, "two", "x y").await;
    env.stub::<v2::Doc>("two").touch().await.unwrap();
    assert_eq!(stored_schema(&env, "two"), 2);
    env.restart();
    assert_eq!(env.stub::<v3::Doc>("two").count().await.unwrap(), 2);
}

#[tokio::test]
async fn state_no_migration_covers_is_refused_and_kept() {
    let env = TestEnv::new();
    written_by_v1(&env, "d", "old words").await;
    let before = env.storage::<v1::Doc>("d").dump();
    let doc = env.stub::<v3_from_2::Doc>("d");
    for err in [
        doc.words().await.unwrap_err(),
        doc.clear().await.unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::SchemaConflict, "{err}");
        assert_eq!(err.code().status(), 409);
        let text = err.to_string();
        assert!(
            text.contains("schema 1, older than this code's 3"),
            "{text}"
        );
        assert!(text.contains("migrate = [...]"), "{text}");
    }
    // Nothing was lost: the schema 1 code still reads it.
    assert_eq!(env.storage::<v1::Doc>("d").dump(), before);
    env.restart();
    assert_eq!(
        env.stub::<v2::Doc>("d").words().await.unwrap(),
        ["old", "words"]
    );
}

#[tokio::test]
async fn older_code_refuses_newer_state_it_cannot_read() {
    let env = TestEnv::new();
    written_by_v1(&env, "d", "kept").await;
    env.stub::<v2::Doc>("d").touch().await.unwrap();
    env.restart();
    // Schema 2's state has no `title`: the schema 1 code can neither read nor write it.
    let err = env
        .stub::<v1::Doc>("d")
        .set("lost".into())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaConflict, "{err}");
    assert!(
        err.to_string()
            .contains("(schema 2) does not decode as this code's (schema 1)"),
        "{err}"
    );
    env.restart();
    assert_eq!(env.stub::<v2::Doc>("d").words().await.unwrap(), ["kept"]);
}
