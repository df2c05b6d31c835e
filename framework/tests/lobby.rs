//! A two-object app (lobbies and players, a named idle timer, an index of open lobbies),
//! as a new user wrote it from the docs: call cycles and deadlines between objects,
//! framework errors through a user error type, vars, dead letters through `Ctx`, and a
//! projection that sees the object's name and can remove its entry.

use std::time::Duration;

use duro::prelude::*;
use duro::testing::TestEnv;
use duro::ErrorCode;

/// Why a lobby refused a player.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub enum LobbyError {
    /// No room for another player.
    Full,
}

impl std::fmt::Display for LobbyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the lobby is full")
    }
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
/// A game lobby.
pub struct Lobby {
    players: Vec<String>,
    open: bool,
    pinged: u32,
    defused: bool,
}

/// What the index of open lobbies shows.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    name: String,
    players: usize,
}

#[duro::methods]
impl Lobby {
    /// Joins `who`, up to the `MAX_PLAYERS` var (4 by default), and (re)arms the idle timer.
    #[rpc]
    fn join(&mut self, ctx: &Ctx, who: String) -> Result<usize, CallError<LobbyError>> {
        let max = ctx
            .var("MAX_PLAYERS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(4);
        if self.players.len() >= max {
            return Err(CallError::User(LobbyError::Full));
        }
        self.players.push(who);
        self.open = true;
        // A framework error, `?`-ed in a method with a user error type.
        ctx.timers()
            .named("idle")
            .after(Duration::from_secs(60), Self::idle, ())?;
        Ok(self.players.len())
    }

    /// Fails with the framework's own `bad_request` (a timer name may not contain `/`).
    #[rpc]
    fn rename_idle(&mut self, ctx: &Ctx, name: String) -> Result<(), CallError<LobbyError>> {
        self.open = false;
        ctx.timers()
            .named(name)
            .after(Duration::from_secs(60), Self::idle, ())?;
        Ok(())
    }

    /// Joins `who` and tells the player, who asks the lobby back: a call cycle.
    #[rpc]
    async fn join_and_tell(&mut self, ctx: &Ctx, who: String) -> duro::Result<usize> {
        self.players.push(who.clone());
        ctx.stub::<Player>(&who)?.enter(ctx.name().to_owned()).await
    }

    #[rpc]
    fn count(&self) -> usize {
        self.players.len()
    }

    /// Counts a ping, then pings the player (which may be pinging back).
    #[rpc]
    async fn ping_player(&mut self, ctx: &Ctx, who: String) -> duro::Result<u32> {
        self.pinged += 1;
        ctx.stub::<Player>(&who)?.ping().await
    }

    /// Like `ping_player`, with its own deadline, and swallowing the error: the turn rolls
    /// back all the same.
    #[rpc]
    async fn ping_player_quietly(&mut self, ctx: &Ctx, who: String, ms: u64) -> u32 {
        self.pinged += 1;
        match ctx.stub_with_timeout::<Player>(&who, Duration::from_millis(ms)) {
            Ok(p) => p.ping().await.unwrap_or(0),
            Err(_) => 0,
        }
    }

    #[rpc]
    fn pinged(&self) -> u32 {
        self.pinged
    }

    #[rpc]
    fn players(&self) -> Vec<String> {
        self.players.clone()
    }

    #[timer]
    fn idle(&mut self) {
        self.open = false;
    }

    #[rpc]
    fn arm(&mut self, ctx: &Ctx) -> duro::Result<()> {
        ctx.timers()
            .named("bomb")
            .after(Duration::ZERO, Self::explode, ())?;
        Ok(())
    }

    #[rpc]
    fn defuse(&mut self) {
        self.defused = true;
    }

    #[timer]
    fn explode(&mut self) -> duro::Result<()> {
        if self.defused {
            self.players.push("survivor".into());
            return Ok(());
        }
        Err(duro::Error::internal("boom"))
    }

    #[rpc]
    async fn dead(&self, ctx: &Ctx) -> duro::Result<Vec<(String, String, u32)>> {
        Ok(ctx
            .timers()
            .dead()
            .await?
            .into_iter()
            .map(|t| (t.id.to_string(), t.method, t.attempts))
            .collect())
    }

    #[rpc]
    async fn retry_dead(&mut self, ctx: &Ctx, id: String) -> duro::Result<bool> {
        match dead_letter(ctx, &id).await? {
            Some(id) => ctx.timers().retry_dead(&id).await,
            None => Ok(false),
        }
    }

    #[rpc]
    async fn discard_dead(&mut self, ctx: &Ctx, id: String) -> duro::Result<bool> {
        match dead_letter(ctx, &id).await? {
            Some(id) => ctx.timers().discard_dead(&id).await,
            None => Ok(false),
        }
    }

    /// Open lobbies are listed under their own name; a closed one has no entry, and keeps
    /// its state.
    #[index("lobbies")]
    fn listing(&self, ctx: &Ctx) -> Option<Listing> {
        self.open.then(|| Listing {
            name: ctx.name().to_owned(),
            players: self.players.len(),
        })
    }
}

/// The id of the dead letter called `id`, if there is one.
async fn dead_letter(ctx: &Ctx, id: &str) -> duro::Result<Option<duro::TimerId>> {
    let dead = ctx.timers().dead().await?;
    Ok(dead.into_iter().map(|t| t.id).find(|t| t.as_str() == id))
}

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
/// A player, who may be in a lobby.
pub struct Player {
    lobby: Option<String>,
    pings: u32,
}

#[duro::methods]
impl Player {
    /// Records the lobby and asks it how many players it has.
    #[rpc]
    async fn enter(&mut self, ctx: &Ctx, lobby: String) -> duro::Result<usize> {
        self.lobby = Some(lobby.clone());
        ctx.stub::<Lobby>(&lobby)?.count().await
    }

    #[rpc]
    async fn ping_lobby(&mut self, ctx: &Ctx, lobby: String) -> duro::Result<u32> {
        self.pings += 1;
        ctx.stub::<Lobby>(&lobby)?.pinged().await
    }

    #[rpc]
    fn ping(&self) -> u32 {
        self.pings
    }

    #[rpc]
    fn lobby(&self) -> Option<String> {
        self.lobby.clone()
    }
}

/// Runs `f` once the calls started beside it are in flight (each hop between objects
/// yields once).
async fn later(f: impl std::future::Future<Output = ()>) {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    f.await
}

#[tokio::test]
async fn a_call_cycle_fails_fast_naming_the_chain_and_wedges_nothing() {
    let env = TestEnv::new();
    let lobby = env.stub::<Lobby>("l");
    let err = lobby.join_and_tell("p".into()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::CallCycle);
    assert!(!err.is_retryable());
    assert!(
        err.message().contains("Lobby/l → Player/p → Lobby/l"),
        "{}",
        err.message()
    );
    // Both turns rolled back, and both objects answer.
    assert!(lobby.players().await.unwrap().is_empty());
    assert_eq!(env.stub::<Player>("p").lobby().await.unwrap(), None);
    assert_eq!(lobby.count().await.unwrap(), 0);
}

#[tokio::test]
async fn objects_waiting_on_each_other_fail_at_the_deadline_and_roll_back() {
    let env = TestEnv::new();
    let lobby = env.stub::<Lobby>("l");
    let player = env.stub::<Player>("p");
    // Each holds its turn while it waits for the other: no cycle in either chain, a
    // deadlock all the same.
    let (a, b, ()) = futures::join!(
        lobby.ping_player("p".into()),
        player.ping_lobby("l".into()),
        later(env.advance(duro::DEFAULT_CALL_TIMEOUT + Duration::from_secs(1))),
    );
    // The first to reach its deadline gives up and rolls back, which frees the other.
    let e = a.unwrap_err();
    assert_eq!(e.code(), ErrorCode::DeadlineExceeded, "{e}");
    assert!(e.is_retryable());
    assert!(e.message().contains("Lobby/l → Player/p"), "{e}");
    assert_eq!(lobby.pinged().await.unwrap(), 0, "rolled back");
    assert_eq!(b.unwrap(), 0, "the lobby answered once it was free");
    assert_eq!(player.ping().await.unwrap(), 1);
    // Nothing is wedged: the same calls one after the other work.
    assert_eq!(lobby.ping_player("p".into()).await.unwrap(), 1);
    assert_eq!(player.ping_lobby("l".into()).await.unwrap(), 1);
}

#[tokio::test]
async fn deadlines_are_set_per_app_and_per_stub_and_roll_back_a_swallowed_error() {
    let env = TestEnv::new();
    env.set_var(duro::CALL_TIMEOUT_VAR, "5000");
    let lobby = env.stub::<Lobby>("l");
    let player = env.stub::<Player>("p");
    let (a, _b, ()) = futures::join!(
        lobby.ping_player("p".into()),
        player.ping_lobby("l".into()),
        later(env.advance(Duration::from_secs(6))),
    );
    let e = a.unwrap_err();
    assert_eq!(e.code(), ErrorCode::DeadlineExceeded);
    assert!(e.message().contains("5000 ms"), "{e}");

    // Per stub: 100 ms, and the method swallows the error: the turn still rolls back.
    let (a, _b, ()) = futures::join!(
        lobby.ping_player_quietly("p".into(), 100),
        player.ping_lobby("l".into()),
        later(env.advance(Duration::from_millis(200))),
    );
    assert_eq!(a.unwrap_err().code(), ErrorCode::DeadlineExceeded);
    assert_eq!(lobby.pinged().await.unwrap(), 0);
}

#[tokio::test]
async fn a_user_error_method_can_question_mark_framework_errors() {
    let env = TestEnv::new();
    env.set_var("MAX_PLAYERS", "1");
    let lobby = env.stub::<Lobby>("l");
    assert_eq!(lobby.join("ada".into()).await.unwrap(), 1);
    // The user's own error.
    match lobby.join("bob".into()).await {
        Err(CallError::User(LobbyError::Full)) => {}
        other => panic!("expected Full, got {other:?}"),
    }
    // A framework error from `?`: seen as itself, with its code and retryable flag.
    match lobby.rename_idle("a/b".into()).await {
        Err(CallError::Framework(e)) => {
            assert_eq!(e.code(), ErrorCode::BadRequest);
            assert!(!e.is_retryable());
            assert!(e.message().contains("timer names"), "{e}");
        }
        other => panic!("expected a framework error, got {other:?}"),
    }
}

#[tokio::test]
async fn vars_and_secrets_reach_ctx_in_tests() {
    let env = TestEnv::new();
    let lobby = env.stub::<Lobby>("l");
    env.set_secret("MAX_PLAYERS", "2");
    lobby.join("a".into()).await.unwrap();
    lobby.join("b".into()).await.unwrap();
    assert!(matches!(
        lobby.join("c".into()).await,
        Err(CallError::User(LobbyError::Full))
    ));
}

#[tokio::test]
async fn dead_letters_are_listed_retried_and_discarded_through_ctx() {
    let env = TestEnv::new();
    let lobby = env.stub::<Lobby>("l");
    lobby.arm().await.unwrap();
    env.advance(Duration::from_secs(3600)).await;
    let dead = lobby.dead().await.unwrap();
    assert_eq!(
        dead,
        vec![(
            "bomb".to_owned(),
            "explode".to_owned(),
            duro::timers::MAX_ATTEMPTS
        )]
    );
    assert!(!lobby.retry_dead("nothing".into()).await.unwrap());

    // Retried after the cause is fixed: it runs at once, once, and leaves the list.
    lobby.defuse().await.unwrap();
    assert!(lobby.retry_dead("bomb".into()).await.unwrap());
    assert!(lobby.dead().await.unwrap().is_empty());
    env.run_due_timers().await;
    assert_eq!(lobby.players().await.unwrap(), vec!["survivor".to_owned()]);

    // Discarded: gone for good, nothing runs.
    let other = env.stub::<Lobby>("m");
    other.arm().await.unwrap();
    env.advance(Duration::from_secs(3600)).await;
    assert_eq!(other.dead().await.unwrap().len(), 1);
    assert!(other.discard_dead("bomb".into()).await.unwrap());
    assert!(other.dead().await.unwrap().is_empty());
    assert!(env.dead_timers::<Lobby>("m").is_empty());
    assert!(env.pending_timers::<Lobby>("m").is_empty());
}

#[tokio::test]
async fn a_projection_sees_the_name_and_can_remove_its_entry() {
    let env = TestEnv::new();
    let lobby = env.stub::<Lobby>("north");
    lobby.join("ada".into()).await.unwrap();
    env.run_due_timers().await;
    let index = duro::index::open::<Lobby>(&env).unwrap();
    let entry = index
        .get("north")
        .await
        .unwrap()
        .expect("an open lobby is listed");
    assert_eq!(
        entry.value,
        Listing {
            name: "north".into(),
            players: 1
        }
    );
    // The idle timer closes it: the entry goes, the state stays.
    env.advance(Duration::from_secs(61)).await;
    assert_eq!(index.get("north").await.unwrap(), None);
    assert_eq!(lobby.players().await.unwrap(), vec!["ada".to_owned()]);
    // Joining again opens it again.
    lobby.join("bob".into()).await.unwrap();
    env.advance(Duration::from_secs(2)).await;
    assert_eq!(index.get("north").await.unwrap().unwrap().value.players, 2);
}
