//! Raw identifiers work everywhere a name is derived from them: `r#Probe` is the class
//! `Probe` with the binding `PROBE` and the stub `ProbeStub`; `r#type` is the wire name
//! `type`, and the timer `r#loop` the timer `loop`.

use std::time::Duration;

use duro::prelude::*;

#[duro::object]
#[derive(Default, Serialize, Deserialize)]
pub struct r#Probe {
    hits: u32,
}

#[duro::methods]
impl r#Probe {
    #[rpc]
    fn r#type(&self) -> u32 {
        self.hits
    }

    #[rpc]
    fn r#move(&mut self, ctx: &Ctx, by: u32) -> duro::Result<Self> {
        ctx.timers().after(Duration::from_secs(1), Self::r#loop, by)?;
        Ok(r#Probe { hits: self.hits })
    }

    #[timer]
    fn r#loop(&mut self, by: u32) {
        self.hits += by;
    }
}

fn main() {
    assert_eq!(<Probe as duro::Object>::CLASS, "Probe");
    assert_eq!(<Probe as duro::Object>::BINDING, "PROBE");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let env = duro::testing::TestEnv::new();
        let p: ProbeStub = env.stub::<Probe>("p");
        assert_eq!(p.r#move(2).await.unwrap().hits, 0);
        env.advance(Duration::from_secs(1)).await;
        assert_eq!(p.r#type().await.unwrap(), 2);
    });
}
