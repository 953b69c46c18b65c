//! One hop between two threads: our disruptor ring set-up against a `crossbeam` bounded channel of
//! the same capacity, all in the same run so the ratios hold on a noisy machine.
//!
//! Run: `cargo bench --bench ring_hop` (the summary printed at the end is what the README quotes;
//! `cargo bench --bench ring_hop -- --test` is a short smoke run).
//!
//! Every variant moves 128-byte [`hayate::Command`]s from one producer thread to one consumer
//! thread through 16,384 slots (the pipeline's default input ring):
//!
//! - `sp_backoff` / `sp_yield`: a `disruptor` single-producer ring whose consumer is an event
//!   handler thread waiting with our [`Wait::Backoff`] (the pipeline's default) or [`Wait::Yield`].
//! - `mp_backoff` / `mp_yield`: the same with a multi-producer ring (one producer publishing), the
//!   kind the pipeline's input ring is.
//! - `crossbeam`: `crossbeam::channel::bounded(16_384)`, `send` / `recv` (crossbeam's own
//!   spin-then-park waiting on both sides).
//!
//! A full ring makes the producer retry `try_publish` the way `Publisher::publish` does (spin about
//! a microsecond, then yield); a full channel blocks in `send`.
//!
//! The consumer reads every message (checks that the sequences arrive in order, folds two fields
//! into a checksum) and signals the end of a burst when it sees the burst's last message, so
//! neither side pays for a shared counter per message.
//!
//! Measured:
//!
//! - `ring_hop/throughput_1M` (criterion, `Throughput::Elements`): one iteration publishes a burst
//!   of 1,000,000 messages as fast as the producer can and ends when the consumer has read the
//!   last one. The ring or channel and its consumer thread live for the whole group.
//! - The summary re-measures the burst throughput (median of 5 rounds, variants interleaved), then
//!   the one-way hop latency: the producer paces messages at 100,000/s (10 µs apart, so it is the
//!   hop and not queueing), stamps each with the time since a shared `Instant` just before
//!   publishing, and the consumer records `now − stamp` in an HdrHistogram. 6 rounds of 0.5 s per
//!   variant (after a 10,000-message warm-up per round), merged, interleaved across variants.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use crossbeam::channel::{Receiver, Sender};
use disruptor::{
    MultiProducer, Producer, RingBufferFull, SingleConsumerBarrier, SingleProducer,
    build_multi_producer, build_single_producer,
};
use hayate::pipeline::Wait;
use hayate::{AccountId, ClientOrderId, Command, NewOrder, OrderId, Price, Qty, Side, SymbolId};
use hdrhistogram::Histogram;

/// Ring slots and channel capacity: the pipeline's default input ring.
const CAPACITY: usize = 1 << 14;
/// Messages per throughput burst.
const BURST: u64 = 1_000_000;
/// Paced rate of the latency runs, messages per second.
const RATE: u64 = 100_000;

/// The variants, in the order they are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    SpBackoff,
    SpYield,
    MpBackoff,
    MpYield,
    Crossbeam,
}

const KINDS: [Kind; 5] = [
    Kind::SpBackoff,
    Kind::SpYield,
    Kind::MpBackoff,
    Kind::MpYield,
    Kind::Crossbeam,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::SpBackoff => "sp_backoff",
            Kind::SpYield => "sp_yield",
            Kind::MpBackoff => "mp_backoff",
            Kind::MpYield => "mp_yield",
            Kind::Crossbeam => "crossbeam",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::SpBackoff => "disruptor single-producer, Wait::Backoff",
            Kind::SpYield => "disruptor single-producer, Wait::Yield",
            Kind::MpBackoff => "disruptor multi-producer, Wait::Backoff",
            Kind::MpYield => "disruptor multi-producer, Wait::Yield",
            Kind::Crossbeam => "crossbeam::channel::bounded",
        }
    }
}

/// What the consumer thread reports when it ends.
struct Report {
    messages: u64,
    out_of_order: u64,
    checksum: u64,
    latency: Option<Histogram<u64>>,
}

/// The consumer's state. Sends its [`Report`] when dropped, i.e. when its thread ends.
struct Sink {
    next: u64,
    out_of_order: u64,
    checksum: u64,
    /// One past the sequence of the last burst-ending message seen.
    done: Arc<AtomicU64>,
    /// `Some` in latency runs: records `now − stamp` for sequences from `warm_up` on.
    latency: Option<Histogram<u64>>,
    warm_up: u64,
    epoch: Instant,
    report: Sender<Report>,
}

impl Sink {
    #[inline]
    fn on(&mut self, m: &Command) {
        if let Some(h) = &mut self.latency {
            let now = self.epoch.elapsed().as_nanos() as u64;
            if m.order_id.0 >= self.warm_up {
                h.saturating_record(now.saturating_sub(m.timestamp_ns));
            }
        }
        let seq = m.order_id.0;
        if seq != self.next {
            self.out_of_order += 1;
        }
        self.next = seq + 1;
        self.checksum = self.checksum.wrapping_add(m.price.0 ^ m.timestamp_ns);
        if m.qty == 0 {
            self.done.store(seq + 1, Ordering::Release);
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.report.send(Report {
            messages: self.next,
            out_of_order: self.out_of_order,
            checksum: self.checksum,
            latency: self.latency.take(),
        });
    }
}

enum Tx {
    Sp(SingleProducer<Command, SingleConsumerBarrier>),
    Mp(MultiProducer<Command, SingleConsumerBarrier>),
    Channel(Sender<Command>, JoinHandle<()>),
}

/// A producer end plus its running consumer thread.
struct Hop {
    tx: Tx,
    done: Arc<AtomicU64>,
    report: Receiver<Report>,
    /// Next sequence to send.
    sent: u64,
    template: Command,
}

/// Retries a full ring the way `Publisher::publish` does: spin about a microsecond, then yield.
#[inline]
fn publish<P: Producer<Command>>(producer: &mut P, m: &Command) {
    let mut tries = 0u32;
    while let Err(RingBufferFull) = producer.try_publish(|slot| *slot = *m) {
        if tries < 100 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        tries = tries.saturating_add(1);
    }
}

impl Hop {
    fn start(kind: Kind, latency: bool, epoch: Instant, warm_up: u64) -> Hop {
        let done = Arc::new(AtomicU64::new(0));
        let (report_tx, report) = crossbeam::channel::bounded(1);
        let mut sink = Sink {
            next: 0,
            out_of_order: 0,
            checksum: 0,
            done: Arc::clone(&done),
            latency: latency.then(|| Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()),
            warm_up,
            epoch,
            report: report_tx,
        };
        let blank = || Command::halt(None);
        let tx = match kind {
            Kind::SpBackoff | Kind::SpYield => {
                let wait = if kind == Kind::SpBackoff {
                    Wait::Backoff
                } else {
                    Wait::Yield
                };
                Tx::Sp(
                    build_single_producer(CAPACITY, blank, wait)
                        .handle_events_with(move |m: &Command, _, _| sink.on(m))
                        .build(),
                )
            }
            Kind::MpBackoff | Kind::MpYield => {
                let wait = if kind == Kind::MpBackoff {
                    Wait::Backoff
                } else {
                    Wait::Yield
                };
                Tx::Mp(
                    build_multi_producer(CAPACITY, blank, wait)
                        .handle_events_with(move |m: &Command, _, _| sink.on(m))
                        .build(),
                )
            }
            Kind::Crossbeam => {
                let (tx, rx) = crossbeam::channel::bounded::<Command>(CAPACITY);
                let consumer = std::thread::Builder::new()
                    .name("hop-consumer".into())
                    .spawn(move || {
                        while let Ok(m) = rx.recv() {
                            sink.on(&m);
                        }
                    })
                    .expect("spawn consumer");
                Tx::Channel(tx, consumer)
            }
        };
        let template = Command::new_order(NewOrder::limit(
            AccountId(1),
            SymbolId(0),
            Side::Buy,
            Price(4_999_000),
            Qty(1),
            ClientOrderId::new("hop-0123456789").expect("short id"),
        ));
        Hop {
            tx,
            done,
            report,
            sent: 0,
            template,
        }
    }

    /// Sends `n` messages; `stamp(i)` (i from 0) returns the i-th message's stamp, after pacing it.
    #[inline]
    fn send_all(&mut self, n: u64, mut stamp: impl FnMut(u64) -> u64) {
        let first = self.sent;
        let end = first + n;
        let template = self.template;
        macro_rules! drive {
            ($send:expr) => {
                for seq in first..end {
                    let ts = stamp(seq - first);
                    let m = message(&template, seq, ts, seq + 1 == end);
                    $send(&m);
                }
            };
        }
        match &mut self.tx {
            Tx::Sp(p) => drive!(|m: &Command| publish(p, m)),
            Tx::Mp(p) => drive!(|m: &Command| publish(p, m)),
            Tx::Channel(tx, _) => drive!(|m: &Command| tx.send(*m).expect("consumer alive")),
        }
        self.sent = end;
    }

    /// Waits until the consumer has read everything sent.
    fn wait_consumed(&self) {
        let mut polls = 0u32;
        while self.done.load(Ordering::Acquire) < self.sent {
            if polls < 100 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
            polls = polls.saturating_add(1);
        }
    }

    /// One burst of `n` as fast as possible: the time until the consumer read the last message.
    fn burst(&mut self, n: u64) -> Duration {
        let start = Instant::now();
        self.send_all(n, |i| i);
        self.wait_consumed();
        start.elapsed()
    }

    /// Stops the consumer thread (joined) and returns its report.
    fn finish(self) -> Report {
        match self.tx {
            // Dropping the producer joins the ring's consumer thread.
            Tx::Sp(p) => drop(p),
            Tx::Mp(p) => drop(p),
            Tx::Channel(tx, consumer) => {
                drop(tx);
                consumer.join().expect("consumer thread");
            }
        }
        let report = self.report.recv().expect("consumer report");
        assert_eq!(report.out_of_order, 0, "messages arrived out of order");
        assert_eq!(report.messages, self.sent, "messages went missing");
        report
    }
}

/// The message with sequence `seq`, stamped `ts`; `last` marks the end of a burst.
#[inline]
fn message(template: &Command, seq: u64, ts: u64, last: bool) -> Command {
    let mut m = *template;
    m.order_id = OrderId(seq);
    m.timestamp_ns = ts;
    m.qty = u64::from(!last);
    m
}

/// Paced latency run: `warm_up + n` messages at `rate`/s, returns the histogram of the last `n`.
fn paced_latency(kind: Kind, n: u64, warm_up: u64, rate: u64) -> Histogram<u64> {
    let epoch = Instant::now();
    let mut hop = Hop::start(kind, true, epoch, warm_up);
    let interval = 1_000_000_000 / rate;
    let start = epoch.elapsed().as_nanos() as u64 + 1_000_000;
    hop.send_all(warm_up + n, |i| {
        let due = start + i * interval;
        loop {
            let now = epoch.elapsed().as_nanos() as u64;
            if now >= due {
                return now;
            }
            std::hint::spin_loop();
        }
    });
    hop.wait_consumed();
    let report = hop.finish();
    black_box(report.checksum);
    report.latency.expect("latency run")
}

fn criterion_throughput(c: &mut Criterion, quick: bool) {
    let burst = if quick { 50_000 } else { BURST };
    let mut group = c.benchmark_group("ring_hop/throughput_1M");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(burst));
    for kind in KINDS {
        let mut hop = Hop::start(kind, false, Instant::now(), 0);
        group.bench_function(kind.name(), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| hop.burst(burst)).sum())
        });
        black_box(hop.finish().checksum);
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

fn summary(quick: bool) {
    let (burst, rounds, lat_n, lat_rounds, warm_up) = if quick {
        (50_000, 1, 10_000, 1, 1_000)
    } else {
        (BURST, 5, RATE / 2, 6, 10_000)
    };

    // Throughput: fresh ring/channel per round, one warm-up burst, then the timed burst.
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); KINDS.len()];
    for _ in 0..rounds {
        for (k, kind) in KINDS.into_iter().enumerate() {
            let mut hop = Hop::start(kind, false, Instant::now(), 0);
            hop.burst(burst / 10);
            let t = hop.burst(burst);
            black_box(hop.finish().checksum);
            rates[k].push(burst as f64 / t.as_secs_f64());
        }
    }
    let rates: Vec<f64> = rates.into_iter().map(median).collect();

    // Latency at a paced rate, rounds interleaved across variants.
    let mut hists: Vec<Histogram<u64>> = KINDS
        .iter()
        .map(|_| Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap())
        .collect();
    for _ in 0..lat_rounds {
        for (k, kind) in KINDS.into_iter().enumerate() {
            let h = paced_latency(kind, lat_n, warm_up, RATE);
            hists[k].add(&h).expect("same bounds");
        }
    }

    let base = KINDS.len() - 1;
    println!();
    println!(
        "ring_hop summary: one producer thread -> one consumer thread, 128-byte hayate::Command, \
         {CAPACITY} slots ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  throughput: burst of {burst} messages, median of {rounds} rounds (fresh ring per round)"
    );
    println!(
        "  latency: one-way hop, paced {RATE} msg/s, {lat_rounds} x {lat_n} messages merged \
         (after {warm_up} warm-up each)"
    );
    println!(
        "  {:<11} {:<42} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}",
        "variant", "", "Mmsg/s", "vs chan", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "p99 vs ch"
    );
    let base_p99 = hists[base].value_at_quantile(0.99);
    for (k, kind) in KINDS.into_iter().enumerate() {
        let h = &hists[k];
        let p99 = h.value_at_quantile(0.99);
        println!(
            "  {:<11} {:<42} {:>9.2} {:>7.2}x {:>8.2} {:>8.2} {:>9.2} {:>9.1} {:>9.2}x",
            kind.name(),
            kind.describe(),
            rates[k] / 1e6,
            rates[k] / rates[base],
            us(h.value_at_quantile(0.50)),
            us(p99),
            us(h.value_at_quantile(0.999)),
            us(h.max()),
            base_p99 as f64 / p99.max(1) as f64,
        );
    }
    println!(
        "  (\"vs chan\": throughput / crossbeam's, > 1 = ring faster; \"p99 vs ch\": crossbeam p99 / \
         variant p99, > 1 = ring lower)"
    );
    let ring_kinds = [Kind::SpBackoff, Kind::MpBackoff];
    for kind in ring_kinds {
        let k = KINDS.iter().position(|&x| x == kind).expect("listed");
        let faster = rates[k] > rates[base];
        let lower = hists[k].value_at_quantile(0.99) < base_p99;
        println!(
            "  {} (the pipeline's default wait) vs crossbeam: throughput {:.2}x ({}), p99 {:.2} µs vs \
             {:.2} µs ({})",
            kind.name(),
            rates[k] / rates[base],
            if faster {
                "ring faster"
            } else {
                "ring NOT faster"
            },
            us(hists[k].value_at_quantile(0.99)),
            us(base_p99),
            if lower {
                "ring lower"
            } else {
                "ring NOT lower"
            },
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let mut c = Criterion::default().configure_from_args();
    criterion_throughput(&mut c, quick);
    c.final_summary();
    summary(quick);
}
