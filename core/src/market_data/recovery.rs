//! The market-data state after a restart: the newest market-data snapshot, then the journal's
//! events after it, replayed through an engine loaded from the newest engine snapshot at or
//! before it.
//!
//! Market-data snapshots (`<data>/market/`) are written by whoever runs the builder (the
//! gateway: at the engine snapshots' cadence and at every clean stop), in the journal's snapshot
//! file format, named by the journal sequence they are at.

use std::path::{Path, PathBuf};

use hayate_journal::JournalReader;
use hayate_journal::snapshot_file;

use super::{MarketData, Shadow};
use crate::command::Command;
use crate::engine::Engine;
use crate::event::Event;
use crate::market::EngineConfig;
use crate::pipeline::{self, Output};
use crate::recovery::{self, RecoveryError, ReplayOptions};
use crate::units::SymbolId;

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
    /// Snapshots passed over (damaged, other symbols, past the journal's end), and why.
    pub skipped: Vec<String>,
    /// Set when the state could not be rebuilt exactly: no market-data snapshot and a journal
    /// that no longer starts at sequence 1. Books and statuses are then the engine's; sequences
    /// restart at 0 and the tapes are empty.
    pub warning: Option<String>,
}

/// Rebuilds the market-data state of the node on `data_dir` at journal sequence `end_seq` (the
/// last journaled command; what pipeline recovery reached). Market-data snapshots past `end_seq`
/// describe commands the journal no longer has (it was truncated): they are renamed
/// `*.discarded` and never used again.
pub fn recover(
    config: &EngineConfig,
    data_dir: &Path,
    end_seq: u64,
) -> Result<(MarketData, MarketRecoveryReport), RecoveryError> {
    let mut report = MarketRecoveryReport::default();
    let dir = snapshot_dir(data_dir);
    let mut loaded = None;
    for (seq, path) in snapshot_file::list_snapshots(&dir)?.into_iter().rev() {
        if seq > end_seq {
            let discarded = path.with_extension("snap.discarded");
            let _ = std::fs::rename(&path, &discarded);
            report.skipped.push(format!(
                "{}: at sequence {seq}, past the journal's end ({end_seq}): discarded",
                path.display()
            ));
            continue;
        }
        let market = snapshot_file::read_snapshot(&path)
            .map_err(|e| e.to_string())
            .and_then(|(_, body)| {
                MarketData::load(config, &body).map_err(|e| format!("{}: {e}", path.display()))
            });
        match market {
            Ok(market) => {
                report.snapshot = Some((seq, path));
                loaded = Some(market);
                break;
            }
            Err(why) => report.skipped.push(why),
        }
    }
    let mut market = loaded.unwrap_or_else(|| MarketData::new(config));
    let from = market.journal_seq();
    if from >= end_seq {
        return Ok((market, report));
    }
    let journal_dir = pipeline::journal_dir(data_dir);
    let reader = JournalReader::open(&journal_dir)?;
    let first = reader.records_from(0).next().transpose()?.map(|r| r.seq);
    if from == 0 && first.is_some_and(|seq| seq > 1) {
        return from_engine(config, data_dir, end_seq, report);
    }
    // The engine as it was at `from`, from its newest snapshot at or before it.
    let (mut engine, _) = recovery::replay(
        config,
        &journal_dir,
        ReplayOptions {
            snapshot_dir: Some(&pipeline::snapshot_dir(data_dir)),
            to_seq: Some(from),
        },
        |_, _, _| {},
        |_| {},
    )?;
    for record in reader.records_from(from + 1) {
        let record = record?;
        let seq = record.seq;
        if seq > end_seq {
            break;
        }
        let command = Command::from_bytes(record.payload)
            .map_err(|source| RecoveryError::BadRecord { seq, source })?;
        feed(&mut engine, &mut market, seq, &command);
        report.replayed += 1;
    }
    Ok((market, report))
}

/// Runs one command through `engine` and its events, marked as the matcher marks them, through
/// `market`.
fn feed(engine: &mut Engine, market: &mut MarketData, seq: u64, command: &Command) {
    let mut held: Option<Output> = None;
    let mut index = 0u32;
    engine.process(command, &mut |event: &Event| {
        let out = Output {
            seq,
            timestamp_ns: command.timestamp_ns,
            index,
            last: false,
            event: *event,
        };
        if let Some(previous) = held.replace(out) {
            market.on_output(&previous, |_, _| {});
        }
        index += 1;
    });
    if let Some(mut last) = held {
        last.last = true;
        market.on_output(&last, |_, _| {});
    }
}

/// No market-data snapshot and a journal that no longer starts at 1: the books and statuses are
/// taken from the engine; sequences and tapes cannot be known.
fn from_engine(
    config: &EngineConfig,
    data_dir: &Path,
    end_seq: u64,
    mut report: MarketRecoveryReport,
) -> Result<(MarketData, MarketRecoveryReport), RecoveryError> {
    let (engine, _) = recovery::replay(
        config,
        &pipeline::journal_dir(data_dir),
        ReplayOptions {
            snapshot_dir: Some(&pipeline::snapshot_dir(data_dir)),
            to_seq: Some(end_seq),
        },
        |_, _, _| {},
        |_| {},
    )?;
    let mut market = MarketData::new(config);
    for account in engine.accounts() {
        for order in engine.open_orders(account) {
            market.set_order(
                order.id.0,
                Shadow {
                    symbol: order.symbol,
                    side: order.side,
                    price: order.price,
                    leaves: order.leaves_qty.0,
                },
            );
        }
    }
    market.touched.clear();
    market.exchange_halted = engine.is_halted(None);
    for s in 0..config.symbols.len() {
        market.symbol_halted[s] = engine.is_halted(Some(SymbolId(s as u16)));
    }
    market.journal_seq = end_seq;
    report.warning = Some(format!(
        "no market-data snapshot and the journal no longer starts at sequence 1: books rebuilt \
         from the engine at {end_seq}; market-data sequences restart at 0 and the tapes are empty"
    ));
    Ok((market, report))
}

/// Writes `market`'s state (at its journal sequence) as a snapshot file in `dir` (atomically),
/// then keeps the newest `keep` snapshots there (0: all).
pub fn write_snapshot(
    market: &MarketData,
    dir: &Path,
    keep: usize,
) -> Result<PathBuf, RecoveryError> {
    let path = snapshot_file::write_snapshot(dir, market.journal_seq(), &market.save())?;
    snapshot_file::delete_snapshots_before(dir, keep)?;
    Ok(path)
}
