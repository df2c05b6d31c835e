// The rules that `#[duro::methods]` checks at compile time and the runtime relies on.
// Plain constants only, so that a test of the runtime can `include!` this file and tie
// each one to the runtime's own (see the doc comment on `mod rules` in lib.rs).

/// Wire names (of `#[rpc]` methods and timers) starting with this are duro's own: the
/// runtime's internal methods (`__duro/publish`, `__duro_republish`) and storage keys
/// (`__duro/…`) all start with it.
pub const RESERVED_PREFIX: &str = "__duro";

/// The longest wire name, in bytes.
pub const MAX_WIRE_NAME: usize = 128;

/// The most arguments an `#[rpc]` method takes besides `&self` and `&Ctx`: serde's
/// tuples, the wire form of the arguments, stop at 16, and so do the runtime's
/// `decode_args0..=16` and `call0..=16`.
pub const MAX_ARGS: usize = 16;

/// The longest `#[index]` name, in bytes (the KV key is `<index>/<object name>`);
/// the runtime's `duro_index::MAX_INDEX_NAME`.
pub const MAX_INDEX_NAME: usize = 64;

/// The KV binding of an `#[index("…")]` without `binding = "…"`; the runtime's
/// `duro::index::DEFAULT_BINDING`.
pub const DEFAULT_INDEX_BINDING: &str = "INDEX";

/// The generated stub's own inherent methods: an `#[rpc]` method cannot take these
/// names, or the stub would define them twice.
pub const STUB_METHODS: &[&str] = &["name"];
