//! The chat contract (the public HTTP and WebSocket API of apps/chat), checked against a
//! running worker in workerd (`wrangler dev`): every route and status, the details that
//! tools rely on, frame order, many clients at once, a crash mid-run, dropped sockets and
//! the room directory.
//!
//! The worker is `bench/baselines/js-chat` (the hand-written JavaScript reference, no
//! build step), or the folder in `DURO_CHAT_APP` (relative to the workspace root; a Rust
//! worker must be built first with `cargo xtask build`). Every test is `#[ignore]`d
//! because it needs the npm packages:
//!
//! ```text
//! cargo test -p duro-tests --test chat -- --ignored --test-threads=1
//! DURO_CHAT_APP=apps/chat cargo test -p duro-tests --test chat -- --ignored --test-threads=1
//! ```
//!
//! The contract's choices where the API leaves room are listed under "Contract notes"
//! in `bench/baselines/js-chat/README.md`.

mod client;
mod directory;
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../e2e/http.rs"]
mod http;
mod load;
mod routes;
mod sockets;
mod validation;
