use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[index]
    fn summary(&self) -> i64 {
        self.value
    }
}

fn main() {}
