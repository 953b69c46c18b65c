//! `--ws-subscribers N,…`: what the subscribers subscribe to, one run's market-data figures
//! (the feed's own counters, the fleet's messages, checks and update latency to the last
//! subscriber), and the comparison of runs against the targets.

use hdrhistogram::Histogram;

use super::Outcome;
use super::feed_subscribers::FleetReport;
use crate::recorder::HIGHEST_NS;
use crate::report::percentiles_line;

/// The symbols of the configuration the gateway started here runs (the demo's): what the
/// WebSocket subscribers subscribe to.
pub(super) fn configured_symbols() -> Vec<String> {
    let config = hayate::ExchangeConfig::demo();
    config
        .engine_config()
        .symbols
        .iter()
        .map(|s| s.name.clone())
        .collect()
}

/// Prints a market-data run's figures; returns the update latency histogram.
pub(super) fn report_market_data(
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
pub(super) fn print_market_data_comparison(outcomes: &[Outcome]) {
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
