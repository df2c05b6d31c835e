//! The fetch hook: an object's own HTTP handler runs as a turn like a write call; what it
//! changes is saved before the response, an `Err` or a panic rolls back and answers with
//! a JSON error, and an object without a handler answers 404.

use duro::http::{self, Method, Request, Response};
use duro::prelude::*;
use duro::testing::TestEnv;
use duro::{Accept, Fetch, Refuse, Socket, Sockets, Upgrade};
use serde_json::{json, Value};

/// A list of notes behind its own routes.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Board {
    notes: Vec<String>,
}

#[duro::methods]
impl Board {
    /// The notes, over RPC.
    #[rpc]
    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

impl Fetch for Board {
    async fn fetch(&mut self, ctx: &Ctx, request: Request) -> duro::Result<Response> {
        let text = String::from_utf8_lossy(request.body()).into_owned();
        match (request.method().clone(), request.uri().path()) {
            (Method::GET, "/notes") => Ok(http::json(200, &self.notes)),
            (Method::POST, "/notes") => {
                self.notes.push(text);
                ctx.sockets().broadcast(&self.notes.len())?;
                Ok(http::json(201, &self.notes.len()))
            }
            // Changes the state, then fails: nothing of it may stay.
            (Method::POST, "/fail") => {
                self.notes.push(text);
                ctx.sockets().broadcast(&"failed")?;
                Err(duro::Error::bad_request("refused after a change"))
            }
            (Method::POST, "/panic") => {
                self.notes.push(text);
                panic!("the handler gave up");
            }
            (_, "/echo") => Ok(http::json(
                200,
                &json!({
                    "method": request.method().as_str(),
                    "path": request.uri().path(),
                    "query": http::query(request.uri(), "q"),
                    "header": request.headers().get("x-test").and_then(|v| v.to_str().ok()),
                    "name_header": request.headers().contains_key("x-duro-object"),
                    "body": text,
                    "object": ctx.name(),
                }),
            )),
            _ => Ok(http::error(404, "not_found", "no such route")),
        }
    }
}

impl Sockets for Board {
    type Attachment = ();
    type Message = ();

    async fn connect(&mut self, _: &Ctx, _: &Upgrade) -> Result<Accept<()>, Refuse> {
        Ok(Accept::new(()))
    }

    async fn message(&mut self, _: &Ctx, _: &Socket<()>, _: ()) -> duro::Result<()> {
        Ok(())
    }
}

/// An object without a fetch handler (nor any method).
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Quiet {}

#[duro::methods]
impl Quiet {}

fn request(method: Method, uri: &str, body: &str) -> Request {
    http::request()
        .method(method)
        .uri(uri)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

/// Sends `method path` with `body` to the board "b".
async fn send(env: &TestEnv, method: Method, path: &str, body: &str) -> Response {
    env.fetch::<Board>("b", request(method, path, body)).await
}

fn body(resp: &Response) -> Value {
    assert_eq!(resp.headers()["content-type"], "application/json");
    serde_json::from_slice(resp.body()).unwrap()
}

#[tokio::test]
async fn a_change_is_saved_before_the_response_and_seen_by_calls() {
    let env = TestEnv::new();
    let resp = send(&env, Method::POST, "/notes", "milk").await;
    assert_eq!(resp.status(), 201);
    assert_eq!(body(&resp), json!(1));
    assert_eq!(env.stats::<Board>("b").storage.writes, 1);
    let board = env.stub::<Board>("b");
    assert_eq!(board.notes().await.unwrap(), ["milk"]);
    env.restart();
    assert_eq!(board.notes().await.unwrap(), ["milk"]);
    let resp = send(&env, Method::GET, "/notes", "").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body(&resp), json!(["milk"]));
    // A request that changes nothing writes nothing.
    assert_eq!(env.stats::<Board>("b").storage.writes, 1);
}

#[tokio::test]
async fn an_err_rolls_back_and_answers_with_the_json_error() {
    let env = TestEnv::new();
    send(&env, Method::POST, "/notes", "milk").await;
    let watcher = env.socket::<Board>("b", "/ws", &[]).await.unwrap();
    let resp = send(&env, Method::POST, "/fail", "eggs").await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        body(&resp),
        json!({"error": {"code": "bad_request", "message": "refused after a change"}})
    );
    // Rolled back in memory and in storage; what it sent was dropped.
    assert_eq!(env.stub::<Board>("b").notes().await.unwrap(), ["milk"]);
    assert!(watcher.recv().is_none());
    env.restart();
    assert_eq!(env.stub::<Board>("b").notes().await.unwrap(), ["milk"]);
    // What a successful request sends leaves once it is saved.
    send(&env, Method::POST, "/notes", "eggs").await;
    assert_eq!(watcher.recv_json::<u64>(), 2);
}

#[tokio::test]
async fn a_panic_rolls_back_and_answers_500() {
    let env = TestEnv::new();
    send(&env, Method::POST, "/notes", "milk").await;
    let resp = send(&env, Method::POST, "/panic", "eggs").await;
    assert_eq!(resp.status(), 500);
    let error = body(&resp);
    assert_eq!(error["error"]["code"], "internal");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("the handler gave up"));
    assert_eq!(env.stub::<Board>("b").notes().await.unwrap(), ["milk"]);
    assert_eq!(env.stats::<Board>("b").storage.writes, 1);
}

#[tokio::test]
async fn an_object_without_a_handler_answers_404() {
    let env = TestEnv::new();
    let resp = env
        .fetch::<Quiet>("q", request(Method::POST, "/", "x"))
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(body(&resp)["error"]["code"], "unknown_method");
    assert_eq!(env.stats::<Quiet>("q").storage.writes, 0);
    // A bad object name is refused before any object is reached.
    let resp = env.fetch::<Board>("", request(Method::GET, "/", "")).await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn the_handler_sees_the_whole_request() {
    let env = TestEnv::new();
    let req = http::request()
        .method(Method::PUT)
        .uri("https://example.com/echo?q=a%20b&r=1")
        .header("x-test", "yes")
        .body(b"hello".to_vec())
        .unwrap();
    let resp = env.fetch::<Board>("b", req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        body(&resp),
        json!({
            "method": "PUT",
            "path": "/echo",
            "query": "a b",
            "header": "yes",
            "name_header": false,
            "body": "hello",
            "object": "b",
        })
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_the_handler() {
    let env = TestEnv::new();
    env.set_body_limit(4);
    let resp = send(&env, Method::POST, "/notes", "too long").await;
    assert_eq!(resp.status(), 413);
    assert_eq!(body(&resp)["error"]["code"], "payload_too_large");
    assert!(env.stub::<Board>("b").notes().await.unwrap().is_empty());
}
