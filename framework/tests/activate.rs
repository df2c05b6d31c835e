//! The activation hook: once per activation, before the first call, timer or message;
//! what it changes is saved; a failure fails the activating call and is retried.

use duro::prelude::*;
use duro::testing::TestEnv;
use duro::{Activate, ErrorCode};

/// Counts its activations, and the calls it saw after each.
#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct Warm {
    activations: u64,
    calls_since: u64,
}

#[duro::methods]
impl Warm {
    /// `(activations, calls since the last one)`.
    #[rpc]
    fn seen(&mut self) -> (u64, u64) {
        self.calls_since += 1;
        (self.activations, self.calls_since)
    }
}

impl Activate for Warm {
    async fn activate(&mut self, ctx: &Ctx) -> duro::Result<()> {
        self.activations += 1;
        if ctx.var("WARM_FAIL").as_deref() == Some("1") {
            return Err(duro::Error::new(ErrorCode::Unavailable, "not yet"));
        }
        self.calls_since = 0;
        Ok(())
    }
}

#[tokio::test]
async fn runs_once_per_activation_before_the_first_call_and_saves() {
    let env = TestEnv::new();
    let warm = env.stub::<Warm>("w");
    assert_eq!(warm.seen().await.unwrap(), (1, 1));
    assert_eq!(warm.seen().await.unwrap(), (1, 2));
    env.restart();
    assert_eq!(warm.seen().await.unwrap(), (2, 1));
    assert_eq!(env.stats::<Warm>("w").activations, 2);
}

#[tokio::test]
async fn a_failed_activation_fails_the_call_saves_nothing_and_is_retried() {
    let env = TestEnv::new();
    let warm = env.stub::<Warm>("w");
    assert_eq!(warm.seen().await.unwrap(), (1, 1));
    env.restart();
    env.set_var("WARM_FAIL", "1");
    for _ in 0..2 {
        let err = warm.seen().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unavailable);
    }
    env.set_var("WARM_FAIL", "0");
    // The two failed activations saved nothing: this is the second saved one.
    assert_eq!(warm.seen().await.unwrap(), (2, 1));
}
