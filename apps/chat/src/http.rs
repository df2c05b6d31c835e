//! The chat worker's HTTP API (the page itself is served from `public/` as static assets).

use chat_protocol::{rules, ErrorBody, ErrorDetail, PostMessage, RoomList};
use duro::Object;
use serde::Serialize;
use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::Room;

/// Rooms a directory page lists unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = rules::LIMIT_DEFAULT;

/// A refusal: its status, code and message.
struct Refusal {
    status: u16,
    code: String,
    message: String,
}

impl Refusal {
    fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn not_found(method: &Method, path: &str) -> Self {
        Refusal::new(404, "not_found", format!("no route for {method:?} {path}"))
    }
}

impl From<chat_protocol::Invalid> for Refusal {
    fn from(e: chat_protocol::Invalid) -> Self {
        Refusal::new(400, e.code(), e.to_string())
    }
}

impl From<duro::Error> for Refusal {
    fn from(e: duro::Error) -> Self {
        Refusal::new(e.code().status(), e.code().as_str(), e.message())
    }
}

impl From<worker::Error> for Refusal {
    fn from(e: worker::Error) -> Self {
        Refusal::new(500, "internal", e.to_string())
    }
}

fn json<T: Serialize>(status: u16, body: &T) -> Result<Response> {
    let resp = Response::from_bytes(serde_json::to_vec(body)?)?.with_status(status);
    resp.headers().set("content-type", "application/json")?;
    Ok(resp)
}

fn refused(r: Refusal) -> Result<Response> {
    let body = ErrorBody {
        error: ErrorDetail {
            code: r.code,
            message: r.message,
        },
    };
    let resp = json(r.status, &body)?;
    if r.status == 426 {
        resp.headers().set("upgrade", "websocket")?;
    }
    Ok(resp)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match route(req, &env).await {
        Ok(resp) => Ok(resp),
        Err(r) => refused(r),
    }
}

/// The decoded query parameter `name`, if present.
fn param(query: &[(String, String)], name: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn limit(query: &[(String, String)]) -> core::result::Result<u32, Refusal> {
    match param(query, "limit") {
        Some(v) => Ok(rules::parse_limit(&v)?),
        None => Ok(DEFAULT_LIMIT),
    }
}

async fn route(mut req: Request, env: &Env) -> core::result::Result<Response, Refusal> {
    let url = req.inner().url();
    let path = duro::url::path(&url).to_owned();
    let query = duro::url::query(&url);
    let method = req.method();
    let segments: Vec<&str> = path.split('/').collect();
    let known = segments.len() >= 3
        && segments.len() <= 5
        && segments[1] == "api"
        && segments[2] == "rooms"
        && segments[1..].iter().all(|s| !s.is_empty());
    if !known {
        // The page's files, from the static assets; anything else is unknown.
        if !path.starts_with("/api") && matches!(method, Method::Get | Method::Head) {
            let asset = env.assets("ASSETS")?.fetch_request(req).await?;
            if asset.status_code() != 404 {
                return Ok(asset);
            }
        }
        return Err(Refusal::not_found(&method, &path));
    }
    if segments.len() == 3 {
        if method != Method::Get {
            return Err(Refusal::not_found(&method, &path));
        }
        return directory(env, &query).await;
    }
    let action = segments.get(4).copied().unwrap_or("");
    let allowed = matches!(
        (action, &method),
        ("", Method::Get) | ("messages", Method::Get | Method::Post) | ("ws", Method::Get)
    );
    if !allowed {
        return Err(Refusal::not_found(&method, &path));
    }
    let name = segments[3];
    rules::check_room(name)?;
    let room = Room::stub(env, name)?;
    match (action, method) {
        ("", _) => Ok(json(200, &room.info().await?)?),
        ("messages", Method::Get) => {
            let after = match param(&query, "after") {
                Some(v) => rules::parse_after(&v)?,
                None => 0,
            };
            let limit = limit(&query)?;
            Ok(json(200, &room.history(after, limit).await?)?)
        }
        ("messages", _) => {
            let body = body(&mut req).await?;
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            if first != Some(&b'{') {
                return Err(Refusal::new(
                    400,
                    "bad_request",
                    "expected {\"user\":U,\"text\":T,\"client_id\":C?}",
                ));
            }
            let post: PostMessage = serde_json::from_slice(&body).map_err(|e| {
                Refusal::new(
                    400,
                    "bad_request",
                    format!("the body is not the JSON expected: {e}"),
                )
            })?;
            post.check()?;
            let posted = room.post(post.user, post.text, post.client_id).await?;
            Ok(json(200, &posted)?)
        }
        _ => {
            rules::check_user(&param(&query, "user").unwrap_or_default())?;
            if let Some(after) = param(&query, "after") {
                rules::parse_after(&after)?;
            }
            let upgrade = req.headers().get("upgrade")?;
            if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
                return Err(Refusal::new(
                    426,
                    "upgrade_required",
                    "this route takes a WebSocket upgrade",
                ));
            }
            Ok(duro::forward::<Room>(env, room.name(), req).await?)
        }
    }
}

/// Reads a body of at most [`rules::BODY_MAX`] bytes (413 beyond, declared or not).
async fn body(req: &mut Request) -> core::result::Result<Vec<u8>, Refusal> {
    let too_large = || {
        Refusal::new(
            413,
            "payload_too_large",
            format!("the body is over {} bytes", rules::BODY_MAX),
        )
    };
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > rules::BODY_MAX as u64) {
        return Err(too_large());
    }
    let bytes = req.bytes().await?;
    if bytes.len() > rules::BODY_MAX {
        return Err(too_large());
    }
    Ok(bytes)
}

/// `GET /api/rooms`: the directory, from the index (no room is woken).
async fn directory(
    env: &Env,
    query: &[(String, String)],
) -> core::result::Result<Response, Refusal> {
    let prefix = param(query, "prefix").unwrap_or_default();
    if !prefix.is_empty() {
        rules::check_room(&prefix)?;
    }
    let cursor = param(query, "cursor").filter(|c| !c.is_empty());
    let limit = limit(query)?;
    let index = duro::index::open::<Room>(env)?;
    let page = index
        .list(&prefix, cursor.as_deref(), limit as usize)
        .await
        .map_err(duro::Error::from)?;
    let body = RoomList {
        rooms: page.entries.into_iter().map(|e| e.value).collect(),
        cursor: page.cursor,
    };
    Ok(json(200, &body)?)
}
