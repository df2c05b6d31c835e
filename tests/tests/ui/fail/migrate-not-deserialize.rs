use duro::prelude::*;

/// Schema 1's state, without `Deserialize`: the object cannot read it.
#[derive(Serialize)]
pub struct CounterV1 {
    count: u32,
}

#[duro::object(schema = 2, migrate = [CounterV1])]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

impl From<CounterV1> for Counter {
    fn from(old: CounterV1) -> Counter {
        Counter {
            value: old.count.into(),
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
