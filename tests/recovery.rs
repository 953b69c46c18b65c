//! Recovery (BEHAVIOUR.md §4): the state rebuilt from snapshot + journal tail equals a full replay and the
//! live engine's, byte for byte (digest); damaged snapshots fall back and say so; a process running
//! engine and journal killed with SIGKILL at random moments recovers every command it reported
//! durable, to the exact state a fresh engine reaches on the same commands.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use hayate::journal::{FlushPolicy, Journal, JournalOptions};
use hayate::recovery::{self, RecoveryError, ReplayOptions};
use hayate::*;

/// A deterministic command stream that depends only on the seed and the index, so a test can
/// regenerate exactly the commands a killed process had journaled.
fn command(seed: u64, i: u64) -> Command {
    let mut z = seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = move || {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    };
    let symbol = SymbolId(0);
    let account = AccountId(1 + (next() % 4) as u32);
    let side = if next() % 2 == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let id = ClientOrderId::new(&format!("c{i}")).expect("short");
    let cmd = match i {
        // Fund the four accounts first.
        0..4 => Command::deposit(AccountId(1 + i as u32), AssetId(0), Amount(1 << 40)),
        4..8 => Command::deposit(AccountId(i as u32 - 3), AssetId(1), Amount(1 << 40)),
        _ => match next() % 100 {
            0..55 => {
                let price = match side {
                    Side::Buy => 5_000_000 - next() % 40,
                    Side::Sell => 5_000_000 + next() % 40,
                };
                let qty = Qty(1 + next() % 30);
                Command::new_order(NewOrder::limit(
                    account,
                    symbol,
                    side,
                    Price(price),
                    qty,
                    id,
                ))
            }
            55..80 => {
                let back = 1 + next() % 50;
                let target = OrderId((i / 2).saturating_sub(back).max(1));
                Command::cancel(account, OrderRef::Id(target), ClientOrderId::EMPTY)
            }
            80..92 => Command::new_order(NewOrder::market(
                account,
                symbol,
                side,
                Qty(1 + next() % 20),
                id,
            )),
            92..97 => {
                let target = OrderId((i / 2).saturating_sub(1 + next() % 30).max(1));
                let price = Price(5_000_000 - 50 + next() % 100);
                Command::replace(
                    account,
                    OrderRef::Id(target),
                    id,
                    price,
                    Qty(1 + next() % 30),
                )
            }
            // The kill switch (BEHAVIOUR.md §10): engine state a restart must rebuild.
            97 if next() % 2 == 0 => Command::block(account),
            97 => Command::unblock(account),
            98 => Command::halt(Some(symbol)),
            _ => Command::resume(None).at(0),
        },
    };
    if cmd.command_kind() == Some(CommandKind::Resume) && next() % 2 == 0 {
        return Command::resume(Some(symbol)).at(i);
    }
    cmd.at(1_700_000_000_000_000_000 + i)
}

fn config() -> EngineConfig {
    ExchangeConfig::demo().engine_config().clone()
}

fn options(policy: FlushPolicy) -> JournalOptions {
    JournalOptions {
        segment_size: 256 * 1024,
        flush_policy: policy,
        first_seq: 1,
    }
}

/// Runs `n` commands live: journal each, commit per batch, process, and snapshot every
/// `snapshot_every`. Returns the live engine.
fn run_live(data: &Path, seed: u64, n: u64, snapshot_every: u64) -> Engine {
    let (mut journal, _) =
        Journal::open(data.join("journal"), options(FlushPolicy::Never)).expect("open");
    let mut engine = Engine::new(config());
    let mut sink = |_: &Event| {};
    for i in 0..n {
        let cmd = command(seed, i);
        let seq = journal.append(cmd.as_bytes()).expect("append");
        engine.process(&cmd, &mut sink);
        if seq % 64 == 0 {
            journal.commit().expect("commit");
        }
        if snapshot_every > 0 && seq % snapshot_every == 0 {
            recovery::write_snapshot(&engine, seq, &data.join("snapshots")).expect("snapshot");
        }
    }
    journal.commit().expect("commit");
    engine
}

fn replay(data: &Path, snapshots: bool) -> (Engine, recovery::RecoveryReport) {
    let snapshot_dir = data.join("snapshots");
    recovery::replay(
        &config(),
        &data.join("journal"),
        ReplayOptions {
            snapshot_dir: snapshots.then_some(snapshot_dir.as_path()),
            to_seq: None,
        },
        |_, _, _| {},
        |_| {},
    )
    .expect("replay")
}

#[test]
fn snapshot_plus_tail_equals_full_replay_equals_the_live_engine() {
    let data = tempfile::tempdir().expect("tempdir");
    let live = run_live(data.path(), 1, 20_000, 3_000);
    let (full, full_report) = replay(data.path(), false);
    let (from_snapshot, report) = replay(data.path(), true);
    assert_eq!(full_report.replayed, 20_000);
    assert_eq!(
        report.snapshot.as_ref().map(|s| s.0),
        Some(18_000),
        "{report}"
    );
    assert_eq!(report.replayed, 2_000);
    assert_eq!(full.digest(), live.digest());
    assert_eq!(from_snapshot.digest(), live.digest());
    assert_eq!(from_snapshot.save(), live.save());

    // recover() opens the writer too and continues the sequence.
    let (engine, journal, report) = recovery::recover(
        &config(),
        &data.path().join("journal"),
        &data.path().join("snapshots"),
        options(FlushPolicy::Always),
    )
    .expect("recover");
    assert_eq!(engine.digest(), live.digest());
    assert_eq!(journal.next_seq(), 20_001);
    assert_eq!(report.last_seq, 20_000);
    assert_eq!(report.blocked_accounts, live.blocked_accounts());
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_an_older_one_then_to_a_full_replay() {
    let data = tempfile::tempdir().expect("tempdir");
    let live = run_live(data.path(), 2, 9_000, 4_000);
    let snapshots = hayate::journal::snapshot_file::list_snapshots(data.path().join("snapshots"))
        .expect("list");
    assert_eq!(
        snapshots.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![4_000, 8_000]
    );

    let flip = |path: &Path| {
        let mut bytes = std::fs::read(path).expect("read");
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        std::fs::write(path, bytes).expect("write");
    };
    flip(&snapshots[1].1);
    let (engine, report) = replay(data.path(), true);
    assert_eq!(
        report.snapshot.as_ref().map(|s| s.0),
        Some(4_000),
        "{report}"
    );
    assert_eq!(report.skipped_snapshots.len(), 1, "{report}");
    assert!(
        report.skipped_snapshots[0].contains("snapshot-00000000000000008000"),
        "{report}"
    );
    assert_eq!(engine.digest(), live.digest());

    flip(&snapshots[0].1);
    let (engine, report) = replay(data.path(), true);
    assert!(report.snapshot.is_none(), "{report}");
    assert_eq!(report.skipped_snapshots.len(), 2, "{report}");
    assert_eq!(report.replayed, 9_000);
    assert_eq!(engine.digest(), live.digest());
}

#[test]
fn retention_keeps_the_journal_tail_of_every_kept_snapshot() {
    let data = tempfile::tempdir().expect("tempdir");
    let live = run_live(data.path(), 3, 30_000, 5_000);
    let (mut journal, _) =
        Journal::open(data.path().join("journal"), options(FlushPolicy::Always)).expect("open");
    let segments_before = journal.segment_paths().count();
    let deleted = recovery::apply_retention(&mut journal, &data.path().join("snapshots"), 2)
        .expect("retention");
    drop(journal);
    assert_eq!(
        deleted.snapshots.len(),
        4,
        "snapshots at 5k..20k go, 25k and 30k stay"
    );
    assert!(!deleted.segments.is_empty() && deleted.segments.len() < segments_before);
    let (engine, report) = replay(data.path(), true);
    assert_eq!(report.snapshot.as_ref().map(|s| s.0), Some(30_000));
    assert_eq!(engine.digest(), live.digest());

    // The older kept snapshot still has its tail: replay up to 29,999 must start from 25,000.
    let (engine, report) = recovery::replay(
        &config(),
        &data.path().join("journal"),
        ReplayOptions {
            snapshot_dir: Some(&data.path().join("snapshots")),
            to_seq: Some(29_999),
        },
        |_, _, _| {},
        |_| {},
    )
    .expect("replay to 29,999");
    assert_eq!(report.snapshot.as_ref().map(|s| s.0), Some(25_000));
    let mut fresh = Engine::new(config());
    for i in 0..29_999 {
        fresh.process(&command(3, i), &mut |_: &Event| {});
    }
    assert_eq!(engine.digest(), fresh.digest());
}

#[test]
fn a_snapshot_taken_under_another_configuration_is_refused() {
    let data = tempfile::tempdir().expect("tempdir");
    run_live(data.path(), 4, 3_000, 1_000);
    let mut changed = config();
    changed.symbols[0].taker_fee_bps += 1;
    let err = recovery::replay(
        &changed,
        &data.path().join("journal"),
        ReplayOptions {
            snapshot_dir: Some(&data.path().join("snapshots")),
            to_seq: None,
        },
        |_, _, _| {},
        |_| {},
    )
    .err()
    .expect("must refuse");
    assert!(matches!(err, RecoveryError::ConfigChanged { .. }), "{err}");
}

#[test]
fn a_record_that_is_not_a_command_stops_recovery_and_names_its_sequence() {
    let data = tempfile::tempdir().expect("tempdir");
    run_live(data.path(), 5, 100, 0);
    let (mut journal, _) =
        Journal::open(data.path().join("journal"), options(FlushPolicy::Always)).expect("open");
    journal.append(b"not a command").expect("append");
    journal.commit().expect("commit");
    drop(journal);
    let err = recovery::replay(
        &config(),
        &data.path().join("journal"),
        ReplayOptions::default(),
        |_, _, _| {},
        |_| {},
    )
    .err()
    .expect("must fail");
    assert!(
        matches!(err, RecoveryError::BadRecord { seq: 101, .. }),
        "{err}"
    );
}

const CHILD_DIR: &str = "HAYATE_RECOVERY_CHILD_DIR";
const CHILD_SEED: &str = "HAYATE_RECOVERY_CHILD_SEED";

/// The child of the crash test: journals each command before processing it, group-commits
/// batches of varying size with `always`, prints each durable sequence, snapshots now and then,
/// and runs until killed (or 5 s pass).
#[test]
#[ignore = "run by kill_9_recovery_keeps_every_durable_command as a child process"]
fn crash_child() {
    let (Ok(dir), Ok(seed)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_SEED)) else {
        return;
    };
    let seed: u64 = seed.parse().expect("seed");
    let data = Path::new(&dir);
    let (mut engine, mut journal, _) = recovery::recover(
        &config(),
        &data.join("journal"),
        &data.join("snapshots"),
        options(FlushPolicy::Always),
    )
    .expect("child recovery");
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").expect("stdout");
    out.flush().expect("flush");
    let started = Instant::now();
    let mut i = journal.next_seq() - 1;
    while started.elapsed() < Duration::from_secs(5) {
        let batch = 1 + (i * 7 + seed) % 40;
        for _ in 0..batch {
            let cmd = command(seed, i);
            journal.append(cmd.as_bytes()).expect("append");
            engine.process(&cmd, &mut |_: &Event| {});
            i += 1;
        }
        let durable = journal.commit().expect("commit");
        writeln!(out, "durable {durable}").expect("stdout");
        out.flush().expect("flush");
        if durable % 500 < batch {
            recovery::write_snapshot(&engine, durable, &data.join("snapshots")).expect("snapshot");
        }
    }
}

#[test]
fn kill_9_recovery_keeps_every_durable_command() {
    let exe = std::env::current_exe().expect("test binary");
    let trials = 30;
    let mut recovered_past_durable = 0;
    for trial in 0..trials {
        let data = tempfile::tempdir().expect("tempdir");
        let seed = 1_000 + trial;
        let mut child = Process::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_DIR, data.path())
            .env(CHILD_SEED, seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("piped");
        // Read the child's reports on a thread so the kill moment is ours, not the pipe's.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut durable = 0u64;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may print its own "test crash_child ... " ahead of the child's words on
                // the same line, so look at the end of the line.
                if line.ends_with("ready") {
                    let _ = ready_tx.send(());
                } else if let Some((_, seq)) = line.rsplit_once("durable ") {
                    durable = seq.trim().parse().unwrap_or(durable);
                }
            }
            durable
        });
        let ready = ready_rx.recv_timeout(Duration::from_secs(30));
        if ready.is_ok() {
            std::thread::sleep(Duration::from_millis(1 + (trial * 37) % 120));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let durable = reader.join().expect("reader");
        assert!(
            ready.is_ok(),
            "trial {trial}: the child did not start within 30 s"
        );

        let (engine, journal, report) = recovery::recover(
            &config(),
            &data.path().join("journal"),
            &data.path().join("snapshots"),
            options(FlushPolicy::Always),
        )
        .unwrap_or_else(|e| panic!("trial {trial}: recovery failed: {e}"));
        assert!(
            report.last_seq >= durable,
            "trial {trial}: the child reported {durable} durable but recovery reached {}",
            report.last_seq
        );
        if report.last_seq > durable {
            recovered_past_durable += 1;
        }
        assert_eq!(journal.next_seq(), report.last_seq + 1);
        let mut fresh = Engine::new(config());
        for i in 0..report.last_seq {
            fresh.process(&command(seed, i), &mut |_: &Event| {});
        }
        assert_eq!(engine.digest(), fresh.digest(), "trial {trial}: {report}");
    }
    // Killing between an append and its commit leaves records past the last reported durable
    // sequence (they are in the page cache): seen in most trials, so the kill really lands mid-run.
    assert!(recovered_past_durable > 0, "no trial was killed mid-batch");
}

#[test]
fn a_snapshot_past_the_end_of_the_journal_is_skipped() {
    let data = tempfile::tempdir().expect("tempdir");
    let live = run_live(data.path(), 6, 6_000, 2_000);
    // The operator cuts the journal back to 4,500: the snapshot at 6,000 describes lost commands.
    hayate::journal::repair::truncate_after(data.path().join("journal"), 4_500).expect("truncate");
    let (engine, journal, report) = recovery::recover(
        &config(),
        &data.path().join("journal"),
        &data.path().join("snapshots"),
        options(FlushPolicy::Always),
    )
    .expect("recover");
    assert_eq!(
        report.snapshot.as_ref().map(|s| s.0),
        Some(4_000),
        "{report}"
    );
    assert!(
        report.skipped_snapshots[0].contains("past the end of the journal"),
        "{report}"
    );
    assert_eq!(report.last_seq, 4_500);
    assert_eq!(journal.next_seq(), 4_501);
    let mut fresh = Engine::new(config());
    for i in 0..4_500 {
        fresh.process(&command(6, i), &mut |_: &Event| {});
    }
    assert_eq!(engine.digest(), fresh.digest());
    assert_ne!(engine.digest(), live.digest());
}

/// The engine snapshot the build before the protections wrote: `Engine::save()` of hayate-core at
/// commit 10fddbb (format 2) after [`old_snapshot_config`] and [`old_snapshot_commands`], stamped
/// from 1_700_000_000_000_000_000 on, one nanosecond apart.
const FORMAT_2_SNAPSHOT: &[u8] = include_bytes!("fixtures/engine-snapshot-format2.bin");

/// The engine snapshot the build before the circuit breaker wrote (format 3, branch
/// `protections` after its merge of main): the same config with `max_notional` 2^50 and the same
/// commands, stamped alike, then `block` of account 1.
const FORMAT_3_SNAPSHOT: &[u8] = include_bytes!("fixtures/engine-snapshot-format3.bin");

/// The configuration both older snapshots were taken under (no breaker: they could not have one).
fn old_snapshot_config() -> EngineConfig {
    use rust_decimal::Decimal;
    EngineConfig {
        assets: vec![
            AssetSpec {
                name: "BTC".into(),
                decimals: 8,
            },
            AssetSpec {
                name: "JPY".into(),
                decimals: 4,
            },
        ],
        symbols: vec![SymbolSpec {
            name: "BTC-JPY".into(),
            base: AssetId(0),
            quote: AssetId(1),
            tick_size: Decimal::ONE,
            lot_size: Decimal::new(1, 4),
            unit_notional: 1,
            lot_base_minor: 10_000,
            min_qty: Qty(1),
            max_qty: Qty(10_000_000),
            maker_fee_bps: 0,
            taker_fee_bps: 10,
            band_bps: 1000,
            reference_price: Some(Price(5_000_000)),
            max_notional: SymbolSpec::NO_NOTIONAL_LIMIT,
            breaker: None,
        }],
        accounts: vec![AccountId(1), AccountId(2)],
        max_open_orders: 10_000,
        order_capacity: 1024,
        level_capacity: 64,
    }
}

fn old_snapshot_commands() -> Vec<Command> {
    let cid = |s: &str| ClientOrderId::new(s).expect("short");
    let (a1, a2, sym) = (AccountId(1), AccountId(2), SymbolId(0));
    vec![
        Command::deposit(a1, AssetId(1), Amount(1_000_000_000_000)),
        Command::deposit(a2, AssetId(0), Amount(1_000_000_000)),
        Command::new_order(NewOrder::limit(
            a2,
            sym,
            Side::Sell,
            Price(5_000_000),
            Qty(10),
            cid("s1"),
        )),
        Command::new_order(NewOrder::limit(
            a1,
            sym,
            Side::Buy,
            Price(4_990_000),
            Qty(5),
            cid("b1"),
        )),
        Command::new_order(NewOrder::limit(
            a1,
            sym,
            Side::Buy,
            Price(5_000_000),
            Qty(3),
            cid("t1"),
        )),
        Command::halt(None),
        Command::resume(None),
        Command::epoch(2, 8),
    ]
}

/// Loads an older snapshot and checks it is the state this build reaches on `commands` (then
/// saving it writes format 4). Timestamps matter only to the circuit breaker's clock (format 4),
/// which an older snapshot loads at 0, so the commands run unstamped here.
fn assert_old_snapshot_loads(
    bytes: &[u8],
    format: u32,
    config: &EngineConfig,
    commands: &[Command],
) -> Engine {
    assert_eq!(&bytes[8..12], &format.to_le_bytes(), "the fixture's format");
    let mut fresh = Engine::new(config.clone());
    for c in commands {
        fresh.process(c, &mut Vec::new());
    }
    let loaded = Engine::load(bytes).expect("an older snapshot loads");
    assert_eq!(loaded.config(), config);
    assert_eq!(loaded.clock(), 0);
    assert_eq!(loaded.save(), fresh.save());
    assert_eq!(&loaded.save()[8..12], &4u32.to_le_bytes());
    loaded
}

/// BEHAVIOUR.md §10 added to the snapshot (format 3: `max_notional`, blocked flags). A format 2
/// snapshot still loads, as no limit and nothing blocked, into exactly the state this build
/// reaches on the same commands.
#[test]
fn format_2_snapshot_still_loads() {
    let loaded = assert_old_snapshot_loads(
        FORMAT_2_SNAPSHOT,
        2,
        &old_snapshot_config(),
        &old_snapshot_commands(),
    );
    assert!(loaded.blocked_accounts().is_empty());
    assert_eq!(loaded.epochs(), [(2, 8)]);
    assert_eq!(loaded.open_orders(AccountId(2))[0].leaves_qty, Qty(7));
}

/// The circuit breaker added to the snapshot (format 4: its config, each symbol's anchor, recent
/// trades and halt, the engine's clock). A format 3 snapshot still loads, with no breaker, its
/// limit and its block intact.
#[test]
fn format_3_snapshot_still_loads() {
    let mut config = old_snapshot_config();
    config.symbols[0].max_notional = Amount(1 << 50);
    let mut commands = old_snapshot_commands();
    commands.push(Command::block(AccountId(1)));
    let loaded = assert_old_snapshot_loads(FORMAT_3_SNAPSHOT, 3, &config, &commands);
    assert_eq!(loaded.blocked_accounts(), [AccountId(1)]);
    assert_eq!(loaded.config().symbols[0].breaker, None);
    assert!(loaded.open_orders(AccountId(1)).is_empty());
}
