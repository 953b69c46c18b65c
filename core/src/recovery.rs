//! Crash recovery and replay: the newest valid snapshot, then every journaled command after it, run
//! through the same engine code that processed them live.
//!
//! The journal stores commands as their 128-byte POD bytes, so a record either decodes to exactly
//! the command that was processed or recovery stops with an error naming its sequence: nothing is
//! skipped. A corrupt newest snapshot falls back to an older one, then to a full replay, and the
//! report says which files were passed over and why.

use std::path::{Path, PathBuf};

use hayate_journal::snapshot_file::{self, SnapshotFileError};
use hayate_journal::{Journal, JournalError, JournalOptions, JournalReader, OpenReport};

use crate::command::{Command, CommandDecodeError};
use crate::engine::Engine;
use crate::engine::EngineConfig;
use crate::event::Event;
use crate::fields::SnapshotError;
use crate::units::{AccountId, SymbolId};

/// Where a node on `data_dir` keeps its journal segments.
pub fn journal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

/// Where a node on `data_dir` keeps its engine snapshots.
pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

/// What recovery found and did.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// The snapshot the state was loaded from: (sequence, file). `None` means a full replay.
    pub snapshot: Option<(u64, PathBuf)>,
    /// Newer snapshot files that were skipped, with the reason each was refused.
    pub skipped_snapshots: Vec<String>,
    /// Journal records replayed after the snapshot.
    pub replayed: u64,
    /// The last sequence applied (the snapshot's if nothing followed it); 0 for an empty journal.
    pub last_seq: u64,
    /// What opening the journal for writing found (the torn tail it truncated), when recovery
    /// opened the writer.
    pub open: Option<OpenReport>,
    /// Whether the recovered exchange is halted as a whole.
    pub exchange_halted: bool,
    /// The symbols halted on their own in the recovered state.
    pub halted_symbols: Vec<SymbolId>,
    /// The accounts blocked (kill switch) in the recovered state.
    pub blocked_accounts: Vec<AccountId>,
    /// The recovered epoch history after epoch 1, as (epoch, first sequence), oldest first;
    /// empty before any promotion.
    pub epochs: Vec<(u64, u64)>,
    /// The accounts with open orders in the recovered state (a gateway cancels those of users
    /// with cancel-on-disconnect, since every session was lost).
    pub accounts_with_orders: Vec<AccountId>,
}

impl RecoveryReport {
    /// The recovered epoch and the sequence it began at (`(1, 1)` before any promotion).
    pub fn epoch(&self) -> (u64, u64) {
        self.epochs.last().copied().unwrap_or((1, 1))
    }
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.snapshot {
            Some((seq, path)) => write!(f, "loaded snapshot at {seq} ({})", path.display())?,
            None => write!(f, "no snapshot: full replay")?,
        }
        write!(
            f,
            ", replayed {} commands, at sequence {}",
            self.replayed, self.last_seq
        )?;
        if let Some((epoch, start)) = self.epochs.last() {
            write!(f, ", epoch {epoch} (since sequence {start})")?;
        }
        for skipped in &self.skipped_snapshots {
            write!(f, "; skipped {skipped}")?;
        }
        if let Some(tail) = self.open.as_ref().and_then(|o| o.torn_tail.as_ref()) {
            write!(
                f,
                "; truncated a torn tail of {} bytes at {} offset {} (sequence {}: {})",
                tail.bytes,
                tail.path.display(),
                tail.offset,
                tail.seq,
                tail.defect
            )?;
        }
        Ok(())
    }
}

/// Why recovery could not rebuild the state. Each names the file or sequence to look at.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The journal is damaged or unreadable (see the journal's error for file, offset, sequence).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The snapshot directory could not be listed, or a snapshot could not be written.
    #[error(transparent)]
    SnapshotFile(#[from] SnapshotFileError),
    /// A journal record is not a command this build can read.
    #[error("journal record {seq} is not a command: {source}")]
    BadRecord {
        /// Its sequence.
        seq: u64,
        /// Why it does not decode.
        source: CommandDecodeError,
    },
    /// The journal has no record right after the snapshot (retention deleted it, or it was lost).
    #[error("snapshot {path} is at sequence {snapshot_seq} but the journal continues at {found}")]
    Gap {
        /// The snapshot used.
        path: PathBuf,
        /// Its sequence.
        snapshot_seq: u64,
        /// The first record the journal offered.
        found: u64,
    },
    /// Every snapshot's engine configuration differs from the one given.
    #[error(
        "snapshot {path} was taken with a different engine configuration (assets, symbols, accounts or limits changed); restore the configuration it was taken with"
    )]
    ConfigChanged {
        /// The newest valid snapshot.
        path: PathBuf,
    },
}

/// How far and from where to replay.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayOptions<'a> {
    /// Where snapshots are; `None` replays the whole journal from its first record.
    pub snapshot_dir: Option<&'a Path>,
    /// Stop after this sequence (inclusive); `None` replays to the end. Snapshots taken after it
    /// are not used.
    pub to_seq: Option<u64>,
}

/// Rebuilds the engine from the newest usable snapshot in `options.snapshot_dir` and the commands
/// journaled in `journal_dir` after it, calling `on_event(seq, command, event)` for every event the
/// replayed commands produce (an audit or trade export reads them here) and `on_progress(seq)`
/// after each command. Reads only: the journal is not modified.
pub fn replay(
    config: &EngineConfig,
    journal_dir: &Path,
    options: ReplayOptions<'_>,
    mut on_event: impl FnMut(u64, &Command, &Event),
    mut on_progress: impl FnMut(u64),
) -> Result<(Engine, RecoveryReport), RecoveryError> {
    let mut report = RecoveryReport::default();
    let reader = JournalReader::open(journal_dir)?;
    let mut engine = match options.snapshot_dir {
        Some(dir) => load_snapshot(config, dir, &reader, options.to_seq, &mut report)?,
        None => Engine::new(config.clone()),
    };
    let start = report.snapshot.as_ref().map_or(0, |(seq, _)| *seq);
    report.last_seq = start;
    for record in reader.records_from(start + 1) {
        let record = record?;
        if options.to_seq.is_some_and(|to| record.seq > to) {
            break;
        }
        if report.replayed == 0 && start > 0 && record.seq != start + 1 {
            return Err(RecoveryError::Gap {
                path: report
                    .snapshot
                    .as_ref()
                    .map(|(_, p)| p.clone())
                    .unwrap_or_default(),
                snapshot_seq: start,
                found: record.seq,
            });
        }
        let seq = record.seq;
        let command = Command::from_bytes(record.payload)
            .map_err(|source| RecoveryError::BadRecord { seq, source })?;
        engine.process(&command, &mut |e: &Event| on_event(seq, &command, e));
        report.replayed += 1;
        report.last_seq = seq;
        on_progress(seq);
    }
    Ok((engine, report))
}

/// Recovery at start-up: opens the journal for writing (truncating and reporting a torn tail),
/// then rebuilds the engine as [`replay`] does. The caller goes on appending to the returned
/// journal; its next sequence follows the recovered state.
pub fn recover(
    config: &EngineConfig,
    journal_dir: &Path,
    snapshot_dir: &Path,
    options: JournalOptions,
) -> Result<(Engine, Journal, RecoveryReport), RecoveryError> {
    let (journal, open) = Journal::open(journal_dir, options)?;
    let (engine, mut report) = replay(
        config,
        journal_dir,
        ReplayOptions {
            snapshot_dir: Some(snapshot_dir),
            to_seq: None,
        },
        |_, _, _| {},
        |_| {},
    )?;
    report.open = Some(open);
    report.exchange_halted = engine.is_halted(None);
    report.epochs = engine.epochs().to_vec();
    report.halted_symbols = (0..engine.config().symbols.len())
        .map(|i| SymbolId(i as u16))
        .filter(|&s| engine.is_halted(Some(s)))
        .collect();
    report.blocked_accounts = engine.blocked_accounts();
    report.accounts_with_orders = engine
        .accounts()
        .into_iter()
        .filter(|&a| !engine.open_orders(a).is_empty())
        .collect();
    Ok((engine, journal, report))
}

/// What [`drop_after`] removed.
#[derive(Debug, Default)]
pub struct DroppedTail {
    /// Journal records dropped (0 if the journal already ended at the kept sequence).
    pub records: u64,
    /// Journal segment files deleted.
    pub segments: usize,
    /// Engine snapshots deleted (taken after the kept sequence).
    pub snapshots: Vec<PathBuf>,
}

/// Drops everything a stopped node's data directory holds after sequence `keep_through`: the
/// journal's records (the node's journal ends at `last_seq`) and the engine snapshots taken after
/// it. A primary that stepped down does this before rejoining as a standby, so the tail its new
/// primary never had cannot come back. Fails while a pipeline has the directory open.
pub fn drop_after(
    data_dir: &Path,
    keep_through: u64,
    last_seq: u64,
) -> Result<DroppedTail, RecoveryError> {
    let mut dropped = DroppedTail::default();
    if last_seq > keep_through {
        let report = hayate_journal::repair::truncate_after(journal_dir(data_dir), keep_through)?;
        dropped.records = last_seq - keep_through;
        dropped.segments = report.deleted_segments.len();
    }
    for (seq, path) in snapshot_file::list_snapshots(snapshot_dir(data_dir))? {
        if seq > keep_through {
            std::fs::remove_file(&path).map_err(|source| SnapshotFileError::Io {
                op: "delete a snapshot taken after the kept sequence",
                path: path.clone(),
                source,
            })?;
            dropped.snapshots.push(path);
        }
    }
    Ok(dropped)
}

/// Writes the engine's state at `seq` (the last command it processed) as a snapshot file in `dir`,
/// atomically (temp file, fsync, rename, fsync of the directory).
pub fn write_snapshot(engine: &Engine, seq: u64, dir: &Path) -> Result<PathBuf, RecoveryError> {
    Ok(snapshot_file::write_snapshot(dir, seq, &engine.save())?)
}

/// What [`apply_retention`] deleted.
#[derive(Debug, Default)]
pub struct RetentionReport {
    /// Snapshot files deleted.
    pub snapshots: Vec<PathBuf>,
    /// Journal segments deleted.
    pub segments: Vec<PathBuf>,
}

/// Retention policy: keeps the newest `keep_snapshots` valid snapshots and deletes older ones,
/// then deletes the journal segments wholly covered by the OLDEST kept snapshot — so falling back
/// to any kept snapshot still finds its journal tail.
pub fn apply_retention(
    journal: &mut Journal,
    snapshot_dir: &Path,
    keep_snapshots: usize,
) -> Result<RetentionReport, RecoveryError> {
    let snapshots = snapshot_file::delete_snapshots_before(snapshot_dir, keep_snapshots)?;
    let kept = snapshot_file::list_snapshots(snapshot_dir)?;
    let valid: Vec<u64> = kept
        .iter()
        .filter(|(_, path)| snapshot_file::read_snapshot(path).is_ok())
        .map(|(seq, _)| *seq)
        .collect();
    let segments = match valid.first() {
        Some(&oldest) if keep_snapshots > 0 && valid.len() >= keep_snapshots => {
            journal.delete_segments_through(oldest)?
        }
        _ => Vec::new(),
    };
    Ok(RetentionReport {
        snapshots,
        segments,
    })
}

/// True when the journal still holds the snapshot's sequence or the one after it. A snapshot past
/// the journal's end (after an operator truncated the journal, or a power cut lost an unsynced
/// tail under `never`/`interval`) describes commands the journal no longer has: resuming from it
/// would hand out sequences the engine has already passed.
fn journal_covers(reader: &JournalReader, seq: u64) -> Result<bool, RecoveryError> {
    match reader.records_from(seq).next() {
        Some(Ok(record)) => Ok(record.seq == seq),
        // Retention deleted the segment holding `seq`; the journal must go on right after it.
        Some(Err(JournalError::SeqNotInJournal { .. })) => {
            Ok(matches!(reader.records_from(seq + 1).next(), Some(Ok(r)) if r.seq == seq + 1))
        }
        Some(Err(e)) => Err(e.into()),
        None => Ok(false),
    }
}

/// Loads the newest valid snapshot at or before `to_seq` whose configuration matches `config`
/// and whose sequence the journal covers.
fn load_snapshot(
    config: &EngineConfig,
    dir: &Path,
    reader: &JournalReader,
    to_seq: Option<u64>,
    report: &mut RecoveryReport,
) -> Result<Engine, RecoveryError> {
    if !dir.exists() {
        return Ok(Engine::new(config.clone()));
    }
    let mut mismatched: Option<PathBuf> = None;
    for (seq, path) in snapshot_file::list_snapshots(dir)?.into_iter().rev() {
        if to_seq.is_some_and(|to| seq > to) {
            continue;
        }
        if !journal_covers(reader, seq)? {
            report.skipped_snapshots.push(format!(
                "{}: at sequence {seq}, past the end of the journal",
                path.display()
            ));
            continue;
        }
        // A file error names the file itself; an engine-load error does not.
        let engine = match snapshot_file::read_snapshot(&path) {
            Ok((_, body)) => {
                Engine::load(&body).map_err(|e: SnapshotError| format!("{}: {e}", path.display()))
            }
            Err(e) => Err(e.to_string()),
        };
        match engine {
            Ok(engine) if engine.config() == config => {
                report.snapshot = Some((seq, path));
                return Ok(engine);
            }
            Ok(_) => {
                report.skipped_snapshots.push(format!(
                    "{}: taken with a different configuration",
                    path.display()
                ));
                mismatched.get_or_insert(path);
            }
            Err(reason) => report.skipped_snapshots.push(reason),
        }
    }
    // Replaying the whole journal under a configuration other than the one the snapshots were
    // taken with could silently give other results; refuse instead.
    match mismatched {
        Some(path) => Err(RecoveryError::ConfigChanged { path }),
        None => Ok(Engine::new(config.clone())),
    }
}
