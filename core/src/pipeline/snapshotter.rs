//! Periodic snapshots, written off the matcher's thread.
//!
//! Every `snapshot_every` commands the matcher serialises the engine (the only part that must run
//! on its thread, since it owns the state) and hands the bytes to this thread, which writes the
//! file atomically, keeps the newest `keep` valid snapshots, and tells the journaler through
//! [`Health::retain_through`] which journal segments the oldest kept snapshot now covers. The
//! matcher never waits: if a snapshot is still being written it tries again a batch later.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use crossbeam::channel::{Receiver, Sender};
use hayate_journal::snapshot_file;

use super::Health;

/// The engine's state at `seq`, to be written.
pub(crate) struct SnapshotRequest {
    pub seq: u64,
    pub state: Vec<u8>,
}

/// Starts the writer thread; it ends when the matcher drops the sender.
pub(crate) fn spawn(
    dir: PathBuf,
    keep: usize,
    health: Arc<Health>,
) -> std::io::Result<(Sender<SnapshotRequest>, JoinHandle<()>)> {
    // One request in flight: a matcher that outpaces the disk skips, it does not queue copies.
    let (tx, rx) = crossbeam::channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name("hayate-snapshots".into())
        .spawn(move || write_loop(&rx, &dir, keep, &health))?;
    Ok((tx, thread))
}

fn write_loop(rx: &Receiver<SnapshotRequest>, dir: &PathBuf, keep: usize, health: &Health) {
    for request in rx {
        let outcome = snapshot_file::write_snapshot(dir, request.seq, &request.state)
            .map_err(|e| e.to_string())
            .and_then(|_| retain(dir, keep, health));
        match outcome {
            Ok(()) => health.snapshot_seq.store(request.seq, Ordering::Release),
            // A failed snapshot does not stop trading (the journal holds everything); it is
            // reported until a later one succeeds.
            Err(e) => health.set_snapshot_error(Some(format!("snapshot at {}: {e}", request.seq))),
        }
        if health.snapshot_seq.load(Ordering::Acquire) == request.seq {
            health.set_snapshot_error(None);
        }
    }
}

/// Keeps the newest `keep` valid snapshots and publishes the oldest kept one's sequence, so the
/// journaler can delete the segments it covers. `keep == 0` keeps everything.
fn retain(dir: &PathBuf, keep: usize, health: &Health) -> Result<(), String> {
    if keep == 0 {
        return Ok(());
    }
    snapshot_file::delete_snapshots_before(dir, keep).map_err(|e| e.to_string())?;
    let kept = snapshot_file::list_snapshots(dir).map_err(|e| e.to_string())?;
    let valid: Vec<u64> = kept
        .iter()
        .filter(|(_, path)| snapshot_file::read_snapshot(path).is_ok())
        .map(|(seq, _)| *seq)
        .collect();
    if valid.len() >= keep {
        if let Some(&oldest) = valid.first() {
            health.retain_through.fetch_max(oldest, Ordering::AcqRel);
        }
    }
    Ok(())
}
