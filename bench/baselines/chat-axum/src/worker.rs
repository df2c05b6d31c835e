//! The worker: an axum `Router` over `http::Request<worker::Body>`, whose handlers read
//! the request into [`duro::http`] types and answer with `chat::api`'s route functions.
//! duro's futures are not `Send`, so each handler is `#[worker::send]`.

use axum::body::{self, Body};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chat::{api, Room};
use chat_protocol::rules;
use duro::http::{self, header};
use tower_service::Service;
use worker::send::SendWrapper;
use worker::{event, Context, Env, HttpRequest};

/// The routes' state: the worker's bindings (not `Send`, hence the wrapper).
type Bindings = State<SendWrapper<Env>>;

/// The chat's API, as axum routes.
fn router(env: Env) -> Router {
    Router::new()
        .route("/api/rooms", get(directory))
        .route("/api/rooms/{room}", get(info))
        .route("/api/rooms/{room}/messages", get(history).post(post))
        .route("/api/rooms/{room}/ws", get(connect))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(SendWrapper::new(env))
}

#[event(fetch)]
async fn fetch(req: HttpRequest, env: Env, _ctx: Context) -> worker::Result<Response> {
    Ok(router(env).call(req).await?)
}

/// A reply of `chat::api` (or its refusal) as axum's response.
struct Reply(http::Response);

impl From<http::Response> for Reply {
    fn from(resp: http::Response) -> Reply {
        Reply(resp)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.0.map(Body::from)
    }
}

/// What a route answers: `chat::api`'s outcome.
type Answer = Result<Reply, Reply>;

/// The room of a route's path: its segment as the client sent it (the chat checks it
/// undecoded, where axum's path extractors decode it). An empty one is no route.
fn room(req: &http::Request) -> api::Result<&str> {
    let path = req.uri().path();
    match path.split('/').nth(3) {
        Some(room) if !room.is_empty() => Ok(room),
        _ => Err(api::not_found(req.method().as_str(), path)),
    }
}

/// The request without its body, for the routes that read none.
fn head(req: Request) -> http::Request {
    req.map(|_| Vec::new())
}

/// The request with its body, of at most the chat's limit.
async fn with_body(req: Request) -> api::Result<http::Request> {
    let too_large = || {
        http::error(
            413,
            "payload_too_large",
            &format!("the body is over {} bytes", rules::BODY_MAX),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > rules::BODY_MAX as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let body = body::to_bytes(body, rules::BODY_MAX)
        .await
        .map_err(|_| too_large())?;
    Ok(http::Request::from_parts(parts, body.to_vec()))
}

#[worker::send]
async fn directory(State(env): Bindings, req: Request) -> Answer {
    Ok(api::directory(&*env, &head(req)).await?.into())
}

#[worker::send]
async fn info(State(env): Bindings, req: Request) -> Answer {
    let req = head(req);
    Ok(api::info(&*env, room(&req)?).await?.into())
}

#[worker::send]
async fn history(State(env): Bindings, req: Request) -> Answer {
    let req = head(req);
    Ok(api::history(&*env, room(&req)?, &req).await?.into())
}

#[worker::send]
async fn post(State(env): Bindings, req: Request) -> Answer {
    let req = with_body(req).await?;
    Ok(api::post(&*env, room(&req)?, &req).await?.into())
}

/// `GET /api/rooms/<room>/ws`: checked like the chat's, then forwarded to the room.
#[worker::send]
async fn connect(State(env): Bindings, req: Request) -> Result<Response, Reply> {
    let (parts, body) = req.into_parts();
    let checked = http::Request::from_parts(parts, Vec::new());
    let name = room(&checked)?.to_owned();
    api::connect(&name, &checked)?;
    let forwarded = match worker::Request::try_from(checked.map(|_| body)) {
        Ok(req) => duro::forward::<Room>(&env, &name, req).await,
        Err(e) => Err(e),
    };
    forwarded
        .map(Response::from)
        .map_err(|e| http::error(500, "internal", &e.to_string()).into())
}

async fn not_found(req: Request) -> Reply {
    api::not_found(req.method().as_str(), req.uri().path()).into()
}
