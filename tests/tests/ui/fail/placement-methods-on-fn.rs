use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
fn get(counter: &Counter) -> i64 {
    counter.value
}

fn main() {
    let _ = get(&Counter::default());
}
