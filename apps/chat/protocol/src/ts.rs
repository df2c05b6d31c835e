//! The types as TypeScript declarations (the `ts` feature), through ts-rs.

use std::fmt::Write as _;

use ts_rs::{Config, TS};

use crate::rules;
use crate::{
    ClientFrame, ErrorBody, ErrorDetail, Message, MessagesPage, PostMessage, Posted, Presence,
    RoomInfo, RoomList, RoomSummary, ServerFrame, Welcome,
};

/// The first lines of the file.
const HEADER: &str = "\
// The chat's public API, generated from the Rust types in apps/chat/protocol
// (crate chat-protocol) by `cargo xtask chat-types`. Do not edit: change the Rust types
// and run that command; `cargo test` fails while this file and the types differ.
";

/// Every type and limit of the crate as one TypeScript module: `export type` per type, in
/// the order a reader meets them (frames first), and the rules' limits as `export const`.
///
/// Integers (`u64` ids and times) are `number`: JSON numbers in a browser are doubles,
/// and ids and epoch milliseconds stay far below 2^53.
pub fn typescript() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(HEADER);
    declare::<ServerFrame>(&cfg, &mut out);
    declare::<Welcome>(&cfg, &mut out);
    declare::<Message>(&cfg, &mut out);
    declare::<Presence>(&cfg, &mut out);
    declare::<ClientFrame>(&cfg, &mut out);
    declare::<RoomList>(&cfg, &mut out);
    declare::<RoomSummary>(&cfg, &mut out);
    declare::<RoomInfo>(&cfg, &mut out);
    declare::<MessagesPage>(&cfg, &mut out);
    declare::<PostMessage>(&cfg, &mut out);
    declare::<Posted>(&cfg, &mut out);
    declare::<ErrorBody>(&cfg, &mut out);
    declare::<ErrorDetail>(&cfg, &mut out);
    out.push_str("\n/** The limits of `rules` in chat-protocol. */\n");
    for (name, value) in [
        ("ROOM_MAX", rules::ROOM_MAX),
        ("USER_MAX", rules::USER_MAX),
        ("CLIENT_ID_MAX", rules::CLIENT_ID_MAX),
        ("TEXT_MAX", rules::TEXT_MAX),
        ("LIMIT_MAX", rules::LIMIT_MAX as usize),
        ("BODY_MAX", rules::BODY_MAX),
    ] {
        let _ = writeln!(out, "export const {name} = {value};");
    }
    out
}

fn declare<T: TS>(cfg: &Config, out: &mut String) {
    out.push('\n');
    if let Some(docs) = T::docs() {
        out.push_str(&docs);
        if !docs.ends_with('\n') {
            out.push('\n');
        }
    }
    // ts-rs leaves a space at the end of some lines.
    for line in format!("export {}", T::decl(cfg)).lines() {
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
