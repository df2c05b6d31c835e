use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn add(&mut self, _ctx: &mut Ctx, by: i64) -> i64 {
        self.value += by;
        self.value
    }
}

fn main() {}
