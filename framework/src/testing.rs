//! Native unit tests for objects: [`TestEnv`] runs objects in memory through the same
//! encode → dispatch → method → persist → decode path as production, with storage that
//! counts operations, restarts, and a manual clock. Enable the `testing` feature for
//! tests, as the apps in this workspace do (duro is used from the workspace, not from a
//! registry):
//!
//! ```toml
//! [dev-dependencies]
//! duro = { workspace = true, features = ["testing"] }
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
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::LocalBoxFuture;

use crate::client::{check_name, Client, Transport};
use crate::clock::millis;
use crate::error::{Error, ErrorCode, Result};
use crate::http::{Request, Response};
use crate::index::{Kv, KvSource, MemoryKv};
use crate::names::{DEAD_PREFIX, TIMER_PREFIX};
use crate::object::Object;
use crate::platform::{
    sealed, Connect, Endpoint, HostParts, HostStats, Platform, RawSocket, SocketHandle, Target,
};
use crate::socket::{Frame, Refuse, Upgrade};
use crate::storage::{MemoryStorage, Storage};
use crate::table::{self, TimerInfo};
use crate::wire::{self, CallHead, Reply};

/// The manual clock starts here: 2025-01-01T00:00:00Z.
pub const START_MS: u64 = 1_735_689_600_000;

type Key = (&'static str, String);

struct Slot {
    target: Target,
    storage: Rc<MemoryStorage>,
    host: Option<Rc<dyn Endpoint>>,
    /// Connected WebSockets: kept when the host is dropped, as hibernation keeps them.
    sockets: Vec<RawSocket>,
    /// Activations of hosts dropped by restarts, so stats survive them.
    past: HostStats,
}

impl Slot {
    /// Drops the live object, keeping its storage, sockets and counters.
    fn drop_host(&mut self) {
        if let Some(host) = self.host.take() {
            let s = host.stats();
            self.past.activations += s.activations;
            self.past.calls += s.calls;
            self.past.alarms += s.alarms;
            self.past.index_writes += s.index_writes;
        }
    }
}

struct World {
    clock_ms: Cell<u64>,
    random: Cell<u64>,
    body_limit: Cell<usize>,
    objects: RefCell<HashMap<Key, Slot>>,
    kvs: RefCell<HashMap<String, Rc<MemoryKv>>>,
    background: RefCell<Vec<LocalBoxFuture<'static, ()>>>,
    vars: RefCell<HashMap<String, String>>,
    /// Tasks waiting for the clock (call deadlines).
    sleepers: RefCell<Vec<Waker>>,
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
            random: Cell::new(0x5eed),
            body_limit: Cell::new(wire::DEFAULT_BODY_LIMIT),
            objects: RefCell::new(HashMap::new()),
            kvs: RefCell::new(HashMap::new()),
            background: RefCell::new(Vec::new()),
            vars: RefCell::new(HashMap::new()),
            sleepers: RefCell::new(Vec::new()),
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

    /// Drops every live object, keeping storage and connected WebSockets: the next call,
    /// timer or socket message to each object activates it again and loads its state from
    /// storage, as after an eviction with hibernated sockets, or a deploy.
    pub fn restart(&self) {
        let mut objects = self.world.objects.borrow_mut();
        objects.values_mut().for_each(Slot::drop_host);
    }

    /// The storage of object `name` of class `T` (created empty if it was never used), to
    /// inspect it or inject failures.
    pub fn storage<T: Object>(&self, name: &str) -> Rc<MemoryStorage> {
        self.world.slot_storage(T::__TARGET, name)
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
            alarms: slot.past.alarms + live.alarms,
            index_writes: slot.past.index_writes + live.index_writes,
            storage: slot.storage.stats(),
        }
    }

    /// The in-memory KV namespace bound as `binding` (created empty on first use), on the
    /// manual clock: to read what objects published, inject failures, or simulate
    /// propagation delay with [`MemoryKv::set_delay`].
    ///
    /// Index entries are published by a timer: advance the clock or call
    /// [`run_due_timers`](Self::run_due_timers) before expecting them.
    pub fn kv(&self, binding: &str) -> Rc<MemoryKv> {
        self.world.kv(binding)
    }

    /// The manual clock.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.world.clock_ms.get())
    }

    /// Moves the manual clock forward by `by`, firing every alarm that falls due on the way,
    /// in due order across all objects, through the same alarm path as workerd: the clock
    /// stops at each alarm's time while it runs.
    pub async fn advance(&self, by: Duration) {
        let ms = millis(by);
        let target = self.world.clock_ms.get().saturating_add(ms);
        self.fire_until(target).await;
        self.world.set_clock(target);
    }

    /// Moves the manual clock forward by `by` without firing anything, as if the platform
    /// were down for that long; [`run_due_timers`](Self::run_due_timers) then catches up.
    pub fn skip(&self, by: Duration) {
        let ms = millis(by);
        self.world
            .set_clock(self.world.clock_ms.get().saturating_add(ms));
    }

    /// Fires every alarm that is due at the current time (including alarms re-armed for
    /// "now" while firing), without moving the clock.
    pub async fn run_due_timers(&self) {
        self.fire_until(self.world.clock_ms.get()).await;
    }

    async fn fire_until(&self, until: u64) {
        // Bounded, so a timer that keeps re-arming for "now" cannot hang a test.
        for _ in 0..100_000 {
            let next = {
                let objects = self.world.objects.borrow();
                objects
                    .iter()
                    .filter_map(|(k, slot)| slot.storage.alarm_at().map(|at| (at, k.clone())))
                    .filter(|(at, _)| *at <= until)
                    .min()
            };
            let Some((at, key)) = next else { return };
            if at > self.world.clock_ms.get() {
                self.world.set_clock(at);
            }
            let (target, storage) = {
                let objects = self.world.objects.borrow();
                let slot = &objects[&key];
                (slot.target, slot.storage.clone())
            };
            let name = key.1;
            // The platform clears the alarm before running the handler, and retries a
            // handler that fails a second later.
            storage.set_alarm(None).await.ok();
            let host = self.world.host(target, &name);
            let failed = host.alarm().await.is_err();
            self.world.drain_background().await;
            if failed && storage.alarm_at().is_none() {
                storage.set_alarm(Some(at + 1_000)).await.ok();
            }
        }
        panic!("timers kept firing: more than 100000 alarm invocations in one advance");
    }

    /// The pending timers of object `name`, in due order.
    pub fn pending_timers<T: Object>(&self, name: &str) -> Vec<TimerInfo> {
        let dump = self.storage::<T>(name).dump();
        table::decode_all(dump.iter(), TIMER_PREFIX)
    }

    /// The dead-lettered timers of object `name`.
    pub fn dead_timers<T: Object>(&self, name: &str) -> Vec<TimerInfo> {
        let dump = self.storage::<T>(name).dump();
        table::decode_all(dump.iter(), DEAD_PREFIX)
    }

    /// Sets the worker var `name`, as `[vars]` in wrangler.toml would: objects read it
    /// with [`Ctx::var`](crate::Ctx::var).
    pub fn set_var(&self, name: &str, value: impl Into<String>) {
        self.world
            .vars
            .borrow_mut()
            .insert(name.to_owned(), value.into());
    }

    /// Sets the secret `name`, as `wrangler secret put` would; objects read it with
    /// [`Ctx::var`](crate::Ctx::var), like a var.
    pub fn set_secret(&self, name: &str, value: impl Into<String>) {
        self.set_var(name, value)
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
        let host = self.world.host(T::__TARGET, name);
        let head = CallHead {
            method,
            protocol,
            content_length: Some(body.len() as u64),
            chain: None,
        };
        host.handle(head, Some(name), body).await
    }

    /// Sends `request` to the fetch handler ([`Fetch`](crate::Fetch)) of the object `name`
    /// of class `T`, as a worker's `duro::forward` would: the handler runs as a turn and
    /// its state is saved before the response comes back. A bad name, an object without
    /// a handler (404) and a body over the body limit (413) are answered with a JSON
    /// error, as in workerd.
    pub async fn fetch<T: Object>(&self, name: &str, request: Request) -> Response {
        if let Err(e) = check_name(name) {
            return e.into();
        }
        let host = self.world.host(T::__TARGET, name);
        let response = host
            .fetch(name, request)
            .await
            .unwrap_or_else(Response::from);
        self.world.drain_background().await;
        response
    }

    /// Connects a simulated WebSocket client to the object `name` of class `T`, as a
    /// worker forwarding the upgrade request `url` (a path with its query, or a full URL)
    /// with `headers` would: the object's [`Sockets::connect`](crate::Sockets::connect)
    /// runs, then, when it accepts, its `open`. Frames the object sends queue in the
    /// returned [`TestSocket`].
    pub async fn socket<T: Object>(
        &self,
        name: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> core::result::Result<TestSocket, Refuse> {
        check_name(name)?;
        let request = Upgrade::new(
            url,
            headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        let host = self.world.host(T::__TARGET, name);
        let key: Key = (T::CLASS, name.to_owned());
        let state = Rc::new(SocketState::default());
        let accepted: Rc<Cell<Option<u64>>> = Rc::default();
        let accept = {
            let (world, key, state, accepted) = (
                self.world.clone(),
                key.clone(),
                state.clone(),
                accepted.clone(),
            );
            Box::new(move |envelope: &[u8], _tags: Vec<String>| -> Result<()> {
                let (id, _) = crate::socket::envelope_head(envelope)?;
                let handle = Rc::new(TestSocketHandle {
                    world: Rc::downgrade(&world),
                    key: key.clone(),
                    id,
                    state,
                });
                let raw = RawSocket {
                    envelope: envelope.to_vec(),
                    handle,
                };
                if let Some(slot) = world.objects.borrow_mut().get_mut(&key) {
                    slot.sockets.push(raw);
                }
                accepted.set(Some(id));
                Ok(())
            })
        };
        host.connect_socket(name, &request, accept).await?;
        self.world.drain_background().await;
        let id = accepted
            .get()
            .ok_or_else(|| Refuse::new(500, "the object accepted no socket"))?;
        Ok(TestSocket {
            env: self.clone(),
            target: T::__TARGET,
            key,
            id,
            state,
        })
    }

    /// Drops the live object `name` of class `T`, keeping its storage and its connected
    /// WebSockets, as hibernation does: the next message, call or timer activates it again.
    pub fn hibernate<T: Object>(&self, name: &str) {
        let mut objects = self.world.objects.borrow_mut();
        if let Some(slot) = objects.get_mut(&(T::CLASS, name.to_owned())) {
            slot.drop_host();
        }
    }

    /// How many WebSockets are connected to the object `name` of class `T`.
    pub fn socket_count<T: Object>(&self, name: &str) -> usize {
        self.world
            .objects
            .borrow()
            .get(&(T::CLASS, name.to_owned()))
            .map_or(0, |slot| slot.sockets.len())
    }
}

/// What a simulated socket has received, and whether the object closed it.
#[derive(Default)]
struct SocketState {
    inbox: RefCell<std::collections::VecDeque<Frame>>,
    closed: RefCell<Option<(u16, String)>>,
}

/// The object's end of a simulated socket.
struct TestSocketHandle {
    world: Weak<World>,
    key: Key,
    id: u64,
    state: Rc<SocketState>,
}

impl TestSocketHandle {
    fn remove(&self) {
        if let Some(world) = self.world.upgrade() {
            if let Some(slot) = world.objects.borrow_mut().get_mut(&self.key) {
                slot.sockets.retain(|s| {
                    crate::socket::envelope_head(&s.envelope)
                        .ok()
                        .map(|(i, _)| i)
                        != Some(self.id)
                });
            }
        }
    }
}

impl SocketHandle for TestSocketHandle {
    fn send(&self, frame: &Frame) {
        if self.state.closed.borrow().is_none() {
            self.state.inbox.borrow_mut().push_back(frame.clone());
        }
    }

    fn close(&self, code: u16, reason: &str) {
        *self.state.closed.borrow_mut() = Some((code, reason.to_owned()));
        self.remove();
    }
}

/// A simulated WebSocket client connected to an object ([`TestEnv::socket`]). Its
/// messages go through the same dispatch as in production: each is a turn of the object.
pub struct TestSocket {
    env: TestEnv,
    target: Target,
    key: Key,
    id: u64,
    state: Rc<SocketState>,
}

impl core::fmt::Debug for TestSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TestSocket")
            .field("object", &self.key)
            .field("id", &self.id)
            .finish()
    }
}

impl TestSocket {
    /// The socket's id, as the object's handlers see it.
    pub fn id(&self) -> u64 {
        self.id
    }

    fn raw(&self) -> Option<RawSocket> {
        let objects = self.env.world.objects.borrow();
        objects
            .get(&self.key)?
            .sockets
            .iter()
            .find(|s| {
                crate::socket::envelope_head(&s.envelope)
                    .ok()
                    .map(|(i, _)| i)
                    == Some(self.id)
            })
            .cloned()
    }

    /// Sends a frame; the object's `message` runs (activating the object if it was
    /// dropped). Nothing happens once the socket is closed.
    pub async fn send(&self, frame: Frame) {
        let Some(raw) = self.raw() else { return };
        let host = self.env.world.host(self.target, &self.key.1);
        host.socket_message(&raw, &frame).await;
        self.env.world.drain_background().await;
    }

    /// Sends a text frame.
    pub async fn send_text(&self, text: &str) {
        self.send(Frame::Text(text.to_owned())).await;
    }

    /// Sends `value` as a JSON text frame.
    ///
    /// # Panics
    /// If `value` does not encode as JSON.
    pub async fn send_json<M: serde::Serialize + ?Sized>(&self, value: &M) {
        let frame = Frame::json(value).expect("the message encodes as JSON");
        self.send(frame).await;
    }

    /// The next frame the object sent, if any (frames arrive in the order sent).
    pub fn recv(&self) -> Option<Frame> {
        self.state.inbox.borrow_mut().pop_front()
    }

    /// The next frame, decoded from JSON text.
    ///
    /// # Panics
    /// If there is none, or it is not a JSON text frame of type `M`.
    pub fn recv_json<M: serde::de::DeserializeOwned>(&self) -> M {
        match self.recv() {
            Some(Frame::Text(text)) => serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("frame {text:?} is not the JSON expected: {e}")),
            other => panic!("expected a JSON text frame, got {other:?}"),
        }
    }

    /// Every frame received and not yet taken.
    pub fn received(&self) -> Vec<Frame> {
        self.state.inbox.borrow_mut().drain(..).collect()
    }

    /// The code and reason the object closed the socket with, if it did.
    pub fn closed_by_object(&self) -> Option<(u16, String)> {
        self.state.closed.borrow().clone()
    }

    /// Closes the socket from the client's side (or drops it): the object's `close` runs.
    pub async fn close(self) {
        let Some(raw) = self.raw() else { return };
        let handle = TestSocketHandle {
            world: Rc::downgrade(&self.env.world),
            key: self.key.clone(),
            id: self.id,
            state: self.state.clone(),
        };
        handle.remove();
        let host = self.env.world.host(self.target, &self.key.1);
        host.socket_close(&raw).await;
        self.env.world.drain_background().await;
    }
}

impl World {
    fn set_clock(&self, ms: u64) {
        self.clock_ms.set(ms);
        for waker in std::mem::take(&mut *self.sleepers.borrow_mut()) {
            waker.wake();
        }
    }

    fn kv(&self, binding: &str) -> Rc<MemoryKv> {
        self.kvs
            .borrow_mut()
            .entry(binding.to_owned())
            .or_insert_with(|| {
                let world = self.me.clone();
                Rc::new(MemoryKv::new(move || {
                    world.upgrade().map_or(START_MS, |w| w.clock_ms.get())
                }))
            })
            .clone()
    }

    async fn drain_background(&self) {
        loop {
            let work = std::mem::take(&mut *self.background.borrow_mut());
            if work.is_empty() {
                return;
            }
            for w in work {
                w.await;
            }
        }
    }

    fn slot_storage(&self, target: Target, name: &str) -> Rc<MemoryStorage> {
        self.objects
            .borrow_mut()
            .entry((target.class, name.to_owned()))
            .or_insert_with(|| Slot {
                target,
                storage: Rc::new(MemoryStorage::new()),
                host: None,
                sockets: Vec::new(),
                past: HostStats::default(),
            })
            .storage
            .clone()
    }

    fn host(&self, target: Target, name: &str) -> Rc<dyn Endpoint> {
        let storage = self.slot_storage(target, name);
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
            key: (target.class, name.to_owned()),
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
    key: Key,
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
        // Deterministic: the work runs right after the call that queued it returns.
        if let Some(world) = self.world.upgrade() {
            world.background.borrow_mut().push(work);
        }
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        let due = self.now_ms().saturating_add(ms);
        Box::pin(Sleep {
            world: self.world.clone(),
            due,
        })
    }

    fn var(&self, name: &str) -> Option<String> {
        self.world.upgrade()?.vars.borrow().get(name).cloned()
    }

    fn sockets(&self, tag: Option<&str>) -> Vec<RawSocket> {
        let Some(world) = self.world.upgrade() else {
            return Vec::new();
        };
        let objects = world.objects.borrow();
        let Some(slot) = objects.get(&self.key) else {
            return Vec::new();
        };
        slot.sockets
            .iter()
            .filter(|s| {
                tag.is_none_or(|t| {
                    crate::socket::envelope_head(&s.envelope)
                        .is_ok_and(|(_, tags)| tags.iter().any(|x| x == t))
                })
            })
            .cloned()
            .collect()
    }

    fn id(&self) -> String {
        self.id.clone()
    }

    fn kv(&self, binding: &str) -> Result<Rc<dyn Kv>> {
        let world = self
            .world
            .upgrade()
            .ok_or_else(|| Error::new(ErrorCode::Unavailable, "the test env was dropped"))?;
        Ok(world.kv(binding))
    }

    fn random_u64(&self) -> u64 {
        // splitmix64 over a world-wide counter: unique and reproducible.
        let Some(world) = self.world.upgrade() else {
            return 0;
        };
        let mut z = world.random.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        world.random.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Resolves when the manual clock reaches `due` (or the world is gone).
struct Sleep {
    world: Weak<World>,
    due: u64,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(world) = self.world.upgrade() else {
            return Poll::Ready(());
        };
        if world.clock_ms.get() >= self.due {
            return Poll::Ready(());
        }
        world.sleepers.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}

/// Returns `Pending` once, so that other tasks run first.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
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
        chain: Option<&'a str>,
        body: Vec<u8>,
    ) -> LocalBoxFuture<'a, Result<Reply>> {
        Box::pin(async move {
            let world = self
                .world
                .upgrade()
                .ok_or_else(|| Error::new(ErrorCode::Unavailable, "the test env was dropped"))?;
            // A call is a hop, as between isolates: other work may run before it lands
            // (which is what lets two objects that call each other meet mid-call).
            YieldOnce(false).await;
            let host = world.host(self.target, name);
            let head = CallHead {
                method,
                protocol: Some(wire::PROTOCOL_VERSION),
                content_length: Some(body.len() as u64),
                chain,
            };
            let reply = host.handle(head, Some(name), &body).await;
            world.drain_background().await;
            Ok(reply)
        })
    }
}

impl sealed::Sealed for TestEnv {}

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

impl KvSource for TestEnv {
    fn kv(&self, binding: &str) -> crate::index::Result<Rc<dyn Kv>> {
        Ok(self.world.kv(binding))
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
