//! The worker's HTTP routes (see the README), mapped to typed stub calls.

use duro::{CallError, Object};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::{valid_name, Board, Journal, MAX_BATCH};

/// Largest request body accepted.
const BODY_LIMIT: usize = 1 << 20;
/// Highest score accepted: 2^31.
const MAX_SCORE: u64 = 1 << 31;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Append {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendBatch {
    texts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fill {
    count: u64,
    #[serde(default)]
    seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Score {
    player: String,
    score: u64,
}

#[derive(Serialize)]
struct Id {
    id: u64,
}

#[derive(Serialize)]
struct Len {
    len: u64,
}

#[derive(Serialize)]
struct Info {
    len: u64,
    last_id: u64,
}

#[derive(Serialize)]
struct Entry {
    id: u64,
    text: String,
}

#[derive(Serialize)]
struct Entries {
    entries: Vec<Entry>,
}

#[derive(Serialize)]
struct Player {
    player: String,
    score: u64,
}

#[derive(Serialize)]
struct Ranked {
    rank: u64,
    top: Vec<Player>,
}

#[derive(Serialize)]
struct Players {
    players: u64,
}

fn json<T: Serialize>(status: u16, body: &T) -> Result<Response> {
    let resp = Response::from_bytes(serde_json::to_vec(body)?)?.with_status(status);
    resp.headers().set("content-type", "application/json")?;
    Ok(resp)
}

fn error(status: u16, code: &str, message: &str) -> Result<Response> {
    json(status, &duro::http::ErrorBody::new(code, message))
}

fn bad(message: &str) -> Result<Response> {
    error(400, "bad_request", message)
}

fn failed<E: std::fmt::Display>(e: CallError<E>) -> Result<Response> {
    error(e.code().status(), e.code().as_str(), &e.to_string())
}

fn framework(e: duro::Error) -> Result<Response> {
    error(e.code().status(), e.code().as_str(), e.message())
}

/// The body as a JSON object of type `T`, or the 400 to answer.
async fn body<T: DeserializeOwned>(req: &mut Request) -> std::result::Result<T, Result<Response>> {
    let bytes = req
        .bytes()
        .await
        .map_err(|e| bad(&format!("unreadable body: {e}")))?;
    if bytes.len() > BODY_LIMIT {
        return Err(error(413, "payload_too_large", "the body is over 1 MiB"));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(bad("the body must be a JSON object"));
    }
    serde_json::from_slice(&bytes).map_err(|e| bad(&format!("bad body: {e}")))
}

/// A number from 1 to [`MAX_BATCH`].
fn batch_size(n: u64, what: &str) -> std::result::Result<u64, Result<Response>> {
    match n {
        1..=MAX_BATCH => Ok(n),
        _ => Err(bad(&format!("{what} must be from 1 to {MAX_BATCH}"))),
    }
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(resp) => return resp,
        }
    };
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.inner().url();
    let path = duro::url::path(&url).to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (_, ["log" | "board", name, ..]) if !valid_name(name) => {
            bad("names are 1-128 characters of [A-Za-z0-9_.-]")
        }
        (Method::Post, ["log", name, "append"]) => {
            let Append { text } = tri!(body(&mut req).await);
            match Journal::stub(&env, name)?.append(text).await {
                Ok(id) => json(200, &Id { id }),
                Err(e) => framework(e),
            }
        }
        (Method::Post, ["log", name, "fill"]) => {
            let fill: Fill = tri!(body(&mut req).await);
            let count = tri!(batch_size(fill.count, "count"));
            match Journal::stub(&env, name)?.fill(count).await {
                Ok(len) => json(200, &Len { len }),
                Err(e) => framework(e),
            }
        }
        (Method::Post, ["log", name, "append-batch"]) => {
            let AppendBatch { texts } = tri!(body(&mut req).await);
            match Journal::stub(&env, name)?.append_batch(texts).await {
                Ok(len) => json(200, &Len { len }),
                Err(e) => failed(e),
            }
        }
        (Method::Get, ["log", name]) => match Journal::stub(&env, name)?.info().await {
            Ok((len, last_id)) => json(200, &Info { len, last_id }),
            Err(e) => framework(e),
        },
        (Method::Get, ["log", name, "range"]) => {
            let (mut after, mut limit) = (0, 100);
            for (key, value) in duro::url::query(&url) {
                let n = tri!(value
                    .parse::<u64>()
                    .map_err(|_| bad("after and limit are numbers")));
                match &*key {
                    "after" => after = n,
                    "limit" => limit = tri!(batch_size(n, "limit")),
                    _ => return bad("unknown query parameter (expected after, limit)"),
                }
            }
            match Journal::stub(&env, name)?.range(after, limit).await {
                Ok(page) => json(
                    200,
                    &Entries {
                        entries: page
                            .into_iter()
                            .map(|(id, text)| Entry { id, text })
                            .collect(),
                    },
                ),
                Err(e) => framework(e),
            }
        }
        (Method::Post, ["board", name, "score"]) => {
            let Score { player, score } = tri!(body(&mut req).await);
            if score > MAX_SCORE {
                return bad("score must be from 0 to 2147483648");
            }
            match Board::stub(&env, name)?.score(player, score).await {
                Ok(s) => json(
                    200,
                    &Ranked {
                        rank: s.rank,
                        top: s
                            .top
                            .into_iter()
                            .map(|(player, score)| Player { player, score })
                            .collect(),
                    },
                ),
                Err(e) => framework(e),
            }
        }
        (Method::Post, ["board", name, "fill"]) => {
            let fill: Fill = tri!(body(&mut req).await);
            let count = tri!(batch_size(fill.count, "count"));
            match Board::stub(&env, name)?
                .fill(count, fill.seed.unwrap_or(0))
                .await
            {
                Ok(players) => json(200, &Players { players }),
                Err(e) => framework(e),
            }
        }
        (Method::Get, ["__test", "stats", kind, name]) if test_routes(&env) => {
            if !valid_name(name) {
                return bad("names are 1-128 characters of [A-Za-z0-9_.-]");
            }
            let stats = match *kind {
                "log" => duro::object_stats::<Journal>(&env, name).await,
                "board" => duro::object_stats::<Board>(&env, name).await,
                _ => return bad("stats are of a log or a board"),
            };
            match stats {
                Ok(text) => {
                    let resp = Response::ok(text)?;
                    resp.headers().set("content-type", "application/json")?;
                    Ok(resp)
                }
                Err(e) => framework(e),
            }
        }
        _ => error(404, "not_found", &format!("no route for {path}")),
    }
}

fn test_routes(env: &Env) -> bool {
    env.var("DURO_TEST_ROUTES")
        .is_ok_and(|v| v.to_string() == "1")
}
