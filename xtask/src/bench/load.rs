//! The benchmark's load runner: closed loop (each client sends its next request when the
//! previous reply arrived), one thread and one keep-alive HTTP/1.1 connection per client,
//! bounded by a request count and a time cap, recording each request's latency.
//!
//! HTTP itself is ureq's. The runner is ours because the figures depend on what a load
//! tool would hide: the caller reads workerd's CPU time from /proc over exactly the
//! window of the load (`Server::cpu_ns_during`), the warm-up is cut out of the record by
//! time, and the clients start together behind a barrier.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ureq::Agent;

/// How long one request may take before the client counts it as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Replies are small JSON documents; anything bigger is a bug in a worker.
const MAX_REPLY: u64 = 1 << 20;

/// One request: method, path and body.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: Cow<'static, [u8]>,
}

impl Call {
    /// `POST /counters/<name>/add` with `{"by":1}`.
    pub fn add(name: &str) -> Call {
        Call {
            method: "POST",
            path: format!("/counters/{name}/add"),
            body: Cow::Borrowed(br#"{"by":1}"#),
        }
    }

    /// `GET /counters/<name>`.
    pub fn get(name: &str) -> Call {
        Call {
            method: "GET",
            path: format!("/counters/{name}"),
            body: Cow::Borrowed(b""),
        }
    }

    /// `GET <path>`.
    pub fn get_path(path: String) -> Call {
        Call {
            method: "GET",
            path,
            body: Cow::Borrowed(b""),
        }
    }

    /// `POST <path>` with a JSON body.
    pub fn post(path: String, body: impl Into<Cow<'static, [u8]>>) -> Call {
        Call {
            method: "POST",
            path,
            body: body.into(),
        }
    }

    /// `GET /__test/stats/<name>`.
    pub fn stats(name: &str) -> Call {
        Call {
            method: "GET",
            path: format!("/__test/stats/{name}"),
            body: Cow::Borrowed(b""),
        }
    }
}

/// A reply: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One client of `127.0.0.1:port`: a single keep-alive connection, opened on first use
/// and again after the server closed it. Every status is a [`Reply`]; errors are transport
/// errors and timeouts.
pub struct Client {
    agent: Agent,
    base: String,
}

impl Client {
    /// A client of 127.0.0.1:`port`.
    pub fn new(port: u16) -> Client {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            // Per connect, read and write, not per call: with a whole-call timeout ureq
            // resolves the address on a thread of its own for every request, which cost
            // about 100 µs of CPU per request here, more than the rest of the client.
            .timeout_connect(Some(IO_TIMEOUT))
            .timeout_per_read(Some(IO_TIMEOUT))
            .timeout_per_write(Some(IO_TIMEOUT))
            // One connection per client: the concurrency is the number of clients.
            .max_idle_connections(1)
            .max_idle_connections_per_host(1)
            .build()
            .into();
        Client {
            agent,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Sends `call` and reads the reply.
    pub fn send(&self, call: &Call) -> Result<Reply, ureq::Error> {
        let url = format!("{}{}", self.base, call.path);
        let mut response = match call.method {
            "POST" => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(&*call.body)?,
            _ => self.agent.get(&url).call()?,
        };
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY)
            .read_to_vec()?;
        Ok(Reply { status, body })
    }
}

/// One measurement window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Connections, each with its own thread.
    pub concurrency: usize,
    /// Load before measuring (not recorded): activates objects, warms the JIT.
    pub warmup: Duration,
    /// How long to measure at most.
    pub measure: Duration,
    /// How many requests to record at most.
    pub max_requests: u64,
}

/// What a window measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Successful (200) requests completed in the measured part.
    pub ok: u64,
    /// Successful requests in the whole window, warm-up included.
    pub total_ok: u64,
    /// Failed requests (any status but 200, or an I/O error) in the whole window.
    pub errors: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// From the end of the warm-up to the last recorded completion.
    pub elapsed: Duration,
    /// Latencies of the recorded requests in microseconds, sorted.
    pub latencies_us: Vec<u32>,
}

impl Outcome {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The `q` quantile (0..=1) of the latencies, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile(&self.latencies_us, q) / 1000.0
    }
}

/// The `q` quantile (nearest rank) of sorted values.
pub fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Runs `window` against 127.0.0.1:`port`; `call(connection, sequence)` says what each
/// connection sends next.
pub fn run<F>(port: u16, window: Window, call: F) -> Outcome
where
    F: Fn(usize, u64) -> Call + Sync,
{
    let concurrency = window.concurrency.max(1);
    let barrier = Barrier::new(concurrency);
    let start: OnceLock<Instant> = OnceLock::new();
    let recorded = AtomicU64::new(0);
    // Nanoseconds from `start` to the last recorded completion.
    let last_done = AtomicU64::new(0);
    let merged = Mutex::new(Outcome::default());

    std::thread::scope(|scope| {
        for connection in 0..concurrency {
            let (barrier, start, recorded, last_done, merged, call) =
                (&barrier, &start, &recorded, &last_done, &merged, &call);
            scope.spawn(move || {
                // The connection opens on the first request (warm-up, where there is one).
                let client = Client::new(port);
                let mut latencies = Vec::new();
                let (mut ok, mut total_ok, mut errors, mut first_error) = (0u64, 0u64, 0u64, None);
                barrier.wait();
                let t0 = *start.get_or_init(Instant::now);
                let measure_from = t0 + window.warmup;
                let end = measure_from + window.measure;
                let mut seq = 0u64;
                loop {
                    let sent = Instant::now();
                    if sent >= end || recorded.load(Ordering::Relaxed) >= window.max_requests {
                        break;
                    }
                    let request = call(connection, seq);
                    seq += 1;
                    let result = client.send(&request);
                    let done = Instant::now();
                    match result {
                        Ok(reply) if reply.status == 200 => {
                            total_ok += 1;
                            if sent >= measure_from && done <= end {
                                let n = recorded.fetch_add(1, Ordering::Relaxed);
                                if n < window.max_requests {
                                    ok += 1;
                                    let us = (done - sent).as_micros();
                                    latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                                    let at =
                                        u64::try_from((done - t0).as_nanos()).unwrap_or(u64::MAX);
                                    last_done.fetch_max(at, Ordering::Relaxed);
                                }
                            }
                        }
                        Ok(reply) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!(
                                    "{} {} -> {}: {}",
                                    request.method,
                                    request.path,
                                    reply.status,
                                    reply.text()
                                )
                            });
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!("{} {} -> {e}", request.method, request.path)
                            });
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
                let mut merged = merged.lock().unwrap_or_else(|e| e.into_inner());
                merged.ok += ok;
                merged.total_ok += total_ok;
                merged.errors += errors;
                if merged.first_error.is_none() {
                    merged.first_error = first_error;
                }
                merged.latencies_us.extend(latencies);
            });
        }
    });

    let mut outcome = merged.into_inner().unwrap_or_else(|e| e.into_inner());
    outcome.latencies_us.sort_unstable();
    let last = Duration::from_nanos(last_done.load(Ordering::Relaxed));
    outcome.elapsed = last.saturating_sub(window.warmup);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&values, 0.5), 50.0);
        assert_eq!(quantile(&values, 0.99), 99.0);
        assert_eq!(quantile(&values, 1.0), 100.0);
        assert_eq!(quantile(&[7], 0.5), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    /// Serves canned replies and counts the connections the client opened.
    #[test]
    fn keeps_one_connection_alive() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let replies: [&[u8]; 3] = [
                b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"value\":1}",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"val\r\n6\r\nue\":2}\r\n0\r\n\r\n",
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno",
            ];
            let mut buf = [0u8; 1024];
            for reply in replies {
                let mut request = Vec::new();
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                stream.write_all(reply).unwrap();
            }
            // A second connection would be accepted here; the client must not need one.
            listener.set_nonblocking(true).unwrap();
            listener.accept().is_err()
        });
        let client = Client::new(port);
        let replies: Vec<(u16, String)> = (0..3)
            .map(|_| {
                let reply = client.send(&Call::get("a")).unwrap();
                (reply.status, reply.text())
            })
            .collect();
        assert_eq!(
            replies,
            [
                (200, "{\"value\":1}".to_owned()),
                (200, "{\"value\":2}".to_owned()),
                (404, "no".to_owned())
            ]
        );
        assert!(server.join().unwrap(), "one connection for all requests");
    }
}
