//! The worker: an axum `Router` over `http::Request<worker::Body>`, whose handlers read
//! the request into [`duro::http`] types and answer with `chat::api`'s route functions.
//! duro's futures are not `Send`, so each handler is `#[worker::send]`.

use axum::body::{self, Body};
use axum::extract::{RawPathParams, Request, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chat::{api, Room};
use chat_protocol::rules;
use duro::http;
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

/// A route's outcome as axum's response.
fn reply(outcome: api::Result<http::Response>) -> Response {
    outcome.unwrap_or_else(|refused| refused).map(Body::from)
}

/// The room of a route's path, as the client sent it (not percent-decoded: the chat
/// checks the raw segment).
fn room(params: &RawPathParams) -> &str {
    params.iter().next().map_or("", |(_, value)| value)
}

/// The request without its body, for the routes that read none.
fn head(req: Request) -> http::Request {
    req.map(|_| Vec::new())
}

#[worker::send]
async fn directory(State(env): Bindings, req: Request) -> Response {
    reply(api::directory(&*env, &head(req)).await)
}

#[worker::send]
async fn info(State(env): Bindings, params: RawPathParams) -> Response {
    reply(api::info(&*env, room(&params)).await)
}

#[worker::send]
async fn history(State(env): Bindings, params: RawPathParams, req: Request) -> Response {
    reply(api::history(&*env, room(&params), &head(req)).await)
}

#[worker::send]
async fn post(State(env): Bindings, params: RawPathParams, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = body::to_bytes(body, rules::BODY_MAX).await else {
        return reply(Err(http::error(
            413,
            "payload_too_large",
            &format!("the body is over {} bytes", rules::BODY_MAX),
        )));
    };
    let req = http::Request::from_parts(parts, body.to_vec());
    reply(api::post(&*env, room(&params), &req).await)
}

/// `GET /api/rooms/<room>/ws`: checked like the chat's, then forwarded to the room.
#[worker::send]
async fn connect(State(env): Bindings, params: RawPathParams, req: Request) -> Response {
    let name = room(&params);
    let (parts, body) = req.into_parts();
    let checked = http::Request::from_parts(parts, Vec::new());
    if let Err(refused) = api::connect(name, &checked) {
        return reply(Err(refused));
    }
    let forwarded = match worker::Request::try_from(checked.map(|_| body)) {
        Ok(req) => duro::forward::<Room>(&env, name, req).await,
        Err(e) => Err(e),
    };
    match forwarded {
        Ok(resp) => resp.into(),
        Err(e) => reply(Err(http::error(500, "internal", &e.to_string()))),
    }
}

async fn not_found(req: Request) -> Response {
    reply(Err(api::not_found(req.method().as_str(), req.uri().path())))
}
