//! The network modes' report: the configuration lines, the gateway (and standby) line, one
//! setting's results against the echo floor, where each setting's `.hgrm` goes, and the
//! comparison of settings after the last one.

use std::io::Write;
use std::path::PathBuf;

use hdrhistogram::Histogram;

use super::driver::Ledger;
use super::echo::{ECHO_SIZE, ECHO_WARMUP, EchoResult};
use super::gateways::{Stopped, UNTHROTTLED};
use super::maker::MAKER_LOTS;
use super::market_data::print_market_data_comparison;
use super::replication::{LinkWatch, report_link, report_standby};
use super::scale_out::print_bridge_comparison;
use super::{OrderSpec, Outcome, Target};
use crate::report::{
    Words, group, hgrm_path, percentiles_line, print_event_counts, print_throughput,
    print_timeline, save_hgrm,
};
use crate::schedule::Plan;
use crate::{Args, Mode, Replication};

/// The median order→ack asked for, in multiples of the floor's median: the echo round trip,
/// plus one `msync` under `--fsync always` (issue 13's targets).
const TARGET_RATIO: f64 = 2.0;
const TARGET_RATIO_MSYNC: f64 = 1.5;
/// What a sync standby may add to the median, in multiples of the echo floor's median: one hop
/// to the standby, its append, one hop back.
const TARGET_STANDBY_HOPS: f64 = 3.0;

pub(super) fn print_configuration(args: &Args, plan: &Plan, target: &Target, spec: &OrderSpec) {
    let mode = match args.mode {
        Mode::Fix => "fix (FIX 4.4)",
        _ => "binary",
    };
    println!("hayate loadgen — mode {mode}");
    let compare = args.replication != [Replication::None];
    if compare {
        let names: Vec<&str> = args.replication.iter().map(|r| r.name()).collect();
        println!(
            "  replication    {}: the same schedule once per setting, in this order, each against a fresh gateway (async, sync: a primary and a standby, both in this process, linked over loopback{})",
            names.join(", "),
            if args.link_tls { " through TLS" } else { "" }
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
pub(super) fn print_gateway(args: &Args, target: &Target) {
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
                    "  standby        started in this process, following the primary's replication port {}{} (data {}{temporary}); fsync {}",
                    standby.primary,
                    if args.link_tls { " over TLS" } else { "" },
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
pub(super) fn report(
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
    let (achieved, _) = recorder.achieved();
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
        if let Some((msync, dir)) = &echo.msync {
            println!(
                "  msync floor    {} msyncs of one dirtied 4 KiB page in {}, one at a time, at the offered rate",
                group(msync.len()),
                dir.display()
            );
            println!("  msync (µs):    {}", percentiles_line(msync));
        }
    }
    let words = Words {
        unit: "orders",
        done: "acknowledged",
        system: "GATEWAY",
    };
    if print_throughput(plan, &recorder, &words, abandoned > 0 || unanswered > 0) {
        warnings.push("did not keep up".to_owned());
    }
    let h = &recorder.histogram;
    let tail_ms = recorder.tail_ms();
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
        let (floor, name, ratio) = match &echo.msync {
            Some((msync, _)) => (
                at(e, 0.5) + at(msync, 0.5),
                "(echo + one msync)",
                TARGET_RATIO_MSYNC,
            ),
            None => (at(e, 0.5), "the echo floor", TARGET_RATIO),
        };
        let times = at(h, 0.5) / floor;
        // The floor's target is a lone primary's; a standby's is in the comparison.
        if setting == Replication::None {
            println!(
                "  target         median order→ack under {ratio}× {name}: {} ({:.1} µs vs {:.1} µs = {times:.2}×)",
                if times < ratio { "MET" } else { "NOT MET" },
                at(h, 0.5) / 1e3,
                floor / 1e3
            );
        }
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
    save_hgrm(h, &path)?;
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
        bridge: None,
    })
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
pub(super) fn print_comparison(
    args: &Args,
    plan: &Plan,
    outcomes: &[Outcome],
    echo: Option<&EchoResult>,
) {
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
    if outcomes.iter().any(|o| o.bridge.is_some()) {
        print_bridge_comparison(outcomes);
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
        if let (Replication::Sync, Some(echo)) = (outcome.setting, echo) {
            let added = at(h, 0.5) - at(&none.histogram, 0.5);
            let hops = added / at(&echo.histogram, 0.5);
            println!(
                "  target         sync adds at most {TARGET_STANDBY_HOPS}× the echo floor to the median: {} (+{:.1} µs = {hops:.2}× echo)",
                if hops <= TARGET_STANDBY_HOPS {
                    "MET"
                } else {
                    "NOT MET"
                },
                added / 1e3
            );
        }
    }
}
