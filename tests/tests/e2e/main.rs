//! End-to-end tests: the built counter app in workerd (`wrangler dev`), over HTTP, and
//! the notes apps' two builds for state migrations, cron timers and an object's own
//! route.
//!
//! Every test is `#[ignore]`d because it needs the wasm build and the npm packages;
//! `cargo xtask test` builds them and runs these with `--ignored --test-threads=1`.
//! To run them alone after `cargo xtask build`:
//!
//! ```text
//! cargo test -p duro-tests --test e2e -- --ignored --test-threads=1
//! ```

mod api;
mod chains;
mod concurrency;
mod counter;
mod fetch;
mod harness;
mod http;
mod index;
mod migrations;
mod protocol;
mod restart;
mod routes;
mod scale;
mod sockets;
mod timers;
