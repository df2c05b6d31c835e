use duro::prelude::*;

#[index("counters")]
fn summary() -> i64 {
    0
}

fn main() {}
