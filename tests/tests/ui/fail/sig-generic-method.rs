use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Store {
    items: Vec<String>,
}

#[duro::methods]
impl Store {
    #[rpc]
    fn put<T: ToString>(&mut self, item: T) {
        self.items.push(item.to_string());
    }
}

fn main() {
    let env = duro::testing::TestEnv::new();
    let c = env.stub::<Store>("a");
    let _ = c.put(5);
}
