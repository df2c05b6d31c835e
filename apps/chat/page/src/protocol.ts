// The chat's public API, generated from the Rust types in apps/chat/protocol
// (crate chat-protocol) by `cargo xtask chat-types`. Do not edit: change the Rust types
// and run that command; `cargo test` fails while this file and the types differ.

/**
 * A frame the server sends.
 */
export type ServerFrame = { "type": "welcome" } & Welcome | { "type": "message" } & Message | { "type": "presence" } & Presence | { "type": "error" } & ErrorDetail;

/**
 * `{"type":"welcome","room","you","members","last_id"}`.
 */
export type Welcome = {
/**
 * The room's name.
 */
room: string,
/**
 * The user this socket joined as.
 */
you: string,
/**
 * Everyone in the room, the joiner included.
 */
members: Array<string>,
/**
 * The room's newest message id when the socket joined (0: none yet).
 */
last_id: number, };

/**
 * A stored message: in frames (`{"type":"message",…}`) and in the history
 * ([`crate::MessagesPage`]).
 */
export type Message = {
/**
 * Per room, consecutive from 1.
 */
id: number,
/**
 * Who sent it.
 */
user: string,
/**
 * What they wrote.
 */
text: string,
/**
 * When the room stored it, in milliseconds since the Unix epoch.
 */
at_ms: number,
/**
 * The sender's own id for the message, when it gave one; carried by every frame that
 * delivers the message.
 */
client_id?: string, };

/**
 * `{"type":"presence","members"}`.
 */
export type Presence = {
/**
 * Everyone in the room now.
 */
members: Array<string>, };

/**
 * A frame a client sends.
 */
export type ClientFrame = { "type": "send",
/**
 * The message's text ([`crate::rules::check_text`]).
 */
text: string,
/**
 * The client's own id for the message ([`crate::rules::check_client_id`]),
 * echoed in the frames that deliver it.
 */
client_id?: string, };

/**
 * `{"rooms":[…],"cursor":null|"<c>"}`: one page of the room directory.
 */
export type RoomList = {
/**
 * Rooms in name order.
 */
rooms: Array<RoomSummary>,
/**
 * Where the next page starts; `null` on the last page.
 */
cursor: string | null, };

/**
 * One room of the directory. It may lag a few seconds behind the room itself.
 */
export type RoomSummary = {
/**
 * The room's name.
 */
name: string,
/**
 * How many users are in the room.
 */
members: number,
/**
 * How many messages the room holds.
 */
messages: number,
/**
 * When the newest message was stored, in milliseconds since the Unix epoch (0: none).
 */
last_at_ms: number, };

/**
 * `{"name","members":[…],"messages","last_id"}`: one room, read from the room itself.
 */
export type RoomInfo = {
/**
 * The room's name.
 */
name: string,
/**
 * Who is in the room now.
 */
members: Array<string>,
/**
 * How many messages the room holds.
 */
messages: number,
/**
 * The newest message's id (0: none yet).
 */
last_id: number, };

/**
 * `{"messages":[…]}`: messages with ids after `after`, ascending.
 */
export type MessagesPage = {
/**
 * At most `limit` messages, ascending by id.
 */
messages: Array<Message>, };

/**
 * `{"user","text","client_id"?}`: the body of `POST /api/rooms/<room>/messages`.
 */
export type PostMessage = {
/**
 * Who sends it ([`crate::rules::check_user`]).
 */
user: string,
/**
 * What they write ([`crate::rules::check_text`]).
 */
text: string,
/**
 * The sender's own id for the message ([`crate::rules::check_client_id`]).
 */
client_id?: string, };

/**
 * `{"id","at_ms"}`: the reply to a post, sent once the message is stored.
 */
export type Posted = {
/**
 * The message's id in its room.
 */
id: number,
/**
 * When it was stored, in milliseconds since the Unix epoch; the same in every frame
 * and in the history.
 */
at_ms: number, };

/**
 * `{"error":{"code","message"}}`: the body of every refusal.
 */
export type ErrorBody = {
/**
 * What went wrong.
 */
error: ErrorDetail, };

/**
 * `{"code","message"}`: an error, in an [`ErrorBody`] or an error frame.
 */
export type ErrorDetail = {
/**
 * A stable, machine-readable code (`invalid_text`, …).
 */
code: string,
/**
 * For people.
 */
message: string, };

/** The limits of `rules` in chat-protocol. */
export const ROOM_MAX = 64;
export const USER_MAX = 32;
export const CLIENT_ID_MAX = 64;
export const TEXT_MAX = 2000;
export const LIMIT_MAX = 500;
export const BODY_MAX = 65536;
