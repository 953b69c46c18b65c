//! The replay workload: the order-book bench's mixed stream as Hayate commands, and the journals
//! built from it.

use super::*;

/// Each account gets this much of each asset: far more than the stream can spend.
pub(super) const DEPOSIT: u64 = 1_000_000_000_000_000;

/// The benches' one-symbol market (`hayate_testkit::market`).
pub(super) fn engine_config() -> EngineConfig {
    hayate_config(1 << 14)
}

/// Every command of a scenario, in order: deposits, pre-population, stream. Each is stamped with
/// a receive time (1 µs apart) as the gateway would.
pub(super) fn commands_of(scenario: &Scenario) -> Vec<Command> {
    let mut translator = Translator::default();
    let mut out = Vec::with_capacity(8 + scenario.prepop.len() + scenario.ops.len());
    for account in 1..=4 {
        for asset in [BASE, QUOTE] {
            out.push(Command::deposit(AccountId(account), asset, Amount(DEPOSIT)));
        }
    }
    for (seq, op) in scenario.prepop.iter().chain(&scenario.ops).enumerate() {
        out.push(translator.command(op, seq));
    }
    let t0 = 1_700_000_000_000_000_000u64;
    for (i, cmd) in out.iter_mut().enumerate() {
        *cmd = cmd.at(t0 + 1_000 * i as u64);
    }
    out
}

pub(super) fn stream_config(len: usize) -> StreamConfig {
    StreamConfig {
        seed: 0x4a4f_5552_4e41_4c21,
        mid: MID,
        levels_per_side: 1_000,
        max_orders_per_level: 4,
        len,
    }
}

pub(super) fn is_reject(e: &Event) -> bool {
    e.kind == EventKind::Rejected as u8 || e.kind == EventKind::CommandRejected as u8
}

/// A journal of `commands` on disk, written by a live engine that processed them.
pub(super) struct ReplayFixture {
    pub(super) config: EngineConfig,
    pub(super) commands: Vec<Command>,
    /// Of which deposits and pre-population (the rest is the stream).
    pub(super) setup: usize,
    pub(super) dir: TempDir,
    pub(super) live_digest: u64,
    pub(super) live_events: u64,
    pub(super) segments: usize,
    pub(super) bytes_on_disk: u64,
    pub(super) write_time: Duration,
}

/// Processes `commands` in a live engine and journals each one (`FlushPolicy::Never`, a commit per
/// 4,096, a final `sync`), as the pipeline would; then drops the writer and checks the journal reads
/// back record for record.
pub(super) fn build_fixture(base: &Path, commands: Vec<Command>, setup: usize) -> ReplayFixture {
    let config = engine_config();
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let started = Instant::now();
    let mut engine = Engine::new(config.clone());
    let (mut journal, report) = Journal::open(dir.path(), options(FlushPolicy::Never)).unwrap();
    assert!(report.torn_tail.is_none() && report.last_seq.is_none());
    let (mut events, mut rejects) = (0u64, 0u64);
    for (i, cmd) in commands.iter().enumerate() {
        let seq = journal.append(cmd.as_bytes()).expect("append");
        debug_assert_eq!(seq, i as u64 + 1);
        engine.process(cmd, &mut |e: &Event| {
            events += 1;
            rejects += u64::from(is_reject(e));
        });
        if (i + 1) % GEN_COMMIT == 0 {
            journal.commit().expect("commit");
        }
    }
    journal.commit().expect("commit");
    journal.sync().expect("sync");
    assert_eq!(journal.last_seq(), Some(commands.len() as u64));
    let segments = journal.segment_paths().count();
    drop(journal);
    let write_time = started.elapsed();
    assert_eq!(rejects, 0, "the workload must be accepted in full");

    // Every record reads back, in order, with the bytes written.
    let reader = JournalReader::open(dir.path()).unwrap();
    let mut read = 0usize;
    for record in reader.records_from(1) {
        let record = record.expect("journal reads back");
        assert_eq!(record.seq, read as u64 + 1);
        assert_eq!(
            record.payload,
            commands[read].as_bytes(),
            "record {}",
            record.seq
        );
        read += 1;
    }
    assert_eq!(read, commands.len(), "records read == records written");
    let bytes_on_disk = reader
        .segment_paths()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    drop(reader);

    let fixture = ReplayFixture {
        config,
        commands,
        setup,
        dir,
        live_digest: engine.digest(),
        live_events: events,
        segments,
        bytes_on_disk,
        write_time,
    };
    // Replay and the in-memory baseline reproduce the live engine exactly.
    let (replayed, replay_events, _) = time_replay(&fixture);
    let (baseline, baseline_events, _) = time_in_memory(&fixture);
    assert_eq!(replayed.digest(), fixture.live_digest, "replay digest");
    assert_eq!(baseline.digest(), fixture.live_digest, "baseline digest");
    assert_eq!(replay_events, fixture.live_events, "replay events");
    assert_eq!(baseline_events, fixture.live_events, "baseline events");
    fixture
}

/// One full `recovery::replay` from scratch (opening the journal included).
pub(super) fn time_replay(f: &ReplayFixture) -> (Engine, u64, Duration) {
    let mut events = 0u64;
    let start = Instant::now();
    let (engine, report) = recovery::replay(
        &f.config,
        f.dir.path(),
        ReplayOptions {
            snapshot_dir: None,
            to_seq: None,
        },
        |_, _, _| events += 1,
        |_| {},
    )
    .expect("replay");
    let elapsed = start.elapsed();
    assert_eq!(report.replayed, f.commands.len() as u64, "replayed count");
    assert_eq!(report.last_seq, f.commands.len() as u64, "last sequence");
    (black_box(engine), events, elapsed)
}

/// The journal's share alone: open a reader, iterate every record (CRC checked), decode each
/// command, no engine.
pub(super) fn time_reader_only(f: &ReplayFixture) -> Duration {
    let start = Instant::now();
    let reader = JournalReader::open(f.dir.path()).expect("open reader");
    let (mut n, mut sum) = (0u64, 0u64);
    for record in reader.records_from(1) {
        let record = record.expect("record");
        let cmd = Command::from_bytes(record.payload).expect("a command");
        sum = sum.wrapping_add(cmd.qty);
        n += 1;
    }
    let elapsed = start.elapsed();
    black_box(sum);
    assert_eq!(n, f.commands.len() as u64);
    elapsed
}

/// `JournalReader` over a journal of one record in one 64 MiB segment: almost all of it is what
/// the reader does at the end of the journal (it inspects the unused rest of the last segment).
pub(super) fn end_of_journal_cost(base: &Path, reps: usize) -> Duration {
    let dir = tempfile::tempdir_in(base).unwrap();
    let (mut journal, _) = Journal::open(dir.path(), options(FlushPolicy::Always)).unwrap();
    journal.append(&payload_64(0)).unwrap();
    journal.commit().unwrap();
    drop(journal);
    median(
        (0..reps.max(3))
            .map(|_| {
                let start = Instant::now();
                let reader = JournalReader::open(dir.path()).unwrap();
                let mut n = 0;
                for record in reader.records_from(1) {
                    record.unwrap();
                    n += 1;
                }
                let d = start.elapsed();
                assert_eq!(n, 1);
                d
            })
            .collect(),
    )
}

/// The baseline: a fresh engine processing the same commands from memory.
pub(super) fn time_in_memory(f: &ReplayFixture) -> (Engine, u64, Duration) {
    let mut events = 0u64;
    let start = Instant::now();
    let mut engine = Engine::new(f.config.clone());
    for cmd in black_box(&f.commands) {
        engine.process(cmd, &mut |_: &Event| events += 1);
    }
    let elapsed = start.elapsed();
    (black_box(engine), events, elapsed)
}
