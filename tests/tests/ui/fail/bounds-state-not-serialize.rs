use duro::prelude::*;

#[duro::object]
#[derive(Default, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn get(&self) -> i64 {
        self.value
    }
}

fn main() {
    let env = duro::testing::TestEnv::new();
    let c = env.stub::<Counter>("a");
    let _ = c.get();
}
