//! The chat's HTTP API: routes over [`duro::http`] types, so the same code answers in
//! workerd (`worker.rs` converts the request and performs the [`Routed`] outcome) and
//! natively against `TestEnv` (`tests/api.rs`).
//!
//! Routes are a `match` on the method and the raw path's segments: a room is checked as
//! the client sent it (`a%2Db` is refused), and a trailing slash or an empty segment is an
//! unknown route (`""` is no room name). The router crates measured against this match
//! (`docs/design.md`, "The chat's routes") cost more wasm for four routes.

// A response is the error value of a route: one per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use chat_protocol::{rules, PostMessage, RoomList};
use duro::http::{self, header, HeaderValue, Method, Request, Response};
use duro::index::KvSource;
use duro::{Connect, Object};

use crate::Room;

/// What the worker does with a request.
#[derive(Debug)]
pub enum Routed {
    /// Answer with this response.
    Reply(Response),
    /// A checked WebSocket upgrade: forward it to this room.
    Connect(String),
    /// Not an API route: the page's static files answer GET and HEAD.
    Asset,
}

/// A contract violation: 400 with the rule's code.
#[inline(never)]
fn invalid(e: chat_protocol::Invalid) -> Response {
    http::error(400, e.code(), &e.to_string())
}

/// 404 `{"error":{"code":"not_found",…}}`: no route (and no static file) for the request.
pub fn not_found(method: &str, path: &str) -> Response {
    http::error(404, "not_found", &format!("no route for {method} {path}"))
}

/// Answers one request of the chat's API.
pub async fn handle<E: Connect + KvSource>(env: &E, req: Request) -> Routed {
    let path = req.uri().path();
    // An empty segment (a trailing slash, `//`) is in no route.
    let segments: Vec<&str> = if path != "/" && path[1..].split('/').any(str::is_empty) {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    let reply = match (req.method(), segments.as_slice()) {
        (&Method::GET, ["", "api", "rooms"]) => directory(env, &req).await,
        (&Method::GET, ["", "api", "rooms", room]) => info(env, room).await,
        (&Method::GET, ["", "api", "rooms", room, "messages"]) => history(env, room, &req).await,
        (&Method::POST, ["", "api", "rooms", room, "messages"]) => post(env, room, &req).await,
        (&Method::GET, ["", "api", "rooms", room, "ws"]) => match connect(room, &req) {
            Ok(()) => return Routed::Connect((*room).to_owned()),
            Err(refused) => Err(refused),
        },
        (&Method::GET | &Method::HEAD, _) if !path.starts_with("/api") => return Routed::Asset,
        _ => Err(not_found(req.method().as_str(), path)),
    };
    Routed::Reply(reply.unwrap_or_else(|refused| refused))
}

/// A route's outcome: its reply, or the error response (duro's errors convert with `?`).
pub type Result<T> = core::result::Result<T, Response>;

/// `GET /api/rooms`: the directory, from the index (no room is woken).
pub async fn directory(env: &impl KvSource, req: &Request) -> Result<Response> {
    let prefix = http::query(req.uri(), "prefix").unwrap_or_default();
    if !prefix.is_empty() {
        rules::check_room(&prefix).map_err(invalid)?;
    }
    let cursor = http::query(req.uri(), "cursor").filter(|c| !c.is_empty());
    let limit = limit(req)?;
    let page = duro::index::open::<Room>(env)?
        .list(&prefix, cursor.as_deref(), limit as usize)
        .await
        .map_err(duro::Error::from)?;
    Ok(http::json(
        200,
        &RoomList {
            rooms: page.entries.into_iter().map(|e| e.value).collect(),
            cursor: page.cursor,
        },
    ))
}

/// The stub of room `name`, once the name is checked.
pub fn room(env: &impl Connect, name: &str) -> Result<<Room as Object>::Stub> {
    rules::check_room(name).map_err(invalid)?;
    Ok(Room::stub(env, name)?)
}

/// `GET /api/rooms/<room>`.
pub async fn info(env: &impl Connect, name: &str) -> Result<Response> {
    Ok(http::json(200, &room(env, name)?.info().await?))
}

/// `GET /api/rooms/<room>/messages?after=&limit=`.
pub async fn history(env: &impl Connect, name: &str, req: &Request) -> Result<Response> {
    let room = room(env, name)?;
    let after = match http::query(req.uri(), "after") {
        Some(v) => rules::parse_after(&v).map_err(invalid)?,
        None => 0,
    };
    let limit = limit(req)?;
    Ok(http::json(200, &room.history(after, limit).await?))
}

/// `POST /api/rooms/<room>/messages` with `{"user","text","client_id"?}`.
pub async fn post(env: &impl Connect, name: &str, req: &Request) -> Result<Response> {
    let room = room(env, name)?;
    let body = req.body();
    if body.len() > rules::BODY_MAX {
        return Err(http::error(
            413,
            "payload_too_large",
            &format!("the body is over {} bytes", rules::BODY_MAX),
        ));
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(http::error(
            400,
            "bad_request",
            "expected {\"user\":U,\"text\":T,\"client_id\":C?}",
        ));
    }
    let post: PostMessage = serde_json::from_slice(body).map_err(|e| {
        http::error(
            400,
            "bad_request",
            &format!("the body is not the JSON expected: {e}"),
        )
    })?;
    post.check().map_err(invalid)?;
    let posted = room.post(post.user, post.text, post.client_id).await?;
    Ok(http::json(200, &posted))
}

/// `GET /api/rooms/<room>/ws?user=&after=`: checks the request before any upgrade.
pub fn connect(name: &str, req: &Request) -> Result<()> {
    rules::check_room(name).map_err(invalid)?;
    rules::check_user(&http::query(req.uri(), "user").unwrap_or_default()).map_err(invalid)?;
    if let Some(after) = http::query(req.uri(), "after") {
        rules::parse_after(&after).map_err(invalid)?;
    }
    let upgrade = req.headers().get(header::UPGRADE);
    if !upgrade.is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket")) {
        let mut resp = http::error(
            426,
            "upgrade_required",
            "this route takes a WebSocket upgrade",
        );
        resp.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return Err(resp);
    }
    Ok(())
}

/// The `limit` query parameter (1–500, 100 when absent).
pub fn limit(req: &Request) -> Result<u32> {
    match http::query(req.uri(), "limit") {
        Some(v) => rules::parse_limit(&v).map_err(invalid),
        None => Ok(rules::LIMIT_DEFAULT),
    }
}
