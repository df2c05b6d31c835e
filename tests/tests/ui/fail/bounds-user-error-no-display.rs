use duro::prelude::*;

#[derive(Debug, Serialize, Deserialize)]
pub enum CounterError {
    Overflow,
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn add(&mut self, by: i64) -> Result<i64, CounterError> {
        self.value = self.value.checked_add(by).ok_or(CounterError::Overflow)?;
        Ok(self.value)
    }
}

fn main() {
    let env = duro::testing::TestEnv::new();
    let c = env.stub::<Counter>("a");
    let _ = c.add(1);
}
