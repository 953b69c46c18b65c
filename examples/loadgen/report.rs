//! Report pieces both modes print the same way: the `.hgrm` file (HdrHistogram's percentile
//! distribution text), the percentile line, the per-second timeline, event counts by kind and
//! reason, and thousands separators.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hayate::{EventKind, Reason};
use hdrhistogram::Histogram;

use crate::Args;
use crate::recorder::Recorder;
use crate::schedule::{NS_PER_S, Plan};

/// How a mode names what it sends, what becomes of it and what takes it, in the lines both modes
/// print alike.
pub(crate) struct Words {
    /// What is sent: "commands", "orders".
    pub(crate) unit: &'static str,
    /// What the first reply makes of it: "completed", "acknowledged".
    pub(crate) done: &'static str,
    /// What takes it: "PIPELINE", "GATEWAY".
    pub(crate) system: &'static str,
}

/// The offered and the achieved rate, and a loud warning when the system did not keep up: under
/// 95% of the offered rate, or `unfinished` (some measured commands were charged at a lower
/// bound). Returns whether it warned.
pub(crate) fn print_throughput(
    plan: &Plan,
    recorder: &Recorder,
    words: &Words,
    unfinished: bool,
) -> bool {
    let Words { unit, done, system } = words;
    let (achieved, ratio) = recorder.achieved();
    println!("  offered        {} {unit}/s", group(plan.rate));
    println!(
        "  achieved       {} {unit}/s ({:.1}% of offered): {} {unit} {done} during the {:.3} s window",
        group(achieved.round() as u64),
        ratio * 100.0,
        group(recorder.completed_in_window),
        plan.window_s()
    );
    let overloaded = ratio < 0.95 || unfinished;
    if overloaded {
        println!(
            "  !! THE {system} DID NOT KEEP UP with {} {unit}/s: it {done} {:.1}% of the offered rate.",
            group(plan.rate),
            ratio * 100.0
        );
        println!(
            "  !! The latencies below grow with the backlog; they describe an overloaded system, not its latency at this rate."
        );
    }
    overloaded
}

/// Writes `h` (nanoseconds) to `path` as an `.hgrm` in µs.
pub(crate) fn save_hgrm(h: &Histogram<u64>, path: &Path) -> Result<(), String> {
    let mut text = String::new();
    write_hgrm(h, 1e3, &mut text).map_err(|e| format!("formatting the .hgrm: {e}"))?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub(crate) fn hgrm_path(args: &Args) -> PathBuf {
    args.hgrm
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("loadgen-{}.hgrm", args.rate)))
}

pub(crate) fn print_timeline(plan: &Plan, recorder: &Recorder) {
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

/// Events by kind, then the refusals and the cancels by reason.
pub(crate) fn print_event_counts(recorder: &Recorder) {
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

/// p50 … max and the mean of a histogram of nanoseconds, in µs, on one line.
pub(crate) fn percentiles_line(h: &Histogram<u64>) -> String {
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

/// 1234567 → "1,234,567".
pub(crate) fn group(n: u64) -> String {
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
