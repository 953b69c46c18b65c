//! The operator's journal tool: check, read, replay, export and repair a Hayate data directory
//! without the gateway, and generate a realistic journal for tests and demos.
//!
//! A data directory `DATA` holds the journal segments in `DATA/journal/` and the snapshot files in
//! `DATA/snapshots/`. `--data` defaults to the configuration's `[journal] dir` (`data` unless the
//! file says otherwise); `--config` defaults to the demo exchange of SPEC §5. Journal records are
//! 128-byte commands; amounts are printed in decimals of the configuration's units.
//!
//! ```text
//! cargo run --release --example replay -- verify
//! cargo run --release --example replay -- dump --from 10 --to 12
//! cargo run --release --example replay -- dump --from 10 --to 12 --events
//! cargo run --release --example replay -- replay
//! cargo run --release --example replay -- replay --to 5000 --no-snapshot
//! cargo run --release --example replay -- trades --from 1 --to 5000 --out trades.csv
//! cargo run --release --example replay -- book BTC-JPY --at 5000 --depth 10
//! cargo run --release --example replay -- truncate --after 12345            # shows the plan only
//! cargo run --release --example replay -- truncate --after 12345 --yes      # does it
//! cargo run --release --example replay -- generate --commands 1000000 --snapshot-every 100000
//! cargo run --release --example replay -- generate --commands 20000 --seed 7 --segment-size 65536
//! cargo run --release --example replay -- --data /var/hayate --config gateway.toml replay --quiet
//! ```
//!
//! Exit status: 0 on success; 1 when `verify` finds damage (a torn tail included) or a snapshot
//! the configuration cannot load, when `truncate` is refused for lack of `--yes`, or when the
//! command fails (one line on stderr names the file or sequence); 2 for bad usage.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use hayate::journal::{FlushPolicy, Journal, JournalOptions, JournalReader, repair, snapshot_file};
use hayate::recovery::{self, RecoveryReport, ReplayOptions};
use hayate::*;

mod generator;
// splitmix64, shared with the benches and tests, so a seed always gives the same journal.
#[path = "../../benches/support/rng.rs"]
mod rng;

use generator::OrderFlow;
use rng::Rng;

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// Journals shorter than this replay too fast for a progress bar to help.
const PROGRESS_MIN_COMMANDS: u64 = 100_000;
/// Progress is drawn every this many commands, keeping the bar off the replay's hot path.
const PROGRESS_STEP: u64 = 4096;

#[derive(Parser)]
#[command(
    name = "replay",
    about = "Check, read, replay, export and repair a Hayate journal",
    long_about = "Check, read, replay, export and repair a Hayate data directory (DATA/journal/ \
                  holds the segments, DATA/snapshots/ the snapshots) without the gateway.\n\n\
                  Exit status: 0 success; 1 damage found, refusal or failure (one line on stderr \
                  says why); 2 bad usage."
)]
struct Cli {
    /// The data directory (journal/ and snapshots/ inside) [default: the configuration's
    /// `[journal] dir`, "data"]
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The gateway's TOML configuration [default: the built-in demo exchange]. Snapshots must
    /// have been taken with the same engine configuration.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Tool,
}

#[derive(Subcommand)]
enum Tool {
    /// Check every journal record and every snapshot file; exit 1 if anything is damaged.
    #[command(
        long_about = "Check every journal record (frame CRC, sequence continuity, and that \
        its payload is a command this build reads) and every snapshot file (checksums, then \
        loading its state and comparing its engine configuration with --config).\n\n\
        Prints the segments, record count, first and last sequence, the torn tail if any, each \
        snapshot with its verdict, and every problem with its file, byte offset and sequence.\n\n\
        Exit 0 only if nothing is damaged and every snapshot loads under --config (a snapshot \
        taken with another configuration is reported UNUSABLE). A torn tail (an incomplete last \
        record after a crash) is reported and makes the exit status 1 so scripts notice it, \
        although the gateway would simply truncate it when it next opens the journal."
    )]
    Verify,
    /// Print one line per journal record: sequence, UTC timestamp, the command.
    #[command(
        long_about = "Print one line per journal record in [--from, --to]: the sequence, \
        the gateway's receive time (UTC, ISO-8601 with nanoseconds; '-' when unset) and the \
        command in decimal units.\n\n\
        With --events, each command is followed by the events it produced, indented. This needs \
        the state before --from: it is rebuilt from the newest snapshot at or before --from − 1 \
        (or from the start of the journal) first."
    )]
    Dump(DumpArgs),
    /// Rebuild the state from the newest snapshot and the journal; print its digest and books.
    #[command(
        long_about = "Rebuild the engine state from the newest valid snapshot (unless \
        --no-snapshot) and the journaled commands after it, then print what recovery did \
        (including snapshots it skipped and why), the last sequence, the commands replayed, the \
        time taken and the rate, the state digest (16 hex digits; it equals the live engine's at \
        the same sequence), and per symbol the best bid and ask with their quantities, the \
        number of levels and resting orders per side, the reference (last trade) price and the \
        halt flags. Reads only: the journal is not modified."
    )]
    Replay(ReplayArgs),
    /// Export the trades in a range as CSV, one row per trade.
    #[command(
        long_about = "Export every trade of the commands in [--from, --to] as CSV with a \
        header line, one row per trade (both sides in one row): seq, timestamp, trade_id, symbol, \
        price, qty, taker_side, taker_account, taker_order_id, maker_account, maker_order_id, \
        taker_fee, maker_fee, fee_asset. Prices, quantities and fees are decimals. The state \
        before --from is rebuilt from the newest snapshot at or before it first."
    )]
    Trades(TradesArgs),
    /// Print a symbol's L2 book as it was after a journal sequence.
    #[command(
        long_about = "Print SYMBOL's L2 book as market data showed it right after --at (the \
        end of the journal by default): \"what did the book look like when it happened?\". The \
        market-data state is rebuilt as a restarted gateway rebuilds it — from the newest \
        market-data snapshot at or before --at (DATA/market/) and the journal after it — so the \
        symbol's market-data sequence is the one subscribers saw. Prints the sequence, the \
        trading status, the best --depth levels per side (price, size, orders; offers above, \
        bids below) and the last trade."
    )]
    Book(BookArgs),
    /// Drop every journal record after a sequence (the explicit repair); needs --yes.
    #[command(
        long_about = "Drop every journal record after --after: later segments are deleted \
        and the rest of the segment holding --after is zeroed. Snapshots taken after --after \
        describe commands that no longer exist, so they are set aside (renamed to \
        *.snap.discarded), never used again.\n\n\
        Without --yes, nothing changes: the journal is verified and the plan printed, and the \
        exit status is 1. The gateway must be stopped (the journal's writer lock is taken)."
    )]
    Truncate(TruncateArgs),
    /// Write a deterministic, realistic journal (and snapshots) for tests and demos.
    #[command(
        long_about = "Write a deterministic journal of --commands commands into an empty \
        --data: the configuration's [[deposits]] first, then a mixed order flow between its \
        first two user accounts (limit orders near the reference price, some crossing, IOC, FOK, \
        post-only and market orders, replaces, cancels of open orders and a few of ended ones), \
        committed in batches while an engine runs alongside. With --snapshot-every K a snapshot \
        is written every K commands. Prints the final state digest, which `replay` must \
        reproduce. The same seed and configuration always give the same journal, and a \
        shorter one is a prefix of a longer one."
    )]
    Generate(GenerateArgs),
}

#[derive(Args)]
struct DumpArgs {
    /// First sequence to print [default: the oldest record].
    #[arg(long, value_name = "N")]
    from: Option<u64>,
    /// Last sequence to print [default: the newest record].
    #[arg(long, value_name = "M")]
    to: Option<u64>,
    /// Also print the events each command produced.
    #[arg(long)]
    events: bool,
}

#[derive(Args)]
struct ReplayArgs {
    /// Stop after this sequence [default: the end of the journal].
    #[arg(long, value_name = "M")]
    to: Option<u64>,
    /// Ignore snapshots: replay the whole journal from its first record.
    #[arg(long)]
    no_snapshot: bool,
}

#[derive(Args)]
struct TradesArgs {
    /// First sequence whose trades are exported [default: 1].
    #[arg(long, value_name = "N")]
    from: Option<u64>,
    /// Last sequence whose trades are exported [default: the newest record].
    #[arg(long, value_name = "M")]
    to: Option<u64>,
    /// Write the CSV to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct BookArgs {
    /// The symbol, e.g. BTC-JPY.
    symbol: String,
    /// The journal sequence the book is shown after [default: the newest record].
    #[arg(long, value_name = "SEQ")]
    at: Option<u64>,
    /// Levels per side (0: every level).
    #[arg(long, value_name = "N", default_value_t = 10)]
    depth: usize,
}

#[derive(Args)]
struct TruncateArgs {
    /// Keep records up to and including this sequence; drop every later one.
    #[arg(long, value_name = "SEQ")]
    after: u64,
    /// Really do it (without it, only the plan is printed).
    #[arg(long)]
    yes: bool,
}

#[derive(Args)]
struct GenerateArgs {
    /// Commands to write in total, the deposits included.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    commands: u64,
    /// Seed of the order flow.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Write a snapshot every K commands.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    snapshot_every: Option<u64>,
    /// Bytes per journal segment [default: the configuration's `[journal] segment_size`].
    #[arg(long, value_name = "BYTES")]
    segment_size: Option<u64>,
}

/// What every subcommand works on.
struct Context {
    config: ExchangeConfig,
    data_dir: PathBuf,
    journal_dir: PathBuf,
    snapshot_dir: PathBuf,
    quiet: bool,
}

impl Context {
    fn engine_config(&self) -> &EngineConfig {
        self.config.engine_config()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // `dump | head` closes the pipe early; that is not a failure.
            if error
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("replay: error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config = match &cli.config {
        Some(path) => ExchangeConfig::load(path)?,
        None => ExchangeConfig::demo(),
    };
    let data = cli
        .data
        .clone()
        .unwrap_or_else(|| config.journal().dir.clone());
    let ctx = Context {
        journal_dir: hayate::pipeline::journal_dir(&data),
        snapshot_dir: hayate::pipeline::snapshot_dir(&data),
        data_dir: data,
        config,
        quiet: cli.quiet,
    };
    let generating = matches!(cli.command, Tool::Generate(_));
    if !generating && !ctx.journal_dir.is_dir() {
        // Reading a mistyped directory as an empty journal would report "OK" on nothing.
        return Err(format!(
            "no journal at {} (give the data directory with --data DIR)",
            ctx.journal_dir.display()
        )
        .into());
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let code = match cli.command {
        Tool::Verify => verify(&ctx, &mut out)?,
        Tool::Dump(args) => dump(&ctx, &args, &mut out)?,
        Tool::Replay(args) => replay(&ctx, &args, &mut out)?,
        Tool::Trades(args) => trades(&ctx, &args, &mut out)?,
        Tool::Book(args) => book(&ctx, &args, &mut out)?,
        Tool::Truncate(args) => truncate(&ctx, &args, &mut out)?,
        Tool::Generate(args) => generate(&ctx, &args, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}

// ---------------------------------------------------------------------------------------------
// verify

fn verify(ctx: &Context, out: &mut impl Write) -> Result<ExitCode> {
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

fn seq_range(first: Option<u64>, last: Option<u64>) -> String {
    match (first, last) {
        (Some(first), Some(last)) => format!("{first}..{last}"),
        _ => "none".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// dump

fn dump(ctx: &Context, args: &DumpArgs, out: &mut impl Write) -> Result<ExitCode> {
    let config = ctx.engine_config();
    if args.events {
        let from = args.from.unwrap_or(1).max(1);
        let mut current = 0;
        replay_range(ctx, from, args.to, |seq, command, event| {
            if seq != current {
                current = seq;
                writeln!(out, "{}", record_line(config, seq, command))?;
            }
            writeln!(out, "      {}", event.describe(config))?;
            Ok(())
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let reader = JournalReader::open(&ctx.journal_dir)?;
    for record in reader.records_from(args.from.unwrap_or(0)) {
        let record = record?;
        if args.to.is_some_and(|to| record.seq > to) {
            break;
        }
        match Command::from_bytes(record.payload) {
            Ok(command) => writeln!(out, "{}", record_line(config, record.seq, &command))?,
            Err(e) => writeln!(out, "{}  -  not a command: {e}", record.seq)?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn record_line(config: &EngineConfig, seq: u64, command: &Command) -> String {
    format!(
        "{seq}  {}  {}",
        utc_timestamp(command.timestamp_ns),
        command.describe(config)
    )
}

/// `2025-01-01T00:00:00.000000000Z` for nanoseconds since the Unix epoch; `-` for 0 (unset).
fn utc_timestamp(ns: u64) -> String {
    if ns == 0 {
        return "-".to_string();
    }
    let (secs, nanos) = (ns / 1_000_000_000, ns % 1_000_000_000);
    let (days, second_of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = hayate::adapters::fix::codec::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Rebuilds the state before `from` (newest snapshot at or before `from - 1`, then the journal),
/// then processes the commands `from..=to` itself, handing each event to `on_event`. A snapshot
/// inside the range must not be used, or the events before it would be missed; hence the two
/// steps instead of one `recovery::replay` to `to`.
fn replay_range(
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

// ---------------------------------------------------------------------------------------------
// replay

fn replay(ctx: &Context, args: &ReplayArgs, out: &mut impl Write) -> Result<ExitCode> {
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

/// The last sequence a replay to `to` reaches, when it is worth a progress bar (and a pass over
/// the journal to count it).
fn journal_end(ctx: &Context, to: Option<u64>) -> Option<u64> {
    if ctx.quiet || !io::stderr().is_terminal() {
        return None;
    }
    let reader = JournalReader::open(&ctx.journal_dir).ok()?;
    let last = reader
        .records_from(0)
        .map_while(|r| r.ok())
        .last()
        .map(|r| r.seq)?;
    Some(to.map_or(last, |to| to.min(last)))
}

/// A bar on stderr for `total` commands; hidden when `total` is unknown or small, when stderr is
/// not a terminal, or with --quiet.
fn progress_bar(ctx: &Context, total: Option<u64>) -> ProgressBar {
    let shown = !ctx.quiet && io::stderr().is_terminal();
    match total {
        Some(total) if shown && total >= PROGRESS_MIN_COMMANDS => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, {eta} left)",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        }
        _ => ProgressBar::hidden(),
    }
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

// ---------------------------------------------------------------------------------------------
// book

fn book(ctx: &Context, args: &BookArgs, out: &mut impl Write) -> Result<ExitCode> {
    let config = ctx.engine_config();
    let symbol = config.symbol_id(&args.symbol).ok_or_else(|| {
        format!(
            "unknown symbol {:?} (not in the configuration)",
            args.symbol
        )
    })?;
    let spec = &config.symbols[symbol.0 as usize];
    let last = JournalReader::open(&ctx.journal_dir)?
        .records_from(0)
        .map_while(|r| r.ok())
        .last()
        .map_or(0, |r| r.seq);
    let at = args.at.unwrap_or(last);
    if at > last {
        return Err(format!("--at {at} is past the journal's last record ({last})").into());
    }
    let (market, report) = hayate::market_data::recover(config, &ctx.data_dir, at)?;
    if let Some(warning) = &report.warning {
        writeln!(out, "warning: {warning}")?;
    }
    writeln!(
        out,
        "{} after journal sequence {at}: market-data sequence {}, {}",
        spec.name,
        market.sequence(symbol),
        match market.status(symbol) {
            hayate::market_data::TradingStatus::Open => "open",
            hayate::market_data::TradingStatus::Halted => "halted",
        }
    )?;
    let Some(l2) = market.book(symbol) else {
        return Ok(ExitCode::SUCCESS);
    };
    let depth = if args.depth == 0 {
        usize::MAX
    } else {
        args.depth
    };
    writeln!(
        out,
        "{:>6} {:>20} {:>20} {:>8}",
        "side", "price", "size", "orders"
    )?;
    let asks: Vec<_> = l2.levels(Side::Sell).take(depth).collect();
    for (price, level) in asks.iter().rev() {
        writeln!(
            out,
            "{:>6} {:>20} {:>20} {:>8}",
            "ask",
            spec.price_to_decimal(*price),
            spec.qty_to_decimal(level.qty),
            level.orders
        )?;
    }
    for (price, level) in l2.levels(Side::Buy).take(depth) {
        writeln!(
            out,
            "{:>6} {:>20} {:>20} {:>8}",
            "bid",
            spec.price_to_decimal(price),
            spec.qty_to_decimal(level.qty),
            level.orders
        )?;
    }
    match market.ticker(symbol).last {
        Some(trade) => writeln!(
            out,
            "last trade: #{} {} x {} at {} (taker {})",
            trade.trade_id,
            spec.qty_to_decimal(trade.qty),
            spec.price_to_decimal(trade.price),
            utc_timestamp(trade.timestamp_ns),
            match trade.taker_side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            }
        )?,
        None => writeln!(out, "last trade: none")?,
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// trades

fn trades(ctx: &Context, args: &TradesArgs, stdout: &mut impl Write) -> Result<ExitCode> {
    let config = ctx.engine_config();
    let mut file = match &args.out {
        Some(path) => {
            Some(BufWriter::new(File::create(path).map_err(|e| {
                format!("cannot create {}: {e}", path.display())
            })?))
        }
        None => None,
    };
    let out: &mut dyn Write = match &mut file {
        Some(file) => file,
        None => stdout,
    };
    writeln!(
        out,
        "seq,timestamp,trade_id,symbol,price,qty,taker_side,taker_account,taker_order_id,\
         maker_account,maker_order_id,taker_fee,maker_fee,fee_asset"
    )?;
    let mut taker: Option<Event> = None;
    let mut rows = 0u64;
    replay_range(
        ctx,
        args.from.unwrap_or(1).max(1),
        args.to,
        |seq, command, event| {
            if event.event_kind() != Some(EventKind::Fill) {
                return Ok(());
            }
            if !event.is_maker() {
                taker = Some(*event);
                return Ok(());
            }
            // The engine reports a trade as the taker's fill, then the maker's, same trade id.
            let trade_id = event.fill().trade_id;
            let Some(taker) = taker.take().filter(|t| t.fill().trade_id == trade_id) else {
                return Err(io::Error::other(format!(
                    "journal record {seq}: the maker fill of trade {trade_id} does not follow its \
                 taker fill"
                )));
            };
            rows += 1;
            write_trade_row(out, config, seq, command, &taker, event)
        },
    )
    .map_err(|e| match &args.out {
        Some(path) => format!("{e} (writing {})", path.display()).into(),
        None => e,
    })?;
    out.flush()?;
    if let Some(path) = &args.out {
        eprintln!("{rows} trades written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_trade_row(
    out: &mut dyn Write,
    config: &EngineConfig,
    seq: u64,
    command: &Command,
    taker: &Event,
    maker: &Event,
) -> io::Result<()> {
    let fill = maker.fill();
    let Some(spec) = config.symbol(maker.symbol) else {
        return Err(io::Error::other(format!(
            "journal record {seq}: trade {} in unknown symbol #{}",
            fill.trade_id, maker.symbol
        )));
    };
    let quote = config.asset(spec.quote);
    let fee_asset = quote.map_or("?", |asset| asset.name.as_str());
    let fee = |amount: Amount| {
        quote.map_or(amount.to_string(), |asset| {
            asset.amount_to_decimal(amount).to_string()
        })
    };
    let taker_side = match taker.side() {
        Some(Side::Buy) => "buy",
        Some(Side::Sell) => "sell",
        None => "?",
    };
    writeln!(
        out,
        "{seq},{},{},{},{},{},{taker_side},{},{},{},{},{},{},{}",
        utc_timestamp(command.timestamp_ns),
        fill.trade_id,
        csv_field(&spec.name),
        spec.price_to_decimal(fill.last_px),
        spec.qty_to_decimal(fill.last_qty),
        taker.account,
        taker.order_id,
        maker.account,
        maker.order_id,
        fee(taker.fill().fee),
        fee(fill.fee),
        csv_field(fee_asset)
    )
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// truncate

fn truncate(ctx: &Context, args: &TruncateArgs, out: &mut impl Write) -> Result<ExitCode> {
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

// ---------------------------------------------------------------------------------------------
// generate

fn generate(ctx: &Context, args: &GenerateArgs, out: &mut impl Write) -> Result<ExitCode> {
    let config = ctx.engine_config();
    let existing = snapshot_file::list_snapshots(&ctx.snapshot_dir)?;
    if let Some((_, path)) = existing.first() {
        return Err(format!(
            "{} already holds snapshots ({}); generate writes a fresh data directory",
            ctx.snapshot_dir.display(),
            path.display()
        )
        .into());
    }
    let mut flow = OrderFlow::new(&ctx.config, args.seed)?;
    let options = JournalOptions {
        segment_size: args
            .segment_size
            .unwrap_or(ctx.config.journal().segment_size),
        // One sync at the end: the generator is not acknowledging anybody.
        flush_policy: FlushPolicy::Never,
        first_seq: 1,
    };
    let (mut journal, opened) = Journal::open(&ctx.journal_dir, options)?;
    if let Some(last) = opened.last_seq {
        return Err(format!(
            "{} already holds records up to seq {last}; generate writes a fresh journal \
             (choose an empty --data)",
            ctx.journal_dir.display()
        )
        .into());
    }
    let mut engine = Engine::new(config.clone());
    let bar = progress_bar(ctx, Some(args.commands));
    let mut events = Vec::new();
    let (mut trades, mut snapshots) = (0u64, 0u64);
    // Its own generator, so that batching and snapshots never change the commands: a journal of
    // N commands is a prefix of a longer one with the same seed.
    let mut batches = Rng::new(args.seed ^ 0x6261_7463_6865_7321);
    let mut batch_left = 0;
    for n in 1..=args.commands {
        let command = flow.next_command(&engine);
        let seq = journal.append(command.as_bytes())?;
        events.clear();
        engine.process(&command, &mut events);
        for event in &events {
            flow.observe(event);
            trades += u64::from(event.event_kind() == Some(EventKind::Fill) && event.is_maker());
        }
        let snapshot_due = args.snapshot_every.is_some_and(|k| seq % k == 0);
        if batch_left == 0 {
            // Batches of varying size, as a gateway's group commit makes them.
            journal.commit()?;
            batch_left = 1 + batches.below(256);
        }
        batch_left -= 1;
        if snapshot_due {
            // The journal holds every command the snapshot covers before the snapshot exists.
            journal.sync()?;
            recovery::write_snapshot(&engine, seq, &ctx.snapshot_dir)?;
            snapshots += 1;
        }
        if seq % PROGRESS_STEP == 0 {
            bar.set_position(n);
        }
    }
    journal.sync()?;
    bar.finish_and_clear();
    let segments = journal.segment_paths().count();
    writeln!(
        out,
        "generated {} commands (sequences 1..{}) into {}: {segments} segments, {trades} trades, \
         {snapshots} snapshots in {}",
        args.commands,
        args.commands,
        ctx.journal_dir.display(),
        ctx.snapshot_dir.display()
    )?;
    writeln!(out, "digest: {:016x}", engine.digest())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_iso_8601_with_nanoseconds() {
        assert_eq!(utc_timestamp(0), "-");
        assert_eq!(utc_timestamp(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(
            utc_timestamp(generator::GENERATED_EPOCH_NS + 123),
            "2025-01-01T00:00:00.000000123Z"
        );
        // 2024-02-29T23:59:59.5Z: a leap day.
        assert_eq!(
            utc_timestamp(1_709_251_199_500_000_000),
            "2024-02-29T23:59:59.500000000Z"
        );
    }
}
