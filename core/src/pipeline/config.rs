//! The data path's settings: `[journal]` (where and how commands are made durable) and
//! `[pipeline]` (rings, waits, pins). Read from the file by [`crate::config`]; used by
//! [`CoreConfig::pipeline_builder`](crate::config::CoreConfig::pipeline_builder).

use std::path::PathBuf;

use hayate_journal::FlushPolicy;

use super::{StagePins, Wait};

/// `[journal]`: where and how commands are made durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// The directory holding journal segments and snapshots (default `data`).
    pub dir: PathBuf,
    /// When writes reach the disk (`fsync`; default [`FlushPolicy::Always`]).
    pub fsync: FlushPolicy,
    /// Bytes per segment file (default 64 MiB, at least [`MIN_SEGMENT_SIZE`](crate::config::MIN_SEGMENT_SIZE)).
    pub segment_size: u64,
    /// Commands between automatic snapshots; 0 (the default) takes them only when asked.
    pub snapshot_every: u64,
    /// Snapshots to keep (default 3); older ones, and journal segments wholly covered by the
    /// oldest kept one, are deleted. 0 keeps everything.
    pub keep_snapshots: usize,
    /// The disk guard's threshold in MiB (default 1024; 0 turns the guard off): below this much
    /// free space on the journal's file system the gateway refuses new orders and replaces
    /// (`DISK_FULL`, BEHAVIOUR.md §10). The pipeline itself does not read it.
    pub min_free_mb: u64,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            dir: PathBuf::from("data"),
            fsync: FlushPolicy::Always,
            segment_size: 64 << 20,
            snapshot_every: 0,
            keep_snapshots: 3,
            min_free_mb: 1024,
        }
    }
}

/// `[pipeline]`: ring sizes, how idle stages wait, and which cores they are pinned to. The
/// defaults suit a small shared machine; busy-spin and pinning are for dedicated cores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Input ring slots, a power of two ≥ 64 (default 16384).
    pub input_ring: usize,
    /// Output ring slots, a power of two ≥ 2 (default 65536).
    pub output_ring: usize,
    /// `"backoff"` (default), `"yield"` or `"busy-spin"`.
    pub wait: Wait,
    /// `pin_journaler`, `pin_replicator`, `pin_matcher`: core ids (default: none).
    pub pins: StagePins,
    /// Write a snapshot when stopping (default true).
    pub snapshot_on_stop: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            input_ring: 1 << 14,
            output_ring: 1 << 16,
            wait: Wait::Backoff,
            pins: StagePins::default(),
            snapshot_on_stop: true,
        }
    }
}
