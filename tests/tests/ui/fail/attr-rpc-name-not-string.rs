use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc(name = current)]
    fn get(&self) -> i64 {
        self.value
    }
}

fn main() {}
