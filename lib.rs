//! Hayate: an LMAX-style exchange core.
//!
//! This facade re-exports the member crates so an embedder needs one dependency: the engine and
//! its types at the top level ([`Engine`], [`Command`], [`Event`], …), the whole configuration
//! file in [`config`], and the journal and adapters as modules. There are three ways in.
//!
//! **The engine**, single-threaded, no I/O: commands in, events out.
//!
//! ```
//! use hayate::{Command, Engine, ExchangeConfig};
//!
//! let config = ExchangeConfig::demo();
//! let mut engine = Engine::new(config.engine_config().clone());
//! let mut events = Vec::new();
//! for deposit in config.initial_deposits() {
//!     engine.process(&deposit, &mut events);
//! }
//! assert!(!events.is_empty());
//! ```
//!
//! **The pipeline**: the engine behind its journal (and a standby), fed through a lock-free
//! ring; starting it is recovery.
//!
//! ```no_run
//! let config = hayate::config::CoreConfig::demo();
//! let (pipeline, mut events, recovered) = config.pipeline_builder().start()?;
//! let mut publisher = pipeline.publisher();
//! # let _ = (&mut events, &mut publisher, recovered);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **The gateway**: the whole exchange behind its FIX, binary, WebSocket and HTTP ports.
//!
//! ```no_run
//! let gateway = hayate::adapters::gateway::Gateway::start(hayate::ExchangeConfig::demo())?;
//! println!("FIX 4.4 on {}", gateway.addrs().fix);
//! gateway.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub use hayate_adapters as adapters;
pub use hayate_adapters::config::ExchangeConfig;
pub use hayate_core::*;
pub use hayate_journal as journal;

/// The whole configuration file in one place: the core's sections and checker
/// ([`hayate_core::config`]) and the gateway's ([`hayate_adapters::config`]).
pub mod config {
    pub use hayate_adapters::config::*;
    pub use hayate_core::config::*;
    // Both layers have a demo; the whole file's is the gateway's.
    pub use hayate_adapters::config::DEMO_TOML;
}
