//! `--bridge`: the scale-out path attached to the gateway under test, for the "order entry never
//! slows" and "command → edge" figures of README "Scaling out".
//!
//! A bridge run starts, next to the gateway this process started: a `nats-server` with JetStream
//! and a PostgreSQL cluster of their own (the test kit's, on loopback in temporary directories),
//! the bridge observing the gateway's replication port and writing both sinks, and a market-data
//! edge serving the feed from JetStream. All of it is started from one thread whose nice value is
//! `--bridge-nice` (or, with `--bridge-idle`, whose policy is `SCHED_IDLE`): threads and processes
//! inherit it, so on a small machine the scale-out side takes what the order path leaves, as it
//! would on machines of its own. `--bridge-nice 0` measures it contending as an equal.
//! `--bridge-cpus` gives it cores of its own (its affinity, inherited likewise): with the rest of
//! loadgen kept off them (`taskset -c 0 cargo run … --bridge-cpus 1`), the nearest this machine
//! comes to the bridge on a machine of its own.
//!
//! During the measured window the probe samples how far the bridge's sinks have written; after
//! the last order the run waits (bounded) until both sinks hold everything the primary processed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hayate::ExchangeConfig;
use hayate::adapters::bridge::edge::{Edge, EdgeSettings};
use hayate::adapters::bridge::{
    Bridge, BridgeSettings, BridgeStatus, NatsSettings, NatsSink, PostgresSink, Sink, SinkError,
};
use hayate::adapters::replication::observer::ObserveSettings;
use hayate::adapters::secrets::PairSecret;
use hayate_testkit::nats::NatsServer;
use hayate_testkit::postgres::Postgres;
use hdrhistogram::Histogram;

use super::Outcome;
use crate::report::percentiles_line;

/// The observers' secret of a gateway started here for a bridge run.
pub(super) const OBSERVER_SECRET: &str = "loadgen-observer-secret-0123456789";
/// How long the servers may take to accept the sinks, and the bridge to catch up before the run.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the bridge may take after the last order to write everything.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The scale-out side of a bridge run.
pub(super) struct ScaleOut {
    edge: Edge,
    bridge: Bridge,
    status: Arc<BridgeStatus>,
    /// Where the edge's WebSocket feed listens.
    pub(super) edge_ws: SocketAddr,
    /// Sampled during the measured window: (when, every sink's written sequence, the sequence
    /// the gateway's matcher had processed).
    first: Option<(Instant, u64, u64)>,
    last: Option<(Instant, u64, u64)>,
    // Dropped last: the servers stop after the bridge and the edge.
    _nats: NatsServer,
    _postgres: Postgres,
    _dir: tempfile::TempDir,
}

/// What a bridge run measured on the scale-out side.
pub(super) struct ScaleOutReport {
    /// Commands per second the primary processed and the sinks wrote, over the measured window.
    pub(super) primary_rate: f64,
    pub(super) written_rate: f64,
    /// Sequences not yet written when the window closed.
    pub(super) lag_at_end: u64,
    /// From the window's end until every sink held the primary's last sequence, that sequence,
    /// and the commands per second written from the window's start until then: what the bridge
    /// sustains (`Err`: the lag left when the wait gave up).
    pub(super) drained: Result<(Duration, u64, f64), u64>,
    /// Per sink: name, cursor, commands written, write errors.
    pub(super) sinks: Vec<(&'static str, u64, u64, u64)>,
}

impl ScaleOut {
    /// Starts the servers, the bridge and the edge for `config`'s gateway, whose observers'
    /// port is `replication`; returns once the bridge has written everything the gateway holds
    /// so far and the edge serves.
    pub(super) fn start(
        config: &ExchangeConfig,
        replication: SocketAddr,
        nice: i32,
        idle: bool,
        cpus: &[usize],
    ) -> Result<ScaleOut, String> {
        let cpus = cpus.to_vec();
        let config = config.clone();
        std::thread::Builder::new()
            .name("loadgen-scale-out".into())
            .spawn(move || {
                // SAFETY: setpriority(2) and sched_setscheduler(2) on this thread only; what it
                // starts inherits them.
                unsafe {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    libc::setpriority(libc::PRIO_PROCESS, tid, nice);
                    if idle {
                        let param = libc::sched_param { sched_priority: 0 };
                        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
                    }
                }
                if !cpus.is_empty() {
                    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET stays within it
                    // (cores past CPU_SETSIZE are refused above).
                    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
                    for &cpu in &cpus {
                        unsafe { libc::CPU_SET(cpu, &mut set) };
                    }
                    // SAFETY: this thread's affinity, from a set built above.
                    let done = unsafe {
                        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
                    };
                    if done != 0 {
                        return Err(format!(
                            "--bridge-cpus {cpus:?}: {}",
                            std::io::Error::last_os_error()
                        ));
                    }
                }
                start_here(&config, replication)
            })
            .map_err(|e| format!("cannot start the scale-out thread: {e}"))?
            .join()
            .unwrap_or_else(|_| Err("the scale-out start panicked".into()))
    }

    /// The probe during the measured window; `processed` is the gateway's processed sequence.
    pub(super) fn sample(&mut self, processed: u64) {
        let sample = (Instant::now(), self.status.written_seq(), processed);
        self.first.get_or_insert(sample);
        self.last = Some(sample);
    }

    /// Waits (bounded) until every sink holds `processed`, the gateway's last processed
    /// sequence, then stops the edge and the bridge.
    pub(super) fn finish(self, processed: u64) -> Result<ScaleOutReport, String> {
        let ScaleOut {
            edge,
            bridge,
            status,
            first,
            last,
            ..
        } = self;
        let (Some(first), Some(last)) = (first, last) else {
            return Err("the bridge was not sampled during the measured window".into());
        };
        let window = last.0.duration_since(first.0).as_secs_f64().max(1e-9);
        let lag_at_end = last.2.saturating_sub(last.1);
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let drained = loop {
            if let Some(failure) = status.failure() {
                return Err(format!("the bridge failed: {failure}"));
            }
            let written = status.written_seq();
            if written >= processed {
                let after = last.0.elapsed();
                let rate = (written - first.1) as f64 / (window + after.as_secs_f64());
                break Ok((after, written, rate));
            }
            if Instant::now() > deadline {
                break Err(processed.saturating_sub(written));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let sinks = status
            .sinks
            .iter()
            .map(|s| {
                (
                    s.name,
                    s.cursor.load(Ordering::Acquire),
                    s.commands.load(Ordering::Relaxed),
                    s.errors.load(Ordering::Relaxed),
                )
            })
            .collect();
        edge.stop().map_err(|e| format!("the edge: {e}"))?;
        if let Some(failure) = bridge.stop() {
            return Err(format!("the bridge: {failure}"));
        }
        Ok(ScaleOutReport {
            primary_rate: (last.2 - first.2) as f64 / window,
            written_rate: (last.1 - first.1) as f64 / window,
            lag_at_end,
            drained,
            sinks,
        })
    }
}

fn start_here(config: &ExchangeConfig, replication: SocketAddr) -> Result<ScaleOut, String> {
    let nats = NatsServer::start()?;
    let postgres = Postgres::start()?;
    let dir = tempfile::Builder::new()
        .prefix("hayate-loadgen-bridge-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let engine = config.engine_config().clone();
    let digest = hayate::Engine::new(engine.clone()).digest();
    let nats_settings = NatsSettings::default();
    let deadline = Instant::now() + START_TIMEOUT;
    let nats_sink = retry(deadline, || {
        NatsSink::connect(&[nats.url()], nats_settings.clone(), digest)
    })?;
    let postgres_sink = retry(deadline, || PostgresSink::connect(&postgres.url(), digest))?;
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(nats_sink), Box::new(postgres_sink)];
    let secret = PairSecret::new(OBSERVER_SECRET.as_bytes()).map_err(|e| e.to_string())?;
    // The example bridge's defaults (`[bridge]` in README "Scaling out").
    let settings = BridgeSettings {
        observe: ObserveSettings {
            nodes: vec![replication],
            name: "loadgen-bridge".into(),
            secret,
            config_digest: digest,
            heartbeat: Duration::from_millis(100),
            tls: None,
            connect_timeout: Duration::from_secs(5),
        },
        engine: engine.clone(),
        data_dir: dir.path().to_path_buf(),
        batch: 5000,
        snapshot_every: 100_000,
        md_snapshot_every: 100,
        md_state_every: hayate::adapters::bridge::apply::DEFAULT_MARKET_STATE_EVERY,
        retry: Duration::from_secs(1),
    };
    let bridge = Bridge::start(settings, sinks).map_err(|e| format!("the bridge: {e}"))?;
    let status = bridge.status();
    // Caught up with what the gateway holds (its deposits and the maker's order).
    loop {
        if let Some(failure) = status.failure() {
            return Err(format!("the bridge failed: {failure}"));
        }
        let primary = status.primary_seq.load(Ordering::Acquire);
        if primary > 0 && status.written_seq() >= primary {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the bridge did not catch up within {START_TIMEOUT:?} (primary {primary}, written {})",
                status.written_seq()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut market_data = config.market_data().clone();
    market_data.ws_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let edge = Edge::start(
        EdgeSettings {
            servers: vec![nats.url()],
            nats: nats_settings,
            engine,
            market_data,
        },
        START_TIMEOUT,
    )
    .map_err(|e| format!("the edge: {e}"))?;
    let edge_ws = edge.ws_addr().ok_or("the edge has no WebSocket address")?;
    Ok(ScaleOut {
        edge,
        bridge,
        status,
        edge_ws,
        first: None,
        last: None,
        _nats: nats,
        _postgres: postgres,
        _dir: dir,
    })
}

/// `connect` until it succeeds, is refused for good, or `deadline` passes.
fn retry<T>(
    deadline: Instant,
    mut connect: impl FnMut() -> Result<T, SinkError>,
) -> Result<T, String> {
    loop {
        match connect() {
            Ok(sink) => return Ok(sink),
            Err(SinkError::Unavailable { message, .. }) if Instant::now() < deadline => {
                eprintln!("  (sink not ready yet: {message})");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Prints a bridge run's scale-out figures.
pub(super) fn print_scale_out(report: &ScaleOutReport) {
    println!(
        "  bridge         over the measured window the primary processed {:.0} commands/s and both sinks wrote {:.0}/s; lag when it closed: {} commands",
        report.primary_rate, report.written_rate, report.lag_at_end
    );
    match &report.drained {
        Ok((after, seq, rate)) => println!(
            "  bridge drain   every sink held sequence {seq} {:.2} s after the window closed: {rate:.0} commands/s sustained from the window's start",
            after.as_secs_f64()
        ),
        Err(lag) => {
            println!("  bridge drain   !! still {lag} commands behind after {DRAIN_TIMEOUT:?}")
        }
    }
    for (name, cursor, commands, errors) in &report.sinks {
        println!(
            "  sink {name:<9} cursor {cursor}, {commands} commands written, {errors} write errors"
        );
    }
}

/// Order→ack p50 with the bridge attached may be at most this multiple of without (issue 16).
const TARGET_ACK_P50_RATIO: f64 = 1.1;

/// The two `--bridge` runs side by side: order→ack without and with the bridge, and command →
/// update on the gateway's feed and on the edge's.
pub(super) fn print_bridge_comparison(outcomes: &[Outcome]) {
    let at = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q).max(1) as f64;
    let us = |h: &Histogram<u64>| {
        if h.is_empty() {
            "none measured".to_owned()
        } else {
            format!(
                "p50 {:.0} µs, p99 {:.0} µs",
                at(h, 0.5) / 1e3,
                at(h, 0.99) / 1e3
            )
        }
    };
    let mut without = None;
    let mut with = None;
    for outcome in outcomes {
        let Some(bridge) = &outcome.bridge else {
            continue;
        };
        let edge = bridge
            .edge_feed
            .as_ref()
            .map_or(String::new(), |h| format!("   edge's feed {}", us(h)));
        println!(
            "  {:<9} order→ack {}   gateway's feed {}{edge}{}",
            if bridge.attached {
                "bridge"
            } else {
                "no bridge"
            },
            percentiles_line(&outcome.histogram),
            us(&bridge.core_feed),
            if outcome.warnings.is_empty() {
                String::new()
            } else {
                format!("   !! {}", outcome.warnings.join(", "))
            }
        );
        if bridge.attached {
            with = Some((outcome, bridge));
        } else {
            without = Some(outcome);
        }
    }
    let (Some(without), Some((with, bridge))) = (without, with) else {
        return;
    };
    let p50 = at(&with.histogram, 0.5) / at(&without.histogram, 0.5);
    println!(
        "  ratio          order→ack with the bridge / without: p50 {p50:.2}× (target ≤ {TARGET_ACK_P50_RATIO}×: {}), p99 {:.2}×",
        if p50 <= TARGET_ACK_P50_RATIO {
            "met"
        } else {
            "MISSED"
        },
        at(&with.histogram, 0.99) / at(&without.histogram, 0.99)
    );
    if let Some(edge) = bridge.edge_feed.as_ref().filter(|h| !h.is_empty()) {
        let core = &bridge.core_feed;
        if !core.is_empty() {
            println!(
                "  edge           command → edge subscriber {}; the gateway's own feed in the same run {} (edge / gateway: p50 {:.1}×, p99 {:.1}×)",
                us(edge),
                us(core),
                at(edge, 0.5) / at(core, 0.5),
                at(edge, 0.99) / at(core, 0.99)
            );
        }
    }
    if let Some(report) = &bridge.scale_out {
        match &report.drained {
            Ok((_, _, rate)) => println!(
                "  bridge         primary {:.0} commands/s, sinks {:.0}/s in the window, {rate:.0}/s sustained until drained",
                report.primary_rate, report.written_rate
            ),
            Err(lag) => println!("  bridge         !! did not drain ({lag} commands behind)"),
        }
    }
}
