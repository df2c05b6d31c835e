use std::time::Duration;

use duro::prelude::*;

#[derive(Serialize)]
pub struct Step(i64);

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[rpc]
    fn add_later(&mut self, ctx: &Ctx, by: i64) -> duro::Result<()> {
        ctx.timers()
            .after(Duration::from_secs(1), Self::add, Step(by))?;
        Ok(())
    }

    #[timer]
    fn add(&mut self, step: Step) {
        self.value += step.0;
    }
}

fn main() {}
