use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter
where
    Counter: Default, {
    #[rpc]
    fn get(&self) -> i64 {
        self.value
    }

}

fn main() {}
