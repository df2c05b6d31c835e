use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[timer]
    fn add(&mut self, by: i64, times: i64) {
        self.value += by * times;
    }
}

fn main() {}
