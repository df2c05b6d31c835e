//! The runtime's modules form layers: each imports only modules below it, so there is no
//! import circle. The order is the one `docs/design.md` draws; this test keeps it true.

use std::collections::BTreeSet;
use std::path::Path;

/// Ground first. A module may import (`crate::<module>`) only modules listed before it.
const LAYERS: &[&str] = &[
    "error",
    "names",
    "url",
    "http",
    "clock",
    "storage",
    "wire",
    "persist",
    "migrate",
    "collections",
    "socket",
    "client",
    "platform",
    "cron",
    "table",
    "ctx",
    "hooks",
    "activate",
    "fetch",
    "sockets",
    "object",
    "timers",
    "host",
    "index",
    "testing",
    "wasm",
];

/// The `crate::<module>` paths a module's code (not its comments or unit tests) names.
fn imports(source: &str) -> BTreeSet<String> {
    let code: String = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    code.match_indices("crate::")
        .map(|(i, _)| {
            code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect()
        })
        .collect()
}

fn sources(module: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let file = src.join(format!("{module}.rs"));
    let dir = src.join(module);
    let mut out = Vec::new();
    if file.is_file() {
        out.push(std::fs::read_to_string(&file).unwrap());
    }
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let mut wrong = Vec::new();
    for (i, module) in LAYERS.iter().enumerate() {
        let below = &LAYERS[..i];
        let files = sources(module);
        assert!(!files.is_empty(), "no source for module `{module}`");
        for source in files {
            for import in imports(&source) {
                if !import.is_empty()
                    && import != *module
                    && import != "__private"
                    && !below.contains(&import.as_str())
                {
                    wrong.push(format!("{module} imports {import}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layering: {wrong:?}");
}

#[test]
fn every_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "msgpack" || name == "log" {
            continue;
        }
        assert!(
            LAYERS.contains(&name.as_str()),
            "module `{name}` has no layer"
        );
    }
}
