use std::time::Duration;

use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Lobby {
    open: bool,
}

#[duro::methods]
impl Lobby {
    #[rpc]
    fn open(&mut self, ctx: &Ctx) -> duro::Result<()> {
        self.open = true;
        ctx.timers().named("idle").after(Duration::from_secs(60), Self::close, ())?;
        Ok(())
    }

    #[rpc]
    fn touch(&mut self, ctx: &Ctx) -> duro::Result<()> {
        ctx.timers().named("idle").after(Duration::from_secs(60), Self::close, ())?;
        Ok(())
    }

    /// The mistake: a timer runs as a write, so it takes `&mut self`.
    #[timer]
    fn close(&self) {}
}

fn main() {}
