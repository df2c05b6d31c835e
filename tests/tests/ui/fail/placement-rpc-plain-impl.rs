use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

impl Counter {
    #[rpc]
    fn get(&self) -> i64 {
        self.value
    }
}

fn main() {
    let _ = Counter::default().get();
}
