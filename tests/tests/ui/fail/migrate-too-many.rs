use duro::prelude::*;

#[derive(Serialize, Deserialize)]
pub struct CounterV1 {
    count: u32,
}

#[derive(Serialize, Deserialize)]
pub struct CounterV2 {
    count: u64,
}

#[duro::object(schema = 2, migrate = [CounterV1, CounterV2])]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
