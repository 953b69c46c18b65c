//! Open-loop load generator: offers a fixed rate of commands to the exchange and records the
//! latency from each command's *scheduled* send time to its first event in an HdrHistogram.
//!
//! ```text
//! cargo run --release --example loadgen                                   # 100k/s, 10 s, in-process
//! cargo run --release --example loadgen -- --rate 500000 --duration 10
//! cargo run --release --example loadgen -- --rate 100000 --fsync always   # measures the disk too
//! cargo run --release --example loadgen -- --rate 1000000 --wait yield --hgrm out.hgrm
//! cargo run --release --example loadgen -- --mode binary --rate 10000 --clients 4
//! cargo run --release --example loadgen -- --mode fix --rate 10000 --addr 127.0.0.1:9878
//! cargo run --release --example loadgen -- --mode binary --replication none,async,sync --rate 10000 --duration 10
//! ```
//!
//! **Open loop, with coordinated-omission correction.** Command `i` is scheduled at
//! `t0 + i / rate`. The producer waits for that time, stamps the command's `timestamp_ns` with the
//! *scheduled* time (not the time it manages to send it), and publishes it, retrying while the
//! input ring is full. If the pipeline stalls, the commands that should have gone out during the
//! stall are charged their whole wait, as a real client sending at that rate would see it, instead
//! of the stall being hidden by a producer that politely waited. Both ends use one monotonic clock:
//! nanoseconds since an `Instant` taken at start (so the journaled `timestamp_ns` of these commands
//! is not epoch time).
//!
//! The consumer records, for each command's first event (`index == 0`), `received − scheduled`.
//! Commands scheduled during `--warmup` run through the pipeline but are not recorded. If the
//! producer is still behind schedule `--drain-timeout` seconds after the last scheduled time, it
//! gives up; the commands it never sent are recorded at a lower bound of their latency (give-up
//! time − scheduled time) and the report says so.
//!
//! **Modes.** `--mode in-process` (the default) drives a [`hayate::pipeline::Pipeline`] in this
//! process: the producer is a `Publisher`, the consumer the `EventReceiver`. `--mode binary` and
//! `--mode fix` go through a gateway's TCP ports instead (one started in this process, or
//! `--addr`'s), with `--clients` sessions and a TCP echo round trip measured first as the floor
//! the order path is compared with; see `network.rs`. The recording ([`Recorder`]), the
//! schedule ([`Plan`], [`Ticker`]) and the coordinated-omission correction are shared by all modes.
//!
//! **Replication.** `--replication none,async,sync` (network modes, gateway started here) runs the
//! same measured phase once per listed setting, in order, each against a fresh gateway with fresh
//! data directories: `none` is a lone gateway; `async` and `sync` start a primary and a standby
//! gateway in this process (each with its own journal and ephemeral ports, linked over loopback,
//! both with `--fsync`'s policy), wait until the standby is connected and has the deposits, then
//! warm up and measure (default replication settings). The primary's link is sampled during the measured
//! window, and a run whose standby was disconnected, or whose sync primary was degraded, is
//! reported loudly: its figure would not be what it says. After the runs, one percentile line per
//! setting and each setting's p50 and p99 as a multiple of `none`'s. The echo floor is measured
//! once, before the first setting. The default, `none` alone, is the plain run.
//!
//! **Market data.** `--ws-subscribers 0,1000 --trade-every 10` (network modes, gateway started
//! here) runs the same measured phase once per number of WebSocket subscribers, in order, each
//! against a fresh gateway whose `[market_data]` caps are raised so that many connections from
//! 127.0.0.1 are allowed and none is dropped for a short stall (64 MiB queued per subscriber;
//! drops are counted anyway). Before the warm-up, N connections to the feed (`ws://`, the
//! gateway's ephemeral `ws_listen`) each subscribe to level2, matches, ticker and status of every
//! configured symbol, and the run waits until each holds its snapshots. One thread reads them
//! all (non-blocking sockets, `poll`, tungstenite; the machine has two cores, so not a thread per
//! connection), see `network/feed_subscribers.rs`. Each `l2update` is recorded once the LAST
//! subscriber has read it: that time minus the update's `time` (the command's receive time at
//! the gateway), "command received → update on the last subscriber's socket". Each run also
//! reports messages and bytes received (in total and per subscriber), sequence gaps, dropped
//! subscribers, and the feed's own counters: messages encoded per update (one per channel with
//! news, however many subscribers: the encode is shared) and bytes encoded per update. At the
//! end, order→ack p50 and p99 with N subscribers as a multiple of the fewest (target p50 ≤ 1.2×)
//! and each run's update p99 (target < 5 ms).
//!
//! **Trades.** Every order above is a non-crossing IOC: no trade, no book change, so no market
//! data. `--trade-every K` (own gateway only) places, before the warm-up, a resting GTC sell of
//! 5,000,000 lots at `--sell-price` from a `maker` user of its own (its own account, so self-trade
//! prevention never applies; its session's fills are read by a thread), and makes every K-th
//! order an IOC buy at `--sell-price` instead, which trades `--qty` with it: one market-data
//! update (a trade, a level change, a ticker change). Such an order's first reply is still its
//! Accepted report (FIX: ExecutionReport New), recorded like every other; its fill is a later
//! event. The maker's order counts among the gateway's initial commands, so the journal check at
//! the end still accounts for every command. The default prices (4,900,000 and 5,100,000) stay
//! inside the demo's 10% price band once trades at the sell price have moved its reference;
//! prices that would not are refused up front rather than measured as `PRICE_BAND` refusals.

mod flow;
mod network;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hayate::journal::{FlushPolicy, JournalOptions};
use hayate::pipeline::{
    EventReceiver, Output, Pipeline, PublishError, Publisher, StagePins, StopReport, Wait,
};
use hayate::{
    AccountId, Amount, Command, Event, EventKind, ExchangeConfig, Price, Reason, SymbolId,
};
use hdrhistogram::Histogram;

use flow::{Flow, FlowCounts};

const NS_PER_S: u64 = 1_000_000_000;
/// The largest latency the histogram tells apart (larger ones are recorded as this).
const HIGHEST_NS: u64 = 60 * NS_PER_S;
/// Time between the start of the clock and the first scheduled command, so the initial deposits
/// are through and the threads are running.
const LEAD_NS: u64 = 100_000_000;
/// What each account is credited before the flow starts, per asset, in minor units: far more
/// than any run can hold or trade, so no order is refused for funds.
const BIG_DEPOSIT: u64 = 100_000_000_000_000_000;
/// Passive orders kept on the book before the flow cancels the oldest.
const MIN_RESTING: usize = 2_000;

/// How commands reach the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// A pipeline in this process: publish into its input ring, read its output ring.
    InProcess,
    /// The binary order-entry protocol over TCP.
    Binary,
    /// FIX 4.4 over TCP.
    Fix,
}

/// What stands behind the gateway the network modes measure (`--replication`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Replication {
    /// A lone gateway: no standby.
    None,
    /// A primary streaming its journal to a standby, not waiting for it.
    Async,
    /// A primary whose matcher waits for the standby's acknowledgement of every batch.
    Sync,
}

impl Replication {
    fn name(self) -> &'static str {
        match self {
            Replication::None => "none",
            Replication::Async => "async",
            Replication::Sync => "sync",
        }
    }
}

/// The journal's flush policy: `always`, `never` or `interval:MS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fsync(FlushPolicy);

impl std::str::FromStr for Fsync {
    type Err = String;

    fn from_str(s: &str) -> Result<Fsync, String> {
        match s {
            "always" => Ok(Fsync(FlushPolicy::Always)),
            "never" => Ok(Fsync(FlushPolicy::Never)),
            other => match other.strip_prefix("interval:") {
                Some(ms) => match ms.parse::<u64>() {
                    Ok(ms) if ms > 0 => Ok(Fsync(FlushPolicy::Interval { ms })),
                    _ => Err(format!(
                        "interval:{ms}: the interval must be a whole number of milliseconds > 0"
                    )),
                },
                None => Err(format!(
                    "unknown fsync policy {other:?} (always, never or interval:MS)"
                )),
            },
        }
    }
}

impl std::fmt::Display for Fsync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            FlushPolicy::Always => {
                f.write_str("always (msync per ring batch: this measures the disk)")
            }
            FlushPolicy::Never => f.write_str("never (page cache only: no disk in the latency)"),
            FlushPolicy::Interval { ms } => {
                write!(f, "interval:{ms} (msync at most every {ms} ms)")
            }
        }
    }
}

/// Seconds: a finite, non-negative number.
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

/// Offers a fixed rate of commands, open loop, and records publish→event latency.
#[derive(Parser, Debug)]
#[command(about, long_about = None)]
struct Args {
    /// Where commands go.
    #[arg(long, value_enum, default_value_t = Mode::InProcess)]
    mode: Mode,
    /// Commands offered per second.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    rate: u64,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value = "10", value_parser = seconds)]
    duration: f64,
    /// Seconds of load before measuring (not recorded).
    #[arg(long, default_value = "2", value_parser = seconds)]
    warmup: f64,
    /// Seconds the producer keeps sending a backlog after the last scheduled time before it gives
    /// up (a pipeline that cannot keep up would otherwise make the run as long as the backlog).
    #[arg(long, default_value = "10", value_parser = seconds)]
    drain_timeout: f64,
    /// Journal flush policy: always | never | interval:MS. `always` puts the disk in the latency.
    #[arg(long, default_value = "never")]
    fsync: Fsync,
    /// How idle pipeline stages wait: backoff | yield | busy-spin.
    #[arg(long, default_value = "backoff")]
    wait: Wait,
    /// Pin the journaler stage to this core.
    #[arg(long, value_name = "CORE")]
    pin_journaler: Option<usize>,
    /// Pin the replicator stage to this core.
    #[arg(long, value_name = "CORE")]
    pin_replicator: Option<usize>,
    /// Pin the matcher stage to this core.
    #[arg(long, value_name = "CORE")]
    pin_matcher: Option<usize>,
    /// Data directory for the journal and snapshots; must be empty or absent (default: a fresh
    /// temporary directory, deleted at the end).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Percentile distribution output (default: loadgen-<rate>.hgrm).
    #[arg(long, value_name = "FILE")]
    hgrm: Option<PathBuf>,
    /// Input ring slots (a power of two ≥ 64).
    #[arg(long, default_value_t = 1 << 14)]
    input_ring: usize,
    /// Output ring slots (a power of two).
    #[arg(long, default_value_t = 1 << 16)]
    output_ring: usize,
    /// Journal segment size in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    segment_size: u64,
    /// Seed of the command flow.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Network modes: TCP sessions, each its own connection; the rate is split across them.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1000))]
    clients: u64,
    /// Network modes: a running gateway's binary or FIX port (default: start a gateway in this
    /// process on ephemeral 127.0.0.1 ports).
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// Network modes with --addr: a trader's credentials, repeated for more (default: the demo's
    /// alice and bob). FIX needs one user per client; binary sessions share users round robin.
    #[arg(long, value_name = "NAME:PASSWORD[:COMPID]")]
    user: Vec<String>,
    /// Network modes with --addr: the gateway's FIX comp id (TargetCompID).
    #[arg(long, default_value = "HAYATE")]
    target_comp_id: String,
    /// Network modes: seconds of TCP echo round trips measured before the order load (0: none).
    #[arg(long, default_value = "3", value_parser = seconds)]
    echo_seconds: f64,
    /// Network modes, gateway started here: the replication settings to measure, in order, each
    /// against a fresh gateway (async and sync: a primary and a standby in this process), with a
    /// comparison at the end: none | async | sync, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "none")]
    replication: Vec<Replication>,
    /// Network modes, gateway started here: market-data runs, one per number of WebSocket
    /// subscribers (comma-separated, e.g. 0,1000), each against a fresh gateway; each subscriber
    /// takes every channel of every configured symbol, and the update latency to the last one is
    /// measured.
    #[arg(long, value_delimiter = ',', value_name = "N")]
    ws_subscribers: Vec<u64>,
    /// Network modes, gateway started here: every K-th order is a buy at --sell-price that takes
    /// --qty from a resting sell placed first (a trade, a level change: a market-data update).
    /// 0: no order trades.
    #[arg(long, default_value_t = 0, value_name = "K")]
    trade_every: u64,
    /// Network modes: the symbol the IOC orders name.
    #[arg(long, default_value = "BTC-JPY")]
    symbol: String,
    /// Network modes: the buys' limit price (below every resting sell, so they never trade).
    /// Inside the demo's price band around --sell-price too, so it stays valid after
    /// --trade-every's trades at --sell-price move the band's reference there.
    #[arg(long, default_value = "4900000")]
    buy_price: rust_decimal::Decimal,
    /// Network modes: the sells' limit price (above every resting buy).
    #[arg(long, default_value = "5100000")]
    sell_price: rust_decimal::Decimal,
    /// Network modes: each order's quantity.
    #[arg(long, default_value = "0.0001")]
    qty: rust_decimal::Decimal,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.duration <= 0.0 {
        return Err("--duration must be more than 0 seconds".into());
    }
    let plan = Plan::new(args.rate, args.warmup, args.duration, args.drain_timeout)?;
    for (i, setting) in args.replication.iter().enumerate() {
        if args.replication[..i].contains(setting) {
            return Err(format!("--replication lists {} twice", setting.name()));
        }
    }
    let replicated = args.replication != [Replication::None];
    if replicated && args.mode == Mode::InProcess {
        return Err(
            "--replication is for --mode binary and --mode fix (a gateway and its standby)".into(),
        );
    }
    if replicated && args.addr.is_some() {
        return Err(
            "--replication needs the gateways started here: it cannot go with --addr".into(),
        );
    }
    match args.mode {
        Mode::InProcess => {
            let config = ExchangeConfig::demo();
            let market = Market::of(&config)?;
            let result = run_in_process(args, &config, &market, &plan)?;
            report(args, &plan, result)
        }
        Mode::Binary | Mode::Fix => network::run(args, &plan),
    }
}

/// The symbol and accounts the flow trades.
struct Market {
    symbol: SymbolId,
    reference: Price,
    accounts: [AccountId; 2],
    /// Deposits that make the accounts rich enough for any run.
    deposits: Vec<Command>,
}

impl Market {
    fn of(config: &ExchangeConfig) -> Result<Market, String> {
        let engine = config.engine_config();
        let symbol = engine
            .symbol_id("BTC-JPY")
            .ok_or("the demo configuration has no BTC-JPY")?;
        let spec = engine
            .symbol(symbol)
            .ok_or("the demo configuration has no BTC-JPY spec")?;
        let reference = spec
            .reference_price
            .ok_or("BTC-JPY has no reference price")?;
        let accounts = [AccountId(1), AccountId(2)];
        for account in accounts {
            if !engine.accounts.contains(&account) {
                return Err(format!("the demo configuration has no account {account}"));
            }
        }
        let assets = [spec.base, spec.quote];
        let mut deposits = config.initial_deposits();
        for account in accounts {
            for asset in assets {
                deposits.push(Command::deposit(account, asset, Amount(BIG_DEPOSIT)).at(0));
            }
        }
        Ok(Market {
            symbol,
            reference,
            accounts,
            deposits,
        })
    }
}

/// One monotonic clock for both ends: nanoseconds since `start`.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
}

impl Clock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// When each command is due, and which ones are measured.
#[derive(Clone, Copy, Debug)]
struct Plan {
    rate: u64,
    /// Commands scheduled during the warm-up.
    warmup: u64,
    /// Commands scheduled during the measurement.
    measured: u64,
    /// Nanoseconds (on the [`Clock`]) of command 0.
    t0_ns: u64,
    drain_timeout_ns: u64,
    /// The scheduled times of the first measured command and of the first one after them.
    window: (u64, u64),
}

impl Plan {
    fn new(rate: u64, warmup_s: f64, duration_s: f64, drain_s: f64) -> Result<Plan, String> {
        let warmup = (warmup_s * rate as f64).round() as u64;
        let measured = (duration_s * rate as f64).round() as u64;
        if measured == 0 {
            return Err(format!(
                "{duration_s} s at {rate}/s schedules no command to measure"
            ));
        }
        let mut plan = Plan {
            rate,
            warmup,
            measured,
            t0_ns: LEAD_NS,
            drain_timeout_ns: (drain_s * NS_PER_S as f64) as u64,
            window: (0, 0),
        };
        plan.window = (plan.due_ns(warmup), plan.due_ns(warmup + measured));
        Ok(plan)
    }

    fn total(&self) -> u64 {
        self.warmup + self.measured
    }

    /// The scheduled time of command `i` (the producer steps through them with a [`Ticker`]).
    fn due_ns(&self, i: u64) -> u64 {
        self.t0_ns + (i as u128 * NS_PER_S as u128 / self.rate as u128) as u64
    }

    #[inline]
    fn window_start_ns(&self) -> u64 {
        self.window.0
    }

    #[inline]
    fn window_end_ns(&self) -> u64 {
        self.window.1
    }

    fn window_s(&self) -> f64 {
        (self.window_end_ns() - self.window_start_ns()) as f64 / NS_PER_S as f64
    }

    /// When the producer gives up on a backlog.
    fn give_up_ns(&self) -> u64 {
        self.window_end_ns().saturating_add(self.drain_timeout_ns)
    }

    #[inline]
    fn is_measured(&self, timestamp_ns: u64) -> bool {
        (self.window.0..self.window.1).contains(&timestamp_ns)
    }
}

/// Steps through the scheduled times `t0 + ⌊i·10⁹/rate⌋` exactly, without dividing per command.
struct Ticker {
    due: u64,
    whole: u64,
    frac: u64,
    acc: u64,
    rate: u64,
}

impl Ticker {
    fn new(plan: &Plan) -> Ticker {
        Ticker {
            due: plan.t0_ns,
            whole: NS_PER_S / plan.rate,
            frac: NS_PER_S % plan.rate,
            acc: 0,
            rate: plan.rate,
        }
    }

    #[inline]
    fn advance(&mut self) {
        self.due += self.whole;
        self.acc += self.frac;
        if self.acc >= self.rate {
            self.acc -= self.rate;
            self.due += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The producer: mode-independent pacing over a sink.

/// Where the producer sends commands.
trait CommandSink {
    /// Sends `command` now, or says the exchange cannot take it yet.
    fn try_send(&mut self, command: &Command) -> Result<(), SendError>;
}

/// Why a command was not sent.
enum SendError {
    /// Push-back: retry (the wait is part of the command's latency).
    Full,
    /// The exchange will take no more commands.
    Closed(String),
}

impl CommandSink for Publisher {
    #[inline]
    fn try_send(&mut self, command: &Command) -> Result<(), SendError> {
        match self.try_publish(command) {
            Ok(()) => Ok(()),
            Err(PublishError::Full) => Err(SendError::Full),
            Err(e) => Err(SendError::Closed(e.to_string())),
        }
    }
}

/// What the producer did.
#[derive(Debug, Default)]
struct ProducerStats {
    sent: u64,
    /// Attempts refused because the input ring was full.
    full: u64,
    /// The latest a command was sent after its scheduled time.
    max_send_lag_ns: u64,
    /// Commands sent more than 1 ms after their scheduled time.
    late_1ms: u64,
    /// Measured commands never sent (the producer gave up), with the time it gave up.
    abandoned: Option<(u64, u64)>,
    /// Why the exchange refused commands, if it did.
    closed: Option<String>,
    flow: FlowCounts,
}

/// Sends `plan.total()` commands from `flow`, each at its scheduled time, stamped with it.
fn run_producer(
    sink: &mut impl CommandSink,
    flow: &mut Flow,
    plan: &Plan,
    clock: Clock,
) -> ProducerStats {
    let mut stats = ProducerStats::default();
    let total = plan.total();
    let give_up = plan.give_up_ns();
    let mut i = 0;
    let mut ticker = Ticker::new(plan);
    // The next command is built before its time comes, so building it costs no latency; when the
    // producer is behind, commands go out back to back.
    let mut next = flow.next_command();
    'schedule: while i < total {
        let due = ticker.due;
        let now = clock.now_ns();
        if now < due {
            wait_until(clock, due, now);
        }
        let command = next.at(due);
        let mut spins = 0u32;
        loop {
            match sink.try_send(&command) {
                Ok(()) => break,
                Err(SendError::Full) => {
                    stats.full += 1;
                    backoff(&mut spins);
                    if spins % 64 == 0 && clock.now_ns() > give_up {
                        break 'schedule;
                    }
                }
                Err(SendError::Closed(why)) => {
                    stats.closed = Some(why);
                    break 'schedule;
                }
            }
        }
        let now = clock.now_ns();
        let lag = now.saturating_sub(due);
        stats.max_send_lag_ns = stats.max_send_lag_ns.max(lag);
        stats.late_1ms += u64::from(lag > 1_000_000);
        stats.sent += 1;
        i += 1;
        ticker.advance();
        next = flow.next_command();
        if now > give_up {
            break;
        }
    }
    if i < total {
        let unsent_measured = total - i.max(plan.warmup);
        stats.abandoned = Some((unsent_measured, clock.now_ns()));
    }
    stats.flow = flow.counts();
    stats
}

/// Waits until `due`: sleeps when far ahead, yields when close, spins in the last microseconds.
#[inline]
fn wait_until(clock: Clock, due: u64, mut now: u64) {
    while now < due {
        let ahead = due - now;
        if ahead > 2_000_000 {
            std::thread::sleep(Duration::from_nanos(ahead - 1_000_000));
        } else if ahead > 5_000 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
        now = clock.now_ns();
    }
}

/// Spin a little, then yield: for retries and idle polls.
#[inline]
fn backoff(spins: &mut u32) {
    if *spins < 100 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
    *spins = spins.wrapping_add(1);
}

// ---------------------------------------------------------------------------------------------
// The recorder: mode-independent.

/// Latencies and event counts, fed one event at a time.
struct Recorder {
    plan: Plan,
    histogram: Histogram<u64>,
    /// Events by kind and reason.
    events: Box<[[u64; 32]; 32]>,
    /// Commands completed (first event seen), all phases.
    completed: u64,
    /// Measured commands completed.
    completed_measured: u64,
    /// Completions seen while the measurement window was open.
    completed_in_window: u64,
    /// When the last measured command completed.
    last_measured_ns: u64,
    /// Per second since t0: (completions, max latency ns of measured ones).
    timeline: Vec<(u64, u64)>,
}

impl Recorder {
    fn new(plan: Plan) -> Result<Recorder, String> {
        let histogram = Histogram::new_with_bounds(1, HIGHEST_NS, 3)
            .map_err(|e| format!("histogram: {e:?}"))?;
        let seconds = (plan.give_up_ns() - plan.t0_ns) / NS_PER_S + 3;
        Ok(Recorder {
            plan,
            histogram,
            events: Box::new([[0; 32]; 32]),
            completed: 0,
            completed_measured: 0,
            completed_in_window: 0,
            last_measured_ns: 0,
            timeline: vec![(0, 0); seconds as usize],
        })
    }

    /// One event, received at `now_ns`.
    #[inline]
    fn on_event(&mut self, now_ns: u64, timestamp_ns: u64, index: u32, event: &Event) {
        self.record(now_ns, timestamp_ns, index, event.kind, event.reason);
    }

    /// One reply of `kind` and `reason` to the command scheduled at `timestamp_ns`; `index` 0
    /// marks its first, which completes it.
    #[inline]
    fn record(&mut self, now_ns: u64, timestamp_ns: u64, index: u32, kind: u8, reason: u8) {
        self.events[usize::from(kind & 31)][usize::from(reason & 31)] += 1;
        if index != 0 {
            return;
        }
        self.completed += 1;
        let in_window = self.plan.is_measured(now_ns);
        self.completed_in_window += u64::from(in_window);
        let second = (now_ns.saturating_sub(self.plan.t0_ns) / NS_PER_S) as usize;
        let slot = second.min(self.timeline.len() - 1);
        self.timeline[slot].0 += 1;
        if self.plan.is_measured(timestamp_ns) {
            let latency = now_ns.saturating_sub(timestamp_ns).max(1);
            self.histogram.saturating_record(latency);
            self.completed_measured += 1;
            self.last_measured_ns = now_ns;
            self.timeline[slot].1 = self.timeline[slot].1.max(latency);
        }
    }

    /// Charges the last `count` commands of the plan, which were never sent, from their
    /// scheduled time to when the sender gave up (`gave_up_ns`): a lower bound of what a client
    /// would have waited. Returns how many (0 for `None`).
    fn charge_never_sent(&mut self, abandoned: Option<(u64, u64)>) -> u64 {
        let Some((count, gave_up_ns)) = abandoned else {
            return 0;
        };
        for i in self.plan.total() - count..self.plan.total() {
            let latency = gave_up_ns.saturating_sub(self.plan.due_ns(i)).max(1);
            self.histogram.saturating_record(latency);
        }
        count
    }

    fn count(&self, kind: EventKind) -> u64 {
        self.events[kind as usize & 31].iter().sum()
    }
}

// ---------------------------------------------------------------------------------------------
// In-process mode.

/// What a run produced.
struct RunResult {
    recorder: Recorder,
    producer: ProducerStats,
    stop: Result<StopReport, String>,
    initial_commands: u64,
    data_dir: String,
}

fn run_in_process(
    args: &Args,
    config: &ExchangeConfig,
    market: &Market,
    plan: &Plan,
) -> Result<RunResult, String> {
    // The flow predicts order ids from 1: the journal must be new.
    let temp;
    let data_dir = match &args.data {
        Some(dir) => {
            if dir.exists() && !is_empty_dir(dir)? {
                return Err(format!(
                    "--data {}: the directory must be empty or absent (the flow needs a fresh exchange)",
                    dir.display()
                ));
            }
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("hayate-loadgen-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            temp.path().to_path_buf()
        }
    };
    let journal = JournalOptions {
        segment_size: args.segment_size,
        flush_policy: args.fsync.0,
        first_seq: 1,
    };
    let pins = StagePins {
        journaler: args.pin_journaler,
        replicator: args.pin_replicator,
        matcher: args.pin_matcher,
    };
    let (pipeline, events, recovery) = Pipeline::builder(config.engine_config().clone(), &data_dir)
        .journal_options(journal)
        .input_ring(args.input_ring)
        .output_ring(args.output_ring)
        .wait(args.wait)
        .pins(pins)
        .initial_commands(market.deposits.clone())
        .start()
        .map_err(|e| format!("cannot start the pipeline: {e}"))?;
    if recovery.last_seq != 0 || recovery.snapshot.is_some() {
        return Err(format!(
            "the journal under {} was not new ({recovery})",
            data_dir.display()
        ));
    }

    print_configuration(args, plan, &data_dir);
    let clock = Clock {
        start: Instant::now(),
    };
    let recorder = Recorder::new(*plan)?;
    let consumer = {
        std::thread::Builder::new()
            .name("loadgen-consumer".into())
            .spawn(move || consume(events, recorder, clock))
            .map_err(|e| format!("cannot start the consumer thread: {e}"))?
    };
    let producer = {
        let mut publisher = pipeline.publisher();
        let mut flow = Flow::new(
            market.symbol,
            market.accounts,
            market.reference,
            args.seed,
            MIN_RESTING,
        );
        let plan = *plan;
        std::thread::Builder::new()
            .name("loadgen-producer".into())
            .spawn(move || run_producer(&mut publisher, &mut flow, &plan, clock))
            .map_err(|e| format!("cannot start the producer thread: {e}"))?
    };

    let producer = producer
        .join()
        .map_err(|_| "the producer thread panicked".to_string())?;
    // The producer's publisher is gone; stop drains the rings while the consumer keeps polling.
    let stopped = pipeline.stop();
    let recorder = consumer
        .join()
        .map_err(|_| "the consumer thread panicked".to_string())?;
    Ok(RunResult {
        recorder,
        producer,
        stop: stopped.map_err(|e| e.to_string()),
        initial_commands: market.deposits.len() as u64,
        data_dir: data_dir.display().to_string(),
    })
}

/// Polls until the pipeline has stopped and every event is read.
fn consume(mut events: EventReceiver, mut recorder: Recorder, clock: Clock) -> Recorder {
    let mut idle = 0u32;
    loop {
        // One clock read per batch, taken lazily after the batch is visible: every event in it
        // was published before the poll began, so none is charged less than its latency.
        let mut now = 0u64;
        let polled = events.poll(|out: &Output| {
            if now == 0 {
                now = clock.now_ns();
            }
            recorder.on_event(now, out.timestamp_ns, out.index, &out.event);
        });
        match polled {
            Ok(0) => {
                if idle < 100 {
                    std::hint::spin_loop();
                } else if idle < 1_100 {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(50));
                }
                idle = idle.saturating_add(1);
            }
            Ok(_) => idle = 0,
            Err(_stopped) => return recorder,
        }
    }
}

fn is_empty_dir(dir: &Path) -> Result<bool, String> {
    let mut entries =
        std::fs::read_dir(dir).map_err(|e| format!("--data {}: {e}", dir.display()))?;
    Ok(entries.next().is_none())
}

// ---------------------------------------------------------------------------------------------
// The report.

fn hgrm_path(args: &Args) -> PathBuf {
    args.hgrm
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("loadgen-{}.hgrm", args.rate)))
}

fn print_configuration(args: &Args, plan: &Plan, data_dir: &Path) {
    let pin = |p: Option<usize>| p.map_or("-".to_string(), |c| c.to_string());
    println!("hayate loadgen — mode {:?}", args.mode);
    println!(
        "  offered rate   {} commands/s, open loop (latency from the scheduled send time: coordinated-omission corrected)",
        group(args.rate)
    );
    println!(
        "  schedule       warm-up {} s ({} commands, not recorded), measured {} s ({} commands), drain timeout {} s",
        args.warmup,
        group(plan.warmup),
        args.duration,
        group(plan.measured),
        args.drain_timeout
    );
    println!("  fsync          {}", args.fsync);
    println!(
        "  wait           {:?}; pins journaler {} replicator {} matcher {}; {} cores available",
        args.wait,
        pin(args.pin_journaler),
        pin(args.pin_replicator),
        pin(args.pin_matcher),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  rings          input {} slots, output {} slots; journal segment {} bytes",
        args.input_ring, args.output_ring, args.segment_size
    );
    println!(
        "  flow           BTC-JPY, account 1 buys, account 2 sells, seed {}: 60% limits (25% passive, 35% aggressive), 25% cancels, 10% market/IOC, 5% replaces",
        args.seed
    );
    println!(
        "  data           {}{}",
        data_dir.display(),
        if args.data.is_none() {
            " (temporary, deleted at the end)"
        } else {
            ""
        }
    );
    let _ = std::io::stdout().flush();
}

fn report(args: &Args, plan: &Plan, result: RunResult) -> Result<(), String> {
    let RunResult {
        mut recorder,
        producer,
        stop,
        initial_commands,
        data_dir,
    } = result;
    let offered = plan.rate as f64;
    let window = plan.window_s();
    let achieved = recorder.completed_in_window as f64 / window;
    let ratio = achieved / offered;

    let abandoned = recorder.charge_never_sent(producer.abandoned);
    let h = &recorder.histogram;

    println!();
    println!("results");
    println!("  offered        {} commands/s", group(plan.rate));
    println!(
        "  achieved       {} commands/s ({:.1}% of offered): {} commands completed during the {:.3} s window",
        group(achieved.round() as u64),
        ratio * 100.0,
        group(recorder.completed_in_window),
        window
    );
    if ratio < 0.95 || abandoned > 0 {
        println!(
            "  !! THE PIPELINE DID NOT KEEP UP with {} commands/s: it completed {:.1}% of the offered rate.",
            group(plan.rate),
            ratio * 100.0
        );
        println!(
            "  !! The latencies below grow with the backlog; they describe an overloaded system, not its latency at this rate."
        );
    }
    let tail_ms = recorder
        .last_measured_ns
        .saturating_sub(plan.window_end_ns()) as f64
        / 1e6;
    println!(
        "  measured       {} commands recorded ({} completed{}), last one completed {:.1} ms after the window closed",
        group(h.len()),
        group(recorder.completed_measured),
        if abandoned > 0 {
            format!(
                ", {} NEVER SENT: recorded at a lower bound (give-up time − scheduled), so the percentiles are lower bounds",
                group(abandoned)
            )
        } else {
            String::new()
        },
        tail_ms
    );
    println!(
        "  producer       sent {}, ring full {} times, latest send {:.3} ms behind schedule, {} sends > 1 ms late{}",
        group(producer.sent),
        group(producer.full),
        producer.max_send_lag_ns as f64 / 1e6,
        group(producer.late_1ms),
        producer
            .closed
            .as_ref()
            .map(|why| format!("; REFUSED: {why}"))
            .unwrap_or_default()
    );
    println!("  latency (µs, scheduled send → first event):");
    println!("    {}", percentiles_line(h));

    print_timeline(plan, &recorder);
    print_events(&recorder, &producer.flow);

    let stop = match stop {
        Ok(stop) => stop,
        Err(why) => return Err(format!("the pipeline stopped badly: {why}")),
    };
    println!(
        "  stop           processed seq {}, durable seq {}, digest {:#018x}, snapshot {} (data {})",
        stop.processed_seq,
        stop.durable_seq,
        stop.digest,
        stop.snapshot
            .as_ref()
            .map_or("none".to_string(), |p| p.display().to_string()),
        data_dir
    );
    let expected = initial_commands + producer.sent;
    if stop.processed_seq != expected || recorder.completed != expected {
        println!(
            "  !! MISMATCH: sent {} commands (+{} deposits) but the pipeline processed {} and {} first events came out",
            producer.sent, initial_commands, stop.processed_seq, recorder.completed
        );
    } else {
        println!(
            "  check          every command sent came out once ({} = {} deposits + {} sent)",
            expected, initial_commands, producer.sent
        );
    }

    let path = hgrm_path(args);
    let mut text = String::new();
    write_hgrm(h, 1e3, &mut text).map_err(|e| format!("formatting the .hgrm: {e}"))?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("  hgrm           {} (values in µs)", path.display());
    Ok(())
}

fn print_timeline(plan: &Plan, recorder: &Recorder) {
    let last = recorder
        .timeline
        .iter()
        .rposition(|&(n, _)| n > 0)
        .unwrap_or(0);
    let mut line = String::new();
    for (second, (n, max)) in recorder.timeline[..=last].iter().enumerate() {
        let start = plan.t0_ns + second as u64 * NS_PER_S;
        let phase = if start < plan.window_start_ns() {
            "w"
        } else if start < plan.window_end_ns() {
            "m"
        } else {
            "d"
        };
        let _ = write!(
            line,
            " {second}{phase}:{}k/{:.1}ms",
            n / 1000,
            *max as f64 / 1e6
        );
    }
    println!(
        "  per second     (w warm-up, m measured, d drain: completions / max measured latency)"
    );
    println!("   {line}");
}

fn print_events(recorder: &Recorder, flow: &FlowCounts) {
    println!(
        "  flow sent      {} passive, {} aggressive, {} market, {} IOC, {} cancels of passive orders, {} of recent aggressive ones, {} replaces",
        group(flow.passive),
        group(flow.aggressive),
        group(flow.market),
        group(flow.ioc),
        group(flow.cancels_resting),
        group(flow.cancels_recent),
        group(flow.replaces)
    );
    print_event_counts(recorder);
}

/// Events by kind, then the refusals and the cancels by reason.
fn print_event_counts(recorder: &Recorder) {
    let total: u64 = recorder.events.iter().flatten().sum();
    let mut kinds = String::new();
    for kind in 1..32u8 {
        let Some(k) = EventKind::from_u8(kind) else {
            continue;
        };
        let n = recorder.count(k);
        if n > 0 {
            let _ = write!(kinds, " {k:?} {}", group(n));
        }
    }
    println!("  events         {} in all:{kinds}", group(total));
    let mut refused = String::new();
    for kind in [
        EventKind::Rejected,
        EventKind::CancelRejected,
        EventKind::ReplaceRejected,
        EventKind::DepositRejected,
        EventKind::CommandRejected,
    ] {
        for (reason, &n) in recorder.events[kind as usize].iter().enumerate() {
            if n > 0 {
                let why = Reason::from_u8(reason as u8).map_or("?", |r| r.code());
                let _ = write!(refused, " {kind:?}/{why} {}", group(n));
            }
        }
    }
    println!(
        "  refused        {}",
        if refused.is_empty() {
            " none".to_string()
        } else {
            refused
        }
    );
    let mut canceled = String::new();
    for (reason, &n) in recorder.events[EventKind::Canceled as usize]
        .iter()
        .enumerate()
    {
        if n > 0 {
            let why = Reason::from_u8(reason as u8).map_or("?", |r| r.code());
            let _ = write!(canceled, " {why} {}", group(n));
        }
    }
    println!("  canceled by   {canceled}");
}

/// The percentile distribution in HdrHistogram's text format (`outputPercentileDistribution`,
/// 5 ticks per half distance), values divided by `scale`.
fn write_hgrm(h: &Histogram<u64>, scale: f64, out: &mut String) -> std::fmt::Result {
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    if !h.is_empty() {
        for step in h.iter_quantiles(5) {
            total += step.count_since_last_iteration();
            let value = step.value_iterated_to() as f64 / scale;
            let q = step.quantile_iterated_to();
            if q < 1.0 {
                writeln!(
                    out,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(out, "{value:12.3} {q:2.12} {total:10}")?;
            }
        }
    }
    let sub_buckets = (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two();
    writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / scale,
        h.stdev() / scale
    )?;
    writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / scale,
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets
    )
}

/// 1234567 → "1,234,567".
/// p50 … max and the mean of a histogram of nanoseconds, in µs, on one line.
fn percentiles_line(h: &Histogram<u64>) -> String {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
    format!(
        "p50 {:>10.1}   p90 {:>10.1}   p99 {:>10.1}   p99.9 {:>10.1}   p99.99 {:>10.1}   max {:>10.1}   mean {:.1}",
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        us(0.9999),
        h.max() as f64 / 1e3,
        h.mean() / 1e3
    )
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
