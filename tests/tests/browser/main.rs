//! The chat page in a real browser: headless Chromium, driven over WebDriver, against the
//! chat worker running in `wrangler dev` with the page served from the same origin as its
//! static assets.
//!
//! Ignored like the end-to-end tests: it needs the built page (`cargo xtask page chat`,
//! which `cargo xtask build` also does), the worker's build, chromium and chromedriver
//! (`cargo xtask setup`). `cargo xtask test` runs it; alone:
//!
//! ```text
//! cargo xtask page chat
//! cargo test -p duro-tests --test browser -- --ignored --test-threads=1
//! ```
//!
//! The worker is the folder in `DURO_CHAT_APP` (relative to the workspace root, or
//! absolute) if set, else apps/chat once it has a wrangler.toml, else the JavaScript
//! implementation of the same API in bench/baselines/js-chat. A worker whose wrangler.toml
//! has no `[assets]` runs from a copy of it that serves apps/chat/public as its assets.
//! The screenshot of the first page is written to `<target>/chat-browser.png`.

mod chrome;
// Shared with the end-to-end tests, which use all of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../e2e/http.rs"]
mod http;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chat_protocol::{MessagesPage, RoomInfo};
use fantoccini::{Client, Locator};
use serde::de::DeserializeOwned;

use chrome::{wait_for, Browser};
use harness::{root, Fixture};

/// How long a page may take to show what another page did.
const SHOWN: Duration = Duration::from_secs(15);
/// The room directory may lag behind the rooms by 20 s.
const LISTED: Duration = Duration::from_secs(40);
/// A page reconnects within 10 s of the server's return (its longest backoff), and the
/// server takes seconds to come back.
const RECONNECTED: Duration = Duration::from_secs(60);

/// The chat worker's folder (see the module's doc).
fn chat_worker() -> PathBuf {
    let dir = match std::env::var_os("DURO_CHAT_APP") {
        Some(dir) => root().join(dir),
        None if root().join("apps/chat/wrangler.toml").is_file() => root().join("apps/chat"),
        None => root().join("bench/baselines/js-chat"),
    };
    assert!(
        dir.join("wrangler.toml").is_file(),
        "no chat worker in {} (no wrangler.toml); set DURO_CHAT_APP to a folder that serves \
         the chat API",
        dir.display()
    );
    dir
}

/// Fails unless apps/chat/public holds a page built after every source of apps/chat/page.
fn assert_page_built() {
    let public = root().join("apps/chat/public");
    let built = ["index.html", "style.css", "app.js"].map(|f| modified(&public.join(f)));
    let sources = ["index.html", "style.css", "src/app.ts", "src/protocol.ts"]
        .map(|f| modified(&root().join("apps/chat/page").join(f)));
    let oldest_built = built.iter().min().copied().flatten();
    let newest_source = sources.iter().max().copied().flatten();
    assert!(
        matches!((oldest_built, newest_source), (Some(b), Some(s)) if b >= s),
        "apps/chat/public is missing or older than apps/chat/page: run `cargo xtask page chat`"
    );
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// One browser with the page open.
struct Page {
    client: Client,
    name: &'static str,
}

impl Page {
    async fn open(driver: &chrome::Driver, name: &'static str, url: &str) -> Page {
        let client = driver.session().await;
        client.goto(url).await.expect("open the page");
        Page { client, name }
    }

    /// Runs `script` (a function body that returns a value) in the page.
    async fn eval<T: DeserializeOwned>(&self, script: &str) -> T {
        let value = self
            .client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.name));
        serde_json::from_value(value)
            .unwrap_or_else(|e| panic!("{}: unexpected result of {script}: {e}", self.name))
    }

    async fn type_into(&self, id: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("{}: no #{id}: {e}", self.name));
        field.clear().await.expect("clear the field");
        field.send_keys(text).await.expect("type into the field");
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.name))
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot click {css}: {e}", self.name));
    }

    async fn join(&self, user: &str, room: &str) {
        self.type_into("user", user).await;
        self.type_into("room", room).await;
        self.click("#join-form button[type=submit]").await;
    }

    async fn send(&self, text: &str) {
        self.type_into("text", text).await;
        self.click("#send-form button[type=submit]").await;
    }

    /// The member list, by user name.
    async fn members(&self) -> Vec<String> {
        self.eval(
            "return [...document.querySelectorAll('#members li')].map(li => li.dataset.user);",
        )
        .await
    }

    /// The messages shown (stored ones, not those still sending), as (user, text).
    async fn messages(&self) -> Vec<(String, String)> {
        self.eval(
            "return [...document.querySelectorAll('#messages li[data-id]')]
                .map(li => [li.querySelector('.user').textContent,
                            li.querySelector('.text').textContent]);",
        )
        .await
    }

    /// The status line.
    async fn status(&self) -> String {
        self.eval("return document.getElementById('status').textContent;")
            .await
    }

    /// Messages typed but not stored yet.
    async fn pending(&self) -> usize {
        self.eval("return document.querySelectorAll('#messages li.pending').length;")
            .await
    }

    async fn wait_members(&self, expected: &[&str]) {
        let what = format!("{} shows the members {expected:?}", self.name);
        wait_for(&what, SHOWN, || async {
            let mut members = self.members().await;
            members.sort();
            if members == expected {
                Ok(())
            } else {
                Err(format!("{members:?}"))
            }
        })
        .await;
    }

    async fn wait_messages(&self, expected: &[(&str, &str)]) {
        self.wait_messages_for(expected, SHOWN).await;
    }

    async fn wait_messages_for(&self, expected: &[(&str, &str)], limit: Duration) {
        let what = format!("{} shows the messages {expected:?}", self.name);
        wait_for(&what, limit, || async {
            let messages = self.messages().await;
            let same = messages.len() == expected.len()
                && messages
                    .iter()
                    .zip(expected)
                    .all(|((u, t), (eu, et))| u == eu && t == et);
            if same {
                Ok(())
            } else {
                Err(format!("{messages:?}"))
            }
        })
        .await;
    }
}

/// The folder to run `dir` from: `dir` itself when its wrangler.toml serves static
/// assets, else a scratch folder with a copy of that wrangler.toml (its `main` made
/// absolute) that serves apps/chat/public as the worker's assets.
fn serving_the_page(dir: &Path) -> (PathBuf, Option<tempfile::TempDir>) {
    let path = dir.join("wrangler.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut config: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if config.contains_key("assets") {
        return (dir.to_path_buf(), None);
    }
    if let Some(main) = config.get("main").and_then(toml::Value::as_str) {
        let main = dir.join(main).to_string_lossy().into_owned();
        config.insert("main".to_owned(), toml::Value::String(main));
    }
    let public = root()
        .join("apps/chat/public")
        .to_string_lossy()
        .into_owned();
    let mut assets = toml::Table::new();
    assets.insert("directory".to_owned(), toml::Value::String(public));
    config.insert("assets".to_owned(), toml::Value::Table(assets));
    let scratch = tempfile::Builder::new()
        .prefix("duro-browser-worker-")
        .tempdir()
        .expect("create a temporary folder");
    let copy = toml::to_string(&config).expect("write the config as TOML");
    std::fs::write(scratch.path().join("wrangler.toml"), copy).expect("write the config");
    (scratch.path().to_path_buf(), Some(scratch))
}

/// The chat worker, serving the page, on a fresh state folder.
struct Chat {
    fixture: Fixture,
    // Declared after `fixture` so it is removed only once the worker stopped.
    _config: Option<tempfile::TempDir>,
}

/// The chat worker and a chromedriver, or a clear failure when either is missing.
fn start() -> (Chat, chrome::Driver) {
    let browser = Browser::find();
    assert_page_built();
    let (dir, config) = serving_the_page(&chat_worker());
    let chat = Chat {
        fixture: Fixture::at(&dir, true, &[]),
        _config: config,
    };
    (chat, browser.start())
}

/// The room's history, from the API.
fn history(api: &http::Client, room: &str) -> Vec<(String, String)> {
    let reply = api.get(&format!("/api/rooms/{room}/messages"));
    let page: MessagesPage = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("history: {e}: {}", reply.text()));
    page.messages
        .into_iter()
        .map(|m| (m.user, m.text))
        .collect()
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and the chat worker; run by `cargo xtask test`"]
async fn two_pages_chat_in_one_room() {
    let (chat, driver) = start();
    let url = chat.fixture.worker.base_url();
    let api = chat.fixture.worker.client();
    let room = "browser-test";

    // The page is the worker's own: served from the same origin as the API.
    let index = api.get("/");
    assert_eq!(index.status, 200, "GET / → {}", index.text());
    assert!(index.text().contains("<title>duro chat</title>"));

    let ada = Page::open(&driver, "ada's page", &url).await;
    ada.join("ada", room).await;
    ada.wait_members(&["ada"]).await;

    let bob = Page::open(&driver, "bob's page", &url).await;
    bob.join("bob", room).await;
    bob.wait_members(&["ada", "bob"]).await;
    // A join reaches the page that was there first.
    ada.wait_members(&["ada", "bob"]).await;

    // Typed in one page, shown in both (bob's own message comes back as its
    // acknowledgement); ChromeDriver types only characters of the Basic Multilingual Plane.
    let hello = "hello from bob, ça va ? — «ok»";
    bob.send(hello).await;
    ada.wait_messages(&[("bob", hello)]).await;
    bob.wait_messages(&[("bob", hello)]).await;
    let reply = "hi bob <b>not bold</b>";
    ada.send(reply).await;
    bob.wait_messages(&[("bob", hello), ("ada", reply)]).await;
    ada.wait_messages(&[("bob", hello), ("ada", reply)]).await;
    // Markup in a text is text.
    let bold: usize = ada
        .eval("return document.querySelectorAll('#messages b').length;")
        .await;
    assert_eq!(bold, 0, "a message's markup was rendered");

    // The pages agree with the API's history.
    let page: MessagesPage =
        serde_json::from_slice(&api.get(&format!("/api/rooms/{room}/messages")).body)
            .expect("the history");
    assert_eq!(
        page.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        history(&api, room),
        [
            ("bob".to_owned(), hello.to_owned()),
            ("ada".to_owned(), reply.to_owned())
        ]
    );

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("chat-browser.png");
    let png = ada.client.screenshot().await.expect("take a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    std::fs::write(&screenshot, &png).expect("write the screenshot");
    println!("screenshot: {}", screenshot.display());

    // Leaving updates the other page's members; the leaver's page is back in the lobby,
    // where the room is listed once the directory has caught up.
    bob.click("#leave").await;
    ada.wait_members(&["ada"]).await;
    let info = api.get(&format!("/api/rooms/{room}"));
    let info: RoomInfo = serde_json::from_slice(&info.body)
        .unwrap_or_else(|e| panic!("room info: {e}: {}", info.text()));
    assert_eq!(
        (info.members, info.messages, info.last_id),
        (vec!["ada".to_owned()], 2, 2)
    );
    wait_for(
        "bob's lobby lists the room with its 2 messages",
        LISTED,
        || async {
            bob.click("#refresh").await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            let listed: Vec<String> = bob
                .eval(
                    "return [...document.querySelectorAll('#rooms li')].map(li => li.textContent);",
                )
                .await;
            if listed
                .iter()
                .any(|l| l.contains(room) && l.contains("2 messages"))
            {
                Ok(())
            } else {
                Err(format!("{listed:?}"))
            }
        },
    )
    .await;

    for page in [ada, bob] {
        page.client.close().await.expect("close the browser");
    }
}

#[tokio::test]
#[ignore = "needs chromium, chromedriver and the chat worker; run by `cargo xtask test`"]
async fn pages_reconnect_after_a_restart_and_miss_nothing() {
    let (mut chat, driver) = start();
    let url = chat.fixture.worker.base_url();
    let room = "reconnect";

    let ada = Page::open(&driver, "ada's page", &url).await;
    ada.join("ada", room).await;
    let bob = Page::open(&driver, "bob's page", &url).await;
    bob.join("bob", room).await;
    ada.wait_members(&["ada", "bob"]).await;
    bob.send("before the restart").await;
    ada.wait_messages(&[("bob", "before the restart")]).await;

    // The server goes away: the pages notice and keep trying. What ada sends meanwhile
    // waits in the page.
    chat.fixture.worker.stop();
    wait_for("ada's page notices the drop", SHOWN, || async {
        let status = ada.status().await;
        if status.contains("econnecting") {
            Ok(())
        } else {
            Err(status)
        }
    })
    .await;
    ada.send("sent while away").await;
    assert_eq!(ada.pending().await, 1);

    // Back on the same port and state: a message posted before the pages are back is
    // replayed to them (`after` = the last id each saw), ada's waiting message is sent
    // once, and nothing is shown twice.
    chat.fixture.worker.start_again();
    let api = chat.fixture.worker.client();
    let post = api.post(
        &format!("/api/rooms/{room}/messages"),
        br#"{"user":"carol","text":"posted after the restart"}"#,
    );
    assert_eq!(post.status, 200, "{}", post.text());
    let stored = wait_for("the history holds 3 messages", RECONNECTED, || async {
        let stored = history(&api, room);
        if stored.len() >= 3 {
            Ok(stored)
        } else {
            Err(format!("{stored:?}"))
        }
    })
    .await;
    let expected: Vec<(&str, &str)> = stored
        .iter()
        .map(|(u, t)| (u.as_str(), t.as_str()))
        .collect();
    let mut texts: Vec<&str> = expected.iter().map(|(_, t)| *t).collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        [
            "before the restart",
            "posted after the restart",
            "sent while away"
        ]
    );
    ada.wait_messages_for(&expected, RECONNECTED).await;
    bob.wait_messages_for(&expected, RECONNECTED).await;
    assert_eq!(ada.pending().await, 0);
    ada.wait_members(&["ada", "bob"]).await;
    bob.wait_members(&["ada", "bob"]).await;
    // Still one of each after the pages settled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(history(&api, room), stored);

    for page in [ada, bob] {
        page.client.close().await.expect("close the browser");
    }
}
