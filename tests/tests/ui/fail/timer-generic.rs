use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[timer]
    fn add<T: Into<i64>>(&mut self, by: T) {
        self.value += by.into();
    }
}

fn main() {}
