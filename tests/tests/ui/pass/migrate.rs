//! `migrate = [...]`: a chain of two steps, paths to the types, and the struct itself as
//! the step of a schema whose state already decodes as the current one.

use duro::prelude::*;

mod v1 {
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Counter {
        pub count: u32,
    }
}

mod v2 {
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Counter {
        pub value: i64,
    }

    impl From<super::v1::Counter> for Counter {
        fn from(old: super::v1::Counter) -> Counter {
            Counter {
                value: old.count.into(),
            }
        }
    }
}

/// Schema 4: schema 3 only added `label`, with a default, so its state decodes as this.
#[duro::object(schema = 4, migrate = [v1::Counter, v2::Counter, Counter])]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
    #[serde(default)]
    label: String,
}

impl From<v2::Counter> for Counter {
    fn from(old: v2::Counter) -> Counter {
        Counter {
            value: old.value,
            label: String::new(),
        }
    }
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn get(&self) -> i64 {
        self.value
    }
}

fn main() {
    assert_eq!(<Counter as Object>::SCHEMA, 4);
}
