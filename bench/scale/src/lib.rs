//! # bench-scale
//!
//! Two objects whose state grows, for measuring what a call costs as it does: `Journal`,
//! an append-only log (`duro::Log`), and `Board`, a leaderboard (`duro::Map`) that ranks
//! every player on each score (the compute-heavy case). The HTTP routes are in `http.rs`
//! and the README.

use duro::prelude::*;
use duro::{Log, Map};

#[cfg(target_arch = "wasm32")]
mod http;

/// Most entries one `fill` adds, and most a `range` returns.
pub const MAX_BATCH: u64 = 1000;

/// An append-only log of texts.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Journal {
    entries: Log<String>,
}

/// Why `append_batch` refused a batch.
#[derive(Debug, Serialize, Deserialize)]
pub struct EmptyText {
    /// The position of the empty text in the batch.
    pub index: usize,
}

impl std::fmt::Display for EmptyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "text {} of the batch is empty", self.index)
    }
}

#[duro::methods]
impl Journal {
    /// Appends `text`; returns its id.
    #[rpc]
    fn append(&mut self, text: String) -> u64 {
        self.entries.push(text)
    }

    /// Appends `count` entries `entry <id>`; returns the length.
    #[rpc]
    fn fill(&mut self, count: u64) -> u64 {
        for _ in 0..count {
            let id = self.entries.last_id().unwrap_or(0) + 1;
            self.entries.push(format!("entry {id}"));
        }
        self.entries.len()
    }

    /// Appends every text, or none if one is empty; returns the length.
    #[rpc]
    fn append_batch(&mut self, texts: Vec<String>) -> Result<u64, EmptyText> {
        for (index, text) in texts.into_iter().enumerate() {
            if text.is_empty() {
                // The entries pushed before it are rolled back with the call.
                return Err(EmptyText { index });
            }
            self.entries.push(text);
        }
        Ok(self.entries.len())
    }

    /// The length and the last id (0 when empty).
    #[rpc]
    fn info(&self) -> (u64, u64) {
        (self.entries.len(), self.entries.last_id().unwrap_or(0))
    }

    /// Up to `limit` entries after the id `after`, oldest first.
    #[rpc]
    async fn range(&self, after: u64, limit: u64) -> duro::Result<Vec<(u64, String)>> {
        self.entries.range(after, limit as usize).await
    }
}

/// A leaderboard: each player's score.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Board {
    scores: Map<String, u64>,
}

/// A player's place: 1-based rank and the first ten.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The player's rank, from 1.
    pub rank: u64,
    /// The first ten players with their scores.
    pub top: Vec<(String, u64)>,
}

#[duro::methods]
impl Board {
    /// Sets `player`'s score and ranks every player: by score, highest first, then by
    /// name.
    #[rpc]
    fn score(&mut self, player: String, score: u64) -> Standing {
        self.scores.insert(player.clone(), score);
        let mut all: Vec<(&String, u64)> = self.scores.iter().map(|(p, s)| (p, *s)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let rank = all.iter().position(|(p, _)| **p == player).unwrap_or(0) as u64 + 1;
        let top = all
            .iter()
            .take(10)
            .map(|(p, s)| ((*p).clone(), *s))
            .collect();
        Standing { rank, top }
    }

    /// Adds `count` players `p<k>`, `k` from the number of players on, with scores from
    /// `seed`; returns the number of players.
    #[rpc]
    fn fill(&mut self, count: u64, seed: u64) -> u64 {
        let from = self.scores.len() as u64;
        for k in from..from + count {
            let score = k.wrapping_mul(2_654_435_761).wrapping_add(seed) % 1_000_000;
            self.scores.insert(format!("p{k}"), score);
        }
        self.scores.len() as u64
    }
}

/// Whether `name` is 1 to 128 characters of `[A-Za-z0-9_.-]`.
pub fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use duro::testing::TestEnv;

    #[test]
    fn a_failed_batch_keeps_nothing() {
        futures::executor::block_on(async {
            let env = TestEnv::new();
            let j = env.stub::<Journal>("j");
            assert_eq!(j.fill(3).await.unwrap(), 3);
            let e = j
                .append_batch(vec!["a".into(), String::new()])
                .await
                .unwrap_err();
            assert_eq!(e.code(), duro::ErrorCode::User);
            assert_eq!(j.info().await.unwrap(), (3, 3));
            assert_eq!(j.append("x".into()).await.unwrap(), 4);
            let page = j.range(2, 10).await.unwrap();
            assert_eq!(page, vec![(3, "entry 3".into()), (4, "x".into())]);
        });
    }

    #[test]
    fn the_board_ranks_by_score_then_name() {
        futures::executor::block_on(async {
            let env = TestEnv::new();
            let b = env.stub::<Board>("b");
            assert_eq!(b.fill(5, 7).await.unwrap(), 5);
            let s = b.score("zed".into(), 2_000_000).await.unwrap();
            assert_eq!(s.rank, 1);
            let s = b.score("abe".into(), 2_000_000).await.unwrap();
            assert_eq!(s.rank, 1);
            assert_eq!(s.top[1], ("zed".into(), 2_000_000));
            assert_eq!(s.top.len(), 7);
            // p1's score: (1 * 2654435761 + 7) % 1000000.
            assert!(s.top.contains(&("p1".into(), 435_768)));
        });
    }
}
