//! `verify`: every journal record (frames, sequence continuity, and that each payload is a
//! command this build reads) and every snapshot file (checksums, loading its state, the engine
//! configuration it was taken under, and whether the journal still holds what it covers).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use hayate::journal::{JournalReader, snapshot_file};
use hayate::{Command, Engine};

use crate::format::seq_range;
use crate::{Context, Result};

pub(crate) fn verify(ctx: &Context, out: &mut impl Write) -> Result<ExitCode> {
    let report = hayate::journal::verify(&ctx.journal_dir)?;
    let mut damage = report.problems.len();
    let mut unusable = 0;
    writeln!(
        out,
        "journal {}: {} segments, {} records, sequences {}",
        ctx.journal_dir.display(),
        report.segments.len(),
        report.records,
        seq_range(report.first_seq, report.last_seq)
    )?;
    for segment in &report.segments {
        writeln!(
            out,
            "  {}  {} records, sequences {}, {} of {} bytes used{}",
            segment.path.display(),
            segment.records,
            seq_range(
                segment.last_seq.map(|_| segment.first_seq),
                segment.last_seq
            ),
            segment.used_bytes,
            segment.size,
            if segment.sealed { ", sealed" } else { "" }
        )?;
    }
    match &report.torn_tail {
        Some(torn) => {
            damage += 1;
            writeln!(
                out,
                "torn tail: {} at byte offset {} (seq {}): {}; {} bytes that opening the journal \
                 for writing (the gateway's start-up) would truncate",
                torn.path.display(),
                torn.offset,
                torn.seq,
                torn.defect,
                torn.bytes
            )?;
        }
        None => writeln!(out, "torn tail: none")?,
    }

    // Frames can be intact and still not be commands this build reads; replay would stop there.
    let mut not_commands = Vec::new();
    if let Ok(reader) = JournalReader::open(&ctx.journal_dir) {
        // The first error is one of the problems `verify` listed; it ends the iteration.
        for record in reader.records_from(0).map_while(|r| r.ok()) {
            if let Err(e) = Command::from_bytes(record.payload) {
                let file = report
                    .segments
                    .iter()
                    .rfind(|s| s.first_seq <= record.seq)
                    .map_or_else(|| ctx.journal_dir.clone(), |s| s.path.clone());
                not_commands.push(format!(
                    "{} (seq {}): the record is not a command: {e}",
                    file.display(),
                    record.seq
                ));
            }
        }
    }

    let snapshots = snapshot_file::list_snapshots(&ctx.snapshot_dir)?;
    writeln!(
        out,
        "snapshots {}: {}",
        ctx.snapshot_dir.display(),
        snapshots.len()
    )?;
    for (seq, path) in &snapshots {
        let verdict = match check_snapshot(ctx, path, *seq, report.last_seq) {
            Ok(()) => "ok".to_string(),
            Err(SnapshotFault::Damaged(why)) => {
                damage += 1;
                format!("BAD: {why}")
            }
            Err(SnapshotFault::Unusable(why)) => {
                unusable += 1;
                format!("UNUSABLE: {why}")
            }
        };
        writeln!(out, "  seq {seq}  {}  {verdict}", path.display())?;
    }

    damage += not_commands.len();
    writeln!(
        out,
        "problems: {}",
        report.problems.len() + not_commands.len()
    )?;
    for problem in &report.problems {
        let mut line = format!("  {}", problem.file.display());
        if let Some(offset) = problem.offset {
            line.push_str(&format!(" at byte offset {offset}"));
        }
        if let Some(seq) = problem.seq {
            line.push_str(&format!(" (seq {seq})"));
        }
        writeln!(out, "{line}: {}", problem.description)?;
    }
    for line in &not_commands {
        writeln!(out, "  {line}")?;
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if damage > 0 {
        writeln!(
            out,
            "result: DAMAGED ({damage} finding{} above)",
            plural(damage)
        )?;
    } else if unusable > 0 {
        writeln!(
            out,
            "result: UNUSABLE ({unusable} snapshot{} this configuration cannot load)",
            plural(unusable)
        )?;
    } else {
        writeln!(out, "result: OK")?;
        return Ok(ExitCode::SUCCESS);
    }
    Ok(ExitCode::FAILURE)
}

/// What is wrong with a snapshot file.
enum SnapshotFault {
    /// The file is damaged, or holds state the journal no longer has.
    Damaged(String),
    /// The file is fine, but a replay under this configuration refuses it.
    Unusable(String),
}

/// Why a replay under this configuration could not use a snapshot file, if it couldn't.
fn check_snapshot(
    ctx: &Context,
    path: &Path,
    seq: u64,
    journal_last: Option<u64>,
) -> Result<(), SnapshotFault> {
    let (_, body) =
        snapshot_file::read_snapshot(path).map_err(|e| SnapshotFault::Damaged(e.to_string()))?;
    let engine = Engine::load(&body)
        .map_err(|e| SnapshotFault::Damaged(format!("its state does not load: {e}")))?;
    if engine.config() != ctx.engine_config() {
        return Err(SnapshotFault::Unusable(
            "taken with a different engine configuration than --config (assets, symbols, \
             accounts or limits differ)"
                .into(),
        ));
    }
    if journal_last.is_none_or(|last| seq > last) {
        return Err(SnapshotFault::Damaged(format!(
            "ahead of the journal, which ends at {}: its state includes commands the journal \
             no longer holds",
            journal_last.map_or("no record".to_string(), |l| format!("seq {l}"))
        )));
    }
    Ok(())
}
