//! The TOML configuration (SPEC §5, §8) — skeleton, being written.

use crate::command::Command;
use crate::market::EngineConfig;

/// A configuration error that names the file, key and problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The whole gateway configuration file, parsed and validated.
#[derive(Clone, Debug)]
pub struct ExchangeConfig {
    engine: EngineConfig,
    deposits: Vec<Command>,
}

impl ExchangeConfig {
    /// The demo exchange of SPEC §5, used when no file is given.
    pub fn demo() -> ExchangeConfig {
        todo!()
    }
    /// The engine part.
    pub fn engine_config(&self) -> &EngineConfig {
        &self.engine
    }
    /// The `[[deposits]]` as commands, applied once on a fresh journal.
    pub fn initial_deposits(&self) -> Vec<Command> {
        self.deposits.clone()
    }
}
