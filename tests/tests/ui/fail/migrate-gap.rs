use duro::prelude::*;

/// Schema 1's state.
#[derive(Serialize, Deserialize)]
pub struct CounterV1 {
    count: u32,
}

/// Schema 2's state. Nothing converts schema 1's into it: the chain has a gap.
#[derive(Serialize, Deserialize)]
pub struct CounterV2 {
    value: u32,
}

#[duro::object(schema = 3, migrate = [CounterV1, CounterV2])]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

impl From<CounterV2> for Counter {
    fn from(old: CounterV2) -> Counter {
        Counter {
            value: old.value.into(),
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

fn main() {}
