//! Hayate's edges: the FIX 4.4 and binary order-entry protocols, the gateway's event loop and
//! its defences, the HTTP status page, and replication between a primary and its hot standby.
//!
//! Codecs are pure (bytes in, typed messages or a protocol-level refusal out; no sockets, no
//! clocks), so they are tested and fuzzed alone. [`gateway::Gateway`] puts them together with a
//! pipeline from `hayate-core`: `cargo run --release --example gateway` runs one;
//! [`gateway::run_node`] runs one that stays in its pair across a step-down.
//!
//! ```no_run
//! use hayate_adapters::gateway::Gateway;
//! use hayate_adapters::config::ExchangeConfig;
//!
//! let gateway = Gateway::start(ExchangeConfig::demo())?;
//! println!("FIX 4.4 on {}, binary on {}", gateway.addrs().fix, gateway.addrs().binary);
//! gateway.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod alerts;
pub mod binary;
pub mod bridge;
pub mod clock;
pub mod config;
pub mod disk_guard;
pub mod fix;
pub(crate) mod framing;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod gateway;
pub mod http;
pub(crate) mod limits;
pub(crate) mod logon;
pub mod market_data;
pub(crate) mod metrics;
pub(crate) mod net;
pub mod notices;
pub mod replication;
pub mod secrets;
pub mod signals;
pub(crate) mod status;
pub mod tls;
