use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[index("counters")]
    fn summary(&self, _ctx: &Ctx, scale: i64) -> i64 {
        self.value * scale
    }
}

fn main() {}
