//! The types' JSON is the API's, byte for byte, and every rule holds for any input.

use chat_protocol::rules::{self, TEXT_MAX};
use chat_protocol::{
    ClientFrame, ErrorBody, Invalid, Message, MessagesPage, PostMessage, Posted, Presence,
    RoomInfo, RoomList, RoomSummary, ServerFrame, Welcome,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// `value` serializes to exactly `json` and reads back from it.
fn exact<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T, json: &str) {
    assert_eq!(serde_json::to_string(&value).unwrap(), json);
    assert_eq!(serde_json::from_str::<T>(json).unwrap(), value);
}

fn message(id: u64, client_id: Option<&str>) -> Message {
    Message {
        id,
        user: "ada".into(),
        text: "hi\nthere".into(),
        at_ms: 1_765_000_000_123,
        client_id: client_id.map(str::to_owned),
    }
}

#[test]
fn server_frames() {
    exact(
        ServerFrame::Welcome(Welcome {
            room: "lobby".into(),
            you: "ada".into(),
            members: vec!["ada".into(), "bob".into()],
            last_id: 7,
        }),
        r#"{"type":"welcome","room":"lobby","you":"ada","members":["ada","bob"],"last_id":7}"#,
    );
    exact(
        ServerFrame::Message(message(8, Some("c-1"))),
        r#"{"type":"message","id":8,"user":"ada","text":"hi\nthere","at_ms":1765000000123,"client_id":"c-1"}"#,
    );
    exact(
        ServerFrame::Message(message(9, None)),
        r#"{"type":"message","id":9,"user":"ada","text":"hi\nthere","at_ms":1765000000123}"#,
    );
    exact(
        ServerFrame::Presence(Presence {
            members: vec!["bob".into()],
        }),
        r#"{"type":"presence","members":["bob"]}"#,
    );
    exact(
        ServerFrame::from(Invalid::TextLength(0)),
        r#"{"type":"error","code":"invalid_text","message":"a text must not be empty"}"#,
    );
}

#[test]
fn client_frames() {
    exact(
        ClientFrame::Send {
            text: "hello".into(),
            client_id: Some("k.1".into()),
        },
        r#"{"type":"send","text":"hello","client_id":"k.1"}"#,
    );
    exact(
        ClientFrame::Send {
            text: "hello".into(),
            client_id: None,
        },
        r#"{"type":"send","text":"hello"}"#,
    );
    // `"client_id": null` is the same as none; unknown types and missing texts are not
    // frames.
    let frame: ClientFrame =
        serde_json::from_str(r#"{"type":"send","text":"x","client_id":null}"#).unwrap();
    assert_eq!(
        frame,
        ClientFrame::Send {
            text: "x".into(),
            client_id: None
        }
    );
    for bad in [
        r#"{"type":"shout","text":"x"}"#,
        r#"{"text":"x"}"#,
        r#"{"type":"send"}"#,
        r#"{"type":"send","text":5}"#,
        // An escaped lone surrogate is not a string.
        r#"{"type":"send","text":"\ud800"}"#,
        "not json",
    ] {
        assert!(serde_json::from_str::<ClientFrame>(bad).is_err(), "{bad}");
    }
}

#[test]
fn frames_are_checked_against_the_rules() {
    let send = |text: &str, client_id: Option<&str>| ClientFrame::Send {
        text: text.into(),
        client_id: client_id.map(str::to_owned),
    };
    assert_eq!(send("hi", Some("a_b-c.d")).check(), Ok(()));
    assert_eq!(send("a\tb", None).check(), Err(Invalid::TextControl('\t')));
    assert_eq!(send("hi", Some("a b")).check(), Err(Invalid::ClientId));
    let post = |user: &str, text: &str| PostMessage {
        user: user.into(),
        text: text.into(),
        client_id: None,
    };
    assert_eq!(post("ada", " ").check(), Ok(()));
    assert_eq!(post("ada!", "hi").check(), Err(Invalid::User));
    assert_eq!(post("ada", "").check(), Err(Invalid::TextLength(0)));
}

#[test]
fn http_bodies() {
    exact(
        RoomList {
            rooms: vec![RoomSummary {
                name: "lobby".into(),
                members: 2,
                messages: 10,
                last_at_ms: 1_765_000_000_123,
            }],
            cursor: None,
        },
        r#"{"rooms":[{"name":"lobby","members":2,"messages":10,"last_at_ms":1765000000123}],"cursor":null}"#,
    );
    exact(
        RoomList {
            rooms: vec![],
            cursor: Some("c2".into()),
        },
        r#"{"rooms":[],"cursor":"c2"}"#,
    );
    exact(
        RoomInfo {
            name: "new".into(),
            members: vec![],
            messages: 0,
            last_id: 0,
        },
        r#"{"name":"new","members":[],"messages":0,"last_id":0}"#,
    );
    exact(
        MessagesPage {
            messages: vec![message(1, None)],
        },
        r#"{"messages":[{"id":1,"user":"ada","text":"hi\nthere","at_ms":1765000000123}]}"#,
    );
    exact(
        PostMessage {
            user: "ada".into(),
            text: "hi".into(),
            client_id: Some("c".into()),
        },
        r#"{"user":"ada","text":"hi","client_id":"c"}"#,
    );
    let post: PostMessage = serde_json::from_str(r#"{"user":"ada","text":"hi"}"#).unwrap();
    assert_eq!(post.client_id, None);
    exact(
        Posted {
            id: 3,
            at_ms: 1_765_000_000_123,
        },
        r#"{"id":3,"at_ms":1765000000123}"#,
    );
    exact(
        ErrorBody::from(Invalid::Room),
        r#"{"error":{"code":"invalid_room","message":"a room name is 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' and '-'"}}"#,
    );
}

/// A character of a name: `[A-Za-z0-9_.-]`.
fn name_char() -> impl Strategy<Value = char> {
    prop::sample::select(
        ('a'..='z')
            .chain('A'..='Z')
            .chain('0'..='9')
            .chain(['_', '.', '-'])
            .collect::<Vec<char>>(),
    )
}

/// A character a text may hold: any scalar value but Cc, or the line feed.
fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('\n'),
        any::<char>().prop_filter("not Cc", |c| !c.is_control()),
    ]
}

proptest! {
    #[test]
    fn names_of_the_charset_pass_up_to_their_limit(
        name in prop::collection::vec(name_char(), 1..=64).prop_map(String::from_iter)
    ) {
        prop_assert_eq!(rules::check_room(&name), Ok(()));
        prop_assert_eq!(rules::check_client_id(&name), Ok(()));
        prop_assert_eq!(rules::check_user(&name).is_ok(), name.len() <= 32);
    }

    #[test]
    fn a_foreign_character_fails_a_name(
        name in prop::collection::vec(name_char(), 0..=31).prop_map(String::from_iter),
        at in any::<prop::sample::Index>(),
        foreign in any::<char>().prop_filter("outside the charset", |c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        }),
    ) {
        let mut chars: Vec<char> = name.chars().collect();
        chars.insert(at.index(chars.len() + 1), foreign);
        let name = String::from_iter(chars);
        prop_assert_eq!(rules::check_room(&name), Err(Invalid::Room));
        prop_assert_eq!(rules::check_user(&name), Err(Invalid::User));
        prop_assert_eq!(rules::check_client_id(&name), Err(Invalid::ClientId));
    }

    #[test]
    fn texts_without_cc_pass_by_scalar_count(
        text in prop::collection::vec(text_char(), 1..=TEXT_MAX).prop_map(String::from_iter)
    ) {
        prop_assert_eq!(rules::check_text(&text), Ok(()));
    }

    #[test]
    fn one_control_character_fails_a_text(
        text in prop::collection::vec(text_char(), 0..=100).prop_map(String::from_iter),
        at in any::<prop::sample::Index>(),
        control in prop::sample::select(
            ('\0'..='\u{9f}').filter(|c| c.is_control() && *c != '\n').collect::<Vec<char>>()
        ),
    ) {
        let mut chars: Vec<char> = text.chars().collect();
        chars.insert(at.index(chars.len() + 1), control);
        let text = String::from_iter(chars);
        prop_assert_eq!(rules::check_text(&text), Err(Invalid::TextControl(control)));
    }

    #[test]
    fn message_frames_round_trip(
        id in any::<u64>(),
        at_ms in any::<u64>(),
        text in prop::collection::vec(any::<char>(), 0..50).prop_map(String::from_iter),
        client_id in prop::option::of(
            prop::collection::vec(name_char(), 1..=64).prop_map(String::from_iter)
        ),
    ) {
        let frame = ServerFrame::Message(Message { id, user: "u".into(), text, at_ms, client_id });
        let json = serde_json::to_string(&frame).unwrap();
        prop_assert_eq!(serde_json::from_str::<ServerFrame>(&json).unwrap(), frame);
    }

    #[test]
    fn plain_integers_parse_and_others_do_not(n in any::<u64>(), junk in "[^0-9]{1,3}") {
        prop_assert_eq!(rules::parse_after(&n.to_string()), Ok(n));
        prop_assert_eq!(rules::parse_after(&format!("{n}{junk}")), Err(Invalid::After));
        prop_assert_eq!(rules::parse_after(&format!("{junk}{n}")), Err(Invalid::After));
        let limit = rules::parse_limit(&n.to_string());
        prop_assert_eq!(limit.is_ok(), (1..=500).contains(&n));
    }
}
