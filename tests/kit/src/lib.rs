//! Helpers shared by Hayate's integration tests (`tests/`) and benches (`benches/`), one of each:
//!
//! - [`rng`]: the splitmix64 generator every reproducible random stream uses;
//! - [`market`], [`stream`], [`naive_book`]: the order-book and journal benches' one-symbol
//!   market, their deterministic order stream, and the naive book that is both a baseline and the
//!   stream's oracle;
//! - [`example`]: the example binaries the process tests run, built on demand;
//! - [`gateway`]: a gateway on ephemeral loopback ports and a small blocking FIX client;
//! - [`tmpfs`]: a small file system of the test's own, for disk-full drills;
//! - [`nats`]: NATS servers and a cluster of the test's own, and a blocking reader of streams.
//! - [`postgres`]: a throwaway PostgreSQL server, for the bridge's PostgreSQL sink.
//! - [`process`]: an example binary run as a child process, its output read line by line.
//! - [`replication`]: a node of epoch 1 and the orders the replication tests stream.
//!
//! What only one test file needs stays a private module of that test.

#![warn(missing_docs)]

pub mod certificate;
pub mod example;
pub mod gateway;
pub mod market;
pub mod naive_book;
pub mod nats;
pub mod postgres;
pub mod process;
pub mod replication;
pub mod rng;
pub mod stream;
pub mod tmpfs;
