use duro::prelude::*;

#[derive(Serialize)]
pub struct Amount(i64);

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn add(&mut self, by: Amount) -> i64 {
        self.value += by.0;
        self.value
    }
}

fn main() {
    let env = duro::testing::TestEnv::new();
    let c = env.stub::<Counter>("a");
    let _ = c.add(Amount(1));
}
