//! The writer lock: one writer (or repair) per journal directory, across processes.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{JournalError, Result};

/// How long a held lock is retried before it counts as another writer's.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Name of the lock file inside a journal directory.
pub const LOCK_FILE_NAME: &str = "journal.lock";

/// Held while a [`crate::Journal`] or a repair has the directory; released when dropped (or when
/// the process dies, so a SIGKILLed writer never leaves a stale lock).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Takes the directory's exclusive writer lock without waiting.
pub(crate) fn lock_dir(dir: &Path) -> Result<DirLock> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| JournalError::io("open lock file", &path, e))?;
    // A flock belongs to the open file description, which a child being spawned by any thread of
    // this process shares until it execs: a lock just released here can look held for that
    // moment (seen under load when a journal is reopened while another thread spawns a
    // process). So a held lock is retried for a short while before it counts as another writer.
    let started = std::time::Instant::now();
    loop {
        // SAFETY: flock on a valid, owned descriptor; it has no memory-safety preconditions.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(DirLock { _file: file });
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::WouldBlock {
            return Err(JournalError::io("lock", &path, err));
        }
        if started.elapsed() >= LOCK_PATIENCE {
            return Err(JournalError::Locked { path });
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
