//! Only for `examples/replay.rs`, which still includes this file by `#[path]`: the generator
//! itself lives in the test kit (`tests/kit/src/rng.rs`, `hayate_testkit::rng`), included here
//! so there is one copy. Remove this file once the example uses the kit.

#[allow(dead_code)] // the example uses part of it
#[path = "../../tests/kit/src/rng.rs"]
mod splitmix;

pub use splitmix::Rng;
