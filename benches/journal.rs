//! Journal throughput: Hayate's memory-mapped journal against plain `std::fs` baselines, all in the
//! same run so the ratios hold on a noisy machine.
//!
//! Run: `cargo bench --bench journal` (the summary printed at the end is what the README quotes;
//! `HAYATE_BENCH_SKIP_10M=1` skips the 10-million-command recovery, `HAYATE_BENCH_DIR` sets where
//! the temporary journals go, default the system temp dir).
//!
//! Groups:
//!
//! - `journal/append_64B`: 64-byte records (a fixed 64-byte array with a counter written into its
//!   first 8 bytes), `commit()` after every 256 records as the journaler stage does at batch ends.
//!   - `hayate_never`: `FlushPolicy::Never`, 64 MiB segments, steady state: roll-overs happen at
//!     their natural rate (one per 838,860 records) and are timed. Creating the first segment is
//!     not timed; retention deletes full segments between samples (not timed).
//!   - `hayate_never_between_rollovers`: the same, but a segment that fills up is replaced by a
//!     freshly opened journal outside the timed region: the cost of the append path alone.
//!   - `bufwriter`: `BufWriter<File>` (default 8 KiB buffer) over a new file, writing per record the
//!     same 80 bytes the journal's frame occupies (a 16-byte header of length, a zero CRC field and
//!     the sequence, then the 64-byte payload; no CRC is computed) and calling `flush()` at the
//!     same 256-record batch ends.
//! - `journal/durable_always`: 128-byte command records (real commands from the replay workload)
//!   in batches of 1, 16 and 256. One iteration = append the batch + `commit()` with
//!   `FlushPolicy::Always` (one `msync` per batch). Criterion's time per iteration is the mean
//!   per-batch commit latency; its throughput is durable commands per second. Baseline
//!   `bufwriter_fdatasync`: the classic append: `BufWriter<File>` writes 16-byte header + command per
//!   record (144 bytes, the journal's frame size), then `flush()` + `File::sync_data()` per batch.
//! - `journal/replay`: a 1,000,000-command journal of a realistic order flow (the order-book bench's
//!   mixed stream, `hayate_testkit::stream`: deposits and a 1,000-level pre-populated book, then ~60%
//!   limits near the touch, ~25% cancels, ~10% IOC/market, ~5% replaces; zero rejects) replayed by
//!   `hayate::recovery::replay` into a fresh engine (open, read, CRC check, decode, process). Baseline
//!   `engine_in_memory`: a fresh engine processing the same commands from a `Vec<Command>`, so the
//!   ratio is the journal's read + CRC + decode overhead. Both count events in a closure sink.
//!
//! Then a printed summary re-measures everything with plain `Instant` timing (medians), adds
//! per-batch commit latency percentiles, the cost of a segment roll-over, and the 10-million-command
//! recovery against its targets (< 3 s, >= 5 M commands/s), warm and with the segment files evicted
//! from the page cache.
//!
//! Before anything is timed the bench checks: every record reads back in order with the bytes
//! written; the replayed engine's digest equals the digest of the live engine that produced the
//! journal and of the in-memory baseline, with the same event count and zero rejects.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use hayate::journal::{FlushPolicy, Journal, JournalOptions, JournalReader};
use hayate::recovery::{self, ReplayOptions};
use hayate::{
    AccountId, Amount, ClientOrderId, Command, Engine, EngineConfig, Event, EventKind, NewOrder,
    OrderId, OrderRef, Price, Qty, Side, SymbolId, TimeInForce,
};
use tempfile::TempDir;

use hayate_testkit::market::{BASE, MID, QUOTE, hayate_config};
use hayate_testkit::stream::{self, Op, OpSide, Scenario, StreamConfig};

const MIB: u64 = 1 << 20;
/// Segment size for every journal here (the default).
const SEGMENT_SIZE: u64 = 64 * MIB;
/// The journal's per-frame header (tagged length, CRC32C, sequence).
const FRAME_HEADER: usize = 16;
/// Records per batch (commit) in the append group.
const APPEND_BATCH: u64 = 256;
/// Records per timed block in the append group's criterion iterations.
const APPEND_BLOCK: u64 = 65_536;
/// Batch sizes of the durable group.
const DURABLE_BATCHES: [usize; 3] = [1, 16, 256];
/// Commit interval while generating the replay journals.
const GEN_COMMIT: usize = 4096;

// ----- workload: the order-book bench's mixed stream as Hayate commands ----------------------

const SYMBOL: SymbolId = SymbolId(0);
/// Each account gets this much of each asset: far more than the stream can spend.
const DEPOSIT: u64 = 1_000_000_000_000_000;

/// The benches' one-symbol market (`hayate_testkit::market`).
fn engine_config() -> EngineConfig {
    hayate_config(1 << 14)
}

/// Buyers are accounts 1–2, sellers 3–4, alternating by order id (no self-trades).
fn account_of(side: OpSide, id: u64) -> AccountId {
    match side {
        OpSide::Buy => AccountId(1 + (id & 1) as u32),
        OpSide::Sell => AccountId(3 + (id & 1) as u32),
    }
}

fn side_of_op(side: OpSide) -> Side {
    match side {
        OpSide::Buy => Side::Buy,
        OpSide::Sell => Side::Sell,
    }
}

fn client_id(text: &str) -> ClientOrderId {
    ClientOrderId::new(text).expect("short ascii id")
}

/// Every command of a scenario, in order: deposits, pre-population, stream. Each is stamped with
/// a receive time (1 µs apart) as the gateway would.
fn commands_of(scenario: &Scenario) -> Vec<Command> {
    let mut side_of: Vec<OpSide> = vec![OpSide::Buy]; // index 0 unused: ids start at 1
    let mut out = Vec::with_capacity(8 + scenario.prepop.len() + scenario.ops.len());
    for account in 1..=4 {
        for asset in [BASE, QUOTE] {
            out.push(Command::deposit(AccountId(account), asset, Amount(DEPOSIT)));
        }
    }
    for (seq, op) in scenario.prepop.iter().chain(&scenario.ops).enumerate() {
        if let (Some(id), Some(side)) = (op.new_order_id(), op.new_order_side()) {
            assert_eq!(id as usize, side_of.len(), "ids are dense and in order");
            side_of.push(side);
        }
        let limit = |id: u64, side: OpSide, price: u64, qty: u64| {
            NewOrder::limit(
                account_of(side, id),
                SYMBOL,
                side_of_op(side),
                Price(price),
                Qty(qty),
                client_id(&format!("o{id}")),
            )
        };
        let cmd = match *op {
            Op::Limit {
                id,
                side,
                price,
                qty,
            } => Command::new_order(limit(id, side, price, qty)),
            Op::Ioc {
                id,
                side,
                price,
                qty,
            } => Command::new_order(limit(id, side, price, qty).with_tif(TimeInForce::Ioc)),
            Op::Market { id, side, qty } => Command::new_order(NewOrder::market(
                account_of(side, id),
                SYMBOL,
                side_of_op(side),
                Qty(qty),
                client_id(&format!("o{id}")),
            )),
            Op::Cancel { id } => Command::cancel(
                account_of(side_of[id as usize], id),
                OrderRef::Id(OrderId(id)),
                ClientOrderId::EMPTY,
            ),
            Op::Replace {
                id,
                price,
                new_total,
                ..
            } => Command::replace(
                account_of(side_of[id as usize], id),
                OrderRef::Id(OrderId(id)),
                client_id(&format!("r{seq}")),
                Price(price),
                Qty(new_total),
            ),
        };
        out.push(cmd);
    }
    let t0 = 1_700_000_000_000_000_000u64;
    for (i, cmd) in out.iter_mut().enumerate() {
        *cmd = cmd.at(t0 + 1_000 * i as u64);
    }
    out
}

fn stream_config(len: usize) -> StreamConfig {
    StreamConfig {
        seed: 0x4a4f_5552_4e41_4c21,
        mid: MID,
        levels_per_side: 1_000,
        max_orders_per_level: 4,
        len,
    }
}

fn is_reject(e: &Event) -> bool {
    e.kind == EventKind::Rejected as u8 || e.kind == EventKind::CommandRejected as u8
}

/// A journal of `commands` on disk, written by a live engine that processed them.
struct ReplayFixture {
    config: EngineConfig,
    commands: Vec<Command>,
    /// Of which deposits and pre-population (the rest is the stream).
    setup: usize,
    dir: TempDir,
    live_digest: u64,
    live_events: u64,
    segments: usize,
    bytes_on_disk: u64,
    write_time: Duration,
}

/// Processes `commands` in a live engine and journals each one (`FlushPolicy::Never`, a commit per
/// 4,096, a final `sync`), as the pipeline would; then drops the writer and checks the journal reads
/// back record for record.
fn build_fixture(base: &Path, commands: Vec<Command>, setup: usize) -> ReplayFixture {
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
fn time_replay(f: &ReplayFixture) -> (Engine, u64, Duration) {
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
fn time_reader_only(f: &ReplayFixture) -> Duration {
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
fn end_of_journal_cost(base: &Path, reps: usize) -> Duration {
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
fn time_in_memory(f: &ReplayFixture) -> (Engine, u64, Duration) {
    let mut events = 0u64;
    let start = Instant::now();
    let mut engine = Engine::new(f.config.clone());
    for cmd in black_box(&f.commands) {
        engine.process(cmd, &mut |_: &Event| events += 1);
    }
    let elapsed = start.elapsed();
    (black_box(engine), events, elapsed)
}

// ----- journal rigs --------------------------------------------------------------------------

fn options(flush_policy: FlushPolicy) -> JournalOptions {
    JournalOptions {
        segment_size: SEGMENT_SIZE,
        flush_policy,
        first_seq: 1,
    }
}

/// Records of `payload` bytes one segment holds.
fn records_per_segment(payload: usize) -> u64 {
    (SEGMENT_SIZE - 64) / (FRAME_HEADER + payload.div_ceil(8) * 8) as u64
}

/// A writer under test that keeps its state across timed blocks.
trait Rig {
    /// Appends `n` 64-byte records, committing/flushing every [`APPEND_BATCH`]; returns only the
    /// time spent in the writer's own calls.
    fn append_64(&mut self, n: u64) -> Duration;
}

fn payload_64(counter: u64) -> [u8; 64] {
    let mut p = [0x5a; 64];
    p[..8].copy_from_slice(&counter.to_le_bytes());
    p
}

/// Hayate's journal with `FlushPolicy::Never`.
struct NeverRig {
    base: PathBuf,
    skip_rollovers: bool,
    dir: Option<TempDir>,
    journal: Option<Journal>,
    counter: u64,
    in_segment: u64,
    rollovers: u64,
}

impl NeverRig {
    fn new(base: &Path, skip_rollovers: bool) -> NeverRig {
        let mut rig = NeverRig {
            base: base.to_path_buf(),
            skip_rollovers,
            dir: None,
            journal: None,
            counter: 0,
            in_segment: 0,
            rollovers: 0,
        };
        rig.fresh();
        rig
    }

    /// A new, empty journal (its first segment created here, untimed).
    fn fresh(&mut self) {
        self.journal = None;
        self.dir = None;
        let dir = tempfile::tempdir_in(&self.base).expect("temp dir");
        let (journal, _) = Journal::open(dir.path(), options(FlushPolicy::Never)).unwrap();
        self.journal = Some(journal);
        self.dir = Some(dir);
        self.in_segment = 0;
    }
}

impl Rig for NeverRig {
    fn append_64(&mut self, n: u64) -> Duration {
        let per_segment = records_per_segment(64);
        let mut total = Duration::ZERO;
        let mut left = n;
        while left > 0 {
            let chunk = if self.skip_rollovers {
                if self.in_segment == per_segment {
                    self.fresh();
                }
                left.min(per_segment - self.in_segment)
            } else {
                left
            };
            let journal = self.journal.as_mut().unwrap();
            let segments_before = journal.segment_paths().count();
            let mut counter = self.counter;
            let start = Instant::now();
            for _ in 0..chunk {
                journal.append(&payload_64(counter)).expect("append");
                counter += 1;
                if counter % APPEND_BATCH == 0 {
                    journal.commit().expect("commit");
                }
            }
            total += start.elapsed();
            self.rollovers += (journal.segment_paths().count() - segments_before) as u64;
            self.counter = counter;
            self.in_segment += chunk;
            left -= chunk;
        }
        if !self.skip_rollovers {
            // Retention, untimed: keeps the disk footprint at one or two segments.
            let journal = self.journal.as_mut().unwrap();
            if let Some(last) = journal.last_seq() {
                journal.delete_segments_through(last).expect("retention");
            }
        }
        total
    }
}

/// `BufWriter<File>` writing the same 80 bytes per record, flushing at batch ends.
struct BufRig {
    dir: TempDir,
    writer: Option<BufWriter<File>>,
    counter: u64,
    written: u64,
    files: u64,
}

impl BufRig {
    fn new(base: &Path) -> BufRig {
        let mut rig = BufRig {
            dir: tempfile::tempdir_in(base).expect("temp dir"),
            writer: None,
            counter: 0,
            written: 0,
            files: 0,
        };
        rig.rotate();
        rig
    }

    /// Replaces the file with a new empty one (untimed; keeps the disk footprint bounded).
    fn rotate(&mut self) {
        if let Some(mut w) = self.writer.take() {
            w.flush().unwrap();
        }
        let path = self.dir.path().join("baseline.log");
        let _ = std::fs::remove_file(&path);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        self.writer = Some(BufWriter::new(file));
        self.written = 0;
        self.files += 1;
    }
}

impl Rig for BufRig {
    fn append_64(&mut self, n: u64) -> Duration {
        let writer = self.writer.as_mut().unwrap();
        let mut counter = self.counter;
        let start = Instant::now();
        for _ in 0..n {
            let mut frame = [0u8; FRAME_HEADER + 64];
            frame[..4].copy_from_slice(&(0x8000_0000u32 | 64).to_le_bytes());
            frame[8..16].copy_from_slice(&(counter + 1).to_le_bytes());
            frame[16..].copy_from_slice(&payload_64(counter));
            writer.write_all(&frame).expect("write");
            counter += 1;
            if counter % APPEND_BATCH == 0 {
                writer.flush().expect("flush");
            }
        }
        let elapsed = start.elapsed();
        self.counter = counter;
        self.written += n * (FRAME_HEADER as u64 + 64);
        if self.written >= 4 * SEGMENT_SIZE {
            self.rotate();
        }
        elapsed
    }
}

/// A durable writer: appends a batch of commands and makes it durable.
trait DurableRig {
    /// One batch; returns its latency (append + commit).
    fn batch(&mut self, commands: &[Command]) -> Duration;
    /// Untimed housekeeping between samples.
    fn housekeeping(&mut self);
}

struct AlwaysRig {
    _dir: TempDir,
    journal: Journal,
    rollovers: u64,
}

impl AlwaysRig {
    fn new(base: &Path) -> AlwaysRig {
        let dir = tempfile::tempdir_in(base).expect("temp dir");
        let (journal, _) = Journal::open(dir.path(), options(FlushPolicy::Always)).unwrap();
        AlwaysRig {
            _dir: dir,
            journal,
            rollovers: 0,
        }
    }
}

impl DurableRig for AlwaysRig {
    fn batch(&mut self, commands: &[Command]) -> Duration {
        let segments_before = self.journal.segment_paths().count();
        let start = Instant::now();
        let mut last = 0;
        for cmd in commands {
            last = self.journal.append(cmd.as_bytes()).expect("append");
        }
        let durable = self.journal.commit().expect("commit");
        let elapsed = start.elapsed();
        assert_eq!(
            durable, last,
            "a commit with Always makes the whole batch durable"
        );
        self.rollovers += (self.journal.segment_paths().count() - segments_before) as u64;
        elapsed
    }

    fn housekeeping(&mut self) {
        if let Some(last) = self.journal.last_seq() {
            self.journal
                .delete_segments_through(last)
                .expect("retention");
        }
    }
}

struct FdatasyncRig {
    dir: TempDir,
    writer: BufWriter<File>,
    seq: u64,
    written: u64,
}

impl FdatasyncRig {
    fn new(base: &Path) -> FdatasyncRig {
        let dir = tempfile::tempdir_in(base).expect("temp dir");
        let writer = FdatasyncRig::open(dir.path());
        FdatasyncRig {
            dir,
            writer,
            seq: 0,
            written: 0,
        }
    }

    fn open(dir: &Path) -> BufWriter<File> {
        let path = dir.join("baseline.log");
        let _ = std::fs::remove_file(&path);
        BufWriter::new(
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(path)
                .unwrap(),
        )
    }
}

impl DurableRig for FdatasyncRig {
    fn batch(&mut self, commands: &[Command]) -> Duration {
        let start = Instant::now();
        for cmd in commands {
            self.seq += 1;
            let mut header = [0u8; FRAME_HEADER];
            header[..4].copy_from_slice(&(0x8000_0000u32 | 128).to_le_bytes());
            header[8..].copy_from_slice(&self.seq.to_le_bytes());
            self.writer.write_all(&header).expect("write");
            self.writer.write_all(cmd.as_bytes()).expect("write");
        }
        self.writer.flush().expect("flush");
        self.writer.get_ref().sync_data().expect("fdatasync");
        let elapsed = start.elapsed();
        self.written += (commands.len() * (FRAME_HEADER + 128)) as u64;
        elapsed
    }

    fn housekeeping(&mut self) {
        if self.written >= SEGMENT_SIZE {
            self.writer = FdatasyncRig::open(self.dir.path());
            self.written = 0;
        }
    }
}

/// Commands for the durable group: taken in order from the workload, wrapping around.
struct CommandSource<'a> {
    commands: &'a [Command],
    at: usize,
}

impl<'a> CommandSource<'a> {
    fn next(&mut self, n: usize) -> &'a [Command] {
        if self.at + n > self.commands.len() {
            self.at = 0;
        }
        let slice = &self.commands[self.at..self.at + n];
        self.at += n;
        slice
    }
}

// ----- criterion groups ----------------------------------------------------------------------

type MakeRig = fn(&Path) -> Box<dyn Rig>;
type MakeDurableRig = fn(&Path) -> Box<dyn DurableRig>;

fn append_group(c: &mut Criterion, base: &Path) {
    let mut group = c.benchmark_group("journal/append_64B");
    group
        .throughput(Throughput::Elements(APPEND_BLOCK))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let variants: [(&str, MakeRig); 3] = [
        ("hayate_never", |b| Box::new(NeverRig::new(b, false))),
        ("hayate_never_between_rollovers", |b| {
            Box::new(NeverRig::new(b, true))
        }),
        ("bufwriter", |b| Box::new(BufRig::new(b))),
    ];
    for (name, make) in variants {
        let mut rig = make(base);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rig.append_64(APPEND_BLOCK)).sum())
        });
    }
    group.finish();
}

fn durable_group(c: &mut Criterion, base: &Path, commands: &[Command]) {
    let mut group = c.benchmark_group("journal/durable_always");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut source = CommandSource { commands, at: 0 };
    for batch in DURABLE_BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        let variants: [(&str, MakeDurableRig); 2] = [
            ("hayate_always", |b| Box::new(AlwaysRig::new(b))),
            ("bufwriter_fdatasync", |b| Box::new(FdatasyncRig::new(b))),
        ];
        for (name, make) in variants {
            let mut rig = make(base);
            group.bench_function(BenchmarkId::new(name, batch), |b| {
                b.iter_custom(|iters| {
                    let total = (0..iters).map(|_| rig.batch(source.next(batch))).sum();
                    rig.housekeeping();
                    total
                })
            });
        }
    }
    group.finish();
}

fn replay_group(c: &mut Criterion, fixture: &ReplayFixture) {
    let mut group = c.benchmark_group("journal/replay");
    group
        .throughput(Throughput::Elements(fixture.commands.len() as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("hayate_replay", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_replay(fixture).2).sum())
    });
    group.bench_function("engine_in_memory", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_in_memory(fixture).2).sum())
    });
    group.finish();
}

// ----- summary -------------------------------------------------------------------------------

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn summary_append(base: &Path, reps: usize, n: u64) {
    println!();
    println!(
        "journal/append_64B - {} records of 64 B per pass (5 segments' worth: {} frames of 80 B \
         per 64 MiB segment), commit/flush every {APPEND_BATCH}; median of {reps} passes",
        thousands(n),
        thousands(records_per_segment(64)),
    );
    let mut medians = Vec::new();
    let mut rollovers = 0;
    let labels = [
        "hayate Never, with roll-overs",
        "hayate Never, between roll-overs",
        "BufWriter<File> 8 KiB",
    ];
    for (i, label) in labels.iter().enumerate() {
        let times: Vec<Duration> = (0..reps)
            .map(|_| match i {
                0 => {
                    // A fresh journal per pass; its first segment is created untimed.
                    let mut rig = NeverRig::new(base, false);
                    let d = rig.append_64(n);
                    rollovers = rig.rollovers;
                    d
                }
                1 => NeverRig::new(base, true).append_64(n),
                _ => BufRig::new(base).append_64(n),
            })
            .collect();
        medians.push((label, median(times)));
    }
    let bufwriter = medians[2].1;
    println!(
        "  {:<34} {:>14} {:>9} {:>10} {:>22}",
        "writer", "records/s", "ns/rec", "MB/s", "time vs BufWriter"
    );
    for (label, d) in &medians {
        println!(
            "  {:<34} {:>14} {:>9.1} {:>10.0} {:>21.2}x",
            label,
            thousands(rate(n, *d) as u64),
            d.as_nanos() as f64 / n as f64,
            rate(n * 80, *d) / 1e6,
            d.as_secs_f64() / bufwriter.as_secs_f64()
        );
    }
    let (with, between) = (medians[0].1, medians[1].1);
    println!(
        "  roll-overs timed in a 'with roll-overs' pass: {rollovers}; they cost {:.0} ms of the \
         pass's {:.0} ms ({:.0} ms each)",
        (with.saturating_sub(between)).as_secs_f64() * 1e3,
        with.as_secs_f64() * 1e3,
        (with.saturating_sub(between)).as_secs_f64() * 1e3 / rollovers.max(1) as f64
    );
    println!(
        "  target 'at least as fast as BufWriter': append path alone {} ({:.2}x BufWriter's \
         time); steady state with roll-overs {} ({:.2}x)",
        verdict(between <= bufwriter),
        between.as_secs_f64() / bufwriter.as_secs_f64(),
        verdict(with <= bufwriter),
        with.as_secs_f64() / bufwriter.as_secs_f64(),
    );
    // What one roll-over is made of: creating a segment (preallocate, prefault, fsync, rename,
    // fsync dir) — the same call `Journal::open` makes for an empty directory.
    let creates: Vec<Duration> = (0..reps)
        .map(|_| {
            let dir = tempfile::tempdir_in(base).unwrap();
            let start = Instant::now();
            let (journal, _) = Journal::open(dir.path(), options(FlushPolicy::Never)).unwrap();
            let d = start.elapsed();
            drop(journal);
            d
        })
        .collect();
    println!(
        "  creating one 64 MiB segment (Journal::open on an empty dir: preallocate, prefault, \
         fsync, rename, fsync dir): {:.0} ms (median of {reps})",
        median(creates).as_secs_f64() * 1e3
    );
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn summary_durable(base: &Path, commands: &[Command], batches_per_size: usize) {
    println!();
    println!(
        "journal/durable_always - 128-byte commands, one commit per batch, {batches_per_size} \
         batches per size (each timed alone; commit latency = append of the batch + commit)"
    );
    println!(
        "  {:<6} {:<28} {:>12} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "batch", "writer", "commands/s", "mean ms", "p50 ms", "p99 ms", "max ms", "vs baseline"
    );
    let mut source = CommandSource { commands, at: 0 };
    for batch in DURABLE_BATCHES {
        let mut rows: Vec<(&str, Vec<Duration>)> = Vec::new();
        let mut rollovers = 0;
        for which in 0..2 {
            let mut lat = Vec::with_capacity(batches_per_size);
            if which == 0 {
                let mut rig = AlwaysRig::new(base);
                for _ in 0..batches_per_size {
                    lat.push(rig.batch(source.next(batch)));
                }
                rollovers = rig.rollovers;
                rows.push(("hayate Always (msync)", lat));
            } else {
                let mut rig = FdatasyncRig::new(base);
                for _ in 0..batches_per_size {
                    lat.push(rig.batch(source.next(batch)));
                }
                rows.push(("BufWriter + fdatasync", lat));
            }
        }
        let total = |v: &[Duration]| v.iter().sum::<Duration>();
        let baseline_rate = rate((batch * batches_per_size) as u64, total(&rows[1].1));
        for (label, mut lat) in rows {
            let n = (batch * batches_per_size) as u64;
            let r = rate(n, total(&lat));
            let mean = total(&lat) / lat.len() as u32;
            lat.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "  {:<6} {:<28} {:>12} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>11.2}x",
                batch,
                label,
                thousands(r as u64),
                ms(mean),
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.99)),
                ms(*lat.last().unwrap()),
                r / baseline_rate
            );
        }
        if rollovers > 0 {
            println!("         (hayate: {rollovers} segment roll-over(s) in these batches)");
        }
    }
}

fn summary_replay(name: &str, f: &ReplayFixture, reps: usize) -> (Duration, Duration) {
    let n = f.commands.len() as u64;
    let replays = median((0..reps).map(|_| time_replay(f).2).collect());
    let memory = median((0..reps).map(|_| time_in_memory(f).2).collect());
    let reader = median((0..reps).map(|_| time_reader_only(f)).collect());
    println!(
        "  {:<52} {:>10} {:>14} {:>10}",
        "", "seconds", "commands/s", "ns/cmd"
    );
    for (label, d) in [
        (
            format!("{name}: recovery::replay from the journal"),
            replays,
        ),
        (format!("{name}: engine, same commands from memory"), memory),
        (
            format!("{name}: journal read + CRC + decode only, no engine"),
            reader,
        ),
    ] {
        println!(
            "  {:<52} {:>10.3} {:>14} {:>10.1}",
            label,
            d.as_secs_f64(),
            thousands(rate(n, d) as u64),
            d.as_nanos() as f64 / n as f64
        );
    }
    println!(
        "  replay takes {:.2}x the in-memory time: the journal (open, read, CRC, decode) costs \
         {:.1} ns per command",
        replays.as_secs_f64() / memory.as_secs_f64(),
        (replays.as_nanos() as f64 - memory.as_nanos() as f64) / n as f64
    );
    (replays, memory)
}

fn describe_fixture(f: &ReplayFixture) {
    println!(
        "  journal: {} records ({} setup: deposits and the pre-populated book), {} segments, \
         {:.0} MiB on disk; written (engine + append, Never, commit per {GEN_COMMIT}) in {:.2} s; \
         live engine emitted {} events, zero rejects; replayed digest == live digest == in-memory \
         digest {:#018x}",
        thousands(f.commands.len() as u64),
        thousands(f.setup as u64),
        f.segments,
        f.bytes_on_disk as f64 / MIB as f64,
        f.write_time.as_secs_f64(),
        thousands(f.live_events),
        f.live_digest,
    );
}

/// Evicts the segment files from the page cache (`dd iflag=nocache count=0` =
/// `posix_fadvise(DONTNEED)`); returns the fraction still resident per `fincore`, if it can tell.
fn evict(dir: &Path) -> Option<f64> {
    let segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    for seg in &segments {
        let ok = std::process::Command::new("dd")
            .arg(format!("if={}", seg.display()))
            .args(["iflag=nocache", "count=0", "status=none"])
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
    }
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES,SIZE"])
        .args(&segments)
        .output()
        .ok()?;
    let (mut res, mut size) = (0u64, 0u64);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut it = line.split_whitespace();
        res += it.next()?.parse::<u64>().ok()?;
        size += it.next()?.parse::<u64>().ok()?;
    }
    (size > 0).then(|| res as f64 / size as f64)
}

/// Free space in `dir` per `df`, in bytes, if it can tell.
fn free_space(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .args(["-Pk"])
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1)?;
    Some(line.split_whitespace().nth(3)?.parse::<u64>().ok()? * 1024)
}

fn summary_10m(base: &Path, len: usize, reps: usize) {
    println!();
    println!(
        "recovery of a {}-command journal (full replay from scratch, no snapshot; median of {reps})",
        thousands(len as u64)
    );
    let need = len as u64 * 144 * 12 / 10 + 2 * SEGMENT_SIZE;
    if let Some(free) = free_space(base) {
        if free < need + 2 * 1024 * MIB {
            println!(
                "  skipped: {} MiB free in {}, need about {} MiB",
                free / MIB,
                base.display(),
                need / MIB
            );
            return;
        }
    }
    let started = Instant::now();
    let scenario = stream::mixed(&stream_config(len));
    let commands = commands_of(&scenario);
    let setup = 8 + scenario.prepop.len();
    drop(scenario);
    let generated = started.elapsed();
    let fixture = build_fixture(base, commands, setup);
    eprintln!(
        "10M: stream generated in {:.1}s, journal written and checked in {:.1}s",
        generated.as_secs_f64(),
        started.elapsed().as_secs_f64() - generated.as_secs_f64()
    );
    describe_fixture(&fixture);
    let (replays, memory) = summary_replay("10M", &fixture, reps);
    let n = fixture.commands.len() as u64;
    let r = rate(n, replays);
    println!(
        "  targets (warm page cache): recovered in under 3 s: {} ({:.2} s); at least 5M \
         commands/s: {} ({:.2}M/s); in-memory engine alone: {:.2}M/s",
        verdict(replays.as_secs_f64() < 3.0),
        replays.as_secs_f64(),
        verdict(r >= 5e6),
        r / 1e6,
        rate(n, memory) / 1e6
    );
    match evict(fixture.dir.path()) {
        Some(resident) => {
            let (_, _, cold) = time_replay(&fixture);
            println!(
                "  cold: segment files evicted from the page cache first ({:.1}% still resident \
                 per fincore): {:.2} s, {:.2}M commands/s ({:.0} MB/s read) - one run",
                resident * 100.0,
                cold.as_secs_f64(),
                rate(n, cold) / 1e6,
                fixture.bytes_on_disk as f64 / cold.as_secs_f64() / 1e6
            );
        }
        None => println!("  cold run skipped: could not evict the segment files (dd/fincore)"),
    }
    drop(fixture); // deletes the journal
}

// ----- main ----------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` / `cargo bench -- --test`: a short smoke run.
    let quick = args.iter().any(|a| a == "--test");
    let skip_10m = std::env::var("HAYATE_BENCH_SKIP_10M").is_ok_and(|v| v == "1");
    let base = std::env::var_os("HAYATE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let base = tempfile::Builder::new()
        .prefix("hayate-journal-bench-")
        .tempdir_in(base)
        .expect("bench temp dir");
    let base_path = base.path();
    let (replay_len, big_len, reps, durable_batches) = if quick {
        (20_000, 50_000, 1, 10)
    } else {
        (1_000_000, 10_000_000, 3, 200)
    };

    let started = Instant::now();
    let scenario = stream::mixed(&stream_config(replay_len));
    let fixture = build_fixture(base_path, commands_of(&scenario), 8 + scenario.prepop.len());
    drop(scenario);
    eprintln!(
        "replay workload generated, journaled and checked in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let mut c = Criterion::default().configure_from_args();
    append_group(&mut c, base_path);
    durable_group(&mut c, base_path, &fixture.commands);
    replay_group(&mut c, &fixture);
    c.final_summary();

    println!();
    println!("==================================================================================");
    println!("Hayate journal benchmark: summary");
    println!("All figures from this run, baselines measured alongside (same machine, same disk:");
    println!("{}).", base_path.display());
    println!("Times are std::time::Instant around the writer's or reader's own calls only.");
    println!("==================================================================================");
    let append_n = if quick {
        100_000
    } else {
        5 * records_per_segment(64) + 1
    };
    summary_append(base_path, reps, append_n);
    summary_durable(base_path, &fixture.commands, durable_batches);
    println!();
    println!(
        "journal/replay - {} commands of the order-book mixed stream (median of {reps})",
        thousands(fixture.commands.len() as u64)
    );
    describe_fixture(&fixture);
    summary_replay("1M", &fixture, reps);
    drop(fixture);
    println!(
        "  fixed cost at the end of every replay: JournalReader over a 1-record journal (64 MiB \
         segment) takes {:.1} ms",
        end_of_journal_cost(base_path, reps).as_secs_f64() * 1e3
    );
    if skip_10m {
        println!();
        println!("10M-command recovery skipped (HAYATE_BENCH_SKIP_10M=1)");
    } else {
        summary_10m(base_path, big_len, reps);
    }
    println!();
}
