//! Criterion benchmarks of every fixture model (written next).
fn main() {}
