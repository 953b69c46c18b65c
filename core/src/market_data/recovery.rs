//! The market-data state after a restart: the newest market-data snapshot, then the journal's
//! events after it, replayed through an engine loaded from the newest engine snapshot at or
//! before it.
//!
//! Market-data snapshots (`<data>/market/`) are written by whoever runs the builder (the
//! gateway: at the engine snapshots' cadence and at every clean stop), in the journal's snapshot
//! file format, named by the journal sequence they are at.

use std::path::{Path, PathBuf};

use hayate_journal::snapshot_file;
use hayate_journal::{JournalError, JournalReader};

use super::{MarketData, Shadow};
use crate::command::Command;
use crate::engine::Engine;
use crate::engine::EngineConfig;
use crate::event::Event;
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
    /// Set when the state could not be rebuilt exactly: no usable market-data snapshot and a
    /// journal that no longer holds what came after it. Books and statuses are then the
    /// engine's, the tapes are empty, and every symbol's sequence jumps past any it can have
    /// published (subscribers see a gap and take a new snapshot).
    pub warning: Option<String>,
}

/// Rebuilds the market-data state of the node on `data_dir` at journal sequence `end_seq` (the
/// last journaled command; what pipeline recovery reached, or an earlier point to look at).
///
/// Uses the newest market-data snapshot at or before `end_seq` that loads under `config` and
/// whose engine state can be rebuilt (from the newest engine snapshot at or before it and the
/// journal), then feeds it the events of the commands after it. Without one, the whole journal
/// is replayed. Market-data snapshots past the journal's end describe commands the journal no
/// longer has (it was truncated): they are renamed `*.discarded` and never used again; those
/// between `end_seq` and the journal's end are only passed over.
pub fn recover(
    config: &EngineConfig,
    data_dir: &Path,
    end_seq: u64,
) -> Result<(MarketData, MarketRecoveryReport), RecoveryError> {
    let mut report = MarketRecoveryReport::default();
    if end_seq == 0 {
        // Nothing was journaled: a fresh market. The journal is not read — a fresh node may be
        // appending its first records (the initial deposits) right now. Snapshots left from a
        // journal that is gone describe commands it no longer has.
        for (seq, path) in snapshot_file::list_snapshots(snapshot_dir(data_dir))? {
            let _ = std::fs::rename(&path, path.with_extension("snap.discarded"));
            report.skipped.push(format!(
                "{}: at sequence {seq}, past the journal's end: discarded",
                path.display()
            ));
        }
        return Ok((MarketData::new(config), report));
    }
    let reader = JournalReader::open(pipeline::journal_dir(data_dir))?;
    // A snapshot that loads but whose engine state is gone: the best base for the fallback.
    let mut stranded: Option<MarketData> = None;
    for (seq, path) in snapshot_file::list_snapshots(snapshot_dir(data_dir))?
        .into_iter()
        .rev()
    {
        if seq > end_seq {
            if past_journal_end(&reader, seq)? {
                let discarded = path.with_extension("snap.discarded");
                let _ = std::fs::rename(&path, &discarded);
                report.skipped.push(format!(
                    "{}: at sequence {seq}, past the journal's end: discarded",
                    path.display()
                ));
            } else {
                report.skipped.push(format!(
                    "{}: at sequence {seq}, after {end_seq}",
                    path.display()
                ));
            }
            continue;
        }
        let loaded = snapshot_file::read_snapshot(&path)
            .map_err(|e| e.to_string())
            .and_then(|(_, body)| {
                MarketData::load(config, &body).map_err(|e| format!("{}: {e}", path.display()))
            });
        let market = match loaded {
            Ok(market) if market.journal_seq() == seq => market,
            Ok(market) => {
                report.skipped.push(format!(
                    "{}: holds the state at {}, not {seq}",
                    path.display(),
                    market.journal_seq()
                ));
                continue;
            }
            Err(why) => {
                report.skipped.push(why);
                continue;
            }
        };
        // The engine as it was at `seq`, from its newest snapshot at or before it.
        let engine = match engine_at(config, data_dir, seq) {
            Ok(engine) => engine,
            Err(e) => {
                report.skipped.push(format!(
                    "{}: the engine's state at {seq} cannot be rebuilt: {e}",
                    path.display()
                ));
                stranded.get_or_insert(market);
                continue;
            }
        };
        report.snapshot = Some((seq, path));
        return replay_after(engine, market, &reader, end_seq, report);
    }
    let first = reader.records_from(0).next().transpose()?.map(|r| r.seq);
    // A journal from 1 rebuilds everything exactly; otherwise the engine's books are the best
    // that can be had.
    if first.is_some_and(|seq| seq > 1) {
        return from_engine(config, data_dir, end_seq, stranded, report);
    }
    let engine = Engine::new(config.clone());
    replay_after(engine, MarketData::new(config), &reader, end_seq, report)
}

/// Whether the journal ends before `seq` (a sequence older than its first retained record is
/// not past its end).
fn past_journal_end(reader: &JournalReader, seq: u64) -> Result<bool, RecoveryError> {
    match reader.records_from(seq).next() {
        None => Ok(true),
        Some(Ok(_)) | Some(Err(JournalError::SeqNotInJournal { .. })) => Ok(false),
        Some(Err(e)) => Err(e.into()),
    }
}

/// The engine's state after the command at `seq`, from the newest engine snapshot at or before
/// it and the journal.
fn engine_at(config: &EngineConfig, data_dir: &Path, seq: u64) -> Result<Engine, RecoveryError> {
    let journal_dir = pipeline::journal_dir(data_dir);
    let (engine, replayed) = recovery::replay(
        config,
        &journal_dir,
        ReplayOptions {
            snapshot_dir: Some(&pipeline::snapshot_dir(data_dir)),
            to_seq: Some(seq),
        },
        |_, _, _| {},
        |_| {},
    )?;
    if replayed.last_seq != seq {
        return Err(RecoveryError::Journal(JournalError::SeqNotInJournal {
            dir: journal_dir,
            seq,
            detail: format!("the replay reached {} only", replayed.last_seq),
        }));
    }
    Ok(engine)
}

/// Feeds `market` (at `engine`'s sequence) the events of the journaled commands after it, up to
/// `end_seq`.
fn replay_after(
    mut engine: Engine,
    mut market: MarketData,
    reader: &JournalReader,
    end_seq: u64,
    mut report: MarketRecoveryReport,
) -> Result<(MarketData, MarketRecoveryReport), RecoveryError> {
    let from = market.journal_seq();
    if from >= end_seq {
        return Ok((market, report));
    }
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

/// No usable market-data snapshot and a journal that no longer holds what came after it (or no
/// longer starts at 1): the books and statuses are taken from the engine at `end_seq`. The
/// trades since cannot be known: the tapes start empty. Each symbol's sequence is set past any
/// it can have published (a command makes at most one update per symbol), so sequences never go
/// back and a subscriber sees the jump.
fn from_engine(
    config: &EngineConfig,
    data_dir: &Path,
    end_seq: u64,
    base: Option<MarketData>,
    mut report: MarketRecoveryReport,
) -> Result<(MarketData, MarketRecoveryReport), RecoveryError> {
    let engine = engine_at(config, data_dir, end_seq)?;
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
    market.exchange_halted = engine.is_halted(None);
    for s in 0..config.symbols.len() {
        market.symbol_halted[s] = engine.is_halted(Some(SymbolId(s as u16)));
        market.sequences[s] = match &base {
            Some(base) => {
                base.sequences[s].saturating_add(end_seq.saturating_sub(base.journal_seq))
            }
            None => end_seq,
        };
    }
    market.journal_seq = end_seq;
    market.settle();
    let (from, sequences) = match &base {
        Some(base) => (
            format!("the market-data snapshot at {}", base.journal_seq),
            format!(
                "market-data sequences advance by {}",
                end_seq.saturating_sub(base.journal_seq)
            ),
        ),
        None => (
            "no market-data snapshot".to_string(),
            format!("market-data sequences restart at {end_seq}"),
        ),
    };
    report.warning = Some(format!(
        "{from} and a journal that no longer holds the commands after it: books and statuses \
         rebuilt from the engine at {end_seq}; {sequences} (a gap for every subscriber) and the \
         tapes are empty"
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
