use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Greeter {
    greeted: u32,
}

#[duro::methods]
impl Greeter {
    #[rpc]
    fn greet(&mut self, who: &str) -> String {
        self.greeted += 1;
        format!("hello {who}")
    }

    #[rpc]
    fn greeted(&self) -> u32 {
        self.greeted
    }
}

fn main() {
    let env = duro::testing::TestEnv::new();
    let c = env.stub::<Greeter>("a");
    let _ = c.greet("ann");
    let _ = c.greeted();
}
