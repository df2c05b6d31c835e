use duro::prelude::*;

#[derive(Deserialize)]
pub struct Snapshot {
    pub value: i64,
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn snapshot(&self) -> Snapshot {
        Snapshot { value: self.value }
    }
}

fn main() {
    let env = duro::testing::TestEnv::new();
    let c = env.stub::<Counter>("a");
    let _ = c.snapshot();
}
