use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn add(&mut self, by: i64, _ctx: &Ctx) -> i64 {
        self.value += by;
        self.value
    }
}

fn main() {}
