use duro::prelude::*;

#[duro::object(class = )]
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
