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
//!
//! **Layout.** This file runs the settings one after another ([`run`]); `network/gateways.rs`
//! starts and stops the gateways this process runs (and names the traders), `replication.rs`
//! waits for and watches a standby, `echo.rs` measures the floor, `session.rs` with `binary.rs`
//! and `fix.rs` holds the client sessions, `driver.rs` the one thread that sends and reads,
//! `sleep.rs` its `ppoll`, `report.rs` the results, `cpu.rs` the per-thread CPU line, `maker.rs`
//! the `--trade-every` maker, and `market_data.rs` with `feed_subscribers.rs` the
//! `--ws-subscribers` runs.

mod binary;
mod cpu;
mod driver;
mod echo;
mod feed_subscribers;
mod fix;
mod gateways;
mod maker;
mod market_data;
mod replication;
mod report;
mod scale_out;
mod session;
mod sleep;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hayate::adapters::clock::unix_ns;
use hayate::adapters::gateway::Gateway;
use hdrhistogram::Histogram;
use rust_decimal::Decimal;

use crate::schedule::{Clock, Plan};
use crate::{Args, Replication};
use cpu::{print_thread_cpu, thread_cpu};
use driver::{Ledger, drive};
use echo::{echo_floor, msync_floor};
use feed_subscribers::Fleet;
use gateways::{Credentials, OwnGateway, own_gateway, remote_target, stop_own};
use hayate::journal::FlushPolicy;
use maker::{Maker, check_trading_prices, place_maker};
use market_data::{configured_symbols, report_market_data};
use replication::{LinkWatch, await_link};
use report::{print_comparison, print_configuration, print_gateway, report};
use scale_out::{ScaleOut, ScaleOutReport, print_scale_out};
use session::Session;
use sleep::set_timer_slack;

/// How long the set-up steps (connect, logon) may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// TLS (--tls): the client configuration and the name the certificate must carry.
    tls: Option<(
        std::sync::Arc<hayate::adapters::tls::rustls::ClientConfig>,
        String,
    )>,
    users: Vec<Credentials>,
    target_comp_id: String,
    /// Set when this process started the gateway.
    own: Option<OwnGateway>,
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
    /// `--bridge` runs: whether the bridge was attached, command received → update on the
    /// gateway's own feed and (attached) on the edge's, and the bridge's figures.
    bridge: Option<BridgeOutcome>,
}

/// One `--bridge` run's figures besides order→ack.
struct BridgeOutcome {
    attached: bool,
    core_feed: Histogram<u64>,
    edge_feed: Option<Histogram<u64>>,
    scale_out: Option<ScaleOutReport>,
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
    // Each run: a replication setting, (market-data runs) a number of WebSocket subscribers, or
    // (bridge runs) whether the bridge is attached.
    let runs: Vec<(Replication, Option<u64>, Option<bool>)> = if args.bridge {
        if args.replication != [Replication::None]
            || args.addr.is_some()
            || !args.ws_subscribers.is_empty()
        {
            return Err(
                "--bridge measures a lone gateway started here (no --replication, --addr or --ws-subscribers)"
                    .into(),
            );
        }
        if args.trade_every == 0 {
            return Err(
                "--bridge needs --trade-every K: without trades the book never changes and no update reaches a feed"
                    .into(),
            );
        }
        vec![
            (Replication::None, None, Some(false)),
            (Replication::None, None, Some(true)),
        ]
    } else if args.ws_subscribers.is_empty() {
        args.replication.iter().map(|&r| (r, None, None)).collect()
    } else {
        if args.replication != [Replication::None] || args.addr.is_some() {
            return Err(
                "--ws-subscribers measures a lone gateway started here (no --replication, no --addr)"
                    .into(),
            );
        }
        args.ws_subscribers
            .iter()
            .map(|&n| (Replication::None, Some(n), None))
            .collect()
    };
    let compare = runs.len() > 1;
    let mut echo = None;
    let mut outcomes = Vec::with_capacity(runs.len());
    for (n, &(setting, subscribers, bridge)) in runs.iter().enumerate() {
        let mut target = match &args.addr {
            Some(addr) => remote_target(args, addr)?,
            None => own_gateway(args, setting, subscribers, bridge)?,
        };
        if n == 0 {
            print_configuration(args, plan, &target, &spec);
        }
        if compare {
            println!();
            match (subscribers, bridge) {
                (Some(count), _) => println!("── {count} WebSocket subscribers ──"),
                (None, Some(true)) => println!(
                    "── bridge attached (NATS, PostgreSQL, an edge; {}{}) ──",
                    if args.bridge_idle {
                        "SCHED_IDLE".to_owned()
                    } else {
                        format!("nice {}", args.bridge_nice)
                    },
                    if args.bridge_cpus.is_empty() {
                        String::new()
                    } else {
                        format!(", on cores {:?}", args.bridge_cpus)
                    }
                ),
                (None, Some(false)) => println!("── no bridge ──"),
                (None, None) => println!("── replication {} ──", setting.name()),
            }
            print_gateway(args, &target);
        }
        // The resting sell that every `--trade-every`-th order takes one lot from.
        let maker = match (&mut target.own, args.trade_every) {
            (Some(own), k) if k > 0 => {
                let maker = place_maker(&own.gateway, &spec, target.tls.as_ref())?;
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
        // --bridge: the scale-out side (attached runs), one subscriber on the gateway's feed
        // (every bridge run, so both pay for it) and one on the edge's.
        let mut scale_out = match (bridge, &target.own) {
            (Some(true), Some(own)) => {
                let replication = own
                    .gateway
                    .replication_addr()
                    .ok_or("the gateway has no replication port")?;
                let started = Instant::now();
                let scale_out = ScaleOut::start(
                    &own.config,
                    replication,
                    args.bridge_nice,
                    args.bridge_idle,
                    &args
                        .bridge_cpus
                        .iter()
                        .map(|&c| c as usize)
                        .collect::<Vec<_>>(),
                )?;
                println!(
                    "  scale-out      nats-server, PostgreSQL, the bridge (caught up) and an edge on ws://{} started in {:.1} s",
                    scale_out.edge_ws,
                    started.elapsed().as_secs_f64()
                );
                Some(scale_out)
            }
            _ => None,
        };
        let feeds = match (bridge, &target.own) {
            (Some(_), Some(own)) => {
                let products = configured_symbols();
                let core = own
                    .gateway
                    .addrs()
                    .ws
                    .ok_or("the gateway has no WebSocket feed")?;
                let core = Fleet::start(core, 1, &products, Arc::clone(&measure_from))?;
                let edge = scale_out
                    .as_ref()
                    .map(|s| Fleet::start(s.edge_ws, 1, &products, Arc::clone(&measure_from)))
                    .transpose()?;
                Some((core, edge))
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
            let mut floor = echo_floor(args.echo_seconds, args.rate)?;
            if args.fsync.0 == FlushPolicy::Always {
                // On the journal's file system: next to the primary's data directory.
                let dir = match &target.own {
                    Some(own) => own.data_dir.parent().unwrap_or(&own.data_dir).to_path_buf(),
                    None => args.data.clone().unwrap_or_else(std::env::temp_dir),
                };
                let msync = msync_floor(&dir, args.echo_seconds, args.rate)?;
                floor.msync = Some((msync, dir));
            }
            echo = Some(floor);
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
            let mut probe = |now: u64| {
                if !plan.is_measured(now) {
                    return;
                }
                if let Some(primary) = primary {
                    watch.sample(primary.replication_status());
                }
                if let (Some(scale_out), Some(own)) = (scale_out.as_mut(), target.own.as_ref()) {
                    scale_out.sample(own.gateway.monitor().processed_seq());
                }
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
        let feed_reports = match feeds {
            Some((core, edge)) => Some((core.finish()?, edge.map(Fleet::finish).transpose()?)),
            None => None,
        };
        let scale_out_report = match (scale_out, &target.own) {
            (Some(scale_out), Some(own)) => {
                Some(scale_out.finish(own.gateway.monitor().processed_seq())?)
            }
            _ => None,
        };
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
        if let (Some(attached), Some((core, edge))) = (bridge, feed_reports) {
            println!("  gateway's feed (one subscriber):");
            let core_feed = report_market_data(1, Some(core), None, &mut outcome.warnings)?;
            let edge_feed = match edge {
                Some(edge) => {
                    println!("  edge's feed, through the bridge and NATS (one subscriber):");
                    Some(report_market_data(
                        1,
                        Some(edge),
                        None,
                        &mut outcome.warnings,
                    )?)
                }
                None => None,
            };
            if let Some(report) = &scale_out_report {
                print_scale_out(report);
            }
            outcome.bridge = Some(BridgeOutcome {
                attached,
                core_feed,
                edge_feed,
                scale_out: scale_out_report,
            });
        }
        outcomes.push(outcome);
    }
    if compare {
        print_comparison(args, plan, &outcomes, echo.as_ref());
    }
    Ok(())
}
