//! apps/chat/page/src/protocol.ts is generated from the Rust types; this fails while the
//! two differ. `CHAT_TYPES_BLESS=1` rewrites the file instead (`cargo xtask chat-types`).

use std::path::Path;

#[test]
fn page_types_match_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../page/src/protocol.ts");
    let generated = chat_protocol::typescript();
    if std::env::var_os("CHAT_TYPES_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = first_difference(&committed, &generated);
        panic!(
            "{} does not match the Rust types in apps/chat/protocol; run `cargo xtask \
             chat-types` and rebuild the page (`cargo xtask chat-page`).\n\
             first difference, line {}:\n  committed: {:?}\n  generated: {:?}",
            path.display(),
            line + 1,
            committed.lines().nth(line),
            generated.lines().nth(line),
        );
    }
}

/// The index of the first line where `a` and `b` differ.
fn first_difference(a: &str, b: &str) -> usize {
    let mut a_lines = a.lines();
    let mut b_lines = b.lines();
    let mut index = 0;
    while let (Some(x), Some(y)) = (a_lines.next(), b_lines.next()) {
        if x != y {
            break;
        }
        index += 1;
    }
    index
}

#[test]
fn the_frames_are_tagged_unions() {
    let ts = chat_protocol::typescript();
    assert!(
        ts.contains("export type ServerFrame = { \"type\": \"welcome\" } & Welcome"),
        "{ts}"
    );
    assert!(ts.contains("client_id?: string"), "{ts}");
    // u64 ids and times are plain numbers, not bigint.
    assert!(!ts.contains("bigint"), "{ts}");
}
