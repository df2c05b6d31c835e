//! A small load generator: HTTP/1.1 with keep-alive over loopback TCP, one blocking
//! connection per thread, closed loop (each connection sends its next request when the
//! previous reply arrived), bounded by a request count and a time cap.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long one request may take before the connection counts it as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Replies are small JSON documents; anything bigger is a bug in a worker.
const MAX_REPLY: usize = 1 << 20;

/// One request: method, path and body.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: &'static [u8],
}

impl Call {
    /// `POST /counters/<name>/add` with `{"by":1}`.
    pub fn add(name: &str) -> Call {
        Call {
            method: "POST",
            path: format!("/counters/{name}/add"),
            body: br#"{"by":1}"#,
        }
    }

    /// `GET /counters/<name>`.
    pub fn get(name: &str) -> Call {
        Call {
            method: "GET",
            path: format!("/counters/{name}"),
            body: b"",
        }
    }

    /// `GET /__test/stats/<name>`.
    pub fn stats(name: &str) -> Call {
        Call {
            method: "GET",
            path: format!("/__test/stats/{name}"),
            body: b"",
        }
    }

    fn encode(&self, port: u16, out: &mut Vec<u8>) {
        out.clear();
        let _ = write!(
            out,
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n",
            self.method, self.path
        );
        if !self.body.is_empty() || self.method == "POST" {
            let _ = write!(
                out,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                self.body.len()
            );
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body);
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

/// A keep-alive HTTP/1.1 connection to `127.0.0.1:port` that reconnects when the server
/// closed it.
pub struct Conn {
    port: u16,
    stream: Option<TcpStream>,
    /// Requests sent on the current connection, and when it was opened.
    sent: u64,
    opened: Option<Instant>,
    /// Bytes read but not consumed yet.
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl Conn {
    /// A connection to 127.0.0.1:`port` (connected on first use).
    pub fn new(port: u16) -> Conn {
        Conn {
            port,
            stream: None,
            sent: 0,
            opened: None,
            buf: Vec::with_capacity(4096),
            out: Vec::with_capacity(256),
        }
    }

    /// Connects now, so that connection set-up is not timed.
    pub fn connect(&mut self) -> io::Result<()> {
        if self.stream.is_none() {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
            let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.stream = Some(stream);
            self.buf.clear();
            self.sent = 0;
            self.opened = Some(Instant::now());
        }
        Ok(())
    }

    /// Sends `call` and reads the reply. On any error the connection is dropped (the next
    /// call reconnects).
    pub fn send(&mut self, call: &Call) -> io::Result<Reply> {
        match self.send_once(call) {
            Ok((reply, keep_alive)) => {
                if !keep_alive {
                    self.stream = None;
                }
                Ok(reply)
            }
            Err(e) => {
                self.stream = None;
                let age = self.opened.map_or(0, |t| t.elapsed().as_millis());
                Err(io::Error::new(
                    e.kind(),
                    format!(
                        "{e} (request {} on a connection opened {age} ms before)",
                        self.sent
                    ),
                ))
            }
        }
    }

    fn send_once(&mut self, call: &Call) -> io::Result<(Reply, bool)> {
        self.connect()?;
        call.encode(self.port, &mut self.out);
        self.sent += 1;
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::other("not connected"));
        };
        stream.write_all(&self.out)?;
        read_reply(stream, &mut self.buf)
    }
}

/// Reads one response from `stream`, keeping extra bytes in `buf`. Returns the reply and
/// whether the connection may be reused.
fn read_reply(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<(Reply, bool)> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        fill(stream, buf)?;
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| io::Error::other("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = status_line.starts_with("HTTP/1.1");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = !value.eq_ignore_ascii_case("close");
        }
    }
    buf.drain(..head_end);
    let body = if chunked {
        read_chunked(stream, buf)?
    } else if let Some(n) = length {
        if n > MAX_REPLY {
            return Err(io::Error::other(format!("reply of {n} bytes is too large")));
        }
        while buf.len() < n {
            fill(stream, buf)?;
        }
        buf.drain(..n).collect()
    } else {
        // No length: the body ends when the server closes the connection.
        keep_alive = false;
        loop {
            match fill(stream, buf) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        std::mem::take(buf)
    };
    Ok((Reply { status, body }, keep_alive))
}

fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            fill(stream, buf)?;
        };
        let size_text = std::str::from_utf8(&buf[..line_end]).unwrap_or("");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let end = loop {
                    if let Some(i) = find(buf, b"\r\n") {
                        break i;
                    }
                    fill(stream, buf)?;
                };
                buf.drain(..end + 2);
                if end == 0 {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_REPLY {
            return Err(io::Error::other("chunked reply is too large"));
        }
        while buf.len() < size + 2 {
            fill(stream, buf)?;
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
                let mut conn = Conn::new(port);
                let _ = conn.connect();
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
                    let result = conn.send(&request);
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

    /// Serves canned responses (sized and chunked) on one keep-alive connection.
    #[test]
    fn reads_sized_and_chunked_replies_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let replies: [&[u8]; 3] = [
                b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"value\":1}",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"val\r\n6\r\nue\":2}\r\n0\r\n\r\n",
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\nConnection: close\r\n\r\nno",
            ];
            let mut buf = [0u8; 1024];
            for reply in replies {
                let mut request = Vec::new();
                while find(&request, b"\r\n\r\n").is_none() {
                    let n = stream.read(&mut buf).unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                stream.write_all(reply).unwrap();
            }
        });
        let mut conn = Conn::new(port);
        let first = conn.send(&Call::get("a")).unwrap();
        assert_eq!(
            (first.status, first.text().as_str()),
            (200, "{\"value\":1}")
        );
        let second = conn.send(&Call::get("a")).unwrap();
        assert_eq!(
            (second.status, second.text().as_str()),
            (200, "{\"value\":2}")
        );
        let third = conn.send(&Call::get("a")).unwrap();
        assert_eq!((third.status, third.text().as_str()), (404, "no"));
        assert!(
            conn.stream.is_none(),
            "`Connection: close` drops the connection"
        );
        server.join().unwrap();
    }

    #[test]
    fn encodes_requests() {
        let mut out = Vec::new();
        Call::add("x").encode(8787, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /counters/x/add HTTP/1.1\r\nHost: 127.0.0.1:8787\r\n\
             Content-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"by\":1}"
        );
    }
}
