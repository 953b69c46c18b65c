//! The operator's journal tool (`examples/replay/`) run as a real process, the way an operator
//! runs it: on a journal it generated, then on the same journal damaged, exported and truncated.
//!
//! The tool is the example binary built next to this test (`target/<profile>/examples/replay`);
//! the tests build it themselves when `cargo test --test replay_tool` did not.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use hayate::journal::record::frame_len;
use hayate::recovery::{self, ReplayOptions};
use hayate::*;
use hayate_testkit::example::{example_binary, wait_bounded};
use tempfile::TempDir;

/// No single run of the tool may take longer (a debug build generates 20,000 commands in about
/// a second).
const TIMEOUT: Duration = Duration::from_secs(120);
/// Commands in the generated journal.
const COMMANDS: u64 = 20_000;
/// Segments of 1 MiB hold about 7,000 commands, so the journal spans three segments.
const SEGMENT_SIZE: u64 = 1 << 20;

/// The replay example, built once per test run (see `hayate_testkit::example`).
fn tool() -> &'static Path {
    static TOOL: OnceLock<PathBuf> = OnceLock::new();
    TOOL.get_or_init(|| example_binary("replay"))
}

/// What one run of the tool did.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The 16 hex digits after `digest: `.
    fn digest(&self) -> String {
        let line = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("digest: "))
            .unwrap_or_else(|| panic!("no digest line in:\n{}", self.stdout));
        assert_eq!(line.len(), 16, "digest is 16 hex digits: {line}");
        assert!(line.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
        line.to_string()
    }

    /// The number after `prefix` on the line that starts with it.
    fn number_after(&self, prefix: &str) -> u64 {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{}", self.stdout))
    }
}

/// Runs the tool on `data` with `args`, waiting at most [`TIMEOUT`]. Output goes to files, so a
/// chatty run can't block on a full pipe.
fn run_tool(data: &Path, args: &[&str]) -> Run {
    let capture = TempDir::new().expect("temp dir for the output");
    let stdout_path = capture.path().join("stdout");
    let stderr_path = capture.path().join("stderr");
    let child = Process::new(tool())
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start the replay example");
    let status = wait_bounded(child, TIMEOUT, &format!("replay {}", args.join(" ")));
    let read = |path: &Path| std::fs::read_to_string(path).expect("read the tool's output");
    Run {
        status,
        stdout: read(&stdout_path),
        stderr: read(&stderr_path),
    }
}

/// Runs the tool and requires success.
fn run_ok(data: &Path, args: &[&str]) -> Run {
    let run = run_tool(data, args);
    assert!(
        run.status.success(),
        "`replay {}` failed ({}):\n{}\n{}",
        args.join(" "),
        run.status,
        run.stdout,
        run.stderr
    );
    run
}

/// A data directory with a generated journal of [`COMMANDS`] commands and snapshots every 5,000,
/// and the digest `generate` printed.
fn generated() -> (TempDir, String) {
    let data = TempDir::new().expect("temp data dir");
    let run = run_ok(
        data.path(),
        &[
            "generate",
            "--commands",
            &COMMANDS.to_string(),
            "--seed",
            "42",
            "--snapshot-every",
            "5000",
            "--segment-size",
            &SEGMENT_SIZE.to_string(),
        ],
    );
    (data, run.digest())
}

fn segments(data: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data.join("journal"))
        .expect("journal dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    paths.sort();
    paths
}

fn flip_byte(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).expect("read file to damage");
    bytes[offset] ^= 0x5a;
    std::fs::write(path, bytes).expect("write damaged file");
}

#[test]
fn replay_from_snapshots_equals_full_replay_and_the_generated_digest() {
    let (data, generated) = generated();
    let from_snapshot = run_ok(data.path(), &["replay", "--quiet"]);
    let full = run_ok(data.path(), &["replay", "--no-snapshot", "--quiet"]);
    assert_eq!(from_snapshot.digest(), generated);
    assert_eq!(full.digest(), generated);
    assert_eq!(from_snapshot.number_after("last sequence:"), COMMANDS);
    assert_eq!(full.number_after("commands replayed:"), COMMANDS);
    assert!(
        from_snapshot.stdout.contains("loaded snapshot at 20000"),
        "{}",
        from_snapshot.stdout
    );
    assert!(
        full.stdout.contains("no snapshot: full replay"),
        "{}",
        full.stdout
    );
    assert!(
        full.stdout.contains("BTC-JPY: reference price"),
        "{}",
        full.stdout
    );
}

#[test]
fn replay_to_a_sequence_matches_generating_that_many_commands() {
    let (data, _) = generated();
    let shorter = TempDir::new().expect("temp data dir");
    let generated = run_ok(
        shorter.path(),
        &["generate", "--commands", "12345", "--seed", "42"],
    );
    let replayed = run_ok(data.path(), &["replay", "--to", "12345"]);
    assert_eq!(replayed.number_after("last sequence:"), 12_345);
    assert_eq!(replayed.digest(), generated.digest());
}

#[test]
fn verify_passes_on_a_clean_journal() {
    let (data, _) = generated();
    let run = run_tool(data.path(), &["verify"]);
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("20000 records, sequences 1..20000"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("problems: 0"), "{}", run.stdout);
    assert!(run.stdout.contains("torn tail: none"), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("  ok").count(),
        4,
        "four good snapshots:\n{}",
        run.stdout
    );
}

#[test]
fn verify_names_the_segment_and_offset_of_a_flipped_byte() {
    let (data, _) = generated();
    let first = segments(data.path()).into_iter().next().expect("a segment");
    let flipped = (SEGMENT_SIZE / 2) as usize;
    flip_byte(&first, flipped);

    let run = run_tool(data.path(), &["verify"]);
    assert_eq!(run.status.code(), Some(1), "{}\n{}", run.stdout, run.stderr);
    let name = first
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name");
    let offset: usize = run
        .stdout
        .lines()
        .filter(|l| l.contains(name))
        .find_map(|l| l.split("at byte offset ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no problem naming {name} and an offset:\n{}", run.stdout));
    let frame = frame_len(std::mem::size_of::<Command>());
    assert!(
        offset <= flipped && flipped < offset + frame,
        "the reported frame at {offset} holds the flipped byte {flipped}:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("CRC mismatch"), "{}", run.stdout);
    assert!(run.stdout.contains("result: DAMAGED"), "{}", run.stdout);
}

#[test]
fn replay_skips_a_corrupt_newest_snapshot_and_gives_the_same_digest() {
    let (data, generated) = generated();
    let newest = data
        .path()
        .join("snapshots")
        .join("snapshot-00000000000000020000.snap");
    let len = std::fs::metadata(&newest).expect("newest snapshot").len() as usize;
    flip_byte(&newest, len / 2);

    let run = run_ok(data.path(), &["replay"]);
    assert_eq!(run.digest(), generated);
    assert!(
        run.stdout.contains("loaded snapshot at 15000"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("skipped") && run.stdout.contains("snapshot-00000000000000020000.snap"),
        "says it skipped the newest snapshot:\n{}",
        run.stdout
    );
    assert_eq!(run.number_after("commands replayed:"), 5000);

    let verify = run_tool(data.path(), &["verify"]);
    assert_eq!(verify.status.code(), Some(1), "{}", verify.stdout);
    assert!(verify.stdout.contains("BAD: "), "{}", verify.stdout);
}

/// One side of a trade as the engine reported it in process.
#[derive(Debug, PartialEq)]
struct Party {
    account: u32,
    order_id: u64,
    side: Option<Side>,
}

#[test]
fn trades_has_one_row_per_trade_with_consistent_taker_and_maker() {
    let (data, _) = generated();
    let config = ExchangeConfig::demo();
    let mut takers = HashMap::new();
    let mut makers = HashMap::new();
    recovery::replay(
        config.engine_config(),
        &data.path().join("journal"),
        ReplayOptions::default(),
        |_, _, event| {
            if event.event_kind() == Some(EventKind::Fill) {
                let side = Party {
                    account: event.account.0,
                    order_id: event.order_id.0,
                    side: event.side(),
                };
                let sides = if event.is_maker() {
                    &mut makers
                } else {
                    &mut takers
                };
                assert!(sides.insert(event.fill().trade_id.0, side).is_none());
            }
        },
        |_| {},
    )
    .expect("in-process replay");
    assert!(
        makers.len() > 100,
        "the generated flow trades: {}",
        makers.len()
    );
    assert_eq!(takers.len(), makers.len());

    let csv = data.path().join("trades.csv");
    let csv_arg = csv.to_str().expect("utf-8 temp path");
    run_ok(data.path(), &["trades", "--out", csv_arg]);
    let text = std::fs::read_to_string(&csv).expect("trades.csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "seq,timestamp,trade_id,symbol,price,qty,taker_side,taker_account,taker_order_id,\
             maker_account,maker_order_id,taker_fee,maker_fee,fee_asset"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), makers.len(), "one row per trade");
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 14, "{row:?}");
        let trade_id: u64 = row[2].parse().expect("trade_id");
        assert_eq!(trade_id, index as u64 + 1, "trades in id order");
        let taker = &takers[&trade_id];
        let maker = &makers[&trade_id];
        let side = match taker.side {
            Some(Side::Buy) => "buy",
            Some(Side::Sell) => "sell",
            None => panic!("a fill without a side"),
        };
        assert_eq!(row[6], side, "{row:?}");
        assert_eq!(row[7], taker.account.to_string(), "{row:?}");
        assert_eq!(row[8], taker.order_id.to_string(), "{row:?}");
        assert_eq!(row[9], maker.account.to_string(), "{row:?}");
        assert_eq!(row[10], maker.order_id.to_string(), "{row:?}");
        assert_ne!(row[7], row[9], "no self-trade: {row:?}");
        assert_eq!((row[3], row[13]), ("BTC-JPY", "JPY"));
        assert!(row[1].ends_with('Z') && row[1].contains('T'), "{row:?}");
        let fee = |s: &str| s.parse::<f64>().expect("fee");
        assert!(
            fee(row[11]) >= fee(row[12]),
            "taker pays at least the maker fee: {row:?}"
        );
    }

    // A range exports only the trades of its commands.
    let run = run_ok(data.path(), &["trades", "--from", "15001", "--to", "16000"]);
    let in_range = rows
        .iter()
        .filter(|r| (15_001..=16_000).contains(&r[0].parse::<u64>().expect("seq")))
        .count();
    assert_eq!(run.stdout.lines().count(), in_range + 1, "{}", run.stdout);
}

#[test]
fn dump_prints_one_line_per_record_in_the_range() {
    let (data, _) = generated();
    let run = run_ok(data.path(), &["dump", "--from", "10", "--to", "12"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for (line, seq) in lines.iter().zip(10..) {
        let fields: Vec<&str> = line.splitn(3, "  ").collect();
        assert_eq!(fields[0], seq.to_string(), "{line}");
        assert!(
            fields[1].starts_with("2025-01-01T") && fields[1].ends_with('Z'),
            "{line}"
        );
    }

    let with_events = run_ok(
        data.path(),
        &["dump", "--from", "10", "--to", "12", "--events"],
    );
    let records: Vec<&str> = with_events
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .collect();
    assert_eq!(records, lines, "the same records, with events between");
    assert!(
        with_events.stdout.lines().count() > 3,
        "{}",
        with_events.stdout
    );
}

#[test]
fn truncate_needs_yes_then_verify_passes_and_replay_reports_the_kept_seq() {
    let (data, _) = generated();
    let refused = run_tool(data.path(), &["truncate", "--after", "12345"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(
        refused.stdout.contains("drop 7655 records"),
        "{}",
        refused.stdout
    );
    run_ok(data.path(), &["verify"]);
    assert_eq!(
        run_ok(data.path(), &["replay", "--quiet"]).number_after("last sequence:"),
        COMMANDS,
        "nothing changed without --yes"
    );

    let done = run_ok(data.path(), &["truncate", "--after", "12345", "--yes"]);
    assert!(done.stdout.contains("deleted segment"), "{}", done.stdout);
    assert!(
        done.stdout.contains("set aside snapshot"),
        "{}",
        done.stdout
    );
    let verify = run_ok(data.path(), &["verify"]);
    assert!(
        verify.stdout.contains("sequences 1..12345"),
        "{}",
        verify.stdout
    );
    let replay = run_ok(data.path(), &["replay"]);
    assert_eq!(replay.number_after("last sequence:"), 12_345);
    assert!(
        replay.stdout.contains("loaded snapshot at 10000"),
        "{}",
        replay.stdout
    );
}

#[test]
fn a_missing_journal_is_an_error_naming_the_directory() {
    let data = TempDir::new().expect("temp data dir");
    let run = run_tool(&data.path().join("nowhere"), &["verify"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
}

#[test]
fn book_at_a_sequence_is_the_engine_book_then_and_a_market_snapshot_does_not_change_it() {
    // "What did the book look like when it happened?" — the tool's book after sequence N is
    // the engine's book after N, and the market-data sequence is the same whether it is rebuilt
    // from the journal alone or from a market-data snapshot taken earlier.
    let (data, _) = generated();
    let config = ExchangeConfig::demo();
    let at = 12_345u64;
    let (engine, _) = recovery::replay(
        config.engine_config(),
        &hayate::pipeline::journal_dir(data.path()),
        ReplayOptions {
            snapshot_dir: None,
            to_seq: Some(at),
        },
        |_, _, _| {},
        |_| {},
    )
    .expect("replay");
    let symbol = config.engine_config().symbol_id("BTC-JPY").expect("symbol");
    let spec = &config.engine_config().symbols[symbol.0 as usize];
    let run = run_ok(
        data.path(),
        &["book", "BTC-JPY", "--at", &at.to_string(), "--depth", "0"],
    );
    let rows = |label: &str| -> Vec<(String, String, String)> {
        run.stdout
            .lines()
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() == 4 && cols[0] == label)
                    .then(|| (cols[1].to_owned(), cols[2].to_owned(), cols[3].to_owned()))
            })
            .collect()
    };
    for (side, label) in [(Side::Buy, "bid"), (Side::Sell, "ask")] {
        let mut expected: Vec<(String, String, String)> = engine
            .depth(symbol, side)
            .into_iter()
            .map(|(p, q, n)| {
                (
                    spec.price_to_decimal(p).to_string(),
                    spec.qty_to_decimal(q).to_string(),
                    n.to_string(),
                )
            })
            .collect();
        if side == Side::Sell {
            expected.reverse(); // offers are printed above the bids, best last
        }
        assert!(!expected.is_empty(), "the generated book has {label}s");
        assert_eq!(rows(label), expected, "{label}s:\n{}", run.stdout);
    }
    let header = run.stdout.lines().next().expect("a first line").to_owned();
    assert!(
        header.starts_with(&format!(
            "BTC-JPY after journal sequence {at}: market-data sequence "
        )),
        "{header}"
    );

    // A market-data snapshot at an earlier sequence, made by the library as the gateway makes
    // them: the tool starts from it and must land on the same book and sequence.
    let (market, _) =
        hayate::market_data::recover(config.engine_config(), data.path(), 10_000).expect("md");
    hayate::market_data::write_snapshot(
        &market,
        &hayate::market_data::snapshot_dir(data.path()),
        3,
    )
    .expect("md snapshot");
    let again = run_ok(
        data.path(),
        &["book", "BTC-JPY", "--at", &at.to_string(), "--depth", "0"],
    );
    assert_eq!(again.stdout, run.stdout);
}
