use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub enum Light {
    #[default]
    Off,
    On,
}

#[duro::methods]
impl Light {
    #[rpc]
    fn is_on(&self) -> bool {
        matches!(self, Light::On)
    }
}

fn main() {
    let env = duro::testing::TestEnv::new();
    let c = env.stub::<Light>("a");
    let _ = c.is_on();
}
