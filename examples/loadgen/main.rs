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
//! the order path is compared with; see `network.rs`. The recording (`recorder.rs`), the
//! schedule (`schedule.rs`) and the coordinated-omission correction are shared by all modes.
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
//!
//! **Layout.** This file holds the command line and the checks that span modes; `schedule.rs`
//! (clock, plan, ticker), `recorder.rs` and `report.rs` are shared by every mode;
//! `in_process.rs` with `producer.rs` (pacing) and `flow.rs` (the command flow) make the
//! in-process mode; `network.rs` and the modules under `network/` the TCP modes.

mod flow;
mod in_process;
mod network;
mod producer;
mod recorder;
mod report;
mod schedule;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use hayate::journal::FlushPolicy;
use hayate::pipeline::Wait;

use schedule::Plan;

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
    /// Network modes, gateway started here: `[journal] min_free_mb`, the disk guard's threshold
    /// (0 turns it off) [default: two segments, at least 128].
    #[arg(long, value_name = "MIB")]
    min_free_mb: Option<u64>,
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
    /// Network modes: the sessions speak TLS. A gateway started here gets a fresh self-signed
    /// certificate and TLS on the port under test; with --addr, give --ca.
    #[arg(long)]
    tls: bool,
    /// Network modes, gateway started here, with --replication async or sync: the pair's link
    /// speaks TLS (`[tls] replication`, a fresh self-signed certificate both nodes present and
    /// trust). Independent of --tls, which is about the order port.
    #[arg(long)]
    link_tls: bool,
    /// With --tls and --addr: PEM file of the CA (or self-signed certificate) to trust.
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// With --tls and --addr: the name the gateway's certificate carries (default: the host
    /// part of --addr).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
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
    /// Network modes, gateway started here: two runs against fresh gateways serving observers,
    /// without and with the scale-out path attached (a bridge writing to a nats-server and a
    /// PostgreSQL of its own, and a market-data edge on NATS; Debian's nats-server and postgresql
    /// must be installed), each with one WebSocket subscriber on the gateway's feed and, attached,
    /// one on the edge's. Needs --trade-every.
    #[arg(long)]
    bridge: bool,
    /// With --bridge: the nice value the scale-out side (bridge, edge, both servers) runs at.
    /// 19: it takes what order entry leaves, standing in for machines of its own; 0: it contends
    /// with order entry as an equal.
    #[arg(long, default_value_t = 19, value_parser = clap::value_parser!(i32).range(-20..=19))]
    bridge_nice: i32,
    /// With --bridge: the scale-out side runs under SCHED_IDLE (only on CPU time nothing else
    /// wants) instead of at --bridge-nice.
    #[arg(long)]
    bridge_idle: bool,
    /// With --bridge: the cores the scale-out side runs on (comma-separated), e.g. 1 while
    /// `taskset -c 0` keeps the rest of loadgen on core 0.
    #[arg(long, value_delimiter = ',', value_name = "CORE", value_parser = clap::value_parser!(u64).range(0..1024))]
    bridge_cpus: Vec<u64>,
    /// Network modes, gateway started here: MiB of sent messages each FIX session keeps for
    /// resends (`[gateway] fix_message_store_mb`; 0 keeps none), to measure what the store costs.
    #[arg(long, default_value_t = 16)]
    fix_store_mb: u32,
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
    let linked = args.replication.iter().any(|r| *r != Replication::None);
    if args.link_tls && (!linked || args.addr.is_some()) {
        return Err("--link-tls needs --replication async or sync (the pair started here)".into());
    }
    match args.mode {
        Mode::InProcess => in_process::run(args, &plan),
        Mode::Binary | Mode::Fix => network::run(args, &plan),
    }
}

fn is_empty_dir(dir: &Path) -> Result<bool, String> {
    let mut entries =
        std::fs::read_dir(dir).map_err(|e| format!("--data {}: {e}", dir.display()))?;
    Ok(entries.next().is_none())
}
