//! `class`, `binding` and `schema` end up in the `Object` constants.

use duro::prelude::*;

/// A chat room.
#[duro::object(class = "Room", binding = "ROOMS", schema = 2)]
#[derive(Default, Serialize, Deserialize)]
pub struct ChatRoom {
    messages: Vec<String>,
}

#[duro::methods]
impl ChatRoom {
    /// Posts a message and returns how many there are.
    #[rpc]
    fn post(&mut self, text: String) -> u32 {
        self.messages.push(text);
        self.messages.len() as u32
    }
}

/// Defaults: the class is the struct's name, the binding its SCREAMING_SNAKE_CASE form.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct ChatLobby {}

#[duro::methods]
impl ChatLobby {}

fn main() {
    assert_eq!(<ChatRoom as duro::Object>::CLASS, "Room");
    assert_eq!(<ChatRoom as duro::Object>::BINDING, "ROOMS");
    assert_eq!(<ChatRoom as duro::Object>::SCHEMA, 2);
    assert_eq!(<ChatLobby as duro::Object>::CLASS, "ChatLobby");
    assert_eq!(<ChatLobby as duro::Object>::BINDING, "CHAT_LOBBY");
    assert_eq!(<ChatLobby as duro::Object>::SCHEMA, 1);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let env = duro::testing::TestEnv::new();
        assert_eq!(env.stub::<ChatRoom>("a").post("hi".into()).await.unwrap(), 1);
    });
}
