//! Helpers shared by Hayate's integration tests (`tests/`) and benches (`benches/`), one of each:
//!
//! - [`rng`]: the splitmix64 generator every reproducible random stream uses;
//! - [`market`], [`stream`], [`naive_book`]: the order-book and journal benches' one-symbol
//!   market, their deterministic order stream, and the naive book that is both a baseline and the
//!   stream's oracle.
//!
//! What only one test file needs stays a private module of that test.

#![warn(missing_docs)]

pub mod market;
pub mod naive_book;
pub mod rng;
pub mod stream;
