//! The operator's journal tool: check, read, replay, export and repair a Hayate data directory
//! without the gateway, and generate a realistic journal for tests and demos.
//!
//! A data directory `DATA` holds the journal segments in `DATA/journal/` and the snapshot files in
//! `DATA/snapshots/`. `--data` defaults to the configuration's `[journal] dir` (`data` unless the
//! file says otherwise); `--config` defaults to the demo exchange of BEHAVIOUR.md §5. Journal records are
//! 128-byte commands; amounts are printed in decimals of the configuration's units.
//!
//! ```text
//! cargo run --release --example replay -- verify
//! cargo run --release --example replay -- dump --from 10 --to 12
//! cargo run --release --example replay -- dump --from 10 --to 12 --events
//! cargo run --release --example replay -- replay
//! cargo run --release --example replay -- replay --to 5000 --no-snapshot
//! cargo run --release --example replay -- trades --from 1 --to 5000 --out trades.csv
//! cargo run --release --example replay -- trades --to-postgres postgresql://bo@db.example/hayate
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
//!
//! **Layout.** This file holds the command line and the data directory every subcommand works
//! on; each subcommand has a module of its own (`verify.rs`, `dump.rs`, `replay.rs`, `trades.rs`,
//! `book.rs`, `truncate.rs`, `generate.rs`; `to_postgres.rs` is `trades --to-postgres`),
//! `replay.rs` also the range replay that `dump --events` and `trades` share; `generator.rs` is
//! the workload `generate` writes; `progress.rs` and `format.rs` are what several subcommands
//! print with.

mod book;
mod dump;
mod format;
mod generate;
mod generator;
mod progress;
mod replay;
mod to_postgres;
mod trades;
mod truncate;
mod verify;

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use hayate::{EngineConfig, ExchangeConfig};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

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
        before --from is rebuilt from the newest snapshot at or before it first.\n\n\
        With --to-postgres URL, restores the back office's database instead (the bridge's \
        PostgreSQL tables: trades, order_events, balances and the cursor): the journal is \
        replayed from sequence 1 (it must start there) and every command after the database's \
        cursor is written in transactions of 1000 commands, each moving the cursor. Running it \
        again resumes after the cursor, so nothing is written twice; on an empty database it \
        rebuilds the tables. The database must belong to the same engine configuration (its \
        digest is stored with the cursor)."
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
    /// Write trades, order events and balances to this PostgreSQL database instead of CSV,
    /// resuming after its cursor (e.g. postgresql://user@host:5432/dbname).
    #[arg(long, value_name = "URL", conflicts_with_all = ["out", "from"])]
    to_postgres: Option<String>,
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
        Tool::Verify => verify::verify(&ctx, &mut out)?,
        Tool::Dump(args) => dump::dump(&ctx, &args, &mut out)?,
        Tool::Replay(args) => replay::replay(&ctx, &args, &mut out)?,
        Tool::Trades(args) => match &args.to_postgres {
            Some(url) => to_postgres::to_postgres(&ctx, &args, url, &mut out)?,
            None => trades::trades(&ctx, &args, &mut out)?,
        },
        Tool::Book(args) => book::book(&ctx, &args, &mut out)?,
        Tool::Truncate(args) => truncate::truncate(&ctx, &args, &mut out)?,
        Tool::Generate(args) => generate::generate(&ctx, &args, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}
