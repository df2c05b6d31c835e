use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[timer]
    #[timer]
    fn reset(&mut self) {
        self.value = 0;
    }
}

fn main() {}
