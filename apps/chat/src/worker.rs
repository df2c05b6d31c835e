//! The chat worker's entry: reads the request into [`duro::http`] types, lets
//! [`api::handle`] answer it, and performs what it decided (a reply, a WebSocket upgrade
//! forwarded to the room, or the page's static files).

use chat_protocol::rules;
use duro::http::{from_worker, to_worker};
use worker::{event, Context, Env, Request, Response, Result};

use crate::api::{self, Routed};
use crate::Room;

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let request = match from_worker(&mut req, rules::BODY_MAX).await {
        Ok(r) => r,
        Err(e) => return to_worker(e.into()),
    };
    match api::handle(&env, request).await {
        Routed::Reply(resp) => to_worker(resp),
        Routed::Connect(room) => duro::forward::<Room>(&env, &room, req).await,
        Routed::Asset => {
            let method = req.method();
            let path = duro::url::path(&req.inner().url()).to_owned();
            let asset = env.assets("ASSETS")?.fetch_request(req).await?;
            if asset.status_code() != 404 {
                return Ok(asset);
            }
            to_worker(api::not_found(method.as_ref(), &path))
        }
    }
}
