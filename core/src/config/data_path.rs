//! The data path's sections: `[journal]` and `[pipeline]`, checked.

use std::path::PathBuf;

use hayate_journal::FlushPolicy;
use serde::Deserialize;

use super::{Checker, ConfigError};
use crate::pipeline::{JournalConfig, PipelineConfig, StagePins};

/// The smallest `[journal] segment_size`: one page, the granularity segments are mapped in.
pub const MIN_SEGMENT_SIZE: u64 = 4096;

#[derive(Clone, Copy, Deserialize, Default, Debug)]
#[serde(rename_all = "lowercase")]
enum RawFsync {
    #[default]
    Always,
    Never,
    Interval,
}

/// `[journal]` as written.
#[derive(Deserialize, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct JournalSection {
    dir: PathBuf,
    fsync: RawFsync,
    fsync_interval_ms: Option<u64>,
    segment_size: u64,
    snapshot_every: u64,
    keep_snapshots: usize,
    min_free_mb: u64,
}

impl Default for JournalSection {
    fn default() -> Self {
        let d = JournalConfig::default();
        JournalSection {
            dir: d.dir,
            fsync: RawFsync::Always,
            fsync_interval_ms: None,
            segment_size: d.segment_size,
            snapshot_every: d.snapshot_every,
            keep_snapshots: d.keep_snapshots,
            min_free_mb: d.min_free_mb,
        }
    }
}

/// `[pipeline]` as written.
#[derive(Deserialize, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineSection {
    input_ring: usize,
    output_ring: usize,
    wait: String,
    pin_journaler: Option<usize>,
    pin_replicator: Option<usize>,
    pin_matcher: Option<usize>,
    snapshot_on_stop: bool,
}

impl Default for PipelineSection {
    fn default() -> Self {
        let d = PipelineConfig::default();
        PipelineSection {
            input_ring: d.input_ring,
            output_ring: d.output_ring,
            wait: "backoff".to_string(),
            pin_journaler: None,
            pin_replicator: None,
            pin_matcher: None,
            snapshot_on_stop: d.snapshot_on_stop,
        }
    }
}

impl Checker<'_> {
    pub(super) fn pipeline(&self, raw: PipelineSection) -> Result<PipelineConfig, ConfigError> {
        // The multi-producer ring of `disruptor` needs at least 64 slots.
        for (key, slots, least) in [
            ("pipeline.input_ring", raw.input_ring, 64),
            ("pipeline.output_ring", raw.output_ring, 2),
        ] {
            if !slots.is_power_of_two() || slots < least {
                return Err(self.error(key, format!("{slots} is not a power of two ≥ {least}")));
            }
        }
        let wait = raw
            .wait
            .parse()
            .map_err(|e: String| self.error("pipeline.wait", e))?;
        Ok(PipelineConfig {
            input_ring: raw.input_ring,
            output_ring: raw.output_ring,
            wait,
            pins: StagePins {
                journaler: raw.pin_journaler,
                replicator: raw.pin_replicator,
                matcher: raw.pin_matcher,
            },
            snapshot_on_stop: raw.snapshot_on_stop,
        })
    }

    pub(super) fn journal(&self, raw: JournalSection) -> Result<JournalConfig, ConfigError> {
        if raw.dir.as_os_str().is_empty() {
            return Err(self.error("journal.dir", "must not be empty"));
        }
        let fsync = match (raw.fsync, raw.fsync_interval_ms) {
            (RawFsync::Interval, None) => {
                return Err(self.error(
                    "journal.fsync_interval_ms",
                    "is required with fsync = \"interval\"",
                ));
            }
            (RawFsync::Interval, Some(0)) => {
                return Err(self.error("journal.fsync_interval_ms", "must be positive"));
            }
            (RawFsync::Interval, Some(ms)) => FlushPolicy::Interval { ms },
            // Refused rather than ignored: the operator meant some interval and would not get it.
            (_, Some(_)) => {
                return Err(self.error(
                    "journal.fsync_interval_ms",
                    "is only meaningful with fsync = \"interval\"",
                ));
            }
            (RawFsync::Always, None) => FlushPolicy::Always,
            (RawFsync::Never, None) => FlushPolicy::Never,
        };
        if raw.segment_size < MIN_SEGMENT_SIZE {
            return Err(self.error(
                "journal.segment_size",
                format!(
                    "{} bytes is below the minimum of {MIN_SEGMENT_SIZE}",
                    raw.segment_size
                ),
            ));
        }
        // The guard must trip while the segment in use can still be finished and the next one
        // created (a segment's blocks are reserved whole when it is created), or an append
        // could fail before the guard ever refused an order.
        let least_mb = (2 * raw.segment_size).div_ceil(1 << 20);
        if raw.min_free_mb != 0 && raw.min_free_mb < least_mb {
            return Err(self.error(
                "journal.min_free_mb",
                format!(
                    "{} MiB is below two segments ({least_mb} MiB with segment_size = {}); \
                     raise it, or 0 turns the disk guard off",
                    raw.min_free_mb, raw.segment_size
                ),
            ));
        }
        Ok(JournalConfig {
            dir: raw.dir,
            fsync,
            segment_size: raw.segment_size,
            snapshot_every: raw.snapshot_every,
            keep_snapshots: raw.keep_snapshots,
            min_free_mb: raw.min_free_mb,
        })
    }
}
