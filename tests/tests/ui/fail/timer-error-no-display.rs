use duro::prelude::*;

#[derive(Debug)]
pub enum Stale {
    TooOld,
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    value: i64,
}

#[duro::methods]
impl Counter {
    #[timer]
    fn expire(&mut self) -> Result<(), Stale> {
        if self.value > 10 {
            return Err(Stale::TooOld);
        }
        self.value = 0;
        Ok(())
    }
}

fn main() {}
