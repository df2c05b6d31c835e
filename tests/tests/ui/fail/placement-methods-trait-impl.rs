use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Clone for Counter {
    fn clone(&self) -> Self {
        Counter { value: self.value }
    }
}

fn main() {
    let _ = Counter::default().clone();
}
