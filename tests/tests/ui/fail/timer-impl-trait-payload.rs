use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[timer]
    fn add(&mut self, by: impl Into<i64>) {
        self.value += by.into();
    }
}

fn main() {}
