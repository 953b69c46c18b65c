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
use hayate::{AccountId, Amount, Command, Engine, EngineConfig, Event, EventKind};
use tempfile::TempDir;

use hayate_testkit::market::{BASE, MID, QUOTE, Translator, hayate_config};
use hayate_testkit::stream::{self, Scenario, StreamConfig};

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

mod rigs;
mod summary;
mod workload;

use rigs::*;
use summary::*;
use workload::*;

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
