//! # notes
//!
//! One note per name, in two builds: notes-v1 (state schema 1) and, with the `v2` feature,
//! notes-v2 (schema 2, migrating schema 1's state, and a cron timer). The end-to-end tests
//! run one after the other on the same state; the routes are in README.md.

use duro::prelude::*;

/// Schema 1's state.
pub mod v1 {
    use serde::{Deserialize, Serialize};

    /// A note: its text.
    #[cfg_attr(not(feature = "v2"), duro::object)]
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub struct Note {
        /// The text.
        pub text: String,
    }
}

/// Schema 2: the text, its word count (worked out for schema 1's notes by the migration)
/// and when the cron timer ran.
#[cfg(feature = "v2")]
#[duro::object(schema = 2, migrate = [v1::Note])]
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Note {
    text: String,
    words: usize,
    ticks: Vec<u64>,
}

#[cfg(feature = "v2")]
impl From<v1::Note> for Note {
    fn from(old: v1::Note) -> Note {
        Note {
            words: old.text.split_whitespace().count(),
            text: old.text,
            ticks: Vec::new(),
        }
    }
}

#[cfg(not(feature = "v2"))]
pub use v1::Note;

/// What the routes answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// The schema of the build that answered.
    pub schema: u32,
    /// The note's text.
    pub text: String,
    /// Its word count (v2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<usize>,
    /// When the cron timer ran, in ms (v2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticks: Option<Vec<u64>>,
}

#[cfg(not(feature = "v2"))]
#[duro::methods]
impl Note {
    /// Replaces the text.
    #[rpc]
    fn set(&mut self, text: String) -> View {
        self.text = text;
        self.view()
    }

    /// The note.
    #[rpc]
    fn get(&self) -> View {
        self.view()
    }
}

#[cfg(not(feature = "v2"))]
impl Note {
    fn view(&self) -> View {
        View {
            schema: <Self as Object>::SCHEMA,
            text: self.text.clone(),
            words: None,
            ticks: None,
        }
    }
}

#[cfg(feature = "v2")]
#[duro::methods]
impl Note {
    /// Replaces the text.
    #[rpc]
    fn set(&mut self, text: String) -> View {
        self.words = text.split_whitespace().count();
        self.text = text;
        self.view()
    }

    /// The note.
    #[rpc]
    fn get(&self) -> View {
        self.view()
    }

    /// Runs `tick` on the cron `schedule` (UTC), replacing an earlier schedule.
    #[rpc]
    fn cron(&mut self, ctx: &Ctx, schedule: String) -> duro::Result<View> {
        ctx.timers().named("tick").cron(&schedule, Self::tick, ())?;
        Ok(self.view())
    }

    /// Records when it ran.
    #[timer]
    fn tick(&mut self, ctx: &Ctx) {
        self.ticks.push(ctx.now_ms());
    }
}

#[cfg(feature = "v2")]
impl Note {
    fn view(&self) -> View {
        View {
            schema: <Self as Object>::SCHEMA,
            text: self.text.clone(),
            words: Some(self.words),
            ticks: Some(self.ticks.clone()),
        }
    }
}

/// The most words a note holds through its text route.
#[cfg(feature = "v2")]
pub const MAX_WORDS: usize = 1000;

/// The note's own route, `/notes/<name>/text` (v2), which the worker forwards to it:
/// `GET` answers the text as plain text (its word count in `x-note-words`); `POST`
/// appends the body as a new line and answers the note as JSON, or, when that would make
/// the note longer than [`MAX_WORDS`], refuses with 400 and keeps the note as it was.
#[cfg(feature = "v2")]
impl duro::Fetch for Note {
    async fn fetch(
        &mut self,
        _ctx: &Ctx,
        request: duro::http::Request,
    ) -> duro::Result<duro::http::Response> {
        use duro::http::{self, header, HeaderValue, Method};
        /// Made at compile time: a header name parsed at run time costs wasm.
        const WORDS_HEADER: header::HeaderName = header::HeaderName::from_static("x-note-words");
        match *request.method() {
            Method::GET => {
                let mut resp = http::with_body(
                    200,
                    "text/plain; charset=utf-8",
                    self.text.clone().into_bytes(),
                );
                resp.headers_mut()
                    .insert(WORDS_HEADER, HeaderValue::from(self.words));
                Ok(resp)
            }
            Method::POST => {
                let line = String::from_utf8(request.into_body())
                    .map_err(|_| duro::Error::bad_request("the text is not UTF-8"))?;
                let text = if self.text.is_empty() {
                    line
                } else {
                    format!("{}\n{line}", self.text)
                };
                self.set(text);
                // Checked after the change: an `Err` rolls it back.
                if self.words > MAX_WORDS {
                    return Err(duro::Error::bad_request(format!(
                        "a note holds at most {MAX_WORDS} words"
                    )));
                }
                Ok(http::json(200, &self.view()))
            }
            _ => {
                let mut resp = http::error(405, "method_not_allowed", "GET or POST");
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
                Ok(resp)
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod http {
    use duro::Object;
    use worker::{event, Context, Env, Method, Request, Response, Result};

    use crate::{Note, View};

    fn reply(view: duro::Result<View>) -> Result<Response> {
        match view {
            Ok(view) => Response::from_json(&view),
            Err(e) => Response::from_json(&serde_json::json!({
                "error": { "code": e.code().as_str(), "message": e.to_string() }
            }))
            .map(|r| r.with_status(e.code().status())),
        }
    }

    #[event(fetch)]
    async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
        let url = req.inner().url();
        let path = duro::url::path(&url).to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (method, [_, name, rest @ ..]) = (req.method(), segments.as_slice()) else {
            return Response::error("not found", 404);
        };
        if segments[0] != "notes" {
            return Response::error("not found", 404);
        }
        let note = match Note::stub(&env, name) {
            Ok(stub) => stub,
            Err(e) => return reply(Err(e)),
        };
        match (method, rest) {
            (Method::Get, []) => reply(note.get().await),
            (Method::Post, []) => reply(note.set(req.text().await?).await),
            #[cfg(feature = "v2")]
            (Method::Post, ["cron"]) => reply(note.cron(req.text().await?).await),
            // The note's own route: its `duro::Fetch` handler answers (v1 has none: 404).
            (_, ["text"]) => duro::forward::<Note>(&env, name, req).await,
            _ => Response::error("not found", 404),
        }
    }
}
