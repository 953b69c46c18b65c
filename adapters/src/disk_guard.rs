//! The disk guard's verdict (SPEC §10): whether the journal's file system has room enough to keep
//! taking new orders and replaces.
//!
//! This module holds only the pieces that are finished and tested: the hysteresis (a pure function
//! of the free bytes and the previous state), the free-space probe (`statvfs`), and the shared flag
//! a periodic checker stores and the order path reads with one relaxed load. Wiring it into the
//! gateway (the `[journal] min_free_mb` key, the DISK_FULL reject, `/status` and `/metrics`) is not
//! done yet.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The guard's thresholds, in bytes. `min_free == 0` turns the guard off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The guard's state, shared between the periodic checker (the only writer) and the order path
/// (one relaxed load of `tripped`).
#[derive(Debug, Default)]
pub struct DiskGuard {
    tripped: AtomicBool,
    free: AtomicU64,
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
    pub fn record(&self, thresholds: &Thresholds, free: u64) -> Change {
        self.free.store(free, Ordering::Relaxed);
        let was = self.is_tripped();
        let now = thresholds.tripped(was, free);
        self.tripped.store(now, Ordering::Relaxed);
        match (was, now) {
            (false, true) => Change::Tripped,
            (true, false) => Change::Cleared,
            _ => Change::Same,
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
        let t = Thresholds::from_mb(100);
        let guard = DiskGuard::default();
        assert_eq!(guard.record(&t, 200 * MIB), Change::Same);
        assert!(!guard.is_tripped());
        assert_eq!(guard.record(&t, 99 * MIB), Change::Tripped);
        assert!(guard.is_tripped());
        assert_eq!(guard.free(), 99 * MIB);
        // Hovering around min_free does not clear it.
        assert_eq!(guard.record(&t, 101 * MIB), Change::Same);
        assert_eq!(guard.record(&t, 99 * MIB), Change::Same);
        assert!(guard.is_tripped());
        assert_eq!(guard.record(&t, 111 * MIB), Change::Cleared);
        assert!(!guard.is_tripped());
    }

    #[test]
    fn probes_a_real_file_system() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        assert!(free_bytes(&dir.path().join("missing")).is_err());
    }
}
