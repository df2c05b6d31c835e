use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn add(&mut self, by: impl Into<i64>) -> i64 {
        self.value += by.into();
        self.value
    }
}

fn main() {}
