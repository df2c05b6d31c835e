use duro::prelude::*;

#[rpc]
fn get() -> i64 {
    0
}

fn main() {
    let _ = get();
}
