//! `replay`: the state rebuilt from the newest snapshot and the journal, with its digest and
//! each symbol's book summary; and [`replay_range`], which `dump --events` and `trades` use to
//! see the events of a range of commands.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hayate::journal::JournalReader;
use hayate::recovery::{self, RecoveryReport, ReplayOptions};
use hayate::{Command, Engine, Event, Qty, Side, SymbolId};

use crate::format::utc_timestamp;
use crate::progress::{PROGRESS_STEP, journal_end, progress_bar};
use crate::{Context, ReplayArgs, Result};

pub(crate) fn replay(ctx: &Context, args: &ReplayArgs, out: &mut impl Write) -> Result<ExitCode> {
    let config = ctx.engine_config();
    let snapshot_dir = (!args.no_snapshot).then_some(ctx.snapshot_dir.as_path());
    let bar = progress_bar(ctx, journal_end(ctx, args.to));
    let mut started = false;
    let start = Instant::now();
    let (engine, report) = recovery::replay(
        config,
        &ctx.journal_dir,
        ReplayOptions {
            snapshot_dir,
            to_seq: args.to,
        },
        |_, _, _| {},
        |seq| {
            if !started {
                // Commands before the snapshot are not replayed; count the rate from here.
                started = true;
                bar.set_position(seq);
                bar.reset_eta();
            } else if seq % PROGRESS_STEP == 0 {
                bar.set_position(seq);
            }
        },
    )?;
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    write_replay_summary(out, &engine, &report, elapsed)?;
    Ok(ExitCode::SUCCESS)
}

fn write_replay_summary(
    out: &mut impl Write,
    engine: &Engine,
    report: &RecoveryReport,
    elapsed: Duration,
) -> io::Result<()> {
    let config = engine.config();
    writeln!(out, "recovery: {report}")?;
    writeln!(out, "last sequence: {}", report.last_seq)?;
    writeln!(out, "commands replayed: {}", report.replayed)?;
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        format!("{:.0} commands/s", report.replayed as f64 / secs)
    } else {
        "-".to_string()
    };
    writeln!(out, "elapsed: {secs:.3} s ({rate})")?;
    writeln!(out, "digest: {:016x}", engine.digest())?;
    writeln!(out, "exchange halted: {}", yes_no(engine.is_halted(None)))?;
    let blocked: Vec<String> = engine
        .blocked_accounts()
        .iter()
        .map(|a| a.to_string())
        .collect();
    writeln!(
        out,
        "blocked accounts: {}",
        if blocked.is_empty() {
            "none".to_owned()
        } else {
            blocked.join(", ")
        }
    )?;
    for (index, spec) in config.symbols.iter().enumerate() {
        let symbol = SymbolId(index as u16);
        let reference = engine
            .reference_price(symbol)
            .map_or("none".to_string(), |p| spec.price_to_decimal(p).to_string());
        writeln!(
            out,
            "{}: reference price {reference}, halted {}",
            spec.name,
            yes_no(engine.is_halted(Some(symbol)))
        )?;
        if spec.breaker.is_some() {
            let anchor = engine
                .breaker_anchor(symbol)
                .map_or("none".to_string(), |p| spec.price_to_decimal(p).to_string());
            let state = match engine.breaker_halted_until(symbol) {
                Some(until) => format!("tripped, halted until {}", utc_timestamp(until)),
                None => "armed".to_owned(),
            };
            writeln!(out, "  circuit breaker: {state}, anchor {anchor}")?;
        }
        for (side, label) in [(Side::Buy, "bid"), (Side::Sell, "ask")] {
            let depth = engine.depth(symbol, side);
            match depth.first() {
                Some(&(price, qty, _)) => {
                    let orders: u64 = depth.iter().map(|&(_, _, count)| u64::from(count)).sum();
                    let total = Qty(depth.iter().map(|&(_, q, _)| q.0).sum());
                    writeln!(
                        out,
                        "  {label}: {} x {} ({} levels, {orders} orders, {} in total)",
                        spec.price_to_decimal(price),
                        spec.qty_to_decimal(qty),
                        depth.len(),
                        spec.qty_to_decimal(total)
                    )?;
                }
                None => writeln!(out, "  {label}: none (0 levels, 0 orders)")?,
            }
        }
    }
    Ok(())
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// Rebuilds the state before `from` (newest snapshot at or before `from - 1`, then the journal),
/// then processes the commands `from..=to` itself, handing each event to `on_event`. A snapshot
/// inside the range must not be used, or the events before it would be missed; hence the two
/// steps instead of one `recovery::replay` to `to`.
pub(crate) fn replay_range(
    ctx: &Context,
    from: u64,
    to: Option<u64>,
    mut on_event: impl FnMut(u64, &Command, &Event) -> io::Result<()>,
) -> Result<()> {
    let config = ctx.engine_config();
    let bar = progress_bar(
        ctx,
        journal_end(ctx, to).map(|end| end.saturating_sub(from) + 1),
    );
    let (mut engine, report) = recovery::replay(
        config,
        &ctx.journal_dir,
        ReplayOptions {
            snapshot_dir: Some(&ctx.snapshot_dir),
            to_seq: Some(from - 1),
        },
        |_, _, _| {},
        |_| {},
    )?;
    let reader = JournalReader::open(&ctx.journal_dir)?;
    let mut failure = None;
    for record in reader.records_from(report.last_seq + 1) {
        let record = record?;
        let seq = record.seq;
        if to.is_some_and(|to| seq > to) {
            break;
        }
        let command = Command::from_bytes(record.payload)
            .map_err(|e| format!("journal record {seq} is not a command: {e}"))?;
        engine.process(&command, &mut |event: &Event| {
            if seq >= from && failure.is_none() {
                failure = on_event(seq, &command, event).err();
            }
        });
        if let Some(error) = failure.take() {
            return Err(error.into());
        }
        if seq % PROGRESS_STEP == 0 {
            bar.set_position(seq.saturating_sub(from));
        }
    }
    bar.finish_and_clear();
    Ok(())
}
