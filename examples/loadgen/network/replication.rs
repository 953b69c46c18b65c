//! `--replication async|sync`: the `[replication]` keys a primary and its standby share, waiting
//! until the standby is connected and caught up (before the run) and has acknowledged
//! everything (after it), the primary's link as the driver samples it during the measured
//! window, and the report lines that say loudly when a figure is not what it claims (standby
//! disconnected, sync primary degraded, standby behind or different at the end).

use std::time::{Duration, Instant};

use hayate::adapters::gateway::Gateway;
use hayate::adapters::replication::node::ReplicationStatus;
use hayate::pipeline::StopReport;

use super::gateways::StandbyStopped;
use crate::Replication;
use crate::report::group;

/// How long a standby may take to connect to its primary and catch up with the deposits, and,
/// after the run, to acknowledge everything the primary journaled.
const LINK_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the driver samples the primary's replication link during the measured window.
pub(super) const PROBE_NS: u64 = 20_000_000;

/// The primary's link as sampled by the driver during the measured window.
#[derive(Default)]
pub(super) struct LinkWatch {
    samples: u64,
    disconnected: u64,
    degraded: u64,
    max_lag: u64,
    /// The status right after the last reply of the run.
    pub(super) end: Option<ReplicationStatus>,
}

impl LinkWatch {
    pub(super) fn sample(&mut self, status: Option<ReplicationStatus>) {
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

/// Waits until `primary` sees `standby` connected and acknowledging everything it journaled (the
/// deposits), at most `LINK_TIMEOUT`; returns how long that took.
pub(super) fn await_link(primary: &Gateway, standby: &Gateway) -> Result<Duration, String> {
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
pub(super) fn await_caught_up(primary: &Gateway) -> Result<Duration, u64> {
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

/// The `[replication]` keys both nodes of a pair share: the mode.
pub(super) fn replication_settings(setting: Replication) -> String {
    format!("mode = \"{}\"\n", setting.name())
}

/// The primary's link as sampled during the measured window, and at its end. A synchronous
/// primary that was degraded did not wait for its standby: that is not a synchronous figure.
pub(super) fn report_link(setting: Replication, link: &LinkWatch, warnings: &mut Vec<String>) {
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
pub(super) fn report_standby(
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
