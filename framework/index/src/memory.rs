//! [`MemoryKv`]: Workers KV in memory, with its eventual consistency and its write limit.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::LocalBoxFuture;

use crate::error::{Error, Result};
use crate::kv::{Kv, ListPage, ListedKey, LIST_LIMIT};

/// Workers KV's limit on writes to one key.
const SAME_KEY_INTERVAL_MS: u64 = 1_000;

/// Operation counts of a [`MemoryKv`] (attempts, including failed ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvStats {
    /// `get` calls.
    pub gets: u64,
    /// `put` calls.
    pub puts: u64,
    /// `delete` calls.
    pub deletes: u64,
    /// `list` calls.
    pub lists: u64,
}

/// One write that landed.
#[derive(Debug, Clone, PartialEq)]
pub struct KvWrite {
    /// The key written.
    pub key: String,
    /// When (milliseconds since the Unix epoch, on the store's clock).
    pub at_ms: u64,
    /// The value written; `None` for a delete.
    pub value: Option<String>,
}

#[derive(Debug, Clone)]
struct Version {
    at_ms: u64,
    /// `None`: deleted.
    value: Option<(String, Option<String>)>,
}

/// An in-memory KV namespace for tests, on a clock it is given (the test env's).
///
/// - **Propagation delay**: with [`set_delay`](Self::set_delay), reads (`get` and `list`)
///   see the namespace as it was `delay` ago, as a far-away Workers KV location would.
/// - **Write limit**: like Workers KV, a second write to the same key within one second
///   fails (turn it off with [`set_rate_limit`](Self::set_rate_limit)).
/// - **Failures**: [`fail_next_writes`](Self::fail_next_writes) makes writes fail.
/// - **Latency**: [`set_write_polls`](Self::set_write_polls) makes writes wait, so that
///   other work can run while they are in flight.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use duro_index::{Kv, MemoryKv};
/// # futures::executor::block_on(async {
/// let now = Rc::new(Cell::new(10_000u64));
/// let clock = now.clone();
/// let kv = MemoryKv::new(move || clock.get());
/// kv.set_delay(Duration::from_secs(5));
/// kv.put("k", "v1".into(), None).await.unwrap();
/// assert_eq!(kv.get("k").await.unwrap(), None); // not propagated yet
/// now.set(15_000);
/// assert_eq!(kv.get("k").await.unwrap(), Some("v1".into()));
/// # });
/// ```
pub struct MemoryKv {
    clock: Box<dyn Fn() -> u64>,
    delay_ms: Cell<u64>,
    rate_limit: Cell<bool>,
    failing_writes: Cell<u32>,
    write_polls: Cell<u32>,
    keys: RefCell<BTreeMap<String, Vec<Version>>>,
    log: RefCell<Vec<KvWrite>>,
    stats: Cell<KvStats>,
}

impl core::fmt::Debug for MemoryKv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryKv")
            .field("delay_ms", &self.delay_ms.get())
            .field("keys", &self.keys.borrow().len())
            .finish()
    }
}

impl MemoryKv {
    /// An empty namespace whose clock is `clock` (milliseconds since the Unix epoch).
    pub fn new(clock: impl Fn() -> u64 + 'static) -> Self {
        MemoryKv {
            clock: Box::new(clock),
            delay_ms: Cell::new(0),
            rate_limit: Cell::new(true),
            failing_writes: Cell::new(0),
            write_polls: Cell::new(0),
            keys: RefCell::new(BTreeMap::new()),
            log: RefCell::new(Vec::new()),
            stats: Cell::new(KvStats::default()),
        }
    }

    /// Makes reads see writes only `delay` after they happened (0: at once, the default).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .set(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
    }

    /// Whether a second write to a key within one second fails, as on Workers KV (on by
    /// default).
    pub fn set_rate_limit(&self, on: bool) {
        self.rate_limit.set(on);
    }

    /// Makes the next `n` writes (puts or deletes) fail without changing anything.
    pub fn fail_next_writes(&self, n: u32) {
        self.failing_writes.set(n);
    }

    /// Makes every write (put or delete) return `Pending` `polls` times before it lands,
    /// as a write over the network would (0, the default: writes complete at once).
    pub fn set_write_polls(&self, polls: u32) {
        self.write_polls.set(polls);
    }

    /// Operation counts so far.
    pub fn stats(&self) -> KvStats {
        self.stats.get()
    }

    /// Every write that landed, in order.
    pub fn writes(&self) -> Vec<KvWrite> {
        self.log.borrow().clone()
    }

    /// The writes to `key` that landed, in order.
    pub fn writes_to(&self, key: &str) -> Vec<KvWrite> {
        self.log
            .borrow()
            .iter()
            .filter(|w| w.key == key)
            .cloned()
            .collect()
    }

    /// The latest value of `key`, ignoring the propagation delay.
    pub fn latest(&self, key: &str) -> Option<String> {
        let keys = self.keys.borrow();
        let version = keys.get(key)?.last()?;
        version.value.as_ref().map(|(v, _)| v.clone())
    }

    /// The latest metadata (JSON text) of `key`, ignoring the propagation delay.
    pub fn latest_metadata(&self, key: &str) -> Option<String> {
        let keys = self.keys.borrow();
        let version = keys.get(key)?.last()?;
        version.value.as_ref().and_then(|(_, m)| m.clone())
    }

    /// Every key that currently has a value, ignoring the propagation delay.
    pub fn latest_keys(&self) -> Vec<String> {
        self.keys
            .borrow()
            .iter()
            .filter(|(_, versions)| versions.last().is_some_and(|v| v.value.is_some()))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn bump(&self, f: impl FnOnce(&mut KvStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    /// The time reads see.
    fn read_time(&self) -> u64 {
        (self.clock)().saturating_sub(self.delay_ms.get())
    }

    fn visible(versions: &[Version], at: u64) -> Option<&(String, Option<String>)> {
        versions
            .iter()
            .rev()
            .find(|v| v.at_ms <= at)
            .and_then(|v| v.value.as_ref())
    }

    fn write(&self, key: &str, value: Option<(String, Option<String>)>) -> Result<()> {
        let failing = self.failing_writes.get();
        if failing > 0 {
            self.failing_writes.set(failing - 1);
            return Err(Error::kv(format!("injected KV write failure on {key:?}")));
        }
        let now = (self.clock)();
        let mut keys = self.keys.borrow_mut();
        let versions = keys.entry(key.to_owned()).or_default();
        if let Some(last) = versions.last() {
            if self.rate_limit.get() && now < last.at_ms.saturating_add(SAME_KEY_INTERVAL_MS) {
                return Err(Error::kv(format!(
                    "429: more than one write per second to {key:?} (last at {}, now {now})",
                    last.at_ms
                )));
            }
        }
        self.log.borrow_mut().push(KvWrite {
            key: key.to_owned(),
            at_ms: now,
            value: value.as_ref().map(|(v, _)| v.clone()),
        });
        versions.push(Version { at_ms: now, value });
        Ok(())
    }
}

impl Kv for MemoryKv {
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<String>>> {
        self.bump(|s| s.gets += 1);
        let at = self.read_time();
        let out = self
            .keys
            .borrow()
            .get(key)
            .and_then(|versions| Self::visible(versions, at))
            .map(|(v, _)| v.clone());
        Box::pin(async move { Ok(out) })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: String,
        metadata: Option<String>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        self.bump(|s| s.puts += 1);
        let polls = self.write_polls.get();
        Box::pin(async move {
            Polls(polls).await;
            match &metadata {
                Some(m) if m.len() > 1024 => {
                    Err(Error::kv(format!("metadata of {key:?} is over 1024 bytes")))
                }
                Some(m) if serde_json::from_str::<serde::de::IgnoredAny>(m).is_err() => {
                    Err(Error::kv(format!("metadata of {key:?} is not JSON")))
                }
                _ => self.write(key, Some((value, metadata.as_deref().map(as_javascript)))),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<()>> {
        self.bump(|s| s.deletes += 1);
        let polls = self.write_polls.get();
        Box::pin(async move {
            Polls(polls).await;
            self.write(key, None)
        })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<ListPage>> {
        self.bump(|s| s.lists += 1);
        let at = self.read_time();
        let limit = limit.clamp(1, LIST_LIMIT);
        let keys = self.keys.borrow();
        let start = cursor.unwrap_or(prefix).to_owned();
        let mut visible = keys
            .range(start..)
            .filter(|(k, _)| cursor.is_none_or(|c| k.as_str() > c))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(k, versions)| {
                Self::visible(versions, at).map(|(_, metadata)| ListedKey {
                    name: k.clone(),
                    metadata: metadata.clone(),
                })
            });
        let page: Vec<ListedKey> = visible.by_ref().take(limit).collect();
        let more = visible.next().is_some();
        let cursor = more.then(|| page.last().map(|k| k.name.clone())).flatten();
        Box::pin(async move { Ok(ListPage { keys: page, cursor }) })
    }
}

/// JSON text as Workers KV gives metadata back: it keeps metadata as a JavaScript value
/// (`JSON.parse` on the way in, `JSON.stringify` on the way out), so every number becomes
/// an `f64` and is written with the shortest digits that read back as that `f64`
/// (`-9223372036854775808` comes back as `-9223372036854776000`). Strings, and the order
/// of keys, are kept.
fn as_javascript(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            // Copy the string through its closing quote.
            let mut end = 1;
            let bytes = rest.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let end = (end + 1).min(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else if c == '-' || c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
                .unwrap_or(rest.len());
            match rest[..end].parse::<f64>() {
                Ok(0.0) => out.push('0'),
                Ok(n) => out.push_str(&n.to_string()),
                Err(_) => out.push_str(&rest[..end]),
            }
            rest = &rest[end..];
        } else if !c.is_whitespace() {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Returns `Pending` (waking itself) the given number of times, then `Ready`.
struct Polls(u32);

impl Future for Polls {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    fn store() -> (Rc<Cell<u64>>, MemoryKv) {
        let now = Rc::new(Cell::new(1_000_000));
        let clock = now.clone();
        (now, MemoryKv::new(move || clock.get()))
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        futures::executor::block_on(f)
    }

    #[test]
    fn reads_lag_by_the_delay_and_see_deletes_late_too() {
        let (now, kv) = store();
        kv.set_delay(Duration::from_secs(10));
        run(kv.put("a", "1".into(), None)).unwrap();
        now.set(now.get() + 5_000);
        run(kv.put("a", "2".into(), None)).unwrap();
        assert_eq!(run(kv.get("a")).unwrap(), None);
        now.set(now.get() + 5_000);
        assert_eq!(run(kv.get("a")).unwrap().as_deref(), Some("1"));
        assert_eq!(run(kv.list("", None, 10)).unwrap().keys.len(), 1);
        now.set(now.get() + 5_000);
        assert_eq!(run(kv.get("a")).unwrap().as_deref(), Some("2"));
        run(kv.delete("a")).unwrap();
        assert_eq!(run(kv.get("a")).unwrap().as_deref(), Some("2"));
        now.set(now.get() + 10_000);
        assert_eq!(run(kv.get("a")).unwrap(), None);
        assert!(run(kv.list("", None, 10)).unwrap().keys.is_empty());
        assert_eq!(kv.writes_to("a").len(), 3);
    }

    #[test]
    fn one_write_per_second_per_key() {
        let (now, kv) = store();
        run(kv.put("a", "1".into(), None)).unwrap();
        assert!(run(kv.put("a", "2".into(), None)).is_err());
        assert!(run(kv.delete("a")).is_err());
        run(kv.put("b", "1".into(), None)).unwrap();
        now.set(now.get() + 1_000);
        run(kv.put("a", "3".into(), None)).unwrap();
        assert_eq!(kv.latest("a").as_deref(), Some("3"));
        assert_eq!(kv.stats().puts, 4);
        assert_eq!(kv.writes().len(), 3);
    }

    #[test]
    fn lists_page_by_cursor_within_the_prefix() {
        let (_, kv) = store();
        for k in ["i/a", "i/b", "i/c", "i/d", "j/a", "h/z"] {
            run(kv.put(k, "v".into(), Some(format!(r#"{{"k":"{k}"}}"#)))).unwrap();
        }
        let p1 = run(kv.list("i/", None, 3)).unwrap();
        let names: Vec<&str> = p1.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["i/a", "i/b", "i/c"]);
        assert_eq!(p1.keys[0].metadata.as_deref(), Some(r#"{"k":"i/a"}"#));
        let p2 = run(kv.list("i/", p1.cursor.as_deref(), 3)).unwrap();
        let names: Vec<&str> = p2.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["i/d"]);
        assert_eq!(p2.cursor, None);
        // An exact fit leaves no cursor either.
        assert_eq!(run(kv.list("i/", None, 4)).unwrap().cursor, None);
    }

    #[test]
    fn metadata_comes_back_as_javascript_numbers() {
        assert_eq!(
            as_javascript(
                r#"{"b": -9223372036854775808, "a": [1, 2.50, 1e3, -0], "s": "9007199254740993 \" x"}"#
            ),
            r#"{"b":-9223372036854776000,"a":[1,2.5,1000,0],"s":"9007199254740993 \" x"}"#
        );
        assert_eq!(
            as_javascript(r#""{\"v\":18446744073709551615}""#),
            r#""{\"v\":18446744073709551615}""#
        );
        let (_, kv) = store();
        run(kv.put(
            "a",
            "v".into(),
            Some(r#"{"n":18446744073709551615}"#.into()),
        ))
        .unwrap();
        assert_eq!(
            kv.latest_metadata("a").as_deref(),
            Some(r#"{"n":18446744073709552000}"#)
        );
    }

    #[test]
    fn failures_and_oversized_metadata_change_nothing() {
        let (_, kv) = store();
        kv.fail_next_writes(1);
        assert!(run(kv.put("a", "1".into(), None)).is_err());
        let big = format!(r#"{{"v":"{}"}}"#, "x".repeat(1100));
        assert!(run(kv.put("a", "1".into(), Some(big))).is_err());
        assert!(run(kv.put("a", "1".into(), Some("{not json".into()))).is_err());
        assert_eq!(kv.latest("a"), None);
        run(kv.put("a", "1".into(), None)).unwrap();
        assert_eq!(kv.latest_keys(), ["a"]);
    }
}
