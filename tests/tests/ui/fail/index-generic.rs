use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[index("counters")]
    fn summary<T: From<i64>>(&self) -> T {
        T::from(self.value)
    }
}

fn main() {}
