//! Procedural macros for duro: `#[duro::object]` names a state struct as a Durable
//! Object class, `#[duro::methods]` turns an `impl` block's `#[rpc]`, `#[timer]` and
//! `#[index]` methods into dispatch, typed handles and a typed stub. Use them through the
//! `duro` crate; the generated code reaches only `::duro::__private`.
//!
//! The crate is split by stage: `ast` (the input as written), `attr` (attributes and
//! their keys), `valid` (the signature rules and the rules across methods), `expand` (the
//! output) and `fallback` (the output on errors); `rules` holds the limits the runtime
//! shares.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
/// The rules the runtime shares: plain constants, so that a runtime test can `include!`
/// the file and compare them with its own.
mod rules;
mod valid;

use proc_macro::TokenStream;

/// Makes a struct the state of a Durable Object class.
///
/// The struct is the object's state: `Serialize + Deserialize + Default` (the `Object`
/// impl of `#[duro::methods]` checks this), not generic, and it needs exactly one
/// `#[duro::methods]` block. Arguments, all optional:
///
/// | argument | meaning | default |
/// | --- | --- | --- |
/// | `class = "Room"` | the exported class name (`class_name` in wrangler.toml) | the struct's name, without `r#` |
/// | `binding = "ROOMS"` | the namespace binding in the worker's env | the class name in SCREAMING_SNAKE_CASE |
/// | `schema = 2` | the state's schema version, from 1 | `1` |
/// | `migrate = [v1::Room]` | the state types of the older schemas, oldest first (below) | none |
///
/// ```
/// use duro::prelude::*;
///
/// #[duro::object(class = "Room", binding = "ROOMS")]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct ChatRoom {
///     messages: Vec<String>,
/// }
///
/// #[duro::methods]
/// impl ChatRoom {}
///
/// assert_eq!(<ChatRoom as Object>::CLASS, "Room");
/// assert_eq!(<ChatRoom as Object>::BINDING, "ROOMS");
/// assert_eq!(<ChatRoom as Object>::SCHEMA, 1);
/// ```
///
/// # Changing the state: schemas and migrations
///
/// Objects keep their state across deploys, so a new build meets state that an older
/// struct wrote. Each stored state carries its schema number. To change the struct:
///
/// 1. Keep the old struct, renamed or in a module (`mod v1 { … pub struct Counter … }`):
///    it is how schema 1's state is read.
/// 2. Raise `schema` by one and add the old type at the end of `migrate = [...]`. The
///    list holds the state types of the schemas before `schema`, oldest first: its last
///    type is schema N−1's, the one before it N−2's, and so on.
/// 3. Convert each type into the next with `From` (the last one into the new struct).
///
/// ```
/// use duro::prelude::*;
///
/// mod v1 {
///     /// Schema 1's state.
///     #[derive(serde::Deserialize)]
///     pub struct Counter { pub count: u32 }
/// }
///
/// mod v2 {
///     /// Schema 2's state.
///     #[derive(serde::Deserialize)]
///     pub struct Counter { pub value: i64 }
///
///     impl From<super::v1::Counter> for Counter {
///         fn from(old: super::v1::Counter) -> Counter {
///             Counter { value: old.count.into() }
///         }
///     }
/// }
///
/// /// Schema 3: schema 1's state goes through `v2::Counter` to here, schema 2's in one step.
/// #[duro::object(schema = 3, migrate = [v1::Counter, v2::Counter])]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Counter {
///     value: i64,
///     history: Vec<i64>,
/// }
///
/// impl From<v2::Counter> for Counter {
///     fn from(old: v2::Counter) -> Counter {
///         Counter { value: old.value, history: Vec::new() }
///     }
/// }
///
/// #[duro::methods]
/// impl Counter {
///     #[rpc]
///     fn get(&self) -> i64 { self.value }
/// }
/// # fn main() {
/// #     assert_eq!(<Counter as Object>::SCHEMA, 3);
/// # }
/// ```
///
/// - An object that loads older state runs the chain from that schema on, keeps the result
///   in memory and saves it, with the new schema, on its next successful write (a read
///   never writes; a failed write leaves storage as it was).
/// - State older than the list reaches is refused with `schema_conflict` (409) naming the
///   schema, and stays stored as it is: nothing is read as something it is not, nothing is
///   lost. So is a schema raised without a migration. A change that old state still
///   decodes as (a new field with `#[serde(default)]`) can name the struct itself as its
///   step: `migrate = [Counter]`.
/// - The other direction: code that finds state of a *newer* schema serves reads (when the
///   newer state still decodes as its struct) but refuses writes with `schema_conflict`,
///   so an older version still running during a gradual deploy never drops fields it does
///   not know. Make such changes additive, with `#[serde(default)]`, to keep reads working.
/// - A missing `From` between two neighbours in the list, a type without `Deserialize`, a
///   list longer than the schemas before `schema`, or `migrate` without `schema` are
///   compile errors.
#[proc_macro_attribute]
pub fn object(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::object(args.into(), item.into()).into()
}

/// Turns an `impl` block's `#[rpc]`, `#[timer]` and `#[index]` methods into the object's
/// dispatch, typed timer handles and a typed stub named `<Type>Stub`.
///
/// It goes on one inherent, non-generic `impl Type` block of a `#[duro::object]`
/// struct, naming the type by its plain name, and takes no arguments. Methods without
/// one of the three attributes are left alone.
///
/// # Signature rules
///
/// | | `#[rpc]` | `#[timer]` | `#[index("…")]` |
/// | --- | --- | --- | --- |
/// | receiver | `&self` (a read: never saves) or `&mut self` (a write: saves the state if it changed) | `&mut self` | `&self` |
/// | `async` | either | either | no: computed after every turn that changes the state |
/// | `&Ctx` | optional, first after the receiver | optional, first after the receiver | optional, first after the receiver |
/// | other arguments | 0 to 16 values | at most one, the payload (`()` without one) | none |
/// | result | nothing, `T`, `duro::Result<T>`, `Result<T, E>` or `Result<T, CallError<E>>` | nothing, `duro::Result<()>`, `Result<(), E>` or `Result<(), CallError<E>>` | an owned `T`, or `Option<T>` (`None`: no entry) |
///
/// - **Arguments and payloads** travel or are stored, so they are owned: `String`, not
///   `&str`; `Vec<T>`, not `&[T]`; no `impl Trait`. An RPC argument is `Serialize`
///   (the stub encodes it) and `Deserialize` (the object decodes it); a payload is
///   `Serialize` where it is scheduled and `Deserialize` where it runs. Bundle more than
///   16 arguments, or several payload values, in a tuple or struct.
/// - **The context** is `&Ctx` (never `&mut Ctx`, never by value) and comes right after
///   the receiver: `fn f(&mut self, ctx: &Ctx, a: A, b: B)`.
/// - **Results** are read from the written type (a `Result`'s last path segment is
///   `Result`):
///   - nothing or any `T` (`Option<T>` too) is a plain value: the stub returns
///     `duro::Result<T>`; `T` is `Serialize + Deserialize`.
///   - `duro::Result<T>` (a `Result` with one argument, or `Result<T, duro::Error>`)
///     fails with a framework error: the stub returns `duro::Result<T>` and the caller
///     sees the error's own code. A one-argument `Result` alias of another crate, such as
///     `std::io::Result<T>`, is read as duro's and rejected by the type checker.
///   - `Result<T, E>` with any other `E` fails with the user's error: the stub returns
///     `Result<T, CallError<E>>`; `E` is `Serialize + Deserialize + Display`. A timer's
///     `E` needs `Display` only (it is logged, and the timer retried).
///   - `Result<T, CallError<E>>` fails with either: `?` works on framework errors
///     (`duro::Error` converts into `CallError<E>`) and on calls to other objects, the
///     method returns its own as `Err(CallError::User(e))`, and the caller sees a
///     framework error as itself (its code and retryable flag). The stub returns the same
///     type.
/// - `Self` in an argument or result type means the object, in the stub too.
/// - **Not allowed**: generic methods, `unsafe` methods, associated functions (no
///   receiver), `self` by value.
/// - **Names**: a method's wire name is its name without `r#`, or `#[rpc(name = "…")]`
///   (1 to 128 characters, no `/`); wire names are unique within an object, and those
///   starting with `__duro` are duro's. `name` is the stub's own method (the object's
///   name): an RPC method called `name` is renamed in Rust and keeps its wire name, e.g.
///   `#[rpc(name = "name")] fn nick(&self) -> String`.
/// - **One projection**: at most one `#[index]` method per object. It may also be an
///   `#[rpc]` method (callers then read the projection directly), never a `#[timer]`.
///   With `ctx: &Ctx` it can read the object's name, the clock and vars; returning
///   `Option<T>` lets it remove the object's entry (`None`) while the state stays.
///
/// Every form in the table compiles (the UI tests compile more in
/// `tests/tests/ui/pass/signatures.rs`):
///
/// ```
/// use std::time::Duration;
/// use duro::prelude::*;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Lobby {
///     players: Vec<String>,
///     open: bool,
/// }
///
/// /// Why a player cannot join.
/// #[derive(Debug, Serialize, Deserialize)]
/// pub enum LobbyError {
///     Closed,
/// }
///
/// impl std::fmt::Display for LobbyError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("the lobby is closed")
///     }
/// }
///
/// #[derive(Serialize, Deserialize)]
/// pub struct LobbySummary {
///     players: usize,
/// }
///
/// #[duro::methods]
/// impl Lobby {
///     /// A read returning a plain value.
///     #[rpc]
///     fn players(&self) -> Vec<String> {
///         self.players.clone()
///     }
///
///     /// An async write with the context and a framework result.
///     #[rpc]
///     async fn open(&mut self, ctx: &Ctx, idle_secs: u64) -> duro::Result<()> {
///         self.open = true;
///         ctx.timers()
///             .named("idle")
///             .after(Duration::from_secs(idle_secs), Self::close, ())?;
///         Ok(())
///     }
///
///     /// A write with a user error.
///     #[rpc]
///     fn join(&mut self, who: String) -> Result<usize, LobbyError> {
///         if !self.open {
///             return Err(LobbyError::Closed);
///         }
///         self.players.push(who);
///         Ok(self.players.len())
///     }
///
///     /// A write with a user error that also `?`s framework errors.
///     #[rpc]
///     fn rejoin(&mut self, ctx: &Ctx, who: String) -> Result<usize, CallError<LobbyError>> {
///         if !self.open {
///             return Err(CallError::User(LobbyError::Closed));
///         }
///         ctx.timers().named("idle").after(Duration::from_secs(60), Self::close, ())?;
///         self.players.push(who);
///         Ok(self.players.len())
///     }
///
///     /// The object's name, under another Rust name than the stub's `name()`.
///     #[rpc(name = "name")]
///     fn lobby_name(&self, ctx: &Ctx) -> String {
///         ctx.name().to_owned()
///     }
///
///     /// A timer without payload: `Self::close` is a `duro::Timer<Lobby, ()>`.
///     #[timer]
///     fn close(&mut self) {
///         self.open = false;
///     }
///
///     /// An async timer with the context and a payload: a `duro::Timer<Lobby, String>`.
///     #[timer]
///     async fn kick(&mut self, _ctx: &Ctx, who: String) -> duro::Result<()> {
///         self.players.retain(|p| *p != who);
///         Ok(())
///     }
///
///     /// The projection published to Workers KV: open lobbies only.
///     #[index("lobbies")]
///     fn summary(&self, _ctx: &Ctx) -> Option<LobbySummary> {
///         self.open.then(|| LobbySummary { players: self.players.len() })
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let env = duro::testing::TestEnv::new();
/// let lobby: LobbyStub = env.stub::<Lobby>("east");
/// assert!(matches!(lobby.join("ada".into()).await, Err(CallError::User(LobbyError::Closed))));
/// lobby.open(60).await?;
/// assert_eq!(lobby.join("ada".into()).await.unwrap(), 1);
/// assert_eq!(lobby.lobby_name().await?, "east");
/// assert_eq!(lobby.name(), "east");
/// env.advance(Duration::from_secs(60)).await; // the idle timer closes the lobby
/// assert!(lobby.join("bob".into()).await.is_err());
/// assert!(matches!(lobby.rejoin("bob".into()).await, Err(CallError::User(LobbyError::Closed))));
/// # Ok::<(), duro::Error>(())
/// # }).unwrap();
/// ```
#[proc_macro_attribute]
pub fn methods(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::methods(args.into(), item.into()).into()
}

/// Marks a method of a `#[duro::methods]` block as an RPC method: the object dispatches
/// it by its wire name, and the stub gets an async method of the same name and arguments.
///
/// `#[rpc]` uses the method's name (without `r#`) as the wire name;
/// `#[rpc(name = "…")]` sets another, so that a method can be renamed in Rust without
/// breaking callers that are already deployed. The signature rules are on
/// `#[duro::methods]`: `&self` or `&mut self`, sync or async, an optional `&Ctx` right
/// after the receiver, up to 16 owned arguments, and a result that is a plain `T`,
/// `duro::Result<T>` or `Result<T, E>`:
///
/// ```
/// use duro::prelude::*;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Counter {
///     value: i64,
/// }
///
/// #[duro::methods]
/// impl Counter {
///     #[rpc]
///     fn get(&self) -> i64 {
///         self.value
///     }
///
///     /// Still `add` on the wire.
///     #[rpc(name = "add")]
///     async fn add_checked(&mut self, _ctx: &Ctx, by: i64) -> duro::Result<i64> {
///         self.value = self.value.checked_add(by).ok_or_else(|| {
///             duro::Error::new(duro::ErrorCode::BadRequest, "the counter would overflow")
///         })?;
///         Ok(self.value)
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let env = duro::testing::TestEnv::new();
/// let c = env.stub::<Counter>("a");
/// assert_eq!(c.add_checked(2).await?, 2);
/// assert_eq!(c.get().await?, 2);
/// # Ok::<(), duro::Error>(())
/// # }).unwrap();
/// ```
///
/// Anywhere but on a method of a `#[duro::methods]` block it is an error.
#[proc_macro_attribute]
pub fn rpc(_args: TokenStream, item: TokenStream) -> TokenStream {
    fallback::misplaced(attr::RPC, item.into()).into()
}

/// Marks a method of a `#[duro::methods]` block as a durable timer.
///
/// The method's name becomes a constant `Self::name` of type `duro::Timer<Self, P>`, `P`
/// being the payload's type (`()` without one), and its body moves to a hidden method.
/// Scheduling takes that handle, so scheduling a method that is not a timer, or with the
/// wrong payload, does not compile. The signature rules are on `#[duro::methods]`:
/// `&mut self`, sync or async, an optional `&Ctx` right after the receiver, at most one
/// owned payload, and nothing, `duro::Result<()>` or `Result<(), E>` as the result (an
/// `Err` is retried with backoff, then dead-lettered). `#[timer]` takes no arguments; the
/// timer's name on the wire is the method's name.
///
/// ```
/// use std::time::Duration;
/// use duro::prelude::*;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Counter {
///     value: i64,
/// }
///
/// #[duro::methods]
/// impl Counter {
///     #[rpc]
///     fn add_later(&mut self, ctx: &Ctx, secs: u64, by: i64) -> duro::Result<()> {
///         ctx.timers().after(Duration::from_secs(secs), Self::add, by)?;
///         Ok(())
///     }
///
///     #[rpc]
///     fn reset_in(&mut self, ctx: &Ctx, secs: u64) -> duro::Result<()> {
///         ctx.timers().named("reset").after(Duration::from_secs(secs), Self::reset, ())?;
///         Ok(())
///     }
///
///     #[rpc]
///     fn get(&self) -> i64 {
///         self.value
///     }
///
///     /// `Self::add` is a `duro::Timer<Counter, i64>`.
///     #[timer]
///     fn add(&mut self, by: i64) {
///         self.value += by;
///     }
///
///     /// `Self::reset` is a `duro::Timer<Counter, ()>`.
///     #[timer]
///     async fn reset(&mut self, _ctx: &Ctx) -> duro::Result<()> {
///         self.value = 0;
///         Ok(())
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let env = duro::testing::TestEnv::new();
/// let c = env.stub::<Counter>("a");
/// c.add_later(1, 5).await?;
/// env.advance(Duration::from_secs(1)).await;
/// assert_eq!(c.get().await?, 5);
/// c.reset_in(1).await?;
/// env.advance(Duration::from_secs(1)).await;
/// assert_eq!(c.get().await?, 0);
/// # Ok::<(), duro::Error>(())
/// # }).unwrap();
/// ```
///
/// Anywhere but on a method of a `#[duro::methods]` block it is an error.
#[proc_macro_attribute]
pub fn timer(_args: TokenStream, item: TokenStream) -> TokenStream {
    fallback::misplaced(attr::TIMER, item.into()).into()
}

/// Marks a method of a `#[duro::methods]` block as the object's index projection,
/// published to Workers KV so that a worker can list and read objects without waking
/// them (`duro::index`).
///
/// `#[index("rooms")]` publishes under `rooms/<object name>` in the KV namespace bound as
/// `"INDEX"`; `#[index("rooms", binding = "ROOMS_KV")]` picks another binding. Index
/// names are 1 to 64 bytes without `/`. The method is sync, takes `&self` and optionally
/// `ctx: &Ctx` (the object's name, the clock, vars), and returns an owned `Serialize`
/// value (the type readers decode) or an `Option` of one (`None`: the object has no
/// entry, and keeps its state); an object has at most one projection. It may also be an
/// `#[rpc]` method. Under `#[cfg(…)]` (a projection that is not also `#[rpc]`), it is
/// published only where the condition holds, e.g. behind a Cargo feature; elsewhere the
/// object has no index.
///
/// `duro` does not re-export this attribute: `#[index(…)]` is read by `#[duro::methods]`,
/// and `duro::index` is the module that reads the index.
///
/// ```
/// use duro::prelude::*;
///
/// #[duro::object]
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Room {
///     members: Vec<String>,
/// }
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// pub struct RoomSummary {
///     members: usize,
/// }
///
/// #[duro::methods]
/// impl Room {
///     #[rpc]
///     fn join(&mut self, who: String) {
///         self.members.push(who);
///     }
///
///     #[index("rooms")]
///     #[rpc]
///     fn summary(&self) -> RoomSummary {
///         RoomSummary { members: self.members.len() }
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let env = duro::testing::TestEnv::new();
/// let lobby = env.stub::<Room>("lobby");
/// lobby.join("ada".into()).await?;
/// assert_eq!(lobby.summary().await?, RoomSummary { members: 1 });
/// env.run_due_timers().await; // publishing runs as a timer
/// let rooms = duro::index::open::<Room>(&env)?;
/// assert_eq!(rooms.get("lobby").await?.unwrap().value, RoomSummary { members: 1 });
/// # Ok::<(), duro::Error>(())
/// # }).unwrap();
/// ```
///
/// Anywhere but on a method of a `#[duro::methods]` block it is an error.
#[proc_macro_attribute]
pub fn index(_args: TokenStream, item: TokenStream) -> TokenStream {
    fallback::misplaced(attr::INDEX, item.into()).into()
}
