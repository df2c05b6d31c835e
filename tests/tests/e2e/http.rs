//! A small blocking HTTP client for loopback: every status is a [`Reply`], not an error.

use std::time::Duration;

use ureq::Agent;

/// Responses may be large (MessagePack state, error pages); read up to this much.
const MAX_BODY: u64 = 16 << 20;

/// A status and a body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The raw body.
    pub body: Vec<u8>,
    /// The headers, names in lowercase.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// The first value of the header `name` (lowercase), if any.
    // Used by the end-to-end tests only, not by the others that share this file.
    #[allow(dead_code)]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} with a body that is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }
}

/// An HTTP client bound to one worker.
#[derive(Debug, Clone)]
pub struct Client {
    agent: Agent,
    base: String,
}

impl Client {
    /// A client for `base` (`http://127.0.0.1:<port>`) with a 60 s limit per request.
    pub fn new(base: String) -> Client {
        Client::with_timeout(base, Duration::from_secs(60))
    }

    /// A client for `base` with a limit per request.
    pub fn with_timeout(base: String, timeout: Duration) -> Client {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Client { agent, base }
    }

    /// `GET path`, or the transport error.
    pub fn try_get(&self, path: &str) -> Result<Reply, ureq::Error> {
        let response = self.agent.get(format!("{}{path}", self.base)).call()?;
        read(response)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.try_get(path)
            .unwrap_or_else(|e| panic!("GET {path} failed: {e}"))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Reply {
        self.agent
            .delete(format!("{}{path}", self.base))
            .call()
            .and_then(read)
            .unwrap_or_else(|e| panic!("DELETE {path} failed: {e}"))
    }

    /// `POST path` with `body`.
    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        self.post_with(path, &[], body)
    }

    /// `POST path` with extra headers and `body`.
    pub fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.try_post_with(path, headers, body)
            .unwrap_or_else(|e| panic!("POST {path} failed: {e}"))
    }

    /// `POST path` with extra headers and `body`, or the transport error.
    pub fn try_post_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, ureq::Error> {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send(body)?)
    }
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> Result<Reply, ureq::Error> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()?;
    Ok(Reply {
        status,
        body,
        headers,
    })
}
