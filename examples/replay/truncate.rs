//! `truncate --after SEQ [--yes]`: the explicit repair. Without `--yes` it only verifies and
//! prints the plan; with it, drops every record after SEQ and sets aside the snapshots taken
//! after it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use hayate::journal::{repair, snapshot_file};

use crate::format::seq_range;
use crate::{Context, Result, TruncateArgs};

pub(crate) fn truncate(
    ctx: &Context,
    args: &TruncateArgs,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let seq = args.after;
    if seq == u64::MAX {
        // `truncate_after` computes `seq + 1`; no journal gets anywhere near this anyway.
        return Err(format!("--after {seq}: no journal reaches that sequence").into());
    }
    let newer_snapshots: Vec<(u64, PathBuf)> = snapshot_file::list_snapshots(&ctx.snapshot_dir)?
        .into_iter()
        .filter(|(snapshot_seq, _)| *snapshot_seq > seq)
        .collect();
    if !args.yes {
        let report = hayate::journal::verify(&ctx.journal_dir)?;
        writeln!(
            out,
            "journal {}: {} records, sequences {}, {} problems{}",
            ctx.journal_dir.display(),
            report.records,
            seq_range(report.first_seq, report.last_seq),
            report.problems.len(),
            if report.torn_tail.is_some() {
                ", a torn tail"
            } else {
                ""
            }
        )?;
        match report.last_seq {
            Some(last) if last > seq => writeln!(
                out,
                "would keep sequences up to {seq} and drop {} records ({}..{last})",
                last - seq,
                seq + 1
            )?,
            _ => writeln!(
                out,
                "would keep sequences up to {seq}; no valid record after it (only damaged \
                 bytes, if any, would be zeroed)"
            )?,
        }
        for (_, path) in &newer_snapshots {
            writeln!(out, "would set aside snapshot {}", path.display())?;
        }
        out.flush()?;
        eprintln!("replay: refusing to truncate without --yes (nothing was changed)");
        return Ok(ExitCode::FAILURE);
    }
    let report = repair::truncate_after(&ctx.journal_dir, seq)?;
    writeln!(
        out,
        "kept sequences up to {seq}; the journal continues at {}",
        report.next_seq
    )?;
    for path in &report.deleted_segments {
        writeln!(out, "deleted segment {}", path.display())?;
    }
    match &report.zeroed_file {
        Some(path) => writeln!(
            out,
            "zeroed {} bytes of {} from byte offset {}",
            report.zeroed_bytes,
            path.display(),
            report.zeroed_offset
        )?,
        None => writeln!(out, "nothing to zero in the segment holding {seq}")?,
    }
    for (_, path) in &newer_snapshots {
        let mut aside = path.clone().into_os_string();
        aside.push(".discarded");
        let aside = PathBuf::from(aside);
        std::fs::rename(path, &aside).map_err(|e| {
            format!(
                "cannot set aside snapshot {} (taken after {seq}): {e}",
                path.display()
            )
        })?;
        writeln!(
            out,
            "set aside snapshot {} as {}",
            path.display(),
            aside.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
