//! The market-data state after a restart: the newest market-data snapshot, then the journal's
//! events after it, replayed through an engine loaded from the newest engine snapshot at or
//! before it.

use std::path::{Path, PathBuf};

use super::MarketData;
use crate::market::EngineConfig;
use crate::recovery::RecoveryError;

/// Where a node on `data_dir` keeps its market-data snapshots (`<data>/market`).
pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("market")
}

/// What [`recover`] found and did.
#[derive(Debug, Default)]
pub struct MarketRecoveryReport {
    /// The market-data snapshot loaded: (sequence, file). `None`: built from the journal.
    pub snapshot: Option<(u64, PathBuf)>,
    /// Commands replayed to bring it to the journal's end.
    pub replayed: u64,
}

/// Rebuilds the market-data state of the node on `data_dir` at journal sequence `end_seq` (the
/// last journaled command; what pipeline recovery reached).
pub fn recover(
    config: &EngineConfig,
    data_dir: &Path,
    end_seq: u64,
) -> Result<(MarketData, MarketRecoveryReport), RecoveryError> {
    let _ = (config, data_dir, end_seq);
    todo!()
}

/// Writes `market`'s state (at its journal sequence) as a snapshot file in `dir` (atomically),
/// then keeps the newest `keep` snapshots there.
pub fn write_snapshot(market: &MarketData, dir: &Path, keep: usize) -> Result<PathBuf, RecoveryError> {
    let _ = (market, dir, keep);
    todo!()
}
