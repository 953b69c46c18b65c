//! The load generator's network modes (`--mode binary`, `--mode fix`): the same open-loop
//! schedule as in-process, sent over `--clients` TCP sessions of a gateway, with a plain TCP echo
//! round trip measured first as the floor the order path is judged against.
//!
//! **One thread.** On a small machine every core the generator takes is one the gateway's
//! threads lose, so a single thread both sends and receives: the sockets are non-blocking, and
//! when there is nothing to send or read it sleeps in `ppoll` until a reply arrives or the next
//! order is due. (mio is not a dependency of the examples, and `ppoll` gives a nanosecond timeout
//! where `poll` and `epoll_wait` round to milliseconds.) The thread's timer slack is set to 1 ns
//! so those wake-ups are punctual rather than batched by the kernel's default 50 µs slack.
//!
//! **Matching replies without a map.** Order `i` of the schedule goes to session `i mod N` with
//! ClOrdID `i` in decimal. Its scheduled time is `Plan::due_ns(i)`, so a reply's ClOrdID alone
//! says when its order was due: nothing is stored per order but one bit (acknowledged or not),
//! which also catches duplicates and, at the end, tells which orders were never answered.
//!
//! **The flow.** Limit IOC orders of `--qty` that never trade: buys at `--buy-price`, sells at
//! `--sell-price`, alternating in each session. An IOC that finds nothing to match is accepted and
//! at once cancelled (`IOC_REMAINDER`), so the book stays empty and no account nears
//! `max_open_orders`, however long the run. The measured latency is from the scheduled send time
//! to the order's first report (binary: the Report with index 0; FIX: the ExecutionReport New or
//! Rejected), which crosses the gateway's socket handling, the journal and the matcher twice.
//!
//! **Replication.** With `--replication` listing more than `none`, every listed setting gets the
//! same schedule against a fresh gateway, one setting after another: for `async` and `sync` a
//! primary (`[replication] role = "primary"`, listening on an ephemeral loopback port) and a
//! standby following it, each with its own data directory and ephemeral ports. The run waits
//! (at most `LINK_TIMEOUT`) until the standby is connected and has caught up with the deposits,
//! then warms up and measures; the driver samples the primary's link every `PROBE_NS` during the
//! measured window. After the last reply it waits (bounded) for the standby to acknowledge
//! everything, stops the primary, then the standby, and checks that both processed the same
//! sequence to the same digest.
//!
//! Both nodes get the same `[replication]` section apart from their role, with the defaults a
//! user gets (`on_standby_loss = "degrade"`): a sync primary starts degraded and waits for its
//! standby from the first batch after the standby has caught up. The report checks the sampled
//! link and says loudly if a synchronous primary was degraded (it did not wait: not a sync
//! figure) or the standby disconnected.

mod feed_subscribers;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hayate::adapters::clock::unix_ns;

use hayate::adapters::binary::codec::{Framing as BinaryFraming, frame as binary_frame};
use hayate::adapters::binary::messages::{
    CancelOnDisconnect, ClientMessage, Logon, NewOrder, ServerMessage,
};
use hayate::adapters::fix::codec::{Encoder, FieldList, Framing as FixFraming, frame as fix_frame};
use hayate::adapters::gateway::Gateway;
use hayate::adapters::replication::node::ReplicationStatus;
use hayate::journal::FlushPolicy;
use hayate::pipeline::{StopReport, Wait};
use hayate::{
    ClientOrderId, EventKind, ExchangeConfig, OrderType, Price, Qty, Reason, Side, SymbolId,
    TimeInForce,
};
use hdrhistogram::Histogram;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::recorder::{HIGHEST_NS, Recorder};
use crate::report::{
    group, hgrm_path, percentiles_line, print_event_counts, print_timeline, write_hgrm,
};
use crate::schedule::{Clock, NS_PER_S, Plan, Ticker};
use crate::{Args, Mode, Replication, is_empty_dir};
use feed_subscribers::{Fleet, FleetReport};

/// How long the set-up steps (connect, logon) may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long replies are awaited after the producer's give-up time before the orders still
/// unanswered are charged a lower bound.
const REPLY_GRACE_NS: u64 = 5 * NS_PER_S;
/// The longest single sleep, so a stalled run still notices its deadlines.
const MAX_SLEEP_NS: u64 = 100_000_000;
/// Bytes of one echo message.
const ECHO_SIZE: usize = 64;
/// Echo round trips not recorded at the start (connection and caches warming up).
const ECHO_WARMUP: u64 = 1_000;
/// Receive buffer per session: many replies per read when the generator falls behind.
const RECV_BUFFER: usize = 256 * 1024;
/// The largest message either protocol may send us (the gateway's `max_message_size` bound).
const MAX_MESSAGE: usize = 64 * 1024;
/// The rate limit given to the sessions of a gateway this process starts: high enough that the
/// token bucket never refuses the generator's own load.
const UNTHROTTLED: u32 = 1_000_000_000;
/// The median order→ack the issue asks for, in multiples of the echo floor's median.
const TARGET_RATIO: f64 = 3.0;
/// How long a standby may take to connect to its primary and catch up with the deposits, and,
/// after the run, to acknowledge everything the primary journaled.
const LINK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long stopping one gateway may take before the run gives up on it.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the driver samples the primary's replication link during the measured window.
const PROBE_NS: u64 = 20_000_000;

/// A trader's logon.
#[derive(Clone, Debug)]
struct Credentials {
    username: String,
    password: String,
    comp_id: String,
}

impl Credentials {
    fn new(username: &str, password: &str, comp_id: &str) -> Credentials {
        Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            comp_id: comp_id.to_owned(),
        }
    }

    /// `NAME:PASSWORD[:COMPID]`; the comp id defaults to the upper-cased name (the demo's
    /// convention).
    fn parse(text: &str) -> Result<Credentials, String> {
        let mut parts = text.splitn(3, ':');
        let (Some(name), Some(password)) = (parts.next(), parts.next()) else {
            return Err(format!("--user {text:?}: expected NAME:PASSWORD[:COMPID]"));
        };
        if name.is_empty() {
            return Err(format!("--user {text:?}: the name is empty"));
        }
        let comp_id = parts
            .next()
            .map_or_else(|| name.to_uppercase(), str::to_owned);
        Ok(Credentials::new(name, password, &comp_id))
    }
}

/// What every session sends.
struct OrderSpec {
    symbol: String,
    buy: Decimal,
    sell: Decimal,
    qty: Decimal,
}

/// The gateway the sessions talk to.
struct Target {
    addr: SocketAddr,
    users: Vec<Credentials>,
    target_comp_id: String,
    /// Set when this process started the gateway.
    own: Option<OwnGateway>,
}

struct OwnGateway {
    gateway: Gateway,
    data_dir: PathBuf,
    /// Keeps the temporary directory until the gateway has stopped.
    _temp: Option<tempfile::TempDir>,
    initial_commands: u64,
    setting: Replication,
    /// The standby following `gateway` (async and sync).
    standby: Option<OwnStandby>,
}

/// A standby gateway started in this process, following the primary's replication port.
struct OwnStandby {
    gateway: Gateway,
    /// The primary's bound replication address, which the standby follows.
    primary: SocketAddr,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// How a gateway started here ended, and its standby's.
struct Stopped {
    report: Result<StopReport, String>,
    initial_commands: u64,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    standby: Option<StandbyStopped>,
}

struct StandbyStopped {
    report: Result<StopReport, String>,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// The wait for the standby to acknowledge everything before the primary stopped: how long
    /// it took, or the lag left when the wait ended.
    caught_up: Result<Duration, u64>,
}

/// The primary's link as sampled by the driver during the measured window.
#[derive(Default)]
struct LinkWatch {
    samples: u64,
    disconnected: u64,
    degraded: u64,
    max_lag: u64,
    /// The status right after the last reply of the run.
    end: Option<ReplicationStatus>,
}

impl LinkWatch {
    fn sample(&mut self, status: Option<ReplicationStatus>) {
        self.samples += 1;
        match status {
            Some(status) => {
                self.disconnected += u64::from(!status.connected);
                self.degraded += u64::from(status.degraded);
                self.max_lag = self.max_lag.max(status.lag);
            }
            None => self.disconnected += 1,
        }
    }
}

/// One setting's figures, for the comparison after the last one.
struct Outcome {
    setting: Replication,
    histogram: Histogram<u64>,
    achieved: f64,
    /// What makes the figures suspect, if anything.
    warnings: Vec<String>,
    /// `--ws-subscribers` runs: the subscribers, and command received → update on the last one.
    market_data: Option<(u64, Histogram<u64>)>,
}

/// The network modes, start to finish: every `--replication` setting in turn.
pub(super) fn run(args: &Args, plan: &Plan) -> Result<(), String> {
    let spec = OrderSpec {
        symbol: args.symbol.clone(),
        buy: args.buy_price.normalize(),
        sell: args.sell_price.normalize(),
        qty: args.qty.normalize(),
    };
    if spec.buy >= spec.sell {
        return Err("--buy-price must be below --sell-price, or the orders would trade".into());
    }
    if args.trade_every > 0 {
        check_trading_prices(args, &spec)?;
    }
    set_timer_slack();
    // Each run: a replication setting, or (market-data runs) a number of WebSocket subscribers.
    let runs: Vec<(Replication, Option<u64>)> = if args.ws_subscribers.is_empty() {
        args.replication.iter().map(|&r| (r, None)).collect()
    } else {
        if args.replication != [Replication::None] || args.addr.is_some() {
            return Err(
                "--ws-subscribers measures a lone gateway started here (no --replication, no --addr)"
                    .into(),
            );
        }
        args.ws_subscribers
            .iter()
            .map(|&n| (Replication::None, Some(n)))
            .collect()
    };
    let compare = runs.len() > 1;
    let mut echo = None;
    let mut outcomes = Vec::with_capacity(runs.len());
    for (n, &(setting, subscribers)) in runs.iter().enumerate() {
        let mut target = match &args.addr {
            Some(addr) => remote_target(args, addr)?,
            None => own_gateway(args, setting, subscribers)?,
        };
        if n == 0 {
            print_configuration(args, plan, &target, &spec);
        }
        if compare {
            println!();
            match subscribers {
                Some(count) => println!("── {count} WebSocket subscribers ──"),
                None => println!("── replication {} ──", setting.name()),
            }
            print_gateway(args, &target);
        }
        // The resting sell that every `--trade-every`-th order takes one lot from.
        let maker = match (&mut target.own, args.trade_every) {
            (Some(own), k) if k > 0 => {
                let maker = place_maker(&own.gateway, &spec)?;
                own.initial_commands += 1;
                Some(maker)
            }
            _ => None,
        };
        let measure_from = Arc::new(AtomicU64::new(u64::MAX));
        let fleet = match (subscribers, &target.own) {
            (Some(count), Some(own)) if count > 0 => {
                let ws = own
                    .gateway
                    .addrs()
                    .ws
                    .ok_or("the gateway has no WebSocket feed")?;
                let started = Instant::now();
                let products = configured_symbols();
                let fleet = Fleet::start(ws, count, &products, Arc::clone(&measure_from))?;
                println!(
                    "  subscribers    {count} WebSocket connections to ws://{ws}, each on level2, matches, ticker, status of {} ({:.1} s to connect and hold every snapshot)",
                    products.join(", "),
                    started.elapsed().as_secs_f64()
                );
                Some(fleet)
            }
            _ => None,
        };
        let pair = target
            .own
            .as_ref()
            .and_then(|own| own.standby.as_ref().map(|standby| (own, standby)));
        if let Some((own, standby)) = pair {
            let took = await_link(&own.gateway, &standby.gateway)?;
            println!(
                "  link           standby connected and caught up with the {} deposits after {:.1} ms",
                own.initial_commands,
                took.as_secs_f64() * 1e3
            );
            let _ = std::io::stdout().flush();
        }

        if n == 0 && args.echo_seconds > 0.0 {
            echo = Some(echo_floor(args.echo_seconds, args.rate)?);
        }

        let mut sessions = Vec::with_capacity(args.clients as usize);
        for index in 0..args.clients as usize {
            let user = &target.users[index % target.users.len()];
            let session = Session::connect(args.mode, index, &target, user, &spec)
                .map_err(|e| format!("session {index} ({}): {e}", user.username))?;
            sessions.push(session);
        }
        let clock = Clock {
            start: std::time::Instant::now(),
        };
        // The gateway stamps commands with its wall clock: updates of commands received from
        // the measured window's start on are recorded.
        measure_from.store(unix_ns() + plan.window.0, Ordering::Relaxed);
        let mut ledger = Ledger::new(*plan, sessions.len() as u64)?;
        let mut watch = LinkWatch::default();
        {
            let primary = target
                .own
                .as_ref()
                .filter(|own| own.standby.is_some())
                .map(|own| &own.gateway);
            let mut probe = |now: u64| match primary {
                Some(primary) if plan.is_measured(now) => {
                    watch.sample(primary.replication_status());
                }
                _ => {}
            };
            let cpu_before = (Instant::now(), thread_cpu());
            drive(
                &mut sessions,
                &mut ledger,
                clock,
                args.trade_every,
                &mut probe,
            );
            print_thread_cpu(cpu_before);
            watch.end = primary.and_then(Gateway::replication_status);
        }
        let fleet_report = fleet.map(Fleet::finish).transpose()?;
        let feed = target.own.as_ref().map(|own| {
            let m = own.gateway.feed_metrics();
            let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
            (
                load(&m.updates),
                load(&m.encodes),
                load(&m.encoded_bytes),
                load(&m.messages_sent),
                m.slow_disconnects(),
            )
        });
        for session in &mut sessions {
            session.log_out();
        }
        drop(sessions);
        if let Some(fills) = maker.map(Maker::finish) {
            println!("  maker          {fills} fills of its resting sell read by its session");
        }
        let stopped = target.own.take().map(stop_own);
        let link = stopped
            .as_ref()
            .is_some_and(|s| s.standby.is_some())
            .then_some(watch);
        let mut outcome = report(
            args,
            plan,
            setting,
            ledger,
            echo.as_ref().map(|e| (e, n == 0)),
            stopped,
            link,
        )?;
        if let Some(count) = subscribers {
            let latency = report_market_data(count, fleet_report, feed, &mut outcome.warnings)?;
            outcome.market_data = Some((count, latency));
        }
        outcomes.push(outcome);
    }
    if compare {
        print_comparison(args, plan, &outcomes);
    }
    Ok(())
}

/// Waits until `primary` sees `standby` connected and acknowledging everything it journaled (the
/// deposits), at most `LINK_TIMEOUT`; returns how long that took.
fn await_link(primary: &Gateway, standby: &Gateway) -> Result<Duration, String> {
    let started = Instant::now();
    loop {
        let status = primary
            .replication_status()
            .ok_or("the primary has no replication link")?;
        if let Some(why) = standby.replication_status().and_then(|s| s.refused) {
            return Err(format!("the primary refused the standby: {why}"));
        }
        if status.connected && status.lag == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > LINK_TIMEOUT {
            return Err(format!(
                "the standby was not connected and caught up within {LINK_TIMEOUT:?} (connected {}, lag {})",
                status.connected, status.lag
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the standby has acknowledged everything `primary` journaled, at most
/// `LINK_TIMEOUT`: how long it took, or the lag left.
fn await_caught_up(primary: &Gateway) -> Result<Duration, u64> {
    let started = Instant::now();
    loop {
        let lag = primary.replication_status().map_or(u64::MAX, |s| s.lag);
        if lag == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > LINK_TIMEOUT {
            return Err(lag);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Stops `gateway` on a thread of its own and waits at most `STOP_TIMEOUT` for it.
fn stop_within(gateway: Gateway, what: &str) -> Result<StopReport, String> {
    let (done, report) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("loadgen-stop".into())
        .spawn(move || {
            let _ = done.send(gateway.stop().map_err(|e| e.to_string()));
        })
        .map_err(|e| format!("cannot start a thread to stop {what}: {e}"))?;
    match report.recv_timeout(STOP_TIMEOUT) {
        Ok(report) => report,
        Err(_) => Err(format!("{what} did not stop within {STOP_TIMEOUT:?}")),
    }
}

/// Stops a gateway started here: with a standby, once the standby has everything (bounded), the
/// primary first, then the standby.
fn stop_own(own: OwnGateway) -> Stopped {
    let OwnGateway {
        gateway,
        data_dir,
        _temp,
        initial_commands,
        standby,
        ..
    } = own;
    let caught_up = standby.as_ref().map(|_| await_caught_up(&gateway));
    let report = stop_within(gateway, "the gateway");
    let standby = standby
        .zip(caught_up)
        .map(|(standby, caught_up)| StandbyStopped {
            report: stop_within(standby.gateway, "the standby"),
            data_dir: standby.data_dir,
            _temp: standby._temp,
            caught_up,
        });
    Stopped {
        report,
        initial_commands,
        data_dir,
        _temp,
        standby,
    }
}

/// Credentials for `--addr`: `--user`s, else the demo's traders.
fn remote_target(args: &Args, addr: &str) -> Result<Target, String> {
    let addr = addr
        .to_socket_addrs()
        .map_err(|e| format!("--addr {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("--addr {addr}: no address"))?;
    let users = if args.user.is_empty() {
        vec![
            Credentials::new("alice", "change-me", "ALICE"),
            Credentials::new("bob", "change-me", "BOB"),
        ]
    } else {
        args.user
            .iter()
            .map(|u| Credentials::parse(u))
            .collect::<Result<Vec<_>, _>>()?
    };
    // A FIX comp id may hold one session at a time; binary sessions can share a user.
    if args.mode == Mode::Fix && (users.len() as u64) < args.clients {
        return Err(format!(
            "--mode fix with {} clients needs {} --user (one comp id per session), got {}",
            args.clients,
            args.clients,
            users.len()
        ));
    }
    Ok(Target {
        addr,
        users,
        target_comp_id: args.target_comp_id.clone(),
        own: None,
    })
}

/// A fresh data directory: `--data` (or `--data/<name>` when each setting has its own), else a
/// new temporary one, deleted when the returned guard is dropped.
fn fresh_dir(
    args: &Args,
    name: Option<&str>,
) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    match &args.data {
        Some(dir) => {
            let dir = name.map_or_else(|| dir.clone(), |name| dir.join(name));
            if dir.exists() && !is_empty_dir(&dir)? {
                return Err(format!(
                    "--data {}: the directory must be empty or absent",
                    dir.display()
                ));
            }
            Ok((dir, None))
        }
        None => {
            let prefix = name.map_or_else(
                || "hayate-loadgen-".to_owned(),
                |name| format!("hayate-loadgen-{name}-"),
            );
            let temp = tempfile::Builder::new()
                .prefix(&prefix)
                .tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

/// Starts the demo exchange in this process on ephemeral ports, with a trader per client; for
/// `async` and `sync`, as a primary with a standby of its own (not yet necessarily connected).
fn own_gateway(
    args: &Args,
    setting: Replication,
    subscribers: Option<u64>,
) -> Result<Target, String> {
    if !args.user.is_empty() {
        return Err("--user is for --addr: the gateway started here has its own users".into());
    }
    // The plain run keeps `--data` as it is; a comparison gives each gateway its own directory.
    let own_dirs = args.replication != [Replication::None] || args.ws_subscribers.len() > 1;
    let name = match subscribers {
        Some(count) => format!("ws{count}"),
        None => setting.name().to_owned(),
    };
    let (data_dir, temp) = fresh_dir(args, own_dirs.then_some(name.as_str()))?;
    let section = match setting {
        Replication::None => None,
        Replication::Async | Replication::Sync => Some(format!(
            "\n[replication]\nrole = \"primary\"\nlisten = \"127.0.0.1:0\"\n{}",
            replication_settings(setting)
        )),
    };
    let (config, users) = gateway_config(args, &data_dir, section.as_deref())?;
    let initial_commands = config.initial_deposits().len() as u64;
    let target_comp_id = config.gateway().comp_id.clone();
    let gateway = Gateway::start(config).map_err(|e| format!("cannot start the gateway: {e}"))?;
    let addrs = gateway.addrs();
    let recovery = gateway.recovery();
    if recovery.last_seq != 0 || recovery.snapshot.is_some() {
        return Err(format!(
            "the journal under {} was not new ({recovery})",
            data_dir.display()
        ));
    }
    let standby = match setting {
        Replication::None => None,
        Replication::Async | Replication::Sync => {
            let primary = gateway
                .replication_addr()
                .ok_or("the primary gateway has no replication address")?;
            let name = format!("{}-standby", setting.name());
            let (data_dir, temp) = fresh_dir(args, Some(&name))?;
            let section = format!(
                "\n[replication]\nrole = \"standby\"\nprimary = \"{primary}\"\n{}",
                replication_settings(setting)
            );
            let (config, _) = gateway_config(args, &data_dir, Some(&section))?;
            let standby = Gateway::start(config)
                .map_err(|e| format!("cannot start the standby gateway: {e}"))?;
            let recovery = standby.recovery();
            if recovery.last_seq != 0 || recovery.snapshot.is_some() {
                return Err(format!(
                    "the standby's journal under {} was not new ({recovery})",
                    data_dir.display()
                ));
            }
            Some(OwnStandby {
                gateway: standby,
                primary,
                data_dir,
                _temp: temp,
            })
        }
    };
    Ok(Target {
        addr: match args.mode {
            Mode::Fix => addrs.fix,
            _ => addrs.binary,
        },
        users,
        target_comp_id,
        own: Some(OwnGateway {
            gateway,
            data_dir,
            _temp: temp,
            initial_commands,
            setting,
            standby,
        }),
    })
}

/// The `[replication]` keys both nodes of a pair share: the mode.
fn replication_settings(setting: Replication) -> String {
    format!("mode = \"{}\"\n", setting.name())
}

/// The demo configuration on ephemeral ports, with the run's journal settings, the rate limit
/// lifted, a funded trader for every client past the demo's two, and `replication` (a
/// `[replication]` section) appended.
fn gateway_config(
    args: &Args,
    data_dir: &Path,
    replication: Option<&str>,
) -> Result<(ExchangeConfig, Vec<Credentials>), String> {
    let mut text = hayate::config::DEMO_TOML.to_owned();
    for port in [
        "127.0.0.1:9878",
        "127.0.0.1:9000",
        "127.0.0.1:8080",
        "127.0.0.1:8081",
    ] {
        replace_once(&mut text, port, "127.0.0.1:0")?;
    }
    replace_once(
        &mut text,
        "dir = \"data\"",
        &format!("dir = {:?}", data_dir.display().to_string()),
    )?;
    let fsync = match args.fsync.0 {
        FlushPolicy::Always => "fsync = \"always\"".to_owned(),
        FlushPolicy::Never => "fsync = \"never\"".to_owned(),
        FlushPolicy::Interval { ms } => format!("fsync = \"interval\"\nfsync_interval_ms = {ms}"),
    };
    replace_once(&mut text, "fsync = \"always\"", &fsync)?;
    replace_once(
        &mut text,
        "segment_size = 67108864",
        &format!("segment_size = {}", args.segment_size),
    )?;
    replace_once(
        &mut text,
        "input_ring = 16384",
        &format!("input_ring = {}", args.input_ring),
    )?;
    replace_once(
        &mut text,
        "output_ring = 65536",
        &format!("output_ring = {}", args.output_ring),
    )?;
    let wait = match args.wait {
        Wait::Backoff => "backoff",
        Wait::Yield => "yield",
        Wait::BusySpin => "busy-spin",
    };
    replace_once(
        &mut text,
        "wait = \"backoff\"",
        &format!("wait = \"{wait}\""),
    )?;
    for (stage, core) in [
        ("journaler", args.pin_journaler),
        ("replicator", args.pin_replicator),
        ("matcher", args.pin_matcher),
    ] {
        if let Some(core) = core {
            let commented = format!("# pin_{stage} = ");
            let start = text
                .find(&commented)
                .ok_or_else(|| format!("the demo configuration has no {commented:?}"))?;
            let end = start + text[start..].find('\n').unwrap_or(text.len() - start);
            text.replace_range(start..end, &format!("pin_{stage} = {core}"));
        }
    }
    replace_once(
        &mut text,
        "messages_per_second = 100",
        &format!("messages_per_second = {UNTHROTTLED}"),
    )?;
    replace_once(&mut text, "burst = 200", &format!("burst = {UNTHROTTLED}"))?;
    // Market-data runs: every subscriber from this one address, none dropped for a short stall.
    replace_once(
        &mut text,
        "max_connections = 1024          # WebSocket",
        "max_connections = 100000          # WebSocket",
    )?;
    replace_once(
        &mut text,
        "max_connections_per_address = 64\nmax_subscriptions",
        "max_connections_per_address = 100000\nmax_subscriptions",
    )?;
    replace_once(
        &mut text,
        "max_queued_bytes = 4194304",
        "max_queued_bytes = 67108864",
    )?;
    // The market maker whose resting sell the `--trade-every` orders take from.
    text.push_str(&format!(
        "\n[[users]]\nusername = \"{MAKER}\"\npassword = \"maker\"\ncomp_id = \"MAKER\"\naccount = 99\ncancel_on_disconnect = false\n\
         [[deposits]]\naccount = 99\nasset = \"BTC\"\namount = \"1000\"\n"
    ));

    let mut users = vec![
        Credentials::new("alice", "change-me", "ALICE"),
        Credentials::new("bob", "change-me", "BOB"),
    ];
    for client in 2..args.clients {
        let n = client + 1;
        let user = Credentials::new(&format!("load{n}"), "load", &format!("LOAD{n}"));
        // Accounts well clear of the demo's 1 and 2; funded like them.
        let account = 100 + n;
        text.push_str(&format!(
            "\n[[users]]\nusername = {:?}\npassword = {:?}\ncomp_id = {:?}\naccount = {account}\ncancel_on_disconnect = false\n\
             [[deposits]]\naccount = {account}\nasset = \"JPY\"\namount = \"100000000\"\n\
             [[deposits]]\naccount = {account}\nasset = \"BTC\"\namount = \"10\"\n",
            user.username, user.password, user.comp_id
        ));
        users.push(user);
    }
    users.truncate(args.clients as usize);
    if let Some(section) = replication {
        text.push_str(section);
    }
    let config = ExchangeConfig::from_toml_str(&text, "loadgen.toml")
        .map_err(|e| format!("the load test configuration: {e}"))?;
    Ok((config, users))
}

/// Replaces the one occurrence of `from`, so a change to the demo file fails loudly instead of
/// silently running with its defaults.
fn replace_once(text: &mut String, from: &str, to: &str) -> Result<(), String> {
    match text.match_indices(from).count() {
        1 => {
            *text = text.replacen(from, to, 1);
            Ok(())
        }
        n => Err(format!(
            "the demo configuration holds {from:?} {n} times, expected once"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Sleeping: ppoll with a nanosecond timeout.

/// Lowers this thread's timer slack to 1 ns (Linux; elsewhere a no-op that fails quietly).
fn set_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Waits up to `timeout_ns` for an event on `fds`; an empty slice just sleeps.
fn ppoll(fds: &mut [libc::pollfd], timeout_ns: u64) -> io::Result<usize> {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / NS_PER_S) as libc::time_t,
        tv_nsec: (timeout_ns % NS_PER_S) as libc::c_long,
    };
    // SAFETY: `fds` is a valid slice of pollfd for its length, `ts` lives across the call, and a
    // null signal mask leaves the mask unchanged.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if n >= 0 {
        Ok(n as usize)
    } else {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            Ok(0)
        } else {
            Err(e)
        }
    }
}

fn sleep_until(clock: Clock, due: u64) {
    loop {
        let now = clock.now_ns();
        if now >= due {
            return;
        }
        let _ = ppoll(&mut [], (due - now).min(MAX_SLEEP_NS));
    }
}

// ---------------------------------------------------------------------------------------------
// The floor: a TCP echo round trip on loopback.

struct EchoResult {
    histogram: Histogram<u64>,
    sent: u64,
    seconds: f64,
}

/// Sends `ECHO_SIZE` bytes at a time to an echo thread on loopback, at most `rate` per second and
/// never two in flight, and records each round trip from the send to the whole echo's receipt.
/// The client waits in `ppoll` exactly as the order path does, so the floor includes the same
/// wake-ups.
fn echo_floor(seconds: f64, rate: u64) -> Result<EchoResult, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("echo: cannot listen: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("echo: no local address: {e}"))?;
    let server = std::thread::Builder::new()
        .name("loadgen-echo".into())
        .spawn(move || -> io::Result<()> {
            let (mut stream, _) = listener.accept()?;
            stream.set_nodelay(true)?;
            let mut buf = [0u8; ECHO_SIZE];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => stream.write_all(&buf[..n])?,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        })
        .map_err(|e| format!("echo: cannot start the echo thread: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, SETUP_TIMEOUT)
        .map_err(|e| format!("echo: cannot connect: {e}"))?;
    stream
        .set_nodelay(true)
        .and_then(|()| stream.set_nonblocking(true))
        .map_err(|e| format!("echo: {e}"))?;
    let mut histogram =
        Histogram::new_with_bounds(1, HIGHEST_NS, 3).map_err(|e| format!("histogram: {e:?}"))?;
    let count = ECHO_WARMUP + (seconds * rate as f64).round() as u64;
    let interval = NS_PER_S / rate;
    let clock = Clock {
        start: std::time::Instant::now(),
    };
    let message = [0x5Au8; ECHO_SIZE];
    let mut reply = [0u8; ECHO_SIZE];
    let mut fds = [libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    let mut due = clock.now_ns();
    let deadline = due + ((seconds + 10.0) * NS_PER_S as f64) as u64;
    let mut sent = 0;
    while sent < count {
        sleep_until(clock, due);
        let start = clock.now_ns();
        if start > deadline {
            return Err("echo: the round trips took far longer than planned".into());
        }
        // 64 bytes into an empty socket buffer: one write takes them all.
        match stream.write(&message) {
            Ok(ECHO_SIZE) => {}
            Ok(n) => return Err(format!("echo: short write of {n} bytes")),
            Err(e) => return Err(format!("echo: {e}")),
        }
        let mut got = 0;
        while got < ECHO_SIZE {
            match stream.read(&mut reply[got..]) {
                Ok(0) => return Err("echo: the echo thread closed the connection".into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ppoll(&mut fds, MAX_SLEEP_NS).map_err(|e| format!("echo: ppoll: {e}"))?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("echo: {e}")),
            }
        }
        let end = clock.now_ns();
        if sent >= ECHO_WARMUP {
            histogram.saturating_record((end - start).max(1));
        }
        sent += 1;
        due += interval;
    }
    let elapsed = clock.now_ns() as f64 / NS_PER_S as f64;
    drop(stream);
    match server.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("echo: the echo thread failed: {e}")),
        Err(_) => return Err("echo: the echo thread panicked".into()),
    }
    Ok(EchoResult {
        histogram,
        sent,
        seconds: elapsed,
    })
}

// ---------------------------------------------------------------------------------------------
// Sessions.

/// The protocol side of a session.
enum Wire {
    Binary {
        symbol: SymbolId,
        buy: Price,
        sell: Price,
        qty: Qty,
    },
    Fix(Box<FixWire>),
}

struct FixWire {
    comp_id: Vec<u8>,
    target: Vec<u8>,
    next_seq: u64,
    encoder: Encoder,
    fields: FieldList,
    symbol: Vec<u8>,
    buy: Vec<u8>,
    sell: Vec<u8>,
    qty: Vec<u8>,
}

impl FixWire {
    fn start(&mut self, msg_type: &[u8], unix_ns: u64) {
        self.encoder.start(
            msg_type,
            &self.comp_id,
            &self.target,
            self.next_seq,
            unix_ns,
        );
        self.next_seq += 1;
    }
}

/// One TCP session: its socket, what is still to be written, and what was read but not yet
/// parsed.
struct Session {
    index: usize,
    stream: TcpStream,
    out: Vec<u8>,
    written: usize,
    inbound: Box<[u8]>,
    filled: usize,
    wire: Wire,
    closed: Option<String>,
}

impl Session {
    /// Connects and logs on (blocking), then switches the socket to non-blocking.
    fn connect(
        mode: Mode,
        index: usize,
        target: &Target,
        user: &Credentials,
        spec: &OrderSpec,
    ) -> Result<Session, String> {
        let stream = TcpStream::connect_timeout(&target.addr, SETUP_TIMEOUT)
            .map_err(|e| format!("cannot connect to {}: {e}", target.addr))?;
        stream
            .set_nodelay(true)
            .and_then(|()| stream.set_read_timeout(Some(SETUP_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        let mut session = Session {
            index,
            stream,
            out: Vec::with_capacity(64 * 1024),
            written: 0,
            inbound: vec![0u8; RECV_BUFFER].into_boxed_slice(),
            filled: 0,
            wire: Wire::Binary {
                symbol: SymbolId(0),
                buy: Price(0),
                sell: Price(0),
                qty: Qty(0),
            },
            closed: None,
        };
        match mode {
            Mode::Fix => session.fix_logon(target, user, spec)?,
            _ => session.binary_logon(user, spec)?,
        }
        session
            .stream
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        Ok(session)
    }

    /// Reads until a whole message (as `frame` cuts them) is at the front of the buffer and
    /// returns its length; the caller consumes it with `consume`.
    fn read_message_blocking(
        &mut self,
        frame: impl Fn(&[u8]) -> Result<Option<usize>, String>,
    ) -> Result<usize, String> {
        loop {
            if let Some(len) = frame(&self.inbound[..self.filled])? {
                return Ok(len);
            }
            if self.filled == self.inbound.len() {
                return Err("a message larger than the receive buffer".into());
            }
            match self.stream.read(&mut self.inbound[self.filled..]) {
                Ok(0) => return Err("the gateway closed the connection".into()),
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("waiting for the gateway: {e}")),
            }
        }
    }

    fn consume(&mut self, len: usize) {
        self.inbound.copy_within(len..self.filled, 0);
        self.filled -= len;
    }

    fn binary_logon(&mut self, user: &Credentials, spec: &OrderSpec) -> Result<(), String> {
        // No cancels at disconnect: IOC orders leave nothing open, and the commands would only
        // blur the journal count the report checks.
        let logon = Logon::new(&user.username, &user.password, CancelOnDisconnect::None)
            .ok_or("a credential is longer than 32 bytes")?;
        ClientMessage::Logon(logon).encode(&mut self.out);
        self.stream
            .write_all(&self.out)
            .map_err(|e| format!("logon: {e}"))?;
        self.out.clear();
        let mut logged_on = false;
        loop {
            let len = self.read_message_blocking(binary_complete)?;
            let reply = match ServerMessage::decode(&self.inbound[..len]) {
                Ok(ServerMessage::LogonAck(_)) => {
                    logged_on = true;
                    None
                }
                Ok(ServerMessage::SymbolInfo(info)) if logged_on => {
                    if info.name() == Some(spec.symbol.as_str()) {
                        let (Some(tick), Some(lot)) = (info.tick_size(), info.lot_size()) else {
                            return Err("SymbolInfo without a readable tick or lot size".into());
                        };
                        Some((info.symbol, tick, lot))
                    } else {
                        None
                    }
                }
                Ok(ServerMessage::Reject { code, text, .. }) => {
                    return Err(format!("logon refused: {code:?}: {text}"));
                }
                Ok(_) => None,
                Err(e) => return Err(format!("an undecodable reply to the logon: {e}")),
            };
            self.consume(len);
            if let Some((symbol, tick, lot)) = reply {
                let units = |value: Decimal, size: Decimal, what: &str| {
                    whole_steps(value, size).ok_or_else(|| {
                        format!(
                            "{what} {value} is not a positive multiple of {size} on {}",
                            spec.symbol
                        )
                    })
                };
                self.wire = Wire::Binary {
                    symbol,
                    buy: Price(units(spec.buy, tick, "--buy-price")?),
                    sell: Price(units(spec.sell, tick, "--sell-price")?),
                    qty: Qty(units(spec.qty, lot, "--qty")?),
                };
                return Ok(());
            }
        }
    }

    fn fix_logon(
        &mut self,
        target: &Target,
        user: &Credentials,
        spec: &OrderSpec,
    ) -> Result<(), String> {
        let mut wire = FixWire {
            comp_id: user.comp_id.as_bytes().to_vec(),
            target: target.target_comp_id.as_bytes().to_vec(),
            next_seq: 1,
            encoder: Encoder::new(),
            fields: FieldList::new(),
            symbol: spec.symbol.as_bytes().to_vec(),
            buy: spec.buy.to_string().into_bytes(),
            sell: spec.sell.to_string().into_bytes(),
            qty: spec.qty.to_string().into_bytes(),
        };
        wire.start(b"A", unix_ns());
        wire.encoder.field(98, b"0");
        wire.encoder.field(108, b"30");
        // Both sides start at 1, so a gateway that kept this comp id's numbers from an earlier
        // run takes the session as it is.
        wire.encoder.field(141, b"Y");
        wire.encoder.field(553, user.username.as_bytes());
        wire.encoder.field(554, user.password.as_bytes());
        wire.encoder.field(8013, b"N");
        self.stream
            .write_all(wire.encoder.finish())
            .map_err(|e| format!("logon: {e}"))?;
        loop {
            let len = self.read_message_blocking(fix_complete)?;
            wire.fields
                .parse(&self.inbound[..len])
                .map_err(|e| format!("an unparsable reply to the logon: {e:?}"))?;
            self.consume(len);
            match wire.fields.msg_type() {
                Some(b"A") => break,
                Some(b"5") | Some(b"3") => {
                    return Err(format!(
                        "logon refused: {}",
                        wire.fields.get_str(58).unwrap_or("(no text)")
                    ));
                }
                _ => {}
            }
        }
        self.wire = Wire::Fix(Box::new(wire));
        Ok(())
    }

    /// Appends order `i` to the outbound bytes.
    #[inline]
    fn encode_order(&mut self, i: u64, buy: bool, cross: bool, unix_ns: u64) {
        let mut digits = [0u8; 20];
        let id = write_digits(i, &mut digits);
        match &mut self.wire {
            Wire::Binary {
                symbol,
                buy: buy_price,
                sell: sell_price,
                qty,
            } => {
                let mut cl_ord_id = ClientOrderId([0; 32]);
                cl_ord_id.0[..id.len()].copy_from_slice(id);
                let (side, price) = match (buy, cross) {
                    (true, true) => (Side::Buy, *sell_price),
                    (true, false) => (Side::Buy, *buy_price),
                    (false, _) => (Side::Sell, *sell_price),
                };
                let order = NewOrder::new(
                    cl_ord_id,
                    *symbol,
                    side,
                    OrderType::Limit,
                    TimeInForce::Ioc,
                    price,
                    *qty,
                );
                ClientMessage::NewOrder(order).encode(&mut self.out);
            }
            Wire::Fix(wire) => {
                wire.start(b"D", unix_ns);
                let e = &mut wire.encoder;
                e.field(11, id);
                e.field(55, &wire.symbol);
                e.field(54, if buy { b"1" } else { b"2" });
                e.field_timestamp(60, unix_ns);
                e.field(38, &wire.qty);
                e.field(40, b"2");
                e.field(44, if buy && !cross { &wire.buy } else { &wire.sell });
                e.field(59, b"3");
                self.out.extend_from_slice(e.finish());
            }
        }
    }

    fn has_output(&self) -> bool {
        self.written < self.out.len()
    }

    /// Writes what the socket takes now; true if it took anything.
    fn flush(&mut self, stats: &mut NetStats) -> bool {
        let mut progress = false;
        while self.has_output() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => {
                    self.closed = Some("the connection took no bytes".into());
                    break;
                }
                Ok(n) => {
                    self.written += n;
                    stats.bytes_out += n as u64;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    stats.would_block += 1;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.closed = Some(format!("write: {e}"));
                    break;
                }
            }
        }
        if !self.has_output() {
            self.out.clear();
            self.written = 0;
        }
        progress
    }

    /// Reads and handles everything the socket holds; true if it read anything.
    fn receive(&mut self, ledger: &mut Ledger, clock: Clock) -> bool {
        let mut progress = false;
        loop {
            match self.stream.read(&mut self.inbound[self.filled..]) {
                Ok(0) => {
                    self.closed = Some("the gateway closed the connection".into());
                    return progress;
                }
                Ok(n) => {
                    // The receipt time of everything this read returned.
                    let now = clock.now_ns();
                    self.filled += n;
                    ledger.stats.bytes_in += n as u64;
                    progress = true;
                    if let Err(why) = self.handle_messages(now, ledger) {
                        self.closed = Some(why);
                        return progress;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return progress,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.closed = Some(format!("read: {e}"));
                    return progress;
                }
            }
        }
    }

    fn handle_messages(&mut self, now: u64, ledger: &mut Ledger) -> Result<(), String> {
        let mut start = 0;
        match &mut self.wire {
            Wire::Binary { .. } => {
                while let Some(len) = binary_complete(&self.inbound[start..self.filled])? {
                    on_binary(&self.inbound[start..start + len], now, self.index, ledger);
                    start += len;
                }
            }
            Wire::Fix(wire) => loop {
                let buf = &self.inbound[start..self.filled];
                let len = match fix_frame(buf, MAX_MESSAGE) {
                    FixFraming::Complete { len } => len,
                    FixFraming::Incomplete => break,
                    FixFraming::Garbled { skip, .. } => {
                        ledger.stats.garbled += 1;
                        start += skip;
                        continue;
                    }
                    FixFraming::TooLarge { declared } => {
                        return Err(format!("the gateway declared a {declared}-byte message"));
                    }
                };
                if wire.fields.parse(&buf[..len]).is_ok() {
                    on_fix(wire, &mut self.out, now, self.index, ledger);
                } else {
                    ledger.stats.garbled += 1;
                }
                start += len;
            },
        }
        if start > 0 {
            self.consume(start);
        }
        if self.filled == self.inbound.len() {
            return Err("a message larger than the receive buffer".into());
        }
        Ok(())
    }

    /// Says goodbye, best effort: the run is over either way.
    fn log_out(&mut self) {
        match &mut self.wire {
            Wire::Binary { .. } => ClientMessage::Logout.encode(&mut self.out),
            Wire::Fix(wire) => {
                wire.start(b"5", unix_ns());
                self.out.extend_from_slice(wire.encoder.finish());
            }
        }
        let _ = self.stream.set_nonblocking(false);
        let _ = self
            .stream
            .set_write_timeout(Some(Duration::from_millis(500)));
        let _ = self.stream.write_all(&self.out[self.written..]);
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }
}

/// The length of the binary message at the front of `buf`, if whole.
fn binary_complete(buf: &[u8]) -> Result<Option<usize>, String> {
    match binary_frame(buf, MAX_MESSAGE) {
        BinaryFraming::Complete { len } => Ok(Some(len)),
        BinaryFraming::Incomplete => Ok(None),
        BinaryFraming::Invalid { declared } => Err(format!(
            "the gateway sent a message declaring {declared} bytes"
        )),
    }
}

/// The length of the FIX message at the front of `buf`, if whole.
fn fix_complete(buf: &[u8]) -> Result<Option<usize>, String> {
    match fix_frame(buf, MAX_MESSAGE) {
        FixFraming::Complete { len } => Ok(Some(len)),
        FixFraming::Incomplete => Ok(None),
        other => Err(format!("the gateway sent a bad frame: {other:?}")),
    }
}

fn on_binary(message: &[u8], now: u64, session: usize, ledger: &mut Ledger) {
    match ServerMessage::decode(message) {
        Ok(ServerMessage::Report(report)) => {
            let event = report.event();
            let id = parse_digits(event.client_order_id.as_bytes());
            let first = report.index == 0
                && (event.kind == EventKind::Accepted as u8
                    || event.kind == EventKind::Rejected as u8);
            ledger.on_reply(now, id, session, first, event.kind, event.reason);
        }
        Ok(ServerMessage::Reject { code, text, .. }) => {
            ledger.on_protocol_reject(|| format!("{code:?}: {text}"));
        }
        Ok(_) => {}
        Err(_) => ledger.stats.garbled += 1,
    }
}

fn on_fix(wire: &mut FixWire, out: &mut Vec<u8>, now: u64, session: usize, ledger: &mut Ledger) {
    let fields = &wire.fields;
    match fields.msg_type() {
        Some(b"8") => {
            let id = fields.get(11).and_then(parse_digits);
            let (kind, first) = match fields.get(150) {
                Some(b"0") => (EventKind::Accepted, true),
                Some(b"8") => (EventKind::Rejected, true),
                Some(b"4") => (EventKind::Canceled, false),
                Some(b"F") => (EventKind::Fill, false),
                Some(b"5") => (EventKind::Replaced, false),
                Some(b"D") => (EventKind::Restated, false),
                _ => (EventKind::OrderStatus, false),
            };
            let reason = fields.get(58).map_or(0, reason_of_text);
            ledger.on_reply(now, id, session, first, kind as u8, reason);
        }
        Some(b"1") => {
            // A TestRequest must be answered within the heartbeat interval, or the gateway
            // logs the session out.
            let test_id = fields.get(112).unwrap_or(b"?").to_vec();
            wire.start(b"0", unix_ns());
            wire.encoder.field(112, &test_id);
            out.extend_from_slice(wire.encoder.finish());
        }
        Some(b"3") | Some(b"j") => {
            let text = fields.get_str(58).unwrap_or("(no text)");
            ledger.on_protocol_reject(|| text.to_owned());
        }
        Some(b"5") => {
            let text = fields.get_str(58).unwrap_or("(no text)");
            ledger.on_protocol_reject(|| format!("Logout: {text}"));
        }
        _ => {}
    }
}

/// The engine reason whose code starts the gateway's Text (`PRICE_BAND: …`), else 0.
fn reason_of_text(text: &[u8]) -> u8 {
    (1..32u8)
        .find(|&r| {
            Reason::from_u8(r).is_some_and(|reason| {
                let code = reason.code().as_bytes();
                text.starts_with(code)
                    && matches!(text.get(code.len()), None | Some(b':') | Some(b' '))
            })
        })
        .unwrap_or(0)
}

/// `n` in decimal at the end of `buf`.
fn write_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// The decimal number a ClOrdID holds (up to a zero byte), `None` if it is anything else.
fn parse_digits(text: &[u8]) -> Option<u64> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let digits = &text[..end];
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// How many `size` steps make `value` exactly, if a positive whole number.
fn whole_steps(value: Decimal, size: Decimal) -> Option<u64> {
    if size <= Decimal::ZERO {
        return None;
    }
    let steps = value.checked_div(size)?;
    if !steps.fract().is_zero() {
        return None;
    }
    steps.to_u64().filter(|&n| n > 0)
}

// ---------------------------------------------------------------------------------------------
// The driver: one thread, every socket.

/// What the sending and receiving did.
#[derive(Debug, Default)]
struct NetStats {
    sent: u64,
    /// The latest an order was encoded after its scheduled time.
    max_send_lag_ns: u64,
    /// Orders encoded more than 1 ms after their scheduled time.
    late_1ms: u64,
    /// Writes the kernel refused because a socket's send buffer was full.
    would_block: u64,
    /// Sleeps in ppoll.
    sleeps: u64,
    bytes_out: u64,
    bytes_in: u64,
    /// First reports that were refusals (an order the engine or the gateway rejected).
    rejected: u64,
    /// First reports for an order already acknowledged.
    duplicates: u64,
    /// Reports naming no order of this run (another client's traffic on the same account).
    foreign: u64,
    /// Refusals above the order level (binary Reject, FIX Reject/BusinessMessageReject/Logout):
    /// they carry no ClOrdID, so their orders stay unacknowledged.
    protocol_rejects: u64,
    first_protocol_reject: Option<String>,
    /// Messages that could not be framed or decoded.
    garbled: u64,
    /// Measured orders never sent (the sender gave up), with the time it gave up.
    abandoned: Option<(u64, u64)>,
    /// Orders sent but never acknowledged by the reply deadline, with that deadline.
    unanswered: Option<(u64, u64)>,
    /// Sessions the gateway (or the network) closed.
    closed: Vec<String>,
}

/// Replies to orders: the recorder, one bit per order, and the counters.
struct Ledger {
    plan: Plan,
    sessions: u64,
    recorder: Recorder,
    acked: Vec<u64>,
    acks: u64,
    stats: NetStats,
}

impl Ledger {
    fn new(plan: Plan, sessions: u64) -> Result<Ledger, String> {
        Ok(Ledger {
            plan,
            sessions,
            recorder: Recorder::new(plan)?,
            acked: vec![0; plan.total().div_ceil(64) as usize],
            acks: 0,
            stats: NetStats::default(),
        })
    }

    #[inline]
    fn is_acked(&self, i: u64) -> bool {
        self.acked[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    #[inline]
    fn on_reply(
        &mut self,
        now: u64,
        id: Option<u64>,
        session: usize,
        first: bool,
        kind: u8,
        reason: u8,
    ) {
        let ours = id.filter(|&i| i < self.plan.total() && i % self.sessions == session as u64);
        let Some(i) = ours else {
            self.stats.foreign += 1;
            return;
        };
        if !first {
            self.recorder.record(now, 0, 1, kind, reason);
            return;
        }
        if self.is_acked(i) {
            self.stats.duplicates += 1;
            return;
        }
        self.acked[(i / 64) as usize] |= 1 << (i % 64);
        self.acks += 1;
        self.stats.rejected += u64::from(kind == EventKind::Rejected as u8);
        self.recorder
            .record(now, self.plan.due_ns(i), 0, kind, reason);
    }

    fn on_protocol_reject(&mut self, text: impl FnOnce() -> String) {
        self.stats.protocol_rejects += 1;
        if self.stats.first_protocol_reject.is_none() {
            self.stats.first_protocol_reject = Some(text());
        }
    }
}

/// Sends every order at its scheduled time and reads replies until each sent order is answered
/// (or refused above the order level), or the reply deadline passes. `probe` is called with the
/// time about every `PROBE_NS` (when the loop comes round).
fn drive(
    sessions: &mut [Session],
    ledger: &mut Ledger,
    clock: Clock,
    trade_every: u64,
    probe: &mut dyn FnMut(u64),
) {
    let plan = ledger.plan;
    let n = sessions.len() as u64;
    let total = plan.total();
    let give_up = plan.give_up_ns();
    let reply_deadline = give_up + REPLY_GRACE_NS;
    let mut ticker = Ticker::new(&plan);
    let mut i = 0u64;
    let mut fds: Vec<libc::pollfd> = sessions
        .iter()
        .map(|s| libc::pollfd {
            fd: s.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut next_probe = 0;
    loop {
        let mut progress = false;
        let now = clock.now_ns();
        if now >= next_probe {
            probe(now);
            next_probe = now + PROBE_NS;
        }
        if i < total && ticker.due <= now {
            if now > give_up {
                let unsent_measured = total - i.max(plan.warmup);
                ledger.stats.abandoned = Some((unsent_measured, now));
                i = total;
            } else {
                // Everything due goes out now, back to back if the generator fell behind.
                let wall = unix_ns();
                while i < total && ticker.due <= now {
                    let lag = now - ticker.due;
                    ledger.stats.max_send_lag_ns = ledger.stats.max_send_lag_ns.max(lag);
                    ledger.stats.late_1ms += u64::from(lag > 1_000_000);
                    // Every `trade_every`-th order crosses: a buy at the sell price, which
                    // trades one lot with the maker (a book change: a market-data update).
                    let cross = trade_every > 0 && i % trade_every == trade_every - 1;
                    sessions[(i % n) as usize].encode_order(
                        i,
                        cross || (i / n) % 2 == 0,
                        cross,
                        wall,
                    );
                    ledger.stats.sent += 1;
                    i += 1;
                    ticker.advance();
                }
            }
        }
        for session in sessions.iter_mut() {
            if session.closed.is_none() && session.has_output() {
                progress |= session.flush(&mut ledger.stats);
            }
        }
        for session in sessions.iter_mut() {
            if session.closed.is_none() {
                progress |= session.receive(ledger, clock);
            }
        }
        // A FIX heartbeat answer may have been queued while reading.
        for session in sessions.iter_mut() {
            if session.closed.is_none() && session.has_output() {
                progress |= session.flush(&mut ledger.stats);
            }
        }
        if sessions.iter().all(|s| s.closed.is_some()) {
            break;
        }
        let now = clock.now_ns();
        if i >= total {
            let answered = ledger.acks + ledger.stats.protocol_rejects;
            if answered >= ledger.stats.sent {
                break;
            }
            if now > reply_deadline {
                ledger.stats.unanswered = Some((ledger.stats.sent - ledger.acks, now));
                break;
            }
        }
        if progress {
            continue;
        }
        let wake = if i < total {
            ticker.due
        } else {
            reply_deadline
        };
        if wake <= now {
            continue;
        }
        for (fd, session) in fds.iter_mut().zip(sessions.iter()) {
            // A negative fd is skipped by ppoll: a closed socket would report hang-up forever.
            if session.closed.is_some() {
                fd.fd = -1;
            }
            fd.events = if session.has_output() {
                libc::POLLIN | libc::POLLOUT
            } else {
                libc::POLLIN
            };
            fd.revents = 0;
        }
        ledger.stats.sleeps += 1;
        let _ = ppoll(&mut fds, (wake - now).min(MAX_SLEEP_NS));
    }
    ledger.stats.closed = sessions
        .iter()
        .filter_map(|s| {
            s.closed
                .as_ref()
                .map(|why| format!("session {}: {why}", s.index))
        })
        .collect();
    // Orders that never got an answer are charged at least until the wait for them ended.
    if let Some((_, deadline)) = ledger.stats.unanswered {
        let sent = ledger.stats.sent;
        let mut charged = 0;
        for i in plan.warmup..sent {
            if !ledger.is_acked(i) {
                let latency = deadline.saturating_sub(plan.due_ns(i)).max(1);
                ledger.recorder.histogram.saturating_record(latency);
                charged += 1;
            }
        }
        ledger.stats.unanswered = Some((charged, deadline));
    }
}

// ---------------------------------------------------------------------------------------------
// The report.

fn print_configuration(args: &Args, plan: &Plan, target: &Target, spec: &OrderSpec) {
    let mode = match args.mode {
        Mode::Fix => "fix (FIX 4.4)",
        _ => "binary",
    };
    println!("hayate loadgen — mode {mode}");
    let compare = args.replication != [Replication::None];
    if compare {
        let names: Vec<&str> = args.replication.iter().map(|r| r.name()).collect();
        println!(
            "  replication    {}: the same schedule once per setting, in this order, each against a fresh gateway (async, sync: a primary and a standby, both in this process, linked over loopback)",
            names.join(", ")
        );
    } else {
        print_gateway(args, target);
    }
    if target.own.is_some() {
        println!(
            "  rate limit     [limits] messages_per_second and burst raised to {} for this run: the operator's own load test, not throttled",
            group(u64::from(UNTHROTTLED))
        );
    }
    println!(
        "  offered rate   {} orders/s, open loop (latency from the scheduled send time: coordinated-omission corrected)",
        group(args.rate)
    );
    println!(
        "  schedule       warm-up {} s ({} orders, not recorded), measured {} s ({} orders), drain timeout {} s",
        args.warmup,
        group(plan.warmup),
        args.duration,
        group(plan.measured),
        args.drain_timeout
    );
    let users: Vec<&str> = (0..args.clients as usize)
        .map(|c| target.users[c % target.users.len()].username.as_str())
        .collect();
    println!(
        "  clients        {} sessions, one TCP connection each, {:.0} orders/s each: {}",
        args.clients,
        args.rate as f64 / args.clients as f64,
        users.join(", ")
    );
    println!(
        "  flow           IOC limit orders of {} {} that never trade: buys at {}, sells at {}, alternating; ClOrdID = the order's number",
        spec.qty, spec.symbol, spec.buy, spec.sell
    );
    if args.trade_every > 0 {
        println!(
            "  trades         every {}th order is instead an IOC buy at {} that trades {} with a resting GTC sell of {} lots placed first by a user of its own (a trade, a level change, a ticker change: one market-data update)",
            args.trade_every, spec.sell, spec.qty, MAKER_LOTS
        );
    }
    println!(
        "  threads        the load generator uses 1 thread for every socket (non-blocking I/O, ppoll, 1 ns timer slack); an echo thread exists only while the floor is measured{}",
        if target.own.is_some() {
            "; the gateway's own threads (I/O loop, pipeline stages, HTTP) run in this process too"
        } else {
            ""
        }
    );
    println!(
        "  measured       scheduled send → {}",
        match args.mode {
            Mode::Fix => "ExecutionReport New or Rejected",
            _ => "Report with index 0 (Accepted or Rejected)",
        }
    );
    println!(
        "  cores          {} available",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if compare && args.echo_seconds > 0.0 {
        println!("  echo floor     measured once, before the first setting's orders");
    }
    let _ = std::io::stdout().flush();
}

/// The gateway line (and the standby's).
fn print_gateway(args: &Args, target: &Target) {
    let temporary = if args.data.is_none() {
        ", temporary"
    } else {
        ""
    };
    match &target.own {
        Some(own) => {
            println!(
                "  gateway        started in this process on {} (data {}{temporary}); fsync {}{}",
                target.addr,
                own.data_dir.display(),
                args.fsync,
                match own.setting {
                    Replication::None => String::new(),
                    Replication::Async => "; replication primary, mode async".to_owned(),
                    Replication::Sync =>
                        "; replication primary, mode sync (every batch waits for the standby)"
                            .to_owned(),
                }
            );
            if let Some(standby) = &own.standby {
                println!(
                    "  standby        started in this process, following the primary's replication port {} (data {}{temporary}); fsync {}",
                    standby.primary,
                    standby.data_dir.display(),
                    args.fsync
                );
            }
        }
        None => println!(
            "  gateway        {} (already running: its own limits and fsync policy apply)",
            target.addr
        ),
    }
    let _ = std::io::stdout().flush();
}

/// One setting's results. `echo` is the floor, and whether to print it (it is measured once);
/// `link` the primary's link as sampled, when there was a standby.
fn report(
    args: &Args,
    plan: &Plan,
    setting: Replication,
    ledger: Ledger,
    echo: Option<(&EchoResult, bool)>,
    stop: Option<Stopped>,
    link: Option<LinkWatch>,
) -> Result<Outcome, String> {
    let Ledger {
        mut recorder,
        stats,
        acks,
        ..
    } = ledger;
    let offered = plan.rate as f64;
    let window = plan.window_s();
    let achieved = recorder.completed_in_window as f64 / window;
    let ratio = achieved / offered;
    let abandoned = recorder.charge_never_sent(stats.abandoned);
    let unanswered = stats.unanswered.map_or(0, |(n, _)| n);
    let compare = args.replication != [Replication::None];
    let mut warnings = Vec::new();

    println!();
    if compare {
        println!("results — replication {}", setting.name());
    } else {
        println!("results");
    }
    if let Some((echo, true)) = echo {
        println!(
            "  echo floor     {} round trips of {ECHO_SIZE} bytes on loopback, one at a time, {} recorded ({} warm-up excluded), {:.0}/s",
            group(echo.sent),
            group(echo.histogram.len()),
            group(ECHO_WARMUP),
            echo.sent as f64 / echo.seconds
        );
        println!("  echo (µs):     {}", percentiles_line(&echo.histogram));
    }
    println!("  offered        {} orders/s", group(plan.rate));
    println!(
        "  achieved       {} orders/s ({:.1}% of offered): {} orders acknowledged during the {:.3} s window",
        group(achieved.round() as u64),
        ratio * 100.0,
        group(recorder.completed_in_window),
        window
    );
    if ratio < 0.95 || abandoned > 0 || unanswered > 0 {
        warnings.push("did not keep up".to_owned());
        println!(
            "  !! THE GATEWAY DID NOT KEEP UP with {} orders/s: it acknowledged {:.1}% of the offered rate.",
            group(plan.rate),
            ratio * 100.0
        );
        println!(
            "  !! The latencies below grow with the backlog; they describe an overloaded system, not its latency at this rate."
        );
    }
    let h = &recorder.histogram;
    let tail_ms = recorder
        .last_measured_ns
        .saturating_sub(plan.window_end_ns()) as f64
        / 1e6;
    let mut lower_bounds = String::new();
    if abandoned > 0 {
        lower_bounds.push_str(&format!(", {} NEVER SENT", group(abandoned)));
    }
    if unanswered > 0 {
        lower_bounds.push_str(&format!(", {} NEVER ANSWERED", group(unanswered)));
    }
    if !lower_bounds.is_empty() {
        lower_bounds
            .push_str(": recorded at a lower bound (give-up − scheduled), so the percentiles are lower bounds");
    }
    println!(
        "  measured       {} orders recorded ({} acknowledged{lower_bounds}), last one acknowledged {:.1} ms after the window closed",
        group(h.len()),
        group(recorder.completed_measured),
        tail_ms
    );
    println!(
        "  sender         sent {} ({} acknowledged, {} of them rejected), latest {:.3} ms behind schedule, {} > 1 ms late, socket buffer full {} times, {} sleeps; {} MB out, {} MB in",
        group(stats.sent),
        group(acks),
        group(stats.rejected),
        stats.max_send_lag_ns as f64 / 1e6,
        group(stats.late_1ms),
        group(stats.would_block),
        group(stats.sleeps),
        stats.bytes_out / 1_000_000,
        stats.bytes_in / 1_000_000
    );
    if stats.protocol_rejects > 0 || stats.duplicates > 0 || stats.foreign > 0 || stats.garbled > 0
    {
        warnings.push("anomalies".to_owned());
        println!(
            "  !! anomalies   {} refusals above the order level (first: {}), {} duplicate acks, {} reports for no order of this run, {} undecodable messages",
            group(stats.protocol_rejects),
            stats.first_protocol_reject.as_deref().unwrap_or("-"),
            group(stats.duplicates),
            group(stats.foreign),
            group(stats.garbled)
        );
    }
    for why in &stats.closed {
        println!("  !! closed      {why}");
    }
    if !stats.closed.is_empty() {
        warnings.push("sessions closed".to_owned());
    }
    println!("  order→ack (µs, scheduled send → first report):");
    println!("                 {}", percentiles_line(h));
    if let Some((echo, _)) = echo {
        let e = &echo.histogram;
        let at = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q).max(1) as f64;
        let p50 = at(h, 0.5) / at(e, 0.5);
        let p99 = at(h, 0.99) / at(e, 0.99);
        println!("  ratio          order→ack / echo: p50 {p50:.2}×, p99 {p99:.2}×");
        println!(
            "  target         median order→ack under {TARGET_RATIO}× the echo floor: {} ({:.1} µs vs {:.1} µs = {p50:.2}×)",
            if p50 < TARGET_RATIO { "MET" } else { "NOT MET" },
            at(h, 0.5) / 1e3,
            at(e, 0.5) / 1e3
        );
    }
    print_timeline(plan, &recorder);
    print_event_counts(&recorder);

    if let Some(link) = &link {
        report_link(setting, link, &mut warnings);
    }
    if let Some(stopped) = stop {
        let stop = stopped
            .report
            .map_err(|why| format!("the gateway stopped badly: {why}"))?;
        println!(
            "  stop           processed seq {}, durable seq {}, digest {:#018x} (data {})",
            stop.processed_seq,
            stop.durable_seq,
            stop.digest,
            stopped.data_dir.display()
        );
        let expected = stopped.initial_commands + acks;
        if stop.processed_seq == expected {
            println!(
                "  check          every acknowledged order was journaled once ({} = {} deposits + {} orders)",
                expected, stopped.initial_commands, acks
            );
        } else {
            warnings.push("journal count mismatch".to_owned());
            println!(
                "  !! MISMATCH: {} orders acknowledged (+{} deposits) but the exchange processed {} commands",
                acks, stopped.initial_commands, stop.processed_seq
            );
        }
        if let Some(standby) = stopped.standby {
            report_standby(&stop, standby, &mut warnings)?;
        }
    }

    let path = hgrm_for(args, setting);
    let mut text = String::new();
    write_hgrm(h, 1e3, &mut text).map_err(|e| format!("formatting the .hgrm: {e}"))?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "  hgrm           {} (order→ack, values in µs)",
        path.display()
    );
    let _ = std::io::stdout().flush();
    Ok(Outcome {
        setting,
        histogram: recorder.histogram,
        achieved,
        warnings,
        market_data: None,
    })
}

/// The primary's link as sampled during the measured window, and at its end. A synchronous
/// primary that was degraded did not wait for its standby: that is not a synchronous figure.
fn report_link(setting: Replication, link: &LinkWatch, warnings: &mut Vec<String>) {
    println!(
        "  link           primary's view, sampled every {} ms in the measured window: {} samples, standby disconnected in {}, primary degraded in {}, lag at most {} sequences",
        PROBE_NS / 1_000_000,
        group(link.samples),
        group(link.disconnected),
        group(link.degraded),
        group(link.max_lag)
    );
    match &link.end {
        Some(end) => println!(
            "  link at end    mode {}, standby {} ({}), {}, lag {} sequences",
            end.mode,
            if end.connected {
                "connected"
            } else {
                "DISCONNECTED"
            },
            end.peer,
            if end.degraded {
                "DEGRADED"
            } else {
                "not degraded"
            },
            end.lag
        ),
        None => println!("  link at end    !! no replication status"),
    }
    let end_degraded = link.end.as_ref().is_none_or(|e| e.degraded);
    let end_disconnected = link.end.as_ref().is_none_or(|e| !e.connected);
    if link.samples == 0 {
        warnings.push("link not sampled".to_owned());
        println!("  !! the link was never sampled during the measured window");
    }
    if link.disconnected > 0 || end_disconnected {
        warnings.push("standby disconnected".to_owned());
        println!(
            "  !! THE STANDBY WAS DISCONNECTED during the measured window or at its end: this is not a figure with a standby."
        );
    }
    if setting == Replication::Sync && (link.degraded > 0 || end_degraded) {
        warnings.push("DEGRADED: not a sync figure".to_owned());
        println!(
            "  !! SYNCHRONOUS REPLICATION WAS DEGRADED during the measured window or at its end: the primary traded on without waiting for its standby, so this is NOT a synchronous-replication figure."
        );
    }
}

/// The standby's stop: it must have processed the primary's whole history, to the same digest.
fn report_standby(
    primary: &StopReport,
    standby: StandbyStopped,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    match standby.caught_up {
        Ok(took) => println!(
            "  standby sync   acknowledged everything the primary journaled {:.1} ms after the last reply",
            took.as_secs_f64() * 1e3
        ),
        Err(lag) => {
            warnings.push("standby behind at the end".to_owned());
            println!(
                "  !! the standby was still {lag} sequences behind {LINK_TIMEOUT:?} after the last reply"
            );
        }
    }
    let report = standby
        .report
        .map_err(|why| format!("the standby stopped badly: {why}"))?;
    let same = report.processed_seq == primary.processed_seq && report.digest == primary.digest;
    if same {
        println!(
            "  standby stop   processed seq {}, digest {:#018x}: the same as the primary's (data {})",
            report.processed_seq,
            report.digest,
            standby.data_dir.display()
        );
    } else {
        warnings.push("standby differs".to_owned());
        println!(
            "  !! STANDBY DIFFERS: processed seq {}, digest {:#018x}, against the primary's {} and {:#018x} (data {})",
            report.processed_seq,
            report.digest,
            primary.processed_seq,
            primary.digest,
            standby.data_dir.display()
        );
    }
    Ok(())
}

/// Where a setting's percentile distribution goes: `--hgrm` (or its default) for the plain run,
/// with the setting's name before the extension when several settings are measured.
fn hgrm_for(args: &Args, setting: Replication) -> PathBuf {
    let path = hgrm_path(args);
    if args.replication == [Replication::None] {
        return path;
    }
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{}.{}", setting.name(), ext.to_string_lossy()),
        None => format!("{stem}-{}", setting.name()),
    };
    path.with_file_name(name)
}

/// One percentile line per setting, then each setting's p50 and p99 as a multiple of `none`'s.
fn print_comparison(args: &Args, plan: &Plan, outcomes: &[Outcome]) {
    println!();
    println!(
        "comparison — order→ack (µs, scheduled send → first report), mode {}, {} orders/s offered, {} s measured per setting after {} s warm-up, settings run one after another",
        match args.mode {
            Mode::Fix => "fix",
            _ => "binary",
        },
        group(plan.rate),
        args.duration,
        args.warmup
    );
    if outcomes.iter().any(|o| o.market_data.is_some()) {
        print_market_data_comparison(outcomes);
        return;
    }
    for outcome in outcomes {
        println!(
            "  {:<6} {}   achieved {}/s{}",
            outcome.setting.name(),
            percentiles_line(&outcome.histogram),
            group(outcome.achieved.round() as u64),
            if outcome.warnings.is_empty() {
                String::new()
            } else {
                format!("   !! {}", outcome.warnings.join(", "))
            }
        );
    }
    let Some(none) = outcomes.iter().find(|o| o.setting == Replication::None) else {
        println!("  (no ratios: `none` was not measured)");
        return;
    };
    let at = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q).max(1) as f64;
    for outcome in outcomes.iter().filter(|o| o.setting != Replication::None) {
        let h = &outcome.histogram;
        println!(
            "  ratio          {} / none: p50 {:.2}×, p99 {:.2}×",
            outcome.setting.name(),
            at(h, 0.5) / at(&none.histogram, 0.5),
            at(h, 0.99) / at(&none.histogram, 0.99)
        );
    }
}

/// CPU time used so far by this process's threads, in clock ticks, summed per thread name
/// (`/proc/self/task/*/stat`, Linux; empty elsewhere).
fn thread_cpu() -> HashMap<String, u64> {
    let mut cpu = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `tid (comm) state ppid ...`: utime and stime are the 14th and 15th fields, the 12th
        // and 13th after the name (which may hold spaces, hence the last parenthesis).
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        *cpu.entry(name).or_insert(0) += ticks(11) + ticks(12);
    }
    cpu
}

/// Prints each thread's share of a core over the run so far since `before`: on a two-core
/// machine this tells whether the gateway or the load generator's own readers were short of CPU.
fn print_thread_cpu(before: (Instant, HashMap<String, u64>)) {
    let (started, before) = before;
    let wall = started.elapsed().as_secs_f64();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if wall <= 0.0 || hz <= 0 {
        return;
    }
    let mut used: Vec<(String, f64)> = thread_cpu()
        .into_iter()
        .map(|(name, ticks)| {
            let was = before.get(&name).copied().unwrap_or(0);
            let seconds = ticks.saturating_sub(was) as f64 / hz as f64;
            (name, seconds / wall * 100.0)
        })
        .filter(|(_, percent)| *percent >= 1.0)
        .collect();
    if used.is_empty() {
        return;
    }
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = used.iter().map(|(_, p)| p).sum();
    let list: Vec<String> = used
        .iter()
        .map(|(name, percent)| format!("{name} {percent:.0}%"))
        .collect();
    println!(
        "  cpu            threads of this process over the {wall:.1} s run (100% = one core): {} — {total:.0}% in all",
        list.join(", ")
    );
}

/// The user whose resting sell `--trade-every` orders trade with.
const MAKER: &str = "maker";
/// Lots the maker offers: far more than any run takes.
const MAKER_LOTS: u64 = 5_000_000;

/// The maker's session while its resting sell is on the book: a thread reads its fills, so
/// the gateway never has to queue them for a client that does not read (one per trading order:
/// a long run would otherwise fill the socket and the session's queue).
struct Maker {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Maker {
    /// Stops reading and closes the session (the order stays: `cancel_on_disconnect = false`);
    /// returns the fills it read.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or(0)
    }
}

/// The symbols of the configuration the gateway started here runs (the demo's): what the
/// WebSocket subscribers subscribe to.
fn configured_symbols() -> Vec<String> {
    let config = hayate::ExchangeConfig::demo();
    config
        .engine_config()
        .symbols
        .iter()
        .map(|s| s.name.clone())
        .collect()
}

/// `--trade-every` needs the gateway started here (its maker), and prices that stay inside the
/// price band once trades at `--sell-price` have moved the reference price there: otherwise
/// every non-crossing buy is refused `PRICE_BAND`, and the run measures refusals.
fn check_trading_prices(args: &Args, spec: &OrderSpec) -> Result<(), String> {
    if args.addr.is_some() {
        return Err(
            "--trade-every trades with a maker placed on the gateway started here (no --addr)"
                .into(),
        );
    }
    let config = hayate::ExchangeConfig::demo();
    let engine = config.engine_config();
    let symbol = engine
        .symbol_id(&spec.symbol)
        .and_then(|id| engine.symbol(id))
        .ok_or_else(|| format!("unknown symbol {}", spec.symbol))?;
    let (Some(buy), Some(sell)) = (
        symbol.price_from_decimal(spec.buy),
        symbol.price_from_decimal(spec.sell),
    ) else {
        return Err("--buy-price and --sell-price must be on the tick".into());
    };
    if let Some((low, high)) = symbol.band(sell)
        && buy < low
    {
        return Err(format!(
            "with --trade-every, trades at --sell-price {} make the band [{}, {}]: --buy-price {} would be refused PRICE_BAND (e.g. --buy-price 4900000 --sell-price 5100000)",
            spec.sell,
            symbol.price_to_decimal(low),
            symbol.price_to_decimal(high),
            spec.buy
        ));
    }
    Ok(())
}

/// Places the maker's resting sell at `--sell-price` over the binary port and waits for its
/// acknowledgement; the session stays open (and the order on the book) while it is held.
fn place_maker(gateway: &Gateway, spec: &OrderSpec) -> Result<Maker, String> {
    use hayate::adapters::binary::client::BinaryClient;
    let mut client = BinaryClient::connect(gateway.addrs().binary, SETUP_TIMEOUT)
        .map_err(|e| format!("maker: {e}"))?;
    let logon = Logon::new(MAKER, "maker", CancelOnDisconnect::Configured)
        .ok_or("maker: credentials too long")?;
    client
        .send(&ClientMessage::Logon(logon))
        .map_err(|e| format!("maker: {e}"))?;
    let config = hayate::ExchangeConfig::demo();
    let engine = config.engine_config();
    let symbol = engine
        .symbol_id(&spec.symbol)
        .ok_or_else(|| format!("maker: unknown symbol {}", spec.symbol))?;
    let price = engine.symbols[symbol.0 as usize]
        .price_from_decimal(spec.sell)
        .ok_or("maker: --sell-price is not on the tick")?;
    let id = ClientOrderId::new("maker-1").ok_or("maker: id")?;
    let order = NewOrder::new(
        id,
        symbol,
        Side::Sell,
        OrderType::Limit,
        TimeInForce::Gtc,
        price,
        Qty(MAKER_LOTS),
    );
    client
        .send(&ClientMessage::NewOrder(order))
        .map_err(|e| format!("maker: {e}"))?;
    let deadline = Instant::now() + SETUP_TIMEOUT;
    while Instant::now() < deadline {
        let bytes = client.recv().map_err(|e| format!("maker: {e}"))?;
        if let Ok(ServerMessage::Report(report)) = ServerMessage::decode(&bytes) {
            let event = report.event();
            if event.kind == EventKind::Accepted as u8 {
                client
                    .stream()
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .map_err(|e| format!("maker: {e}"))?;
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let thread = std::thread::Builder::new()
                    .name("loadgen-maker".into())
                    .spawn(move || {
                        let mut fills = 0;
                        while !flag.load(Ordering::Acquire) {
                            match client.recv() {
                                Ok(bytes) => {
                                    if let Ok(ServerMessage::Report(r)) =
                                        ServerMessage::decode(&bytes)
                                    {
                                        fills += u64::from(r.event().kind == EventKind::Fill as u8);
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        fills
                    })
                    .map_err(|e| format!("maker: cannot start its reader: {e}"))?;
                return Ok(Maker { stop, thread });
            }
            return Err(format!("maker: the resting sell was refused: {event:?}"));
        }
    }
    Err("maker: no acknowledgement".into())
}

/// Prints a market-data run's figures; returns the update latency histogram.
fn report_market_data(
    subscribers: u64,
    fleet: Option<FleetReport>,
    feed: Option<(u64, u64, u64, u64, u64)>,
    warnings: &mut Vec<String>,
) -> Result<Histogram<u64>, String> {
    let empty = || Histogram::new_with_bounds(1, HIGHEST_NS, 3).map_err(|e| e.to_string());
    if let Some((updates, encodes, bytes, sent, slow)) = feed {
        let per_update = |x: u64| x as f64 / updates.max(1) as f64;
        println!(
            "  feed           {updates} updates, {encodes} messages encoded ({:.2} per update: one per channel with news, whatever the number of subscribers), {:.0} bytes encoded per update, {sent} messages queued to subscribers, {slow} dropped for not reading",
            per_update(encodes),
            per_update(bytes),
        );
        if slow > 0 {
            warnings.push(format!("{slow} subscribers dropped for not reading"));
        }
    }
    let Some(fleet) = fleet else {
        return empty();
    };
    let h = &fleet.latency;
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
    println!(
        "  updates        {} l2updates seen by all {subscribers} subscribers ({} measured, {} measured ones still missing somewhere at the end)",
        fleet.complete,
        h.len(),
        fleet.incomplete,
    );
    println!(
        "  received       {} messages, {:.1} MB in total; per subscriber {}–{} messages, {:.2}–{:.2} MB",
        fleet.messages,
        fleet.bytes as f64 / 1e6,
        fleet.messages_per_subscriber.0,
        fleet.messages_per_subscriber.1,
        fleet.bytes_per_subscriber.0 as f64 / 1e6,
        fleet.bytes_per_subscriber.1 as f64 / 1e6,
    );
    println!(
        "  checks         sequence gaps {}, subscribers dropped {}, feed errors {}, unreadable messages {}{}",
        fleet.gaps,
        fleet.dropped,
        fleet.errors,
        fleet.malformed,
        fleet
            .first_problem
            .as_deref()
            .map_or(String::new(), |p| format!(" (first: {p})"))
    );
    if h.is_empty() {
        println!("  update latency none measured");
    } else {
        println!(
            "  update latency command received at the gateway → l2update read on the last subscriber's socket (µs): p50 {:.0}  p99 {:.0}  p99.9 {:.0}  max {:.0}",
            us(0.5),
            us(0.99),
            us(0.999),
            h.max() as f64 / 1e3
        );
    }
    if fleet.gaps > 0 || fleet.dropped > 0 || fleet.errors > 0 || fleet.malformed > 0 {
        warnings.push(format!(
            "subscribers saw {} gaps, {} were dropped, {} errors, {} unreadable messages",
            fleet.gaps, fleet.dropped, fleet.errors, fleet.malformed
        ));
    }
    if fleet.incomplete > 0 {
        warnings.push(format!(
            "{} measured updates did not reach every subscriber",
            fleet.incomplete
        ));
    }
    Ok(fleet.latency)
}

/// Order→ack p50 with subscribers may be at most this multiple of without.
const TARGET_ACK_P50_RATIO: f64 = 1.2;
/// The update latency p99 to the last subscriber must stay below this, ns.
const TARGET_UPDATE_P99_NS: u64 = 5_000_000;

/// `--ws-subscribers` runs side by side: order→ack with each number of subscribers as a
/// multiple of the run with the fewest, and the update latency to the last subscriber.
fn print_market_data_comparison(outcomes: &[Outcome]) {
    let at = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q).max(1) as f64;
    for outcome in outcomes {
        let Some((count, updates)) = &outcome.market_data else {
            continue;
        };
        let update_line = if updates.is_empty() {
            "no update latency (no subscriber)".to_owned()
        } else {
            format!(
                "update → last subscriber p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs",
                at(updates, 0.5) / 1e3,
                at(updates, 0.99) / 1e3,
                at(updates, 0.999) / 1e3
            )
        };
        println!(
            "  {:>5} subs   order→ack {}   {update_line}{}",
            count,
            percentiles_line(&outcome.histogram),
            if outcome.warnings.is_empty() {
                String::new()
            } else {
                format!("   !! {}", outcome.warnings.join(", "))
            }
        );
    }
    let Some(base) = outcomes
        .iter()
        .filter_map(|o| o.market_data.as_ref().map(|(c, _)| (*c, o)))
        .min_by_key(|(c, _)| *c)
    else {
        return;
    };
    for outcome in outcomes {
        let Some((count, _)) = &outcome.market_data else {
            continue;
        };
        if *count == base.0 {
            continue;
        }
        let p50 = at(&outcome.histogram, 0.5) / at(&base.1.histogram, 0.5);
        println!(
            "  ratio          order→ack with {count} subscribers / with {}: p50 {p50:.2}× (target ≤ {TARGET_ACK_P50_RATIO}×: {}), p99 {:.2}×",
            base.0,
            if p50 <= TARGET_ACK_P50_RATIO {
                "met"
            } else {
                "MISSED"
            },
            at(&outcome.histogram, 0.99) / at(&base.1.histogram, 0.99)
        );
    }
    for outcome in outcomes {
        let Some((count, updates)) = &outcome.market_data else {
            continue;
        };
        if updates.is_empty() {
            continue;
        }
        let p99 = updates.value_at_quantile(0.99);
        println!(
            "  update p99     {count} subscribers: {:.0} µs (target < {} µs: {})",
            p99 as f64 / 1e3,
            TARGET_UPDATE_P99_NS / 1_000,
            if p99 < TARGET_UPDATE_P99_NS {
                "met"
            } else {
                "MISSED"
            }
        );
    }
}
