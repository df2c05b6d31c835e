//! A small fake of the Cloudflare API on loopback, enough for wrangler's `versions upload`,
//! `versions deploy`, `versions list`, `versions view`, `deployments list`/`status` and
//! `deploy` of one worker. Answers in Cloudflare's envelope
//! (`{success, errors, messages, result}`), records every upload and deployment, and can be
//! told to fail a step.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// The account id the tests give wrangler.
pub const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// A step the fake can be told to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `POST …/versions` (`wrangler versions upload`).
    Upload,
    /// `POST …/deployments` (`wrangler versions deploy`).
    Split,
    /// `PUT …/scripts/<name>` (`wrangler deploy`).
    FullDeploy,
}

/// What the fake saw change, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A version uploaded with `versions upload`: its id, its `workers/tag` annotation and
    /// whether it carried migrations.
    Upload {
        /// The new version's id.
        id: String,
        /// Its tag annotation.
        tag: Option<String>,
        /// Whether the upload carried `[[migrations]]` steps.
        migrations: bool,
    },
    /// A deployment: each version id with its percentage.
    Deployment(Vec<(String, u32)>),
    /// A whole-script upload (`wrangler deploy`), deployed at 100 %: the version's id and
    /// the migration tag it moved the script to.
    FullDeploy {
        /// The new version's id.
        id: String,
        /// The script's migration tag afterwards.
        migration_tag: Option<String>,
    },
    /// A step refused because the test asked for it.
    Failed(Step),
}

#[derive(Debug, Clone)]
struct Version {
    id: String,
    number: u64,
    created_on: String,
    annotations: Value,
}

#[derive(Debug, Default)]
struct State {
    script: Option<String>,
    migration_tag: Option<String>,
    versions: Vec<Version>,
    /// Newest last.
    deployments: Vec<Value>,
    events: Vec<Event>,
    requests: Vec<String>,
    /// How many of `requests` `take_writes` has looked at.
    writes_seen: usize,
    fail: Option<Step>,
    clock: u64,
}

/// The running fake. Stops accepting when dropped (the listener thread ends with the
/// process; each test has its own port).
pub struct FakeApi {
    state: Arc<Mutex<State>>,
    port: u16,
}

impl FakeApi {
    /// Starts the fake on a free loopback port, for a worker that does not exist yet.
    pub fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake API");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FakeApi { state, port }
    }

    /// The base URL for `CLOUDFLARE_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/client/v4", self.port)
    }

    /// Fails `step` from now on, with a 400 and a Cloudflare error, without changing
    /// anything.
    pub fn fail(&self, step: Step) {
        self.state.lock().unwrap().fail = Some(step);
    }

    /// Every upload, deployment and refused step since the last call, in order.
    pub fn take_events(&self) -> Vec<Event> {
        std::mem::take(&mut self.state.lock().unwrap().events)
    }

    /// Every request line so far (`METHOD /path?query`), for failure messages.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests that are not `GET`s since the last call, in order, without the
    /// account's path prefix: what changed (or tried to change) the worker.
    pub fn take_writes(&self) -> Vec<String> {
        let mut state = self.state.lock().unwrap();
        let seen = state.writes_seen;
        state.writes_seen = state.requests.len();
        let prefix = format!("/accounts/{ACCOUNT}/workers/scripts/");
        state.requests[seen..]
            .iter()
            .filter(|line| !line.starts_with("GET "))
            .map(|line| line.replacen(&prefix, "", 1))
            .collect()
    }

    /// The current deployment: version ids with percentages.
    pub fn current(&self) -> Vec<(String, u32)> {
        let state = self.state.lock().unwrap();
        state.deployments.last().map(split_of).unwrap_or_default()
    }

    /// The script's migration tag.
    pub fn migration_tag(&self) -> Option<String> {
        self.state.lock().unwrap().migration_tag.clone()
    }
}

fn split_of(deployment: &Value) -> Vec<(String, u32)> {
    deployment["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["version_id"].as_str().unwrap_or_default().to_owned(),
                v["percentage"].as_f64().unwrap_or_default() as u32,
            )
        })
        .collect()
}

/// One request: method, path (without the `/client/v4` prefix), query, headers, body.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    // One request per connection (the answer says `connection: close`).
    if let Some(request) = read_request(&mut reader) {
        let (status, body) = {
            let mut state = state.lock().unwrap();
            state.requests.push(format!(
                "{} {}?{}",
                request.method, request.path, request.query
            ));
            route(&mut state, &request)
        };
        let body = body.to_string();
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            if status < 400 { "OK" } else { "Error" },
            body.len()
        );
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(body.as_bytes());
        let _ = writer.flush();
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if let Some(length) = headers.get("content-length") {
        body.resize(length.parse().ok()?, 0);
        reader.read_exact(&mut body).ok()?;
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let path = path.strip_prefix("/client/v4").unwrap_or(path).to_owned();
    Some(Request {
        method,
        path,
        query: query.to_owned(),
        headers,
        body,
    })
}

fn ok(result: Value) -> (u16, Value) {
    (
        200,
        json!({ "success": true, "errors": [], "messages": [], "result": result }),
    )
}

fn error(status: u16, code: u32, message: &str) -> (u16, Value) {
    (
        status,
        json!({
            "success": false,
            "errors": [{ "code": code, "message": message }],
            "messages": [],
            "result": null
        }),
    )
}

fn no_worker() -> (u16, Value) {
    error(404, 10007, "This Worker does not exist on your account.")
}

impl State {
    fn tick(&mut self) -> String {
        self.clock += 1;
        format!(
            "2026-01-01T00:{:02}:{:02}.000000Z",
            self.clock / 60,
            self.clock % 60
        )
    }

    fn new_version(&mut self, annotations: Value) -> Version {
        let number = self.versions.len() as u64 + 1;
        let version = Version {
            id: format!("00000000-0000-4000-8000-{number:012}"),
            number,
            created_on: self.tick(),
            annotations,
        };
        self.versions.push(version.clone());
        version
    }

    fn version_json(&self, version: &Version) -> Value {
        json!({
            "id": version.id,
            "number": version.number,
            "annotations": version.annotations,
            "metadata": {
                "author_email": "ci@example.com",
                "author_id": "author",
                "created_on": version.created_on,
                "modified_on": version.created_on,
                "source": "wrangler",
                "has_preview": false
            },
            "resources": {
                "bindings": [],
                "script": { "etag": "etag", "handlers": ["fetch"] },
                "script_runtime": { "compatibility_date": "2025-09-01", "compatibility_flags": [], "usage_model": "standard" }
            }
        })
    }

    fn deploy(&mut self, versions: Vec<(String, u32)>, message: Option<&str>) -> Value {
        let created_on = self.tick();
        let deployment = json!({
            "id": format!("dddddddd-0000-4000-8000-{:012}", self.deployments.len() + 1),
            "source": "wrangler",
            "strategy": "percentage",
            "author_email": "ci@example.com",
            "created_on": created_on,
            "annotations": { "workers/message": message },
            "versions": versions.iter().map(|(id, pct)| json!({"version_id": id, "percentage": pct})).collect::<Vec<_>>()
        });
        self.events.push(Event::Deployment(versions));
        self.deployments.push(deployment.clone());
        deployment
    }

    fn script_json(&self, name: &str) -> Value {
        json!({
            "id": name,
            "tag": "fake-script-tag",
            "etag": "etag",
            "handlers": ["fetch"],
            "migration_tag": self.migration_tag,
            "created_on": "2026-01-01T00:00:00.000000Z",
            "modified_on": "2026-01-01T00:00:00.000000Z",
            "usage_model": "standard",
            "compatibility_date": "2025-09-01"
        })
    }

    fn refuse(&mut self, step: Step) -> Option<(u16, Value)> {
        (self.fail == Some(step)).then(|| {
            self.events.push(Event::Failed(step));
            error(
                400,
                10000,
                &format!("the fake API was told to fail {step:?}"),
            )
        })
    }
}

/// The metadata part of a multipart upload, as JSON.
fn upload_metadata(request: &Request) -> Value {
    let boundary = request
        .headers
        .get("content-type")
        .and_then(|t| t.split("boundary=").nth(1))
        .map(|b| format!("--{}", b.trim_matches('"')))
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&request.body);
    for part in body.split(boundary.as_str()) {
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        if head.contains("name=\"metadata\"") {
            return serde_json::from_str(content.trim_end()).unwrap_or(Value::Null);
        }
    }
    Value::Null
}

fn route(state: &mut State, request: &Request) -> (u16, Value) {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let method = request.method.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["accounts", _, "workers", "scripts"]) => {
            let scripts: Vec<Value> = state.script.iter().map(|s| state.script_json(s)).collect();
            ok(json!(scripts))
        }
        ("GET", ["accounts", _, "workers", "services", name]) => match &state.script {
            Some(script) if script == name => ok(json!({
                "id": name,
                "default_environment": { "environment": "production", "script": state.script_json(name) }
            })),
            _ => no_worker(),
        },
        ("GET", ["accounts", _, "workers", "subdomain"]) => ok(json!({ "subdomain": "fake" })),
        ("GET", ["accounts", _, "workers", "scripts", _, "subdomain"]) => {
            ok(json!({ "enabled": true, "previews_enabled": false }))
        }
        ("POST", ["accounts", _, "workers", "scripts", _, "subdomain"]) => {
            ok(json!({ "enabled": true, "previews_enabled": false }))
        }
        ("GET", ["accounts", _, "workers", "scripts", _, "schedules"]) => {
            ok(json!({ "schedules": [] }))
        }
        ("PUT", ["accounts", _, "workers", "scripts", _, "schedules"]) => {
            ok(json!({ "schedules": [] }))
        }
        ("GET", ["zones"]) => ok(json!([])),
        ("GET", ["accounts", _, "workers", "scripts", _, "routes"]) => ok(json!([])),
        ("PUT", ["accounts", _, "workers", "scripts", name]) => {
            if let Some(refused) = state.refuse(Step::FullDeploy) {
                return refused;
            }
            let metadata = upload_metadata(request);
            if let Some(tag) = metadata["migrations"]["new_tag"].as_str() {
                state.migration_tag = Some(tag.to_owned());
            }
            state.script = Some((*name).to_owned());
            let version = state.new_version(metadata["annotations"].clone());
            state.events.push(Event::FullDeploy {
                id: version.id.clone(),
                migration_tag: state.migration_tag.clone(),
            });
            let id = version.id.clone();
            state.deploy(vec![(id.clone(), 100)], None);
            // The deployment above is part of the full deploy, not an event of its own.
            state.events.pop();
            let mut script = state.script_json(name);
            script["deployment_id"] = json!(id);
            ok(script)
        }
        ("POST", ["accounts", _, "workers", "scripts", name, "versions"]) => {
            if state.script.as_deref() != Some(*name) {
                return no_worker();
            }
            if let Some(refused) = state.refuse(Step::Upload) {
                return refused;
            }
            let metadata = upload_metadata(request);
            let migrations = !metadata["migrations"].is_null();
            if migrations {
                // As Cloudflare: migrations only go out with a deploy of the whole script.
                return error(
                    400,
                    10211,
                    "migrations must be applied with a full deploy, not a version upload",
                );
            }
            let annotations = metadata["annotations"].clone();
            let version = state.new_version(annotations.clone());
            state.events.push(Event::Upload {
                id: version.id.clone(),
                tag: annotations["workers/tag"].as_str().map(str::to_owned),
                migrations,
            });
            let mut result = state.version_json(&version);
            result["startup_time_ms"] = json!(5);
            ok(result)
        }
        ("GET", ["accounts", _, "workers", "scripts", name, "versions"]) => {
            if state.script.as_deref() != Some(*name) {
                return no_worker();
            }
            let mut items: Vec<Value> = state
                .versions
                .iter()
                .rev()
                .map(|v| state.version_json(v))
                .collect();
            items.truncate(10);
            ok(json!({ "items": items }))
        }
        ("GET", ["accounts", _, "workers", "scripts", name, "versions", id]) => {
            if state.script.as_deref() != Some(*name) {
                return no_worker();
            }
            match state.versions.iter().find(|v| v.id == *id) {
                Some(version) => ok(state.version_json(version)),
                None => error(404, 10225, "version not found"),
            }
        }
        ("GET", ["accounts", _, "workers", "scripts", name, "deployments"]) => {
            if state.script.as_deref() != Some(*name) {
                return no_worker();
            }
            let deployments: Vec<Value> = state.deployments.iter().rev().cloned().collect();
            ok(json!({ "deployments": deployments }))
        }
        ("POST", ["accounts", _, "workers", "scripts", name, "deployments"]) => {
            if state.script.as_deref() != Some(*name) {
                return no_worker();
            }
            if let Some(refused) = state.refuse(Step::Split) {
                return refused;
            }
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let split = split_of(&body);
            if split.iter().map(|(_, p)| p).sum::<u32>() != 100
                || split
                    .iter()
                    .any(|(id, _)| !state.versions.iter().any(|v| v.id == *id))
            {
                return error(
                    400,
                    10000,
                    "a deployment needs known versions adding up to 100 %",
                );
            }
            let message = body["annotations"]["workers/message"].as_str();
            ok(state.deploy(split, message))
        }
        ("PATCH", ["accounts", _, "workers", "scripts", _, "script-settings"])
        | ("PATCH", ["accounts", _, "workers", "scripts", _, "settings"]) => ok(json!({})),
        ("GET", ["accounts", _, "workers", "scripts", _, "script-settings"])
        | ("GET", ["accounts", _, "workers", "scripts", _, "settings"]) => {
            ok(json!({ "logpush": false, "tail_consumers": [], "tags": [] }))
        }
        _ => error(
            404,
            7003,
            &format!("the fake API does not know {method} {}", request.path),
        ),
    }
}
