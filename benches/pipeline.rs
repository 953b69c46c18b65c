//! The whole pipeline: Hayate's disruptor pipeline against the same stages connected by
//! `crossbeam` bounded channels, all in the same run so the ratios hold on a noisy machine.
//!
//! Run: `cargo bench --bench pipeline` (the summary printed at the end is what the README quotes;
//! `cargo bench --bench pipeline -- --test` is a short smoke run).
//!
//! Implementations, all fed the same command stream by one producer thread and drained by one
//! consumer thread, with a journal in a fresh temporary directory per run (`FlushPolicy::Never`,
//! 128 MiB segments, so no run rolls over) and the real [`hayate::Engine`] over `ExchangeConfig::demo()`:
//!
//! - `ring`: [`hayate::pipeline::Pipeline`] as shipped: multi-producer input ring (16,384 slots),
//!   journaler ∥ replicator, matcher after both, single-producer output ring (65,536 slots), stages
//!   waiting with the default `Wait::Backoff`. The producer uses `Publisher::publish`, the consumer
//!   `EventReceiver::poll`.
//! - `chan_chain`: producer → channel → journaler → channel → replicator → channel → matcher →
//!   channel → consumer. A sequential chain is the natural channel equivalent of the ring's
//!   diamond (a channel hands each message to one receiver, so "journaler and replicator both see
//!   every command and the matcher waits for both" becomes "one after the other"). It costs one
//!   hop more than the ring on the critical path.
//! - `chan_fanout`: the diamond rebuilt from channels: the producer sends every command to the
//!   journaler's channel and to the replicator's; the journaler forwards each command's journal
//!   sequence after its batch's commit, the replicator forwards the command; the matcher receives
//!   one from each, checks that the sequences agree, then processes. Same hop count as the ring, but
//!   two sends per command for the producer.
//!
//! The channel stages do what the ring stages do: the journaler blocks in `recv` for a command,
//! drains what `try_recv` gives (up to the channel's capacity) as its batch, appends each command
//! to a [`hayate::journal::Journal`], commits once, and only then forwards the batch (so nothing
//! reaches the matcher before it is journaled, as in the ring); the replicator passes commands
//! through; the matcher runs `Engine::process` and sends every event, numbered like the ring's
//! [`Output`], to the consumer. Channel capacities equal the ring sizes (16,384 between stages,
//! 65,536 for events). Stages block in `recv`/`send` (crossbeam's spin-then-park). The consumer is
//! the same code for all: take what is there, and when nothing is, spin about a microsecond, then
//! yield.
//!
//! The command stream (deterministic): the demo's four deposits (accounts 1 and 2, JPY and BTC),
//! then ~64% GTC limits 1–50 ticks from 5,000,000 (2% of them marketable, through the touch), ~30%
//! cancels by ClOrdID of one of the 64 most recent orders still tracked (some already filled: a
//! cancel reject), ~3% market orders, 1–20 lots, accounts 1 and 2 alternating at random. At most
//! 2,000 orders are tracked (a cancel replaces a limit beyond that), which keeps both accounts far
//! from their limits: zero rejected orders is checked.
//!
//! Measured:
//!
//! - `pipeline/throughput` (criterion, `Throughput::Elements`): one iteration publishes 100,000
//!   commands as fast as possible and ends when the consumer has seen every command's first event;
//!   starting the pipeline (tempdir, journal, threads) and stopping it are not timed.
//! - The summary re-measures that with 500,000 commands (median of 3 rounds, implementations
//!   interleaved), then the latency at a paced, open-loop 100,000 commands/s: command i is due at
//!   start + i × 10 µs, stamped with its due time (coordinated-omission correction: a publish that
//!   is late or blocked counts against the pipeline), and the consumer records now − stamp at the
//!   command's first event. 4 rounds of 100,000 commands (after 10,000 warm-up commands per round)
//!   per implementation, merged.
//!
//! Before anything is timed the bench checks that the ring and both channel pipelines end with the
//! same engine digest and event count as an engine fed the stream in memory.

use std::collections::VecDeque;
use std::hint::black_box;
use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use crossbeam::channel::{Receiver, Sender, TryRecvError, bounded};
use hayate::journal::{FlushPolicy, Journal, JournalOptions};
use hayate::pipeline::{Output, Pipeline};
use hayate::{
    AccountId, ClientOrderId, Command, Engine, Event, EventKind, ExchangeConfig, NewOrder,
    OrderRef, Price, Qty, Side, SymbolId,
};
use hayate_testkit::rng::Rng;
use hdrhistogram::Histogram;

/// Input ring slots / channel capacity between stages (the pipeline's default input ring).
const INPUT: usize = 1 << 14;
/// Output ring slots / event channel capacity (the pipeline's default output ring).
const OUTPUT: usize = 1 << 16;
/// Commands in a summary throughput run.
const N: usize = 500_000;
/// Paced offered rate of the latency runs, commands per second.
const RATE: u64 = 100_000;
/// Commands recorded per latency round.
const LAT_N: usize = 100_000;
/// Commands per latency round before recording starts.
const LAT_WARM_UP: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ring,
    ChanChain,
    ChanFanout,
}

const KINDS: [Kind; 3] = [Kind::Ring, Kind::ChanChain, Kind::ChanFanout];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ring => "ring",
            Kind::ChanChain => "chan_chain",
            Kind::ChanFanout => "chan_fanout",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Ring => "hayate Pipeline (disruptor, Wait::Backoff)",
            Kind::ChanChain => "crossbeam: prod>jrnl>repl>match>cons",
            Kind::ChanFanout => "crossbeam: prod>(jrnl|repl)>match>cons",
        }
    }
}

/// 128 MiB segments: a 500,000-command run (72 MB of frames) never rolls over, so a roll-over
/// (identical work for both sides, and measured by the journal bench) is not in any timed run.
fn journal_options() -> JournalOptions {
    JournalOptions {
        segment_size: 128 << 20,
        flush_policy: FlushPolicy::Never,
        first_seq: 1,
    }
}

// ---------------------------------------------------------------------------------------------
// The command stream.

/// What the stream holds (for the printed summary).
#[derive(Default, Debug)]
struct Mix {
    deposits: usize,
    limits: usize,
    marketable: usize,
    cancels: usize,
    markets: usize,
}

fn stream(config: &ExchangeConfig, n: usize) -> (Vec<Command>, Mix) {
    const MID: u64 = 5_000_000;
    const TRACKED: usize = 2_000;
    let mut rng = Rng::new(0x4a59_4154_455f_4245);
    let mut mix = Mix::default();
    let mut commands = config.initial_deposits();
    mix.deposits = commands.len();
    let mut tracked: VecDeque<(AccountId, ClientOrderId)> = VecDeque::new();
    let mut i = 0u64;
    while commands.len() < n {
        i += 1;
        let account = AccountId(1 + rng.below(2) as u32);
        let side = if rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let qty = Qty(1 + rng.below(20));
        let r = rng.below(100);
        let cid = ClientOrderId::new(&format!("o{i}")).expect("short id");
        let command = if r < 3 {
            mix.markets += 1;
            Command::new_order(NewOrder::market(account, SymbolId(0), side, qty, cid))
        } else if (r < 33 || tracked.len() >= TRACKED) && !tracked.is_empty() {
            let recent = rng.below(tracked.len().min(64) as u64) as usize;
            let (owner, target) = tracked
                .remove(tracked.len() - 1 - recent)
                .expect("in range");
            mix.cancels += 1;
            Command::cancel(owner, OrderRef::Client(target), cid)
        } else {
            let marketable = rng.below(50) == 0;
            let offset = 1 + rng.below(50);
            let price = match (side, marketable) {
                (Side::Buy, false) => MID - offset,
                (Side::Sell, false) => MID + offset,
                (Side::Buy, true) => MID + offset,
                (Side::Sell, true) => MID - offset,
            };
            mix.limits += 1;
            mix.marketable += usize::from(marketable);
            tracked.push_back((account, cid));
            Command::new_order(NewOrder::limit(
                account,
                SymbolId(0),
                side,
                Price(price),
                qty,
                cid,
            ))
        };
        commands.push(command.at(i));
    }
    (commands, mix)
}

/// What the in-memory engine makes of the stream.
struct Reference {
    events: u64,
    digest: u64,
    rejected_orders: u64,
    cancel_rejects: u64,
    fills: u64,
    commands_per_s: f64,
}

fn reference(config: &ExchangeConfig, commands: &[Command]) -> Reference {
    let mut engine = Engine::new(config.engine_config().clone());
    let (mut events, mut rejected_orders, mut cancel_rejects, mut fills) = (0u64, 0, 0, 0);
    let start = Instant::now();
    for c in commands {
        let before = events;
        engine.process(c, &mut |e: &Event| {
            events += 1;
            match e.event_kind() {
                Some(EventKind::Rejected) => rejected_orders += 1,
                Some(EventKind::CancelRejected) => cancel_rejects += 1,
                Some(EventKind::Fill) => fills += 1,
                _ => {}
            }
        });
        assert!(events > before, "a command produced no event: {c:?}");
    }
    let elapsed = start.elapsed();
    Reference {
        events,
        digest: engine.digest(),
        rejected_orders,
        cancel_rejects,
        fills,
        commands_per_s: commands.len() as f64 / elapsed.as_secs_f64(),
    }
}

// ---------------------------------------------------------------------------------------------
// Producer and consumer: the same code for every implementation.

/// How the producer sends: as fast as possible, or open loop at a rate.
#[derive(Clone, Copy)]
enum Pace {
    Flood,
    /// `(epoch, first due time in ns since epoch, interval ns)`.
    Rate(Instant, u64, u64),
}

impl Pace {
    /// Waits until command `i` is due and returns its stamp (the due time), or `None` (flood).
    #[inline]
    fn wait(&self, i: usize) -> Option<u64> {
        match *self {
            Pace::Flood => None,
            Pace::Rate(epoch, start, interval) => {
                let due = start + i as u64 * interval;
                loop {
                    let now = epoch.elapsed().as_nanos() as u64;
                    if now >= due {
                        return Some(due);
                    }
                    if due - now > 2_000 {
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            }
        }
    }
}

/// Idle polling: spin about a microsecond, then yield.
#[derive(Default)]
struct Snooze(u32);

impl Snooze {
    #[inline]
    fn snooze(&mut self) {
        if self.0 < 100 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        self.0 = self.0.saturating_add(1);
    }
}

/// The consumer's bookkeeping.
struct Seen {
    commands: u64,
    events: u64,
    latency: Option<(Instant, Histogram<u64>, u64)>,
}

impl Seen {
    fn new(latency: Option<(Instant, u64)>) -> Seen {
        Seen {
            commands: 0,
            events: 0,
            latency: latency.map(|(epoch, skip)| {
                let h = Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("bounds");
                (epoch, h, skip)
            }),
        }
    }

    #[inline]
    fn on(&mut self, out: &Output) {
        self.events += 1;
        if out.index == 0 {
            if let Some((epoch, h, skip)) = &mut self.latency {
                let now = epoch.elapsed().as_nanos() as u64;
                if out.seq > *skip {
                    h.saturating_record(now.saturating_sub(out.timestamp_ns));
                }
            }
            self.commands += 1;
            assert_eq!(
                out.seq, self.commands,
                "a command went missing or came twice"
            );
        }
    }
}

/// One run's result.
struct Run {
    /// From releasing the producer to the consumer seeing the last command's first event.
    elapsed: Duration,
    events: u64,
    digest: u64,
    latency: Option<Histogram<u64>>,
}

fn run(kind: Kind, config: &ExchangeConfig, commands: &[Command], pace: Pace, skip: u64) -> Run {
    match kind {
        Kind::Ring => run_ring(config, commands, pace, skip),
        Kind::ChanChain | Kind::ChanFanout => run_channels(kind, config, commands, pace, skip),
    }
}

fn latency_of(pace: Pace, skip: u64) -> Option<(Instant, u64)> {
    match pace {
        Pace::Flood => None,
        Pace::Rate(epoch, _, _) => Some((epoch, skip)),
    }
}

fn stamp(command: &Command, stamp: Option<u64>) -> Command {
    let mut c = *command;
    if let Some(ts) = stamp {
        c.timestamp_ns = ts;
    }
    c
}

// ---------------------------------------------------------------------------------------------
// The ring pipeline.

fn run_ring(config: &ExchangeConfig, commands: &[Command], pace: Pace, skip: u64) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipeline, mut events, _) = Pipeline::builder(config.engine_config().clone(), dir.path())
        .journal_options(journal_options())
        .input_ring(INPUT)
        .output_ring(OUTPUT)
        .snapshot_on_stop(false)
        .start()
        .expect("start pipeline");
    let n = commands.len() as u64;
    let go = Barrier::new(2);
    let mut seen = Seen::new(latency_of(pace, skip));
    let (elapsed, stopped) = std::thread::scope(|s| {
        let mut publisher = pipeline.publisher();
        let go = &go;
        let producer = s.spawn(move || {
            go.wait();
            for (i, c) in commands.iter().enumerate() {
                let c = stamp(c, pace.wait(i));
                publisher.publish(&c).expect("publish");
            }
            // The publisher is dropped here: the stages stop once the pipeline's own is too.
        });
        go.wait();
        let start = Instant::now();
        let mut snooze = Snooze::default();
        while seen.commands < n {
            match events.poll(|out| seen.on(out)) {
                Ok(0) => snooze.snooze(),
                Ok(_) => snooze = Snooze::default(),
                Err(stopped) => panic!("{stopped} after {} commands", seen.commands),
            }
        }
        let elapsed = start.elapsed();
        producer.join().expect("producer");
        // Stop protocol: publishers dropped; stop (joins the stages) while polling to the end.
        let stopper = s.spawn(move || pipeline.stop());
        loop {
            match events.poll(|out| seen.on(out)) {
                Ok(0) => std::thread::yield_now(),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let stopped = stopper.join().expect("stop thread").expect("stop");
        (elapsed, stopped)
    });
    assert_eq!(stopped.processed_seq, n);
    assert_eq!(stopped.durable_seq, n);
    drop(events);
    dir.close().expect("remove tempdir");
    Run {
        elapsed,
        events: seen.events,
        digest: stopped.digest,
        latency: seen.latency.map(|(_, h, _)| h),
    }
}

// ---------------------------------------------------------------------------------------------
// The channel pipelines.

/// Journals `rx`'s commands in batches (what `try_recv` drains after a blocking `recv`), commits
/// each batch, then hands every command of it (with its journal sequence) to `forward`.
fn journaler(dir: &Path, rx: Receiver<Command>, mut forward: impl FnMut(u64, Command)) -> u64 {
    let (mut journal, _) = Journal::open(dir, journal_options()).expect("open journal");
    let mut batch: Vec<(u64, Command)> = Vec::with_capacity(INPUT);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(c) = next {
            let seq = journal.append(c.as_bytes()).expect("append");
            batch.push((seq, c));
            next = if batch.len() < INPUT {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        journal.commit().expect("commit");
        for (seq, c) in batch.drain(..) {
            forward(seq, c);
        }
    }
    journal.sync().expect("final sync")
}

/// Processes commands in order, sending every event to `out`; returns (last seq, digest).
struct MatcherStage {
    engine: Engine,
    out: Sender<Output>,
    last: u64,
}

impl MatcherStage {
    #[inline]
    fn process(&mut self, seq: u64, c: &Command) {
        assert_eq!(seq, self.last + 1, "matcher: sequence gap");
        let out = &self.out;
        let mut index = 0u32;
        let timestamp_ns = c.timestamp_ns;
        self.engine.process(c, &mut |event: &Event| {
            out.send(Output {
                seq,
                timestamp_ns,
                index,
                last: false,
                event: *event,
            })
            .expect("consumer alive");
            index += 1;
        });
        self.last = seq;
    }
}

fn run_channels(
    kind: Kind,
    config: &ExchangeConfig,
    commands: &[Command],
    pace: Pace,
    skip: u64,
) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal_dir = dir.path().join("journal");
    let n = commands.len() as u64;
    let go = Barrier::new(2);
    let mut seen = Seen::new(latency_of(pace, skip));
    let (out_tx, out_rx) = bounded::<Output>(OUTPUT);
    let mut matcher = MatcherStage {
        engine: Engine::new(config.engine_config().clone()),
        out: out_tx,
        last: 0,
    };
    let (elapsed, durable, (processed, digest)) = std::thread::scope(|s| {
        let go = &go;
        let journal_dir = &journal_dir;
        let (in_tx, durable, matched, extra_tx) = match kind {
            Kind::ChanChain => {
                let (in_tx, in_rx) = bounded::<Command>(INPUT);
                let (j_tx, j_rx) = bounded::<(u64, Command)>(INPUT);
                let (r_tx, r_rx) = bounded::<(u64, Command)>(INPUT);
                let durable = s.spawn(move || {
                    journaler(journal_dir, in_rx, |seq, c| {
                        j_tx.send((seq, c)).expect("replicator alive")
                    })
                });
                s.spawn(move || {
                    while let Ok(m) = j_rx.recv() {
                        r_tx.send(m).expect("matcher alive");
                    }
                });
                let matched = s.spawn(move || {
                    while let Ok((seq, c)) = r_rx.recv() {
                        matcher.process(seq, &c);
                    }
                    (matcher.last, matcher.engine.digest())
                });
                (in_tx, durable, matched, None)
            }
            _ => {
                let (jin_tx, jin_rx) = bounded::<Command>(INPUT);
                let (rin_tx, rin_rx) = bounded::<Command>(INPUT);
                let (j_tx, j_rx) = bounded::<u64>(INPUT);
                let (r_tx, r_rx) = bounded::<(u64, Command)>(INPUT);
                let durable = s.spawn(move || {
                    journaler(journal_dir, jin_rx, |seq, _| {
                        j_tx.send(seq).expect("matcher alive")
                    })
                });
                s.spawn(move || {
                    let mut seq = 0;
                    while let Ok(c) = rin_rx.recv() {
                        seq += 1;
                        r_tx.send((seq, c)).expect("matcher alive");
                    }
                });
                let matched = s.spawn(move || {
                    while let Ok(durable) = j_rx.recv() {
                        let (seq, c) = r_rx.recv().expect("replicator ended early");
                        assert_eq!(durable, seq, "journaler and replicator disagree");
                        matcher.process(seq, &c);
                    }
                    (matcher.last, matcher.engine.digest())
                });
                (jin_tx, durable, matched, Some(rin_tx))
            }
        };
        let producer = s.spawn(move || {
            go.wait();
            for (i, c) in commands.iter().enumerate() {
                let c = stamp(c, pace.wait(i));
                in_tx.send(c).expect("journaler alive");
                if let Some(tx) = &extra_tx {
                    tx.send(c).expect("replicator alive");
                }
            }
            // Dropping the senders stops the stages in turn.
        });
        go.wait();
        let start = Instant::now();
        let mut snooze = Snooze::default();
        while seen.commands < n {
            match out_rx.try_recv() {
                Ok(out) => {
                    seen.on(&out);
                    snooze = Snooze::default();
                }
                Err(TryRecvError::Empty) => snooze.snooze(),
                Err(TryRecvError::Disconnected) => {
                    panic!("the matcher stopped after {} commands", seen.commands)
                }
            }
        }
        let elapsed = start.elapsed();
        producer.join().expect("producer");
        // Drain to the end: the stages stop in turn once the producer's senders are gone.
        while let Ok(out) = out_rx.recv() {
            seen.on(&out);
        }
        let durable = durable.join().expect("journaler");
        let matched = matched.join().expect("matcher");
        (elapsed, durable, matched)
    });
    assert_eq!(durable, n);
    assert_eq!(processed, n);
    dir.close().expect("remove tempdir");
    Run {
        elapsed,
        events: seen.events,
        digest,
        latency: seen.latency.map(|(_, h, _)| h),
    }
}

// ---------------------------------------------------------------------------------------------

fn paced(kind: Kind, config: &ExchangeConfig, commands: &[Command]) -> Histogram<u64> {
    let epoch = Instant::now();
    let start = epoch.elapsed().as_nanos() as u64 + 1_000_000;
    let pace = Pace::Rate(epoch, start, 1_000_000_000 / RATE);
    let skip = (commands.len() as u64 / 21).min(LAT_WARM_UP as u64);
    run(kind, config, commands, pace, skip)
        .latency
        .expect("latency run")
}

fn criterion_throughput(c: &mut Criterion, config: &ExchangeConfig, commands: &[Command]) {
    let mut group = c.benchmark_group("pipeline/throughput");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(commands.len() as u64));
    for kind in KINDS {
        group.bench_function(kind.name(), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run(kind, config, commands, Pace::Flood, 0).elapsed)
                    .sum()
            })
        });
    }
    group.finish();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let (n, crit_n, rounds, lat_n, lat_rounds) = if quick {
        (50_000, 10_000, 1, 20_000, 1)
    } else {
        (N, 100_000, 3, LAT_N, 4)
    };
    let config = ExchangeConfig::demo();
    let (commands, mix) = stream(&config, n);
    let reference = reference(&config, &commands);
    assert_eq!(
        reference.rejected_orders, 0,
        "the stream should not be refused"
    );

    // Checks before timing: every implementation ends in the in-memory engine's state.
    for kind in KINDS {
        let r = run(kind, &config, &commands, Pace::Flood, 0);
        assert_eq!(r.digest, reference.digest, "{}: engine digest", kind.name());
        assert_eq!(r.events, reference.events, "{}: event count", kind.name());
    }

    let mut c = Criterion::default().configure_from_args();
    criterion_throughput(&mut c, &config, &commands[..crit_n]);
    c.final_summary();

    // Throughput: rounds interleaved across implementations.
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); KINDS.len()];
    for _ in 0..rounds {
        for (k, kind) in KINDS.into_iter().enumerate() {
            let r = run(kind, &config, &commands, Pace::Flood, 0);
            black_box(r.digest);
            rates[k].push(n as f64 / r.elapsed.as_secs_f64());
        }
    }
    let rates: Vec<f64> = rates.into_iter().map(median).collect();

    // Latency at a paced rate, rounds interleaved.
    let lat_commands = &commands[..(lat_n + LAT_WARM_UP).min(commands.len())];
    let mut hists: Vec<Histogram<u64>> = KINDS
        .iter()
        .map(|_| Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("bounds"))
        .collect();
    for _ in 0..lat_rounds {
        for (k, kind) in KINDS.into_iter().enumerate() {
            let h = paced(kind, &config, lat_commands);
            hists[k].add(&h).expect("same bounds");
        }
    }

    println!();
    println!(
        "pipeline summary ({} cores; journal FlushPolicy::Never in a tempdir; engine = \
         ExchangeConfig::demo())",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  stream: {n} commands = {} deposits, {} limits ({} marketable), {} cancels, {} market; \
         {} events, {} fills, {} cancel rejects, 0 rejected orders",
        mix.deposits,
        mix.limits,
        mix.marketable,
        mix.cancels,
        mix.markets,
        reference.events,
        reference.fills,
        reference.cancel_rejects,
    );
    println!(
        "  engine alone (in memory, one thread): {:.2} M commands/s",
        reference.commands_per_s / 1e6
    );
    println!(
        "  channel topologies: chan_chain = producer -> journaler -> replicator -> matcher -> \
         consumer (the natural channel equivalent: a sequential chain, one hop more than the ring); \
         chan_fanout = producer sends to journaler and replicator, matcher receives from both and \
         checks the sequence"
    );
    println!(
        "  throughput: {n} commands published flat out, until the consumer saw every first event; \
         median of {rounds}"
    );
    println!(
        "  latency: open loop {RATE} commands/s, stamp = scheduled time (CO-corrected), publish -> \
         first event at the consumer; {lat_rounds} x {lat_n} commands merged (after {LAT_WARM_UP} \
         warm-up each)"
    );
    println!(
        "  {:<12} {:<40} {:>10} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "impl", "", "Mcmd/s", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "mean µs"
    );
    for (k, kind) in KINDS.into_iter().enumerate() {
        let h = &hists[k];
        println!(
            "  {:<12} {:<40} {:>10.3} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>10.1}",
            kind.name(),
            kind.describe(),
            rates[k] / 1e6,
            us(h.value_at_quantile(0.50)),
            us(h.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.999)),
            us(h.max()),
            h.mean() / 1e3,
        );
    }
    let ring = &hists[0];
    for (k, kind) in KINDS.into_iter().enumerate().skip(1) {
        let h = &hists[k];
        let tput = rates[0] / rates[k];
        let q = |h: &Histogram<u64>, p: f64| h.value_at_quantile(p).max(1) as f64;
        println!(
            "  ring vs {}: throughput {:.2}x, p50 {:.2}x, p99 {:.2}x, p99.9 {:.2}x lower \
             (ratios > 1 favour the ring)",
            kind.name(),
            tput,
            q(h, 0.5) / q(ring, 0.5),
            q(h, 0.99) / q(ring, 0.99),
            q(h, 0.999) / q(ring, 0.999),
        );
        let met_tput = tput > 1.0;
        let met_p99 = ring.value_at_quantile(0.99) < h.value_at_quantile(0.99);
        println!(
            "  TARGET (ring beats {} on p99 and throughput): {} (throughput {:.3} vs {:.3} M/s: \
             {}; p99 {:.1} vs {:.1} µs: {})",
            kind.name(),
            if met_tput && met_p99 {
                "MET"
            } else {
                "NOT MET"
            },
            rates[0] / 1e6,
            rates[k] / 1e6,
            if met_tput {
                "ring faster"
            } else {
                "ring slower"
            },
            us(ring.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.99)),
            if met_p99 { "ring lower" } else { "ring higher" },
        );
    }
}
