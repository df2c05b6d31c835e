#[duro::object]
pub fn counter() {}

fn main() {}
