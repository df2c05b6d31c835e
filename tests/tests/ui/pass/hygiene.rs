//! The generated code names everything by its full path: shadowing the prelude's
//! `Result`, `Ok`, `Err`, `String`, `Vec`, `Option`, `Some`, `None` and `Box` at the
//! object's module level changes nothing, and it raises no warning. `Self` in a signature
//! means the object, in the stub too.

#![deny(warnings)]

use duro::prelude::*;

#[allow(dead_code)]
type Result = ();
#[allow(dead_code)]
struct Ok;
#[allow(dead_code)]
struct Err;
#[allow(dead_code)]
struct String;
#[allow(dead_code)]
struct Vec;
#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Some;
#[allow(dead_code)]
struct None;
#[allow(dead_code)]
struct Box;

/// A list of names with a limit.
#[duro::object]
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct Roster {
    names: ::std::vec::Vec<::std::string::String>,
    limit: ::core::option::Option<u32>,
}

/// Why a name was refused.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub enum RosterError {
    /// The roster has `limit` names already.
    Full { limit: u32 },
}

impl ::core::fmt::Display for RosterError {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        match self {
            RosterError::Full { limit } => write!(f, "the roster is full ({limit} names)"),
        }
    }
}

#[duro::methods]
impl Roster {
    /// Sync read, no arguments, plain value.
    #[rpc]
    fn len(&self) -> u32 {
        self.names.len() as u32
    }

    /// Async read with the context and two arguments.
    #[rpc]
    async fn slice(&self, _ctx: &Ctx, from: u32, to: u32) -> ::std::vec::Vec<::std::string::String> {
        let to = (to as usize).min(self.names.len());
        let from = (from as usize).min(to);
        self.names[from..to].to_vec()
    }

    /// Sync write with a user error.
    #[rpc]
    fn join(&mut self, name: ::std::string::String) -> ::core::result::Result<u32, RosterError> {
        if let ::core::option::Option::Some(limit) = self.limit {
            if self.names.len() as u32 >= limit {
                return ::core::result::Result::Err(RosterError::Full { limit });
            }
        }
        self.names.push(name);
        ::core::result::Result::Ok(self.names.len() as u32)
    }

    /// Async write with the context, several arguments and a framework result.
    #[rpc]
    async fn configure(
        &mut self,
        _ctx: &Ctx,
        limit: ::core::option::Option<u32>,
        reset: bool,
        tags: ::std::vec::Vec<(u8, ::std::string::String)>,
    ) -> duro::Result<usize> {
        self.limit = limit;
        if reset {
            self.names.clear();
        }
        ::core::result::Result::Ok(tags.len())
    }

    /// Sync write without a return value.
    #[rpc]
    fn clear(&mut self) {
        self.names.clear();
    }

    /// Async write with the context and a boxed argument.
    #[rpc(name = "rename")]
    async fn rename_at(
        &mut self,
        _ctx: &Ctx,
        at: u32,
        name: ::std::boxed::Box<str>,
    ) -> duro::Result<()> {
        if let ::core::option::Option::Some(slot) = self.names.get_mut(at as usize) {
            *slot = name.into();
        }
        ::core::result::Result::Ok(())
    }

    /// `Self` is the roster, not its stub.
    #[rpc]
    fn snapshot(&self) -> Self {
        self.clone()
    }

    /// Not an RPC method: left alone.
    fn helper(&self) -> usize {
        self.names.len()
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let env = duro::testing::TestEnv::new();
        let r = env.stub::<Roster>("main");
        assert_eq!(r.name(), "main");
        assert_eq!(r.configure(::core::option::Option::Some(2), false, ::std::vec![(1, "a".into())]).await.unwrap(), 1);
        assert_eq!(r.join("ann".into()).await.unwrap(), 1);
        assert_eq!(r.join("bob".into()).await.unwrap(), 2);
        assert!(matches!(
            r.join("cid".into()).await,
            ::core::result::Result::Err(CallError::User(RosterError::Full { limit: 2 }))
        ));
        r.rename_at(0, "amy".into()).await.unwrap();
        assert_eq!(r.slice(0, 5).await.unwrap(), ["amy", "bob"]);
        assert_eq!(r.len().await.unwrap(), 2);
        assert_eq!(r.snapshot().await.unwrap().names, ["amy", "bob"]);
        r.clear().await.unwrap();
        assert_eq!(r.len().await.unwrap(), 0);
        assert_eq!(Roster::default().helper(), 0);
    });
}
