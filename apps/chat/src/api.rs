//! The chat's HTTP API: routes over [`duro::http`] types, so the same code answers in
//! workerd (`worker.rs` converts the request and performs the [`Routed`] outcome) and
//! natively against `TestEnv` (`tests/api.rs`).
//!
//! Paths are matched with `matchit` (the router `axum` and `worker::Router` are built
//! on) on the raw path, so a room is checked as the client sent it (`a%2Db` is refused)
//! and a trailing slash is an unknown route.

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

/// The API's routes.
#[derive(Clone, Copy)]
enum Route {
    Directory,
    Room,
    Messages,
    Socket,
}

fn routes() -> matchit::Router<Route> {
    let mut r = matchit::Router::new();
    for (path, route) in [
        ("/api/rooms", Route::Directory),
        ("/api/rooms/:room", Route::Room),
        ("/api/rooms/:room/messages", Route::Messages),
        ("/api/rooms/:room/ws", Route::Socket),
    ] {
        r.insert(path, route).expect("the routes do not overlap");
    }
    r
}

thread_local! {
    static ROUTES: matchit::Router<Route> = routes();
}

/// A contract violation: 400 with the rule's code.
fn invalid(e: chat_protocol::Invalid) -> Response {
    http::error(400, e.code(), &e.to_string())
}

/// 404 `{"error":{"code":"not_found",…}}`: no route (and no static file) for the request.
pub fn not_found(method: &str, path: &str) -> Response {
    http::error(404, "not_found", &format!("no route for {method} {path}"))
}

/// Answers one request of the chat's API.
pub async fn handle<E: Connect + KvSource>(env: &E, req: Request) -> Routed {
    let matched = ROUTES.with(|r| {
        r.at(req.uri().path())
            .ok()
            .map(|m| (*m.value, m.params.get("room").map(str::to_owned)))
    });
    // An empty segment (`/api/rooms//messages`) names no room: an unknown route.
    let matched = matched.filter(|(_, room)| room.as_deref() != Some(""));
    let Some((route, room)) = matched else {
        if !req.uri().path().starts_with("/api")
            && matches!(*req.method(), Method::GET | Method::HEAD)
        {
            return Routed::Asset;
        }
        return Routed::Reply(not_found(req.method().as_str(), req.uri().path()));
    };
    let room = room.unwrap_or_default();
    let outcome = match (route, req.method().clone()) {
        (Route::Directory, Method::GET) => directory(env, &req).await,
        (Route::Room, Method::GET) => info(env, &room).await,
        (Route::Messages, Method::GET) => history(env, &room, &req).await,
        (Route::Messages, Method::POST) => post(env, &room, &req).await,
        (Route::Socket, Method::GET) => return connect(room, &req).unwrap_or_else(Routed::Reply),
        _ => Err(not_found(req.method().as_str(), req.uri().path())),
    };
    Routed::Reply(outcome.unwrap_or_else(|e| e))
}

/// A route's outcome: its reply, or the error response (duro's errors convert with `?`).
type Result<T> = core::result::Result<T, Response>;

/// `GET /api/rooms`: the directory, from the index (no room is woken).
async fn directory(env: &impl KvSource, req: &Request) -> Result<Response> {
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

fn room(env: &impl Connect, name: &str) -> Result<<Room as Object>::Stub> {
    rules::check_room(name).map_err(invalid)?;
    Ok(Room::stub(env, name)?)
}

/// `GET /api/rooms/<room>`.
async fn info(env: &impl Connect, name: &str) -> Result<Response> {
    Ok(http::json(200, &room(env, name)?.info().await?))
}

/// `GET /api/rooms/<room>/messages?after=&limit=`.
async fn history(env: &impl Connect, name: &str, req: &Request) -> Result<Response> {
    let room = room(env, name)?;
    let after = match http::query(req.uri(), "after") {
        Some(v) => rules::parse_after(&v).map_err(invalid)?,
        None => 0,
    };
    let limit = limit(req)?;
    Ok(http::json(200, &room.history(after, limit).await?))
}

/// `POST /api/rooms/<room>/messages` with `{"user","text","client_id"?}`.
async fn post(env: &impl Connect, name: &str, req: &Request) -> Result<Response> {
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
fn connect(name: String, req: &Request) -> Result<Routed> {
    rules::check_room(&name).map_err(invalid)?;
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
    Ok(Routed::Connect(name))
}

fn limit(req: &Request) -> Result<u32> {
    match http::query(req.uri(), "limit") {
        Some(v) => rules::parse_limit(&v).map_err(invalid),
        None => Ok(rules::LIMIT_DEFAULT),
    }
}
