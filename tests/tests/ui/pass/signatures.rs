//! Every signature form that the macros' docs (`#[duro::methods]`) list as accepted.

use std::time::Duration;

use duro::prelude::*;

#[duro::object]
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct Shelf {
    items: Vec<String>,
    ticks: u32,
}

/// Why an item was refused.
#[derive(Debug, Serialize, Deserialize)]
pub struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

#[derive(Serialize, Deserialize)]
pub struct ShelfSummary {
    items: usize,
}

#[duro::methods]
impl Shelf {
    // RPC results: nothing, `T`, `Option<T>`, `duro::Result<T>`,
    // `Result<T, duro::Error>`, `Result<T, E>`, `Self`.
    #[rpc]
    fn clear(&mut self) {
        self.items.clear();
    }

    #[rpc]
    fn len(&self) -> usize {
        self.items.len()
    }

    #[rpc]
    fn first(&self) -> Option<String> {
        self.items.first().cloned()
    }

    #[rpc]
    async fn push(&mut self, item: String) -> duro::Result<usize> {
        self.items.push(item);
        Ok(self.items.len())
    }

    #[rpc]
    fn pop(&mut self) -> Result<String, duro::Error> {
        self.items
            .pop()
            .ok_or_else(|| duro::Error::new(duro::ErrorCode::BadRequest, "empty"))
    }

    #[rpc]
    fn insert(&mut self, at: usize, item: String) -> Result<(), Refused> {
        if at > self.items.len() {
            return Err(Refused);
        }
        self.items.insert(at, item);
        Ok(())
    }

    #[rpc]
    fn copy(&self) -> Self {
        self.clone()
    }

    /// `Self` in an argument; `#[duro::rpc]` spelled with its path; patterns.
    #[duro::rpc]
    fn replace(&mut self, mut with: Self, _: bool) {
        with.ticks = self.ticks;
        *self = with;
    }

    /// 16 arguments after `&Ctx`.
    #[rpc]
    #[allow(clippy::too_many_arguments)]
    async fn sixteen(
        &self,
        _ctx: &Ctx,
        a0: u8,
        a1: u8,
        a2: u8,
        a3: u8,
        a4: u8,
        a5: u8,
        a6: u8,
        a7: u8,
        a8: u8,
        a9: u8,
        a10: u8,
        a11: u8,
        a12: u8,
        a13: u8,
        a14: u8,
        a15: u8,
    ) -> u32 {
        [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15]
            .iter()
            .map(|&a| u32::from(a))
            .sum()
    }

    #[rpc]
    fn schedule(&mut self, ctx: &Ctx) -> duro::Result<()> {
        let soon = Duration::from_secs(1);
        ctx.timers().after(soon, Self::tick, ())?;
        ctx.timers().after(soon, Self::tick_by, 2)?;
        ctx.timers().after(soon, Self::tick_checked, (3, 4))?;
        ctx.timers().after(soon, Self::refuse, ())?;
        ctx.timers().after(soon, Self::tick_unit, ())?;
        Ok(())
    }

    // Timers: sync or async, with or without `&Ctx` and a payload; results nothing,
    // `duro::Result<()>`, `Result<(), E>`.
    #[timer]
    fn tick(&mut self) {
        self.ticks += 1;
    }

    #[timer]
    async fn tick_by(&mut self, _ctx: &Ctx, by: u32) -> duro::Result<()> {
        self.ticks += by;
        Ok(())
    }

    #[timer]
    fn tick_checked(&mut self, (a, b): (u32, u32)) -> Result<(), Refused> {
        self.ticks += a * b;
        Ok(())
    }

    /// A `()` payload written out, as in docs/design.md.
    #[timer]
    async fn tick_unit(&mut self, _ctx: &Ctx, _: ()) -> duro::Result<()> {
        self.ticks += 100;
        Ok(())
    }

    #[duro::timer]
    async fn refuse(&mut self) -> Result<(), Refused> {
        Err(Refused)
    }

    #[rpc]
    fn ticks(&self) -> u32 {
        self.ticks
    }

    /// The projection, also an RPC method.
    #[index("shelves", binding = "SHELVES")]
    #[rpc]
    fn summary(&self) -> ShelfSummary {
        ShelfSummary {
            items: self.items.len(),
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let env = duro::testing::TestEnv::new();
        let s = env.stub::<Shelf>("s");
        assert_eq!(s.push("a".into()).await.unwrap(), 1);
        assert!(s.insert(5, "b".into()).await.is_err());
        assert_eq!(s.first().await.unwrap().as_deref(), Some("a"));
        assert_eq!(s.sixteen(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1).await.unwrap(), 16);
        s.schedule().await.unwrap();
        env.advance(Duration::from_secs(1)).await;
        assert_eq!(s.ticks().await.unwrap(), 1 + 2 + 12 + 100);
        assert_eq!(env.dead_timers::<Shelf>("s").len(), 0);
        assert_eq!(s.summary().await.unwrap().items, 1);
        assert_eq!(s.pop().await.unwrap(), "a");
        assert!(s.pop().await.is_err());
        s.replace(s.copy().await.unwrap(), true).await.unwrap();
        s.clear().await.unwrap();
        assert_eq!(s.len().await.unwrap(), 0);
    });
}
