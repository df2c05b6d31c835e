use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Player {
    nick: String,
}

#[duro::methods]
impl Player {
    #[rpc]
    fn name(&self) -> String {
        self.nick.clone()
    }
}

/// Callers of the method see no second error.
async fn nick(p: &PlayerStub) -> duro::Result<String> {
    p.name().await
}

fn main() {
    let _ = nick;
}
