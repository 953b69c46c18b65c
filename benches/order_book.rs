//! Order-book throughput: Hayate's engine against two baselines on the same command stream.
//!
//! Run: `cargo bench --bench order_book` (the summary table at the end is what the README quotes).
//!
//! Workloads (generated once, deterministically, before any timing; see `hayate_testkit::stream`):
//!
//! - `order_book/mixed`: 1,000,000 commands over a book pre-populated with 1,000 contiguous price
//!   levels per side (1–4 orders each): ~60% GTC limits near the touch (~5% of them marketable),
//!   ~25% cancels of live orders (mostly recent ones, ~2% of already-ended orders), ~10% crossing
//!   orders (half IOC limits priced through the touch, half market orders), ~5% replaces (size
//!   down, size up, price moves).
//! - `order_book/place_cancel_deep`: place a GTC limit 10–1,000 levels behind the best of a
//!   1,000-level book, then cancel it; 100,000 pairs.
//! - `order_book/place_cancel_far_new_level`: the same, but each order opens a new level 1–50 ticks
//!   beyond the deepest one (the worst case for a sorted-vector book).
//!
//! Hayate's `order_capacity` (the preallocation hint for its order arena and id/ClOrdID hash maps)
//! is 2^14 here, about three times the ~5,000 orders open at once; the summary also times 2^17 and
//! 2^20, because the engine sizes its hash maps to it and a table far larger than the live order
//! count costs page faults and cache misses on every insert (`HAYATE_BENCH_ORDER_CAPACITY` sets it).
//!
//! Implementations, each driven from the same pre-populated book (built outside the timed region,
//! fresh for every timed run):
//!
//! - `hayate`: the real [`hayate::Engine`] with accounts, reservations, a 10 bps taker fee, client
//!   order ids and full execution reports (128-byte events to a counting sink). Buy orders come from
//!   accounts 1–2 and sell orders from accounts 3–4, so no order ever meets its own account and
//!   self-trade prevention never changes the fills; every account holds far more than it can
//!   spend, so nothing is refused (checked: zero rejects).
//! - `btreemap_baseline`: `BTreeMap<price, VecDeque<order>>` per side plus a std `HashMap` from id
//!   to (side, price); cancel searches the level linearly. It does strictly less work than Hayate:
//!   no accounts, funds, fees, client ids or validation, and it reports trades only.
//! - `matchcore`: the published `matchcore` 0.4.0 single-threaded matcher (limit GTC/IOC, market,
//!   cancel, amend). It keeps no accounts either. Its marketable limits are matched without a price
//!   cap (see `hayate_testkit::stream`), so the stream only sends crossing orders that fill in full
//!   within their limit; with that, all three produce the same trades, which is checked trade by
//!   trade (maker, taker, price, quantity) before anything is timed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use hayate::{AccountId, Amount, Command, Engine, EngineConfig, Event, EventKind, EventSink};
use matchcore as mc;

use hayate_testkit::market::{BASE, MID, QUOTE, Translator, hayate_config};
use hayate_testkit::naive_book::{NaiveBook, Trade};
use hayate_testkit::stream::{self, Op, OpSide, Scenario, StreamConfig, StreamStats};

/// Each account gets this much of each asset: far more than the stream can spend.
const DEPOSIT: u64 = 1_000_000_000_000_000;

// ----- Hayate ------------------------------------------------------------------------------

/// Buyers are accounts 1–2, sellers 3–4, alternating by order id.
/// A scenario as Hayate commands: the untimed setup (deposits, pre-population) and the stream.
struct HayatePlan {
    config: EngineConfig,
    setup: Vec<Command>,
    stream: Vec<Command>,
}

fn hayate_plan(scenario: &Scenario, order_capacity: u32) -> HayatePlan {
    let mut translator = Translator::default();
    let mut translate = |op: &Op, seq: usize| translator.command(op, seq);
    let mut setup = Vec::new();
    for account in 1..=4 {
        for asset in [BASE, QUOTE] {
            setup.push(Command::deposit(AccountId(account), asset, Amount(DEPOSIT)));
        }
    }
    setup.extend(
        scenario
            .prepop
            .iter()
            .enumerate()
            .map(|(i, op)| translate(op, i)),
    );
    let base = scenario.prepop.len();
    let stream = scenario
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| translate(op, base + i))
        .collect();
    HayatePlan {
        config: hayate_config(order_capacity),
        setup,
        stream,
    }
}

/// The timed sink: counts events, and lots traded from fill events.
#[derive(Default, Clone, Copy, Debug)]
struct Tally {
    events: u64,
    fill_events: u64,
    traded_both_sides: u64,
    rejected: u64,
}

impl EventSink for Tally {
    #[inline(always)]
    fn emit(&mut self, e: &Event) {
        self.events += 1;
        if e.kind == EventKind::Fill as u8 {
            self.fill_events += 1;
            self.traded_both_sides += e.detail[1];
        }
        self.rejected += u64::from(e.kind == EventKind::Rejected as u8);
    }
}

/// A fresh engine holding the pre-populated book (not timed).
fn hayate_fresh(plan: &HayatePlan) -> Engine {
    hayate_fresh_with(plan, plan.config.clone())
}

fn hayate_fresh_with(plan: &HayatePlan, config: EngineConfig) -> Engine {
    let mut engine = Engine::new(config);
    let mut tally = Tally::default();
    for cmd in &plan.setup {
        engine.process(cmd, &mut tally);
    }
    assert_eq!(tally.rejected, 0, "pre-population was refused");
    engine
}

#[inline(never)]
fn hayate_run(engine: &mut Engine, stream: &[Command]) -> Tally {
    let mut tally = Tally::default();
    for cmd in stream {
        engine.process(cmd, &mut tally);
    }
    tally
}

// ----- naive baseline ----------------------------------------------------------------------

fn naive_fresh(scenario: &Scenario) -> NaiveBook {
    let mut book = NaiveBook::with_capacity(1 << 16);
    for op in &scenario.prepop {
        book.apply(op, &mut |_| {});
    }
    book
}

#[inline(never)]
fn naive_run(book: &mut NaiveBook, ops: &[Op]) -> (u64, u64) {
    let (mut trades, mut traded) = (0u64, 0u64);
    for op in ops {
        book.apply(op, &mut |t: &Trade| {
            trades += 1;
            traded += t.qty;
        });
    }
    (trades, traded)
}

// ----- matchcore ---------------------------------------------------------------------------

/// A scenario as matchcore commands. matchcore wants consecutive sequence numbers from 0 and
/// names each order by the sequence number of its submit command, so `id_of_seq` maps back.
struct McPlan {
    setup: Vec<mc::Command>,
    stream: Vec<mc::Command>,
    id_of_seq: Vec<u64>,
}

fn mc_side(side: OpSide) -> mc::Side {
    match side {
        OpSide::Buy => mc::Side::Buy,
        OpSide::Sell => mc::Side::Sell,
    }
}

fn mc_limit(side: OpSide, price: u64, qty: u64, tif: mc::TimeInForce) -> mc::CommandKind {
    mc::CommandKind::Submit(mc::SubmitCmd {
        order: mc::NewOrder::Limit(mc::LimitOrder::new(
            mc::Price(price),
            mc::QuantityPolicy::Standard {
                quantity: mc::Quantity(qty),
            },
            mc::OrderFlags::new(mc_side(side), false, tif),
        )),
    })
}

fn mc_plan(scenario: &Scenario) -> McPlan {
    let mut seq_of_id: Vec<u64> = vec![u64::MAX];
    let mut id_of_seq: Vec<u64> = Vec::new();
    let mut translate = |op: &Op| -> mc::Command {
        let seq = id_of_seq.len() as u64;
        id_of_seq.push(op.new_order_id().unwrap_or(0));
        if let Some(id) = op.new_order_id() {
            assert_eq!(id as usize, seq_of_id.len(), "ids are dense and in order");
            seq_of_id.push(seq);
        }
        let kind = match *op {
            Op::Limit {
                side, price, qty, ..
            } => mc_limit(side, price, qty, mc::TimeInForce::Gtc),
            Op::Ioc {
                side, price, qty, ..
            } => mc_limit(side, price, qty, mc::TimeInForce::Ioc),
            Op::Market { side, qty, .. } => mc::CommandKind::Submit(mc::SubmitCmd {
                order: mc::NewOrder::Market(mc::MarketOrder::new(
                    mc::Quantity(qty),
                    mc_side(side),
                    false,
                )),
            }),
            Op::Cancel { id } => mc::CommandKind::Cancel(mc::CancelCmd {
                order_id: mc::OrderId(seq_of_id[id as usize]),
                order_kind: mc::OrderKind::Limit,
            }),
            Op::Replace {
                id,
                price,
                new_leaves,
                ..
            } => {
                // matchcore's quantity is the new leaves; a patch field equal to the current
                // value changes nothing there.
                let patch = mc::LimitOrderPatch::new()
                    .with_price(mc::Price(price))
                    .with_quantity_policy(mc::QuantityPolicy::Standard {
                        quantity: mc::Quantity(new_leaves),
                    });
                mc::CommandKind::Amend(mc::AmendCmd {
                    order_id: mc::OrderId(seq_of_id[id as usize]),
                    patch: mc::AmendPatch::Limit(patch),
                })
            }
        };
        mc::Command {
            meta: mc::CommandMeta {
                sequence_number: mc::SequenceNumber(seq),
                timestamp: mc::Timestamp(0),
            },
            kind,
        }
    };
    let setup = scenario.prepop.iter().map(&mut translate).collect();
    let stream = scenario.ops.iter().map(&mut translate).collect();
    McPlan {
        setup,
        stream,
        id_of_seq,
    }
}

fn mc_fresh(plan: &McPlan) -> mc::OrderBook {
    let mut book = mc::OrderBook::new("BTC-USD");
    for cmd in &plan.setup {
        let outcome = book.execute(cmd);
        assert!(matches!(outcome, mc::CommandOutcome::Applied(_)));
    }
    book
}

/// What the timed matchcore loop reads from each outcome.
#[derive(Default, Clone, Copy, Debug)]
struct McTally {
    trades: u64,
    traded: u64,
    rejected: u64,
}

#[inline(always)]
fn mc_tally(outcome: &mc::CommandOutcome, tally: &mut McTally) {
    match outcome {
        mc::CommandOutcome::Applied(
            mc::CommandReport::Submit(effects) | mc::CommandReport::Amend(effects),
        ) => {
            if let Some(m) = effects.target_order().match_result() {
                tally.trades += m.trades().len() as u64;
                tally.traded += m.executed_quantity().0;
            }
        }
        mc::CommandOutcome::Applied(mc::CommandReport::Cancel) => {}
        mc::CommandOutcome::Rejected(_) => tally.rejected += 1,
    }
}

#[inline(never)]
fn mc_run(book: &mut mc::OrderBook, stream: &[mc::Command]) -> McTally {
    let mut tally = McTally::default();
    for cmd in stream {
        let outcome = book.execute(cmd);
        mc_tally(&outcome, &mut tally);
    }
    tally
}

// ----- workloads and the sanity check ------------------------------------------------------

/// One workload, translated for all three implementations.
struct Workload {
    name: &'static str,
    what: &'static str,
    scenario: Scenario,
    hayate: HayatePlan,
    matchcore: McPlan,
}

impl Workload {
    fn new(name: &'static str, what: &'static str, scenario: Scenario, capacity: u32) -> Workload {
        let hayate = hayate_plan(&scenario, capacity);
        let matchcore = mc_plan(&scenario);
        let workload = Workload {
            name,
            what,
            scenario,
            hayate,
            matchcore,
        };
        workload.check();
        workload
    }

    fn len(&self) -> usize {
        self.scenario.ops.len()
    }

    /// Runs the stream once through each implementation recording every trade, and asserts that
    /// they agree trade by trade and that Hayate refused nothing.
    fn check(&self) {
        let stats = &self.scenario.stats;

        // Naive.
        let mut book = naive_fresh(&self.scenario);
        let mut naive = Vec::new();
        let mut misses = 0;
        for op in &self.scenario.ops {
            if !book.apply(op, &mut |t: &Trade| naive.push(*t)) {
                misses += 1;
            }
        }
        assert_eq!(misses, stats.cancel_misses, "naive: unexpected misses");

        // Hayate: pair each trade's taker and maker fill events.
        let mut engine = hayate_fresh(&self.hayate);
        let mut counts = [0u64; 32];
        let mut hayate = Vec::new();
        let mut taker: Option<(u64, u64)> = None; // (trade id, taker order id)
        for cmd in &self.hayate.stream {
            engine.process(cmd, &mut |e: &Event| {
                counts[e.kind as usize] += 1;
                if e.kind == EventKind::Fill as u8 {
                    let fill = e.fill();
                    if e.is_maker() {
                        let (trade_id, taker_id) = taker.take().expect("taker fill comes first");
                        assert_eq!(trade_id, fill.trade_id.0);
                        hayate.push(Trade {
                            maker: e.order_id.0,
                            taker: taker_id,
                            price: fill.last_px.0,
                            qty: fill.last_qty.0,
                        });
                    } else {
                        taker = Some((fill.trade_id.0, e.order_id.0));
                    }
                }
            });
        }
        let count = |k: EventKind| counts[k as usize];
        assert_eq!(count(EventKind::Rejected), 0, "hayate rejected orders");
        assert_eq!(
            count(EventKind::ReplaceRejected),
            0,
            "hayate rejected replaces"
        );
        assert_eq!(count(EventKind::Restated), 0, "self-trade prevention fired");
        assert_eq!(
            count(EventKind::CancelRejected) as usize,
            stats.cancel_misses,
            "hayate: cancel rejects are not the deliberate misses"
        );
        engine
            .check_invariants()
            .expect("hayate invariants after the stream");

        // matchcore: taker = the submitted or amended order, makers from its trades.
        let mut book = mc_fresh(&self.matchcore);
        let mut matchcore = Vec::new();
        let mut rejected = 0;
        for cmd in &self.matchcore.stream {
            match book.execute(cmd) {
                mc::CommandOutcome::Applied(
                    mc::CommandReport::Submit(effects) | mc::CommandReport::Amend(effects),
                ) => {
                    let target = effects.target_order();
                    let taker = self.matchcore.id_of_seq[target.order_id().0 as usize];
                    if let Some(m) = target.match_result() {
                        for t in m.trades() {
                            matchcore.push(Trade {
                                maker: self.matchcore.id_of_seq[t.maker_order_id().0 as usize],
                                taker,
                                price: t.price().0,
                                qty: t.quantity().0,
                            });
                        }
                    }
                    assert!(effects.triggered_orders().is_empty());
                }
                mc::CommandOutcome::Applied(mc::CommandReport::Cancel) => {}
                mc::CommandOutcome::Rejected(_) => rejected += 1,
            }
        }
        assert_eq!(
            rejected, stats.cancel_misses,
            "matchcore: unexpected rejects"
        );

        assert_eq!(naive.len() as u64, stats.trades);
        assert_eq!(
            hayate.len(),
            naive.len(),
            "hayate and naive trade counts differ"
        );
        assert_eq!(
            matchcore.len(),
            naive.len(),
            "matchcore and naive trade counts differ"
        );
        for (i, ((h, n), m)) in hayate.iter().zip(&naive).zip(&matchcore).enumerate() {
            assert_eq!(h, n, "trade {i}: hayate vs naive");
            assert_eq!(m, n, "trade {i}: matchcore vs naive");
        }
    }
}

fn stream_config(len: usize) -> StreamConfig {
    StreamConfig {
        seed: 0x4a59_4154_4521,
        mid: MID,
        levels_per_side: 1_000,
        max_orders_per_level: 4,
        len,
    }
}

// ----- timing ------------------------------------------------------------------------------

/// The three implementations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Impl {
    Hayate,
    Naive,
    Matchcore,
}

impl Impl {
    const ALL: [Impl; 3] = [Impl::Hayate, Impl::Naive, Impl::Matchcore];

    fn bench_name(self) -> &'static str {
        match self {
            Impl::Hayate => "hayate",
            Impl::Naive => "btreemap_baseline",
            Impl::Matchcore => "matchcore",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Impl::Hayate => "hayate Engine",
            Impl::Naive => "BTreeMap<VecDeque> book",
            Impl::Matchcore => "matchcore 0.4.0",
        }
    }
}

/// Hayate with another `order_capacity` (the preallocation hint), same stream.
fn time_hayate_capacity(w: &Workload, order_capacity: u32) -> Duration {
    let mut engine = hayate_fresh_with(&w.hayate, hayate_config(order_capacity));
    let start = Instant::now();
    let tally = hayate_run(&mut engine, black_box(&w.hayate.stream));
    let elapsed = start.elapsed();
    black_box((tally, &mut engine));
    assert_eq!(tally.rejected, 0);
    elapsed
}

/// Builds a fresh state for `which` (not timed), then times one pass over the stream.
fn time_once(w: &Workload, which: Impl) -> Duration {
    match which {
        Impl::Hayate => {
            let mut engine = hayate_fresh(&w.hayate);
            let start = Instant::now();
            let tally = hayate_run(&mut engine, black_box(&w.hayate.stream));
            let elapsed = start.elapsed();
            black_box((tally, &mut engine));
            assert_eq!(tally.rejected, 0);
            elapsed
        }
        Impl::Naive => {
            let mut book = naive_fresh(&w.scenario);
            let start = Instant::now();
            let tally = naive_run(&mut book, black_box(&w.scenario.ops));
            let elapsed = start.elapsed();
            black_box((tally, &mut book));
            elapsed
        }
        Impl::Matchcore => {
            let mut book = mc_fresh(&w.matchcore);
            let start = Instant::now();
            let tally = mc_run(&mut book, black_box(&w.matchcore.stream));
            let elapsed = start.elapsed();
            black_box((tally, &mut book));
            elapsed
        }
    }
}

fn criterion_group(c: &mut Criterion, w: &Workload, measurement: Duration) {
    let mut group = c.benchmark_group(w.name);
    group
        .throughput(Throughput::Elements(w.len() as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement);
    for which in Impl::ALL {
        group.bench_function(which.bench_name(), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| time_once(w, which)).sum())
        });
    }
    group.finish();
}

/// Per-command latency: each command timed alone with the TSC, converted to ns.
struct Latency {
    percentiles: [f64; 5],
    overhead_ns: f64,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn ticks() -> u64 {
    // SAFETY: `lfence` and `rdtsc` have no preconditions on x86_64.
    unsafe {
        std::arch::x86_64::_mm_lfence();
        std::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn ticks() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Nanoseconds per tick, measured against the monotonic clock.
fn ns_per_tick() -> f64 {
    let (t0, i0) = (ticks(), Instant::now());
    std::thread::sleep(Duration::from_millis(200));
    let (t1, i1) = (ticks(), Instant::now());
    (i1 - i0).as_nanos() as f64 / (t1 - t0) as f64
}

fn latency(w: &Workload, which: Impl, ns_per_tick: f64) -> Latency {
    let mut samples: Vec<u64> = Vec::with_capacity(w.len());
    let overhead = (0..10_000)
        .map(|_| {
            let t = ticks();
            ticks() - t
        })
        .min()
        .unwrap_or(0);
    match which {
        Impl::Hayate => {
            let mut engine = hayate_fresh(&w.hayate);
            let mut tally = Tally::default();
            for cmd in &w.hayate.stream {
                let t = ticks();
                engine.process(cmd, &mut tally);
                samples.push(ticks() - t);
            }
            black_box(tally);
        }
        Impl::Naive => {
            let mut book = naive_fresh(&w.scenario);
            let mut traded = 0u64;
            for op in &w.scenario.ops {
                let t = ticks();
                book.apply(op, &mut |t: &Trade| traded += t.qty);
                samples.push(ticks() - t);
            }
            black_box(traded);
        }
        Impl::Matchcore => {
            let mut book = mc_fresh(&w.matchcore);
            let mut tally = McTally::default();
            for cmd in &w.matchcore.stream {
                let t = ticks();
                let outcome = book.execute(cmd);
                mc_tally(&outcome, &mut tally);
                drop(outcome);
                samples.push(ticks() - t);
            }
            black_box(tally);
        }
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q) as usize).min(samples.len() - 1);
        samples[i].saturating_sub(overhead) as f64 * ns_per_tick
    };
    Latency {
        percentiles: [at(0.5), at(0.9), at(0.99), at(0.999), at(1.0)],
        overhead_ns: overhead as f64 * ns_per_tick,
    }
}

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

fn pct(n: usize, of: usize) -> f64 {
    100.0 * n as f64 / of as f64
}

fn describe(stats: &StreamStats, len: usize) -> String {
    let mut s = String::new();
    s += &format!(
        "  book before: {} orders, {} bid / {} ask levels; after: {} orders, {} / {} levels; \
         during the stream: {:.0} orders and {:.0} levels per side on average ({}..{})\n",
        thousands(stats.initial.0 as u64),
        stats.initial.1,
        stats.initial.2,
        thousands(stats.fin.0 as u64),
        stats.fin.1,
        stats.fin.2,
        stats.live_mean,
        stats.level_mean,
        stats.level_range.0,
        stats.level_range.1,
    );
    s += &format!(
        "  mix: {:.1}% GTC limits ({:.1}% of them marketable, {:.1}% placed deep), {:.1}% cancels \
         ({} of them of already-ended orders), {:.1}% IOC limits, {:.1}% market, {:.1}% replaces \
         ({} price moves)\n",
        pct(stats.limits, len),
        pct(stats.marketable_limits, stats.limits.max(1)),
        pct(stats.deep_limits, stats.limits.max(1)),
        pct(stats.cancels, len),
        thousands(stats.cancel_misses as u64),
        pct(stats.iocs, len),
        pct(stats.markets, len),
        pct(stats.replaces, len),
        thousands(stats.replace_price_moves as u64),
    );
    s += &format!(
        "  trades: {} ({} lots), identical in all three implementations (checked trade by trade)\n",
        thousands(stats.trades),
        thousands(stats.traded_qty),
    );
    s
}

fn summary(workloads: &[&Workload], reps: usize) {
    println!();
    println!("==================================================================================");
    println!("Hayate order-book benchmark: summary");
    println!(
        "Each figure is the median of {reps} timed passes over the whole stream (std::time::Instant),"
    );
    println!("each pass from a freshly built pre-populated book; building it is not timed.");
    println!("Single thread. Sink: Hayate's 128-byte events go to a counting sink; the baselines");
    println!("report trades only and keep no accounts, funds or fees (they do less work).");
    println!("==================================================================================");
    let ns_tick = ns_per_tick();
    for w in workloads {
        let len = w.len();
        println!();
        println!(
            "{} - {} ({} commands)",
            w.name,
            w.what,
            thousands(len as u64)
        );
        print!("{}", describe(&w.scenario.stats, len));
        let medians: Vec<Duration> = Impl::ALL
            .iter()
            .map(|&which| median((0..reps).map(|_| time_once(w, which)).collect()))
            .collect();
        let hayate = medians[0];
        println!();
        println!(
            "  {:<26} {:>14} {:>12} {:>16}",
            "implementation", "commands/s", "ns/command", "hayate speed-up"
        );
        for (which, d) in Impl::ALL.iter().zip(&medians) {
            let rate = len as f64 / d.as_secs_f64();
            let ns = d.as_nanos() as f64 / len as f64;
            let ratio = if *which == Impl::Hayate {
                "-".to_string()
            } else {
                format!("{:.2}x", d.as_secs_f64() / hayate.as_secs_f64())
            };
            println!(
                "  {:<26} {:>14} {:>12.1} {:>16}",
                which.label(),
                thousands(rate as u64),
                ns,
                ratio
            );
        }
        if w.name == "order_book/mixed" {
            let capacity = w.hayate.config.order_capacity;
            for other in [1u32 << 20, 1 << 17] {
                if other == capacity {
                    continue;
                }
                let d = median((0..reps).map(|_| time_hayate_capacity(w, other)).collect());
                println!(
                    "  {:<26} {:>14} {:>12.1} {:>16}",
                    format!("  same, order_capacity 2^{}", other.trailing_zeros()),
                    thousands((len as f64 / d.as_secs_f64()) as u64),
                    d.as_nanos() as f64 / len as f64,
                    format!("({:.2}x slower)", d.as_secs_f64() / hayate.as_secs_f64())
                );
            }
            let rate = len as f64 / hayate.as_secs_f64();
            let vs_naive = medians[1].as_secs_f64() / hayate.as_secs_f64();
            let vs_mc = medians[2].as_secs_f64() / hayate.as_secs_f64();
            let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
            println!();
            println!(
                "  targets: >= 10M commands/s: {} ({:.1}M); >= 5x the naive book: {} ({:.2}x); \
                 ahead of matchcore: {} ({:.2}x)",
                verdict(rate >= 10e6),
                rate / 1e6,
                verdict(vs_naive >= 5.0),
                vs_naive,
                verdict(vs_mc > 1.0),
                vs_mc
            );
            println!();
            println!(
                "  per-command latency, ns (each command timed alone with rdtsc, timer overhead \
                 subtracted):"
            );
            println!(
                "  {:<26} {:>8} {:>8} {:>8} {:>8} {:>10}",
                "implementation", "p50", "p90", "p99", "p99.9", "max"
            );
            let mut overhead = 0.0;
            for which in Impl::ALL {
                let l = latency(w, which, ns_tick);
                overhead = l.overhead_ns;
                let p = l.percentiles;
                println!(
                    "  {:<26} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>10.0}",
                    which.label(),
                    p[0],
                    p[1],
                    p[2],
                    p[3],
                    p[4]
                );
            }
            println!("  (timer overhead subtracted: {overhead:.0} ns per sample)");
        }
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` / `cargo bench -- --test`: a short smoke run.
    let quick = args.iter().any(|a| a == "--test");
    let (len, pairs, reps) = if quick {
        (50_000, 10_000, 1)
    } else {
        (1_000_000, 100_000, 5)
    };
    let capacity = std::env::var("HAYATE_BENCH_ORDER_CAPACITY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 14);

    let started = Instant::now();
    let cfg = stream_config(len);
    let mixed = Workload::new(
        "order_book/mixed",
        "60% limit near the touch, 25% cancel, 10% IOC/market crossing, 5% replace",
        stream::mixed(&cfg),
        capacity,
    );
    let deep = Workload::new(
        "order_book/place_cancel_deep",
        "place a limit 10-1,000 levels behind the best, then cancel it",
        stream::place_cancel_deep(&cfg, pairs, false),
        capacity,
    );
    let far = Workload::new(
        "order_book/place_cancel_far_new_level",
        "place a limit on a new level beyond the deepest, then cancel it",
        stream::place_cancel_deep(&cfg, pairs, true),
        capacity,
    );
    eprintln!(
        "workloads generated and cross-checked in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Profiling aid: `HAYATE_BENCH_PROFILE=hayate|btreemap_baseline|matchcore` skips criterion and
    // the summary and just runs that implementation over the mixed stream 20 times, so a profiler
    // (`perf record`, `valgrind --tool=callgrind`) sees little else.
    if let Ok(which) = std::env::var("HAYATE_BENCH_PROFILE") {
        let which = Impl::ALL
            .into_iter()
            .find(|i| i.bench_name() == which)
            .expect("HAYATE_BENCH_PROFILE names an implementation");
        let runs: usize = std::env::var("HAYATE_BENCH_PROFILE_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20);
        let total: Duration = (0..runs).map(|_| time_once(&mixed, which)).sum();
        eprintln!(
            "{}: {:.1} ns/command over {runs} runs",
            which.bench_name(),
            total.as_nanos() as f64 / (runs * mixed.len()) as f64
        );
        return;
    }

    let mut c = Criterion::default().configure_from_args();
    criterion_group(&mut c, &mixed, Duration::from_secs(5));
    criterion_group(&mut c, &deep, Duration::from_secs(3));
    criterion_group(&mut c, &far, Duration::from_secs(3));
    c.final_summary();

    summary(&[&mixed, &deep, &far], reps);
}
