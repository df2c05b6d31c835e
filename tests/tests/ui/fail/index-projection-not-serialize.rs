use duro::prelude::*;

pub struct RoomSummary {
    pub members: usize,
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Room {
    members: Vec<String>,
}

#[duro::methods]
impl Room {
    #[rpc]
    fn join(&mut self, who: String) {
        self.members.push(who);
    }

    #[index("rooms")]
    fn summary(&self) -> RoomSummary {
        RoomSummary {
            members: self.members.len(),
        }
    }
}

fn main() {}
