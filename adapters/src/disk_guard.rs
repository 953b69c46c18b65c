//! The disk guard (BEHAVIOUR.md §10): whether the journal's file system has room enough to keep
//! taking new orders and replaces.
//!
//! A watcher thread probes the free space (`statvfs`, a few microseconds) every
//! [`PROBE_INTERVAL`] and stores its verdict in a shared flag; the event loop reads the flag with
//! one relaxed load per new order or replace, so the order path makes no syscall for it. The
//! verdict has hysteresis: it trips below `min_free_mb` and clears only once free space is back
//! above `min_free_mb` plus a margin, so a disk hovering at the threshold does not flap.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{self, RecvTimeoutError, Sender};

/// How often the watcher probes. A probe is cheap; what bounds the interval is how much the
/// journal can write between two probes: at 100k commands/s of 64-byte records, 1.3 MB in
/// 200 ms, far below any sensible `min_free_mb` (at least two segments).
pub const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// The guard's thresholds, in bytes. `min_free == 0` turns the guard off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Thresholds {
    /// Below this much free space the guard trips (`min_free_mb`).
    pub min_free: u64,
    /// The guard clears only once free space is back at or above this (`min_free` plus a margin),
    /// so that it does not flap while the free space hovers around `min_free`.
    pub resume_at: u64,
}

/// The margin above `min_free` the guard waits for before it clears: 10% of `min_free`, at least
/// 1 MiB and at most 64 MiB.
pub fn resume_margin(min_free: u64) -> u64 {
    (min_free / 10).clamp(1 << 20, 64 << 20)
}

impl Thresholds {
    /// The thresholds for `[journal] min_free_mb` (0: the guard is off).
    pub fn from_mb(min_free_mb: u64) -> Thresholds {
        let min_free = min_free_mb.saturating_mul(1 << 20);
        let resume_at = if min_free == 0 {
            0
        } else {
            min_free.saturating_add(resume_margin(min_free))
        };
        Thresholds {
            min_free,
            resume_at,
        }
    }

    /// Whether the guard is tripped after a probe that found `free` bytes, given whether it was
    /// tripped before: it trips below `min_free` and clears at or above `resume_at`; in between it
    /// keeps its state. A guard that is off never trips.
    pub fn tripped(&self, was_tripped: bool, free: u64) -> bool {
        if self.min_free == 0 {
            return false;
        }
        if was_tripped {
            free < self.resume_at
        } else {
            free < self.min_free
        }
    }
}

/// The bytes an unprivileged writer can still use on the file system holding `path`
/// (`statvfs`: available blocks times the fragment size).
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `statvfs` is plain old data; all-zero is a valid value for it.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a NUL-terminated string and `stat` a valid, writable `statvfs`.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    let free = (stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64);
    Ok(free)
}

/// The guard's state, shared between the watcher (the only writer), the order path (one relaxed
/// load of `tripped`) and `/status` and `/metrics`.
#[derive(Debug, Default)]
pub struct DiskGuard {
    thresholds: Thresholds,
    tripped: AtomicBool,
    free: AtomicU64,
    trips: AtomicU64,
}

/// What a probe changed, for the checker to log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// No change of state.
    Same,
    /// The guard tripped: new orders and replaces are to be refused.
    Tripped,
    /// The guard cleared: orders are taken again.
    Cleared,
}

impl DiskGuard {
    /// A guard with these thresholds that has not probed yet (not tripped).
    pub fn new(thresholds: Thresholds) -> DiskGuard {
        DiskGuard {
            thresholds,
            ..DiskGuard::default()
        }
    }

    /// Its thresholds.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Whether the guard is on (`min_free_mb > 0`).
    pub fn is_on(&self) -> bool {
        self.thresholds.min_free != 0
    }

    /// How many times it has tripped since the start.
    pub fn trips(&self) -> u64 {
        self.trips.load(Ordering::Relaxed)
    }

    /// Whether new orders and replaces are to be refused (`DISK_FULL`).
    #[inline]
    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    /// The free bytes the last probe found.
    pub fn free(&self) -> u64 {
        self.free.load(Ordering::Relaxed)
    }

    /// Records a probe that found `free` bytes and returns what changed.
    pub fn record(&self, free: u64) -> Change {
        self.free.store(free, Ordering::Relaxed);
        let was = self.is_tripped();
        let now = self.thresholds.tripped(was, free);
        self.tripped.store(now, Ordering::Relaxed);
        match (was, now) {
            (false, true) => {
                self.trips.fetch_add(1, Ordering::Relaxed);
                Change::Tripped
            }
            (true, false) => Change::Cleared,
            _ => Change::Same,
        }
    }

    /// Probes `dir`'s file system once and logs a change of state. A failed probe changes
    /// nothing (the last verdict stands) and is logged.
    pub fn probe(&self, dir: &Path) {
        let free = match free_bytes(dir) {
            Ok(free) => free,
            Err(e) => {
                tracing::error!(dir = %dir.display(), "disk guard: cannot read the free space: {e}");
                return;
            }
        };
        let mib = |bytes: u64| bytes >> 20;
        match self.record(free) {
            Change::Tripped => tracing::warn!(
                dir = %dir.display(),
                "disk guard tripped: {} MiB free, below min_free_mb = {}; new orders and replaces \
                 are refused DISK_FULL until {} MiB are free",
                mib(free),
                mib(self.thresholds.min_free),
                mib(self.thresholds.resume_at)
            ),
            Change::Cleared => tracing::warn!(
                dir = %dir.display(),
                "disk guard cleared: {} MiB free; orders are taken again",
                mib(free)
            ),
            Change::Same => {}
        }
    }

    /// Probes `dir` now (so a node starting on a full disk refuses from its first order), then
    /// every [`PROBE_INTERVAL`] on a thread of its own until the returned watcher is dropped.
    /// A guard that is off starts no thread.
    pub fn watch(self: &Arc<Self>, dir: PathBuf) -> std::io::Result<Watcher> {
        if !self.is_on() {
            return Ok(Watcher { stop: None });
        }
        self.probe(&dir);
        let (stop, stopped) = channel::bounded::<()>(1);
        let guard = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("hayate-disk-guard".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(PROBE_INTERVAL) {
                    guard.probe(&dir);
                }
            })?;
        Ok(Watcher {
            stop: Some((stop, thread)),
        })
    }
}

/// The running watcher thread; dropping it stops the thread (within a probe).
#[derive(Debug)]
pub struct Watcher {
    stop: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.stop.take() {
            // Dropping the sender ends the thread's wait at once.
            drop(stop);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn thresholds_and_margin() {
        assert_eq!(
            Thresholds::from_mb(0),
            Thresholds {
                min_free: 0,
                resume_at: 0
            }
        );
        // 10% of 1024 MiB is above the 64 MiB cap.
        assert_eq!(Thresholds::from_mb(1024).resume_at, 1088 * MIB);
        // 10% of 100 MiB.
        assert_eq!(Thresholds::from_mb(100).resume_at, 110 * MIB);
        // At least 1 MiB.
        assert_eq!(Thresholds::from_mb(1).resume_at, 2 * MIB);
    }

    #[test]
    fn trips_below_min_and_clears_only_past_the_margin() {
        let t = Thresholds::from_mb(100);
        assert!(!t.tripped(false, 100 * MIB));
        assert!(t.tripped(false, 100 * MIB - 1));
        // Between min_free and resume_at the state holds, either way.
        assert!(t.tripped(true, 105 * MIB));
        assert!(!t.tripped(false, 105 * MIB));
        assert!(t.tripped(true, 110 * MIB - 1));
        assert!(!t.tripped(true, 110 * MIB));
    }

    #[test]
    fn off_never_trips() {
        let t = Thresholds::from_mb(0);
        assert!(!t.tripped(false, 0));
        assert!(!t.tripped(true, 0));
    }

    #[test]
    fn the_shared_guard_reports_changes_without_flapping() {
        let guard = DiskGuard::new(Thresholds::from_mb(100));
        assert_eq!(guard.record(200 * MIB), Change::Same);
        assert!(!guard.is_tripped());
        assert_eq!(guard.record(99 * MIB), Change::Tripped);
        assert!(guard.is_tripped());
        assert_eq!(guard.free(), 99 * MIB);
        // Hovering around min_free does not clear it.
        assert_eq!(guard.record(101 * MIB), Change::Same);
        assert_eq!(guard.record(99 * MIB), Change::Same);
        assert!(guard.is_tripped());
        assert_eq!(guard.record(111 * MIB), Change::Cleared);
        assert!(!guard.is_tripped());
        assert_eq!(guard.trips(), 1);
    }

    #[test]
    fn the_watcher_probes_at_once_and_stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        // More than any disk has free: tripped by the first probe, before `watch` returns.
        let guard = Arc::new(DiskGuard::new(Thresholds::from_mb(u64::MAX >> 20)));
        let watcher = guard.watch(dir.path().to_owned()).unwrap();
        assert!(guard.is_tripped());
        assert!(guard.free() > 0);
        drop(watcher);
        // Off: no probe, never tripped.
        let off = Arc::new(DiskGuard::new(Thresholds::from_mb(0)));
        let _watcher = off.watch(dir.path().to_owned()).unwrap();
        assert!(!off.is_tripped());
        assert_eq!(off.free(), 0);
    }

    #[test]
    fn probes_a_real_file_system() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        assert!(free_bytes(&dir.path().join("missing")).is_err());
    }
}
