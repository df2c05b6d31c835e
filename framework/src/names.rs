//! Every name duro reserves for itself, in one place: storage keys, wire paths and
//! headers, and internal method names. User keys must not start with [`RESERVED_PREFIX`];
//! user method names must not start with [`RESERVED_METHOD_PREFIX`] (the macro refuses
//! them at compile time).

/// Prefix every storage key duro reserves for itself starts with.
pub const RESERVED_PREFIX: &str = "__duro/";
/// Prefix of every reserved method name (and of the macro's generated items).
pub const RESERVED_METHOD_PREFIX: &str = "__duro";

/// Key of the state envelope; its chunks are `__duro/state/00000`, `…/00001`, ….
pub(crate) const STATE_KEY: &str = "__duro/state";
/// Prefix of pending timers: `__duro/t/<due ms, 13 digits>/<id>`.
pub(crate) const TIMER_PREFIX: &str = "__duro/t/";
/// Prefix of dead-lettered timers: `__duro/dead/<id>`.
pub(crate) const DEAD_PREFIX: &str = "__duro/dead/";
/// Prefix of the index bookkeeping: `__duro/index/<index>`.
pub(crate) const BOOK_PREFIX: &str = "__duro/index/";
/// Prefix of collections (`duro::Log`, `duro::Map`): a collection's header is
/// `__duro/c/<field>`, its entries `__duro/c/<field>/<entry key>`.
pub(crate) const COLLECTION_PREFIX: &str = "__duro/c/";

/// Path of an object's stats view (the one route of an object's `fetch`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) const STATS_PATH: &str = "/__duro/stats";

/// Header with which `duro::forward` tells an object its name (the platform gives only
/// an id).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) const NAME_HEADER: &str = "x-duro-object";

/// The JS RPC method of every duro class (`duroCall(protocol, method, name, chain, args)`):
/// the generated entry's class defines it and delegates it to the wasm class.
pub const RPC_METHOD: &str = "duroCall";

/// Method name of the reserved index publish timer.
pub(crate) const PUBLISH_METHOD: &str = "__duro/publish";
/// Id of the reserved publish timer (ids starting with `#` are never user names).
pub(crate) const PUBLISH_ID: &str = "#publish";
/// The reserved RPC method that asks an object to republish its index entry.
pub(crate) const REPUBLISH_METHOD: &str = "__duro_republish";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_name_has_the_reserved_prefix() {
        for key in [
            STATE_KEY,
            TIMER_PREFIX,
            DEAD_PREFIX,
            BOOK_PREFIX,
            COLLECTION_PREFIX,
        ] {
            assert!(key.starts_with(RESERVED_PREFIX), "{key}");
        }
        for method in [PUBLISH_METHOD, REPUBLISH_METHOD] {
            assert!(method.starts_with(RESERVED_METHOD_PREFIX), "{method}");
        }
        assert!(RESERVED_PREFIX.starts_with(RESERVED_METHOD_PREFIX));
        assert!(STATS_PATH.starts_with(&format!("/{RESERVED_PREFIX}")));
    }
}
