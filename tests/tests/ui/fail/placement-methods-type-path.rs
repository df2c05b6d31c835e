use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl self::Counter {
    #[rpc]
    fn get(&self) -> i64 {
        self.value
    }

}

fn main() {}
