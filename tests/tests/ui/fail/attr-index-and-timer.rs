use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[index("counters")]
    #[timer]
    fn summary(&mut self) -> i64 {
        self.value
    }
}

fn main() {}
