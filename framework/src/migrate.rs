//! Typed state migrations: how an object reads state that an older schema wrote.
//!
//! `#[duro::object(schema = 3, migrate = [v1::Counter, v2::Counter])]` names the state
//! types of the schemas before 3, oldest first: the list ends with schema 2's type, so
//! `v1::Counter` is schema 1's. Each type converts into the next with `From`
//! (`From<v1::Counter> for v2::Counter`, `From<v2::Counter> for Counter`), and the host
//! runs the chain when it loads older state: schema 1's state goes through both steps,
//! schema 2's through the last. The migrated state is saved with the next write (reads
//! never write); state older than the list's first type is refused with
//! `schema_conflict` (409) rather than read as something it is not.
//!
//! The macro emits the chain as a type, `Step<v1::Counter, Step<v2::Counter, Now>>`; the
//! logic is [`Chain`]'s, here.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorCode};
use crate::wire::{self, MsgpackError};

/// A decoded and migrated state, or why its bytes do not decode.
pub type Loaded<T> = Result<T, MsgpackError>;

/// How an object reads state written `back` schemas before its own: `None` when no
/// migration starts there.
pub type Migrate<T> = fn(back: u32, body: &[u8]) -> Option<Loaded<T>>;

/// A migration chain ending at the state type `T`.
pub trait Chain<T> {
    /// The oldest state type the chain starts from.
    type Oldest;
    /// How many schemas before `T`'s the chain reaches.
    const LEN: u32;
    /// Converts the oldest state up to `T`, one step at a time.
    fn up(old: Self::Oldest) -> T;
    /// Decodes `body`, written `back` schemas before `T`'s, and migrates it to `T`.
    fn load(back: u32, body: &[u8]) -> Option<Loaded<T>>;
}

/// The end of a chain: the object's own state type.
pub struct Now;

/// A chain that starts at `Old` and goes on with `Rest`.
pub struct Step<Old, Rest>(PhantomData<fn() -> (Old, Rest)>);

impl<T> Chain<T> for Now {
    type Oldest = T;
    const LEN: u32 = 0;

    fn up(state: T) -> T {
        state
    }

    fn load(_: u32, _: &[u8]) -> Option<Loaded<T>> {
        None
    }
}

impl<T, Old: DeserializeOwned, Rest: Chain<T>> Chain<T> for Step<Old, Rest>
where
    Rest::Oldest: From<Old>,
{
    type Oldest = Old;
    const LEN: u32 = Rest::LEN + 1;

    fn up(old: Old) -> T {
        Rest::up(Rest::Oldest::from(old))
    }

    fn load(back: u32, body: &[u8]) -> Option<Loaded<T>> {
        if back == Self::LEN {
            Some(wire::decode::<Old>(body).map(Self::up))
        } else {
            Rest::load(back, body)
        }
    }
}

/// The error for stored state of `schema` that no migration of `class` (at `current`)
/// covers.
pub(crate) fn uncovered(class: &str, schema: u32, current: u32) -> Error {
    Error::new(
        ErrorCode::SchemaConflict,
        format!(
            "the stored state of {class} has schema {schema}, older than this code's {current}, \
             and no migration starts there; name schema {schema}'s state type in \
             `#[duro::object(migrate = [...])]`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    struct V1 {
        n: u8,
    }
    #[derive(Serialize, Deserialize)]
    struct V2 {
        n: u16,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct V3 {
        n: u32,
        label: String,
    }
    impl From<V1> for V2 {
        fn from(v: V1) -> V2 {
            V2 { n: v.n as u16 * 10 }
        }
    }
    impl From<V2> for V3 {
        fn from(v: V2) -> V3 {
            V3 {
                n: v.n as u32 + 1,
                label: "migrated".into(),
            }
        }
    }

    type Chain3 = Step<V1, Step<V2, Now>>;

    #[test]
    fn chains_run_every_step_from_where_the_state_is() {
        assert_eq!(<Chain3 as Chain<V3>>::LEN, 2);
        let v1 = wire::encode(&V1 { n: 4 }).unwrap();
        let v2 = wire::encode(&V2 { n: 7 }).unwrap();
        let load = <Chain3 as Chain<V3>>::load;
        assert_eq!(load(2, &v1).unwrap().unwrap().n, 41);
        assert_eq!(load(1, &v2).unwrap().unwrap().n, 8);
        assert!(load(3, &v1).is_none());
        assert!(load(2, b"\xc1").unwrap().is_err());
        assert!(<Now as Chain<V3>>::load(1, &v1).is_none());
    }
}
