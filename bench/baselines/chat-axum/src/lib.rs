//! # chat-axum
//!
//! The chat app (apps/chat) with its routes declared with axum, through workers-rs' `http`
//! feature as workers-rs documents it: the same `Room` and the same route functions
//! (`chat::api`), so only the routing and the request conversion differ from the chat's
//! `match`. `cargo xtask bench` measures both (wasm size and CPU per request). It serves
//! the chat's API only: every other route is a 404, the page included.

#[cfg(target_arch = "wasm32")]
mod worker;
