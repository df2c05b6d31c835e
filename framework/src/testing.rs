//! Native unit tests for objects: [`TestEnv`] runs objects in memory through the same
//! encode → dispatch → method → persist → decode path as production, with storage that
//! counts operations, restarts, and a manual clock. Enable the `testing` feature:
//!
//! ```toml
//! [dev-dependencies]
//! duro = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! use duro::prelude::*;
//! use duro::testing::TestEnv;
//!
//! #[duro::object]
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Tally { n: u64 }
//!
//! #[duro::methods]
//! impl Tally {
//!     #[rpc]
//!     fn bump(&mut self) -> u64 { self.n += 1; self.n }
//!     #[rpc]
//!     fn get(&self) -> u64 { self.n }
//! }
//!
//! # futures::executor::block_on(async {
//! let env = TestEnv::new();
//! let t = env.stub::<Tally>("a");
//! assert_eq!(t.bump().await?, 1);
//! env.restart(); // drop live objects, keep storage
//! assert_eq!(t.get().await?, 1);
//! // Two activations: one before the restart, one after; one write, for the bump.
//! assert_eq!(env.stats::<Tally>("a").activations, 2);
//! assert_eq!(env.stats::<Tally>("a").storage.writes, 1);
//! # Ok::<(), duro::Error>(())
//! # }).unwrap();
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::LocalBoxFuture;

use crate::client::{check_name, Client, Connect, Target, Transport};
use crate::ctx::Platform;
use crate::error::{Error, ErrorCode, Result};
use crate::host::{Endpoint, HostParts, HostStats};
use crate::object::Object;
use crate::storage::{MemoryStorage, Storage};
use crate::wire::{self, CallHead, Reply};

/// The manual clock starts here: 2025-01-01T00:00:00Z.
pub const START_MS: u64 = 1_735_689_600_000;

type Key = (&'static str, String);

struct Slot {
    storage: Rc<MemoryStorage>,
    host: Option<Rc<dyn Endpoint>>,
    /// Activations of hosts dropped by restarts, so stats survive them.
    past: HostStats,
}

struct World {
    clock_ms: Cell<u64>,
    body_limit: Cell<usize>,
    objects: RefCell<HashMap<Key, Slot>>,
    me: Weak<World>,
}

/// An in-memory world of objects for native tests. Cheap to clone; clones share the world.
#[derive(Clone)]
pub struct TestEnv {
    world: Rc<World>,
}

impl core::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TestEnv")
            .field("now_ms", &self.world.clock_ms.get())
            .finish()
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// An empty world with the clock at [`START_MS`].
    pub fn new() -> Self {
        let world = Rc::new_cyclic(|me| World {
            clock_ms: Cell::new(START_MS),
            body_limit: Cell::new(wire::DEFAULT_BODY_LIMIT),
            objects: RefCell::new(HashMap::new()),
            me: me.clone(),
        });
        TestEnv { world }
    }

    /// A typed stub for the object `name`.
    ///
    /// # Panics
    /// If `name` is empty or longer than 256 bytes.
    pub fn stub<T: Object>(&self, name: &str) -> T::Stub {
        match T::stub(self, name) {
            Ok(stub) => stub,
            Err(e) => panic!("invalid object name {name:?}: {e}"),
        }
    }

    /// Drops every live object, keeping storage: the next call to each object activates it
    /// again and loads its state from storage, as after an eviction or a deploy.
    pub fn restart(&self) {
        let mut objects = self.world.objects.borrow_mut();
        for slot in objects.values_mut() {
            if let Some(host) = slot.host.take() {
                let s = host.stats();
                slot.past.activations += s.activations;
                slot.past.calls += s.calls;
            }
        }
    }

    /// The storage of object `name` of class `T` (created empty if it was never used), to
    /// inspect it or inject failures.
    pub fn storage<T: Object>(&self, name: &str) -> Rc<MemoryStorage> {
        self.world.slot_storage(T::CLASS, name)
    }

    /// Counters of object `name`: activations and calls since the env was made (across
    /// restarts), and storage operations.
    pub fn stats<T: Object>(&self, name: &str) -> HostStats {
        let objects = self.world.objects.borrow();
        let Some(slot) = objects.get(&(T::CLASS, name.to_owned())) else {
            return HostStats::default();
        };
        let live = slot.host.as_ref().map(|h| h.stats()).unwrap_or_default();
        HostStats {
            activations: slot.past.activations + live.activations,
            calls: slot.past.calls + live.calls,
            storage: slot.storage.stats(),
        }
    }

    /// The manual clock.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.world.clock_ms.get())
    }

    /// Moves the manual clock forward by `by`.
    pub async fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.world
            .clock_ms
            .set(self.world.clock_ms.get().saturating_add(ms));
    }

    /// Sets the request body limit for objects activated from now on.
    pub fn set_body_limit(&self, bytes: usize) {
        self.world.body_limit.set(bytes);
    }

    /// Sends raw bytes to an object as the wire would, for protocol tests.
    pub async fn raw_call<T: Object>(
        &self,
        name: &str,
        method: &str,
        protocol: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let host = self.world.host(Target::of::<T>(), name);
        let path = format!("{}{method}", wire::CALL_PREFIX);
        let head = CallHead {
            path: &path,
            protocol,
            content_length: Some(body.len() as u64),
        };
        host.handle(head, Some(name), body).await
    }
}

impl World {
    fn slot_storage(&self, class: &'static str, name: &str) -> Rc<MemoryStorage> {
        self.objects
            .borrow_mut()
            .entry((class, name.to_owned()))
            .or_insert_with(|| Slot {
                storage: Rc::new(MemoryStorage::new()),
                host: None,
                past: HostStats::default(),
            })
            .storage
            .clone()
    }

    fn host(&self, target: Target, name: &str) -> Rc<dyn Endpoint> {
        let storage = self.slot_storage(target.class, name);
        let mut objects = self.objects.borrow_mut();
        let slot = objects
            .get_mut(&(target.class, name.to_owned()))
            .expect("slot was just made");
        if let Some(host) = &slot.host {
            return host.clone();
        }
        let platform = Rc::new(TestPlatform {
            world: self.me.clone(),
            id: format!("{}:{name}", target.class),
        });
        let host = (target.spawn)(HostParts {
            storage,
            platform,
            body_limit: self.body_limit.get(),
        });
        slot.host = Some(host.clone());
        host
    }
}

struct TestPlatform {
    world: Weak<World>,
    id: String,
}

impl Platform for TestPlatform {
    fn now_ms(&self) -> u64 {
        self.world.upgrade().map_or(START_MS, |w| w.clock_ms.get())
    }

    fn connect(&self, target: Target, name: &str) -> Result<Client> {
        let world = self
            .world
            .upgrade()
            .ok_or_else(|| Error::new(ErrorCode::Unavailable, "the test env was dropped"))?;
        TestEnv { world }.connect(target, name)
    }

    fn wait_until(&self, work: LocalBoxFuture<'static, ()>) {
        // Tests are single-threaded and deterministic: finish the work before replying.
        futures::executor::block_on(work);
    }

    fn id(&self) -> String {
        self.id.clone()
    }
}

struct TestTransport {
    world: Weak<World>,
    target: Target,
}

impl Transport for TestTransport {
    fn send<'a>(
        &'a self,
        method: &'a str,
        name: &'a str,
        body: Vec<u8>,
    ) -> LocalBoxFuture<'a, Result<Reply>> {
        Box::pin(async move {
            let world = self
                .world
                .upgrade()
                .ok_or_else(|| Error::new(ErrorCode::Unavailable, "the test env was dropped"))?;
            let host = world.host(self.target, name);
            let path = format!("{}{method}", wire::CALL_PREFIX);
            let head = CallHead {
                path: &path,
                protocol: Some(wire::PROTOCOL_VERSION),
                content_length: Some(body.len() as u64),
            };
            Ok(host.handle(head, Some(name), &body).await)
        })
    }
}

impl Connect for TestEnv {
    fn connect(&self, target: Target, name: &str) -> Result<Client> {
        check_name(name)?;
        let transport = Rc::new(TestTransport {
            world: Rc::downgrade(&self.world),
            target,
        });
        Ok(Client::new(transport, target.class, name))
    }
}

/// Installs a `tracing` subscriber that prints to the test's output, filtered by
/// `RUST_LOG` (default `warn`). Calling it again does nothing.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
