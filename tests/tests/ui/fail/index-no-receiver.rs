use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[index("counters")]
    fn summary() -> i64 {
        0
    }
}

fn main() {}
