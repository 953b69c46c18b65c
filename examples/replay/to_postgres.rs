//! `trades --to-postgres URL`: restoring the back office's trade history from the journal. The
//! journal goes through the bridge's [`Applier`] from sequence 1 and what it produced (trades,
//! order events, balances) through the bridge's [`PostgresSink`], in batches, each committed with
//! the database's cursor — so a run resumes after the cursor the database holds, and running it
//! again writes nothing twice.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use hayate::adapters::bridge::postgres::Written;
use hayate::adapters::bridge::{Applied, Applier, PostgresSink, Sink};
use hayate::journal::JournalReader;
use hayate::{Command, Engine};

use crate::progress::{PROGRESS_STEP, journal_end, progress_bar};
use crate::{Context, Result, TradesArgs};

/// Commands per transaction: large enough that a commit's cost is spread over thousands of rows,
/// small enough that a failed batch is quick to redo.
const BATCH: usize = 1000;

/// A progress line on stdout every this many commands written.
const REPORT_EVERY: u64 = 100_000;

pub(crate) fn to_postgres(
    ctx: &Context,
    args: &TradesArgs,
    url: &str,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let config = ctx.engine_config();
    // The digest the replication handshake compares: the database is this exchange's.
    let digest = Engine::new(config.clone()).digest();
    let mut sink = PostgresSink::connect(url, digest).map_err(|e| e.to_string())?;
    let cursor = sink.cursor().map_err(|e| e.to_string())?;
    let reader = JournalReader::open(&ctx.journal_dir)?;
    let mut records = reader.records_from(0).peekable();
    match records.peek() {
        Some(Ok(first)) if first.seq != 1 => {
            return Err(format!(
                "the journal starts at sequence {}, not 1: the commands before it are gone, so \
                 the state they built cannot be replayed and the history cannot be restored \
                 from this journal",
                first.seq
            )
            .into());
        }
        None if cursor > 0 => {
            return Err(format!(
                "the database's cursor is {cursor} but the journal is empty: another exchange's \
                 database?"
            )
            .into());
        }
        _ => {}
    }
    if let Some(to) = args.to.filter(|to| *to <= cursor) {
        writeln!(
            out,
            "postgres: cursor {cursor} is at or past --to {to}: nothing to write"
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "postgres: cursor {cursor}, config digest {digest:016x}; {}",
        if cursor == 0 {
            "writing from sequence 1".to_string()
        } else {
            format!(
                "replaying 1..{cursor} without writing, then writing from {}",
                cursor + 1
            )
        }
    )?;
    out.flush()?;
    let bar = progress_bar(ctx, journal_end(ctx, args.to));
    // Level-2 snapshots are the NATS sink's business: never take one here.
    let mut applier = Applier::new(config, u64::MAX);
    let mut batch: Vec<Applied> = Vec::with_capacity(BATCH);
    let start = Instant::now();
    let mut last = 0u64;
    let mut next_report = REPORT_EVERY;
    for record in records {
        let record = record?;
        let seq = record.seq;
        if args.to.is_some_and(|to| seq > to) {
            break;
        }
        let command = Command::from_bytes(record.payload)
            .map_err(|e| format!("journal record {seq} is not a command: {e}"))?;
        let applied = applier.apply(seq, &command);
        last = seq;
        if seq % PROGRESS_STEP == 0 {
            bar.set_position(seq);
        }
        if seq <= cursor {
            continue;
        }
        batch.push(applied);
        if batch.len() == BATCH {
            write(&mut sink, &mut batch)?;
            let written = sink.written();
            if written.commands >= next_report {
                next_report += REPORT_EVERY;
                bar.suspend(|| {
                    writeln!(
                        out,
                        "postgres: written through sequence {seq}: {}",
                        rows(&written)
                    )
                    .and_then(|()| out.flush())
                })?;
            }
        }
    }
    write(&mut sink, &mut batch)?;
    bar.finish_and_clear();
    if last < cursor {
        return Err(format!(
            "the database's cursor {cursor} is past the journal's last sequence {last}: another \
             exchange's database, or a journal truncated since?"
        )
        .into());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let written = sink.written();
    writeln!(
        out,
        "postgres: cursor {}; {} in {elapsed:.3} s{}",
        cursor.max(last),
        rows(&written),
        if elapsed > 0.0 && written.commands > 0 {
            format!(" ({:.0} commands/s)", written.commands as f64 / elapsed)
        } else {
            String::new()
        }
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes and empties `batch`. A failure names the cursor to resume from: the tool stops, the
/// operator runs it again once the database is back.
fn write(sink: &mut PostgresSink, batch: &mut Vec<Applied>) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    sink.write(batch).map_err(|e| {
        format!("{e} (run the command again: it resumes after the database's cursor)")
    })?;
    batch.clear();
    Ok(())
}

fn rows(written: &Written) -> String {
    format!(
        "{} commands, {} trades, {} order events, {} balance rows written",
        written.commands, written.trades, written.order_events, written.balances
    )
}
