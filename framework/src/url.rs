//! Minimal URL helpers for request routing. Workers hand over full URLs as strings;
//! parsing them with a full URL parser (`worker::Request::path`, `url` and its IDNA
//! tables) adds about 60 KiB to a worker's wasm, and routing needs only the path and the
//! query pairs.

/// The path of an absolute URL (`https://host/a/b?q` → `/a/b`), or of a path with a query.
///
/// ```
/// assert_eq!(duro::url::path("https://x.example/counters/a?limit=3"), "/counters/a");
/// assert_eq!(duro::url::path("http://127.0.0.1:8787"), "/");
/// assert_eq!(duro::url::path("/a#frag"), "/a");
/// ```
pub fn path(url: &str) -> &str {
    let after_scheme = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let start = if url.contains("://") {
        match after_scheme.find('/') {
            Some(i) => i,
            None => return "/",
        }
    } else {
        0
    };
    let rest = &after_scheme[start..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    if end == 0 {
        "/"
    } else {
        &rest[..end]
    }
}

/// The decoded query pairs of a URL, in order (`+` is a space, `%XX` a byte; invalid
/// UTF-8 is replaced).
///
/// ```
/// let pairs = duro::url::query("https://x/counters?prefix=a%20b&limit=10&flag");
/// assert_eq!(pairs, vec![
///     ("prefix".to_string(), "a b".to_string()),
///     ("limit".to_string(), "10".to_string()),
///     ("flag".to_string(), String::new()),
/// ]);
/// ```
pub fn query(url: &str) -> Vec<(String, String)> {
    let Some(start) = url.find('?') else {
        return Vec::new();
    };
    let q = &url[start + 1..];
    pairs(&q[..q.find('#').unwrap_or(q.len())])
}

/// The decoded pairs of a query string without its `?` (as [`query`] decodes them).
pub(crate) fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths() {
        assert_eq!(
            path("https://duro.internal/__duro/call/add"),
            "/__duro/call/add"
        );
        assert_eq!(path("https://h"), "/");
        assert_eq!(path("https://h/?x=1"), "/");
        assert_eq!(path("/a/b?c"), "/a/b");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("a%2Fb"), "a/b");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%e2%82%ac"), "€");
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,64}") {
            let _ = path(&s);
            let _ = query(&s);
        }
    }
}
