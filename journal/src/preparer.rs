//! The writer's background thread: prepares the next segment ahead of a roll-over (so the
//! appending thread never creates, sizes, fsyncs or prefaults a file), and unmaps retired segments
//! (so it never pays for tearing down a 64 MiB mapping either).
//!
//! Coordination is one mutex-protected slot and a condition variable, touched by the writer only
//! at open, at a roll-over and on drop — never on the append fast path. At most one spare exists
//! at a time: the writer asks for the next one only when it takes the current one, so the spare
//! always has the same temporary name, [`SPARE_FILE_NAME`].

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use memmap2::MmapMut;

use crate::error::{JournalError, Result};
use crate::segment::{self, Fill, SPARE_FILE_NAME, Spare};

/// A sealed segment's file and mapping, which the thread drops (unmaps and closes) for the writer.
pub(crate) type Retired = (File, MmapMut);

#[derive(Default)]
struct Slot {
    /// The writer wants a spare and the thread has not started on it yet.
    wanted: bool,
    /// The finished spare (or why preparing it failed), waiting for the writer.
    ready: Option<Result<Spare>>,
    /// A retired segment to drop.
    retired: Option<Retired>,
    /// The journal is closing: stop after the current job.
    shutdown: bool,
}

struct Shared {
    slot: Mutex<Slot>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // The slot's fields stay consistent whatever a panicking holder did.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handle on the background thread; dropping it stops and joins the thread and deletes an unused
/// spare.
pub(crate) struct Preparer {
    dir: PathBuf,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Preparer {
    /// Spawns the thread and asks it for the first spare at once.
    pub(crate) fn spawn(dir: &Path, segment_size: u64, fill: Fill) -> Result<Preparer> {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                wanted: true,
                ..Slot::default()
            }),
            wake: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let thread_dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("hayate-journal-spare".into())
            .spawn(move || run(&thread_shared, &thread_dir, segment_size, fill))
            .map_err(|e| JournalError::io("spawn spare-segment thread", dir, e))?;
        Ok(Preparer {
            dir: dir.to_path_buf(),
            shared,
            thread: Some(thread),
        })
    }

    /// At a roll-over: takes the prepared spare if it is ready (`None` if not: the caller creates
    /// the segment inline). Never waits for the thread's work: the thread holds the lock only to
    /// look at or fill the slot. The caller must ask for the next spare ([`Preparer::request`] or
    /// [`Preparer::after_roll_over`]) once it has taken one (or the error that prevented it), and
    /// only after renaming it: the next spare reuses the name.
    pub(crate) fn take(&self) -> Option<Result<Spare>> {
        self.shared.lock().ready.take()
    }

    /// After a roll-over: hands the sealed segment's file and mapping to the thread to drop, so
    /// the writer does not pay for the `munmap`, and asks for the next spare if `want_spare`.
    pub(crate) fn after_roll_over(&self, retired: Retired, want_spare: bool) {
        let mut slot = self.shared.lock();
        slot.wanted |= want_spare;
        // If the thread has not dropped the previous one yet (it is busy preparing), that one is
        // dropped here, after the lock is released. Rare: it takes a whole segment's appends.
        let older = slot.retired.replace(retired);
        drop(slot);
        self.shared.wake.notify_one();
        drop(older);
    }

    /// Asks for the next spare (after a failed roll-over that took one).
    pub(crate) fn request(&self) {
        self.shared.lock().wanted = true;
        self.shared.wake.notify_one();
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // A panic on the thread has already been reported; nothing more to do with it.
            let _ = thread.join();
        }
        // Unmap an unused spare, then delete its file (also one a failed preparation left).
        // Best effort: a spare left behind is deleted, and reported, by the next open.
        drop(self.shared.lock().ready.take());
        let _ = std::fs::remove_file(self.dir.join(SPARE_FILE_NAME));
    }
}

/// The thread: drop retired segments, prepare a spare when asked, until shutdown.
fn run(shared: &Shared, dir: &Path, segment_size: u64, fill: Fill) {
    loop {
        let mut slot = shared.lock();
        while !slot.shutdown && !slot.wanted && slot.retired.is_none() {
            slot = shared
                .wake
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let retired = slot.retired.take();
        let shutdown = slot.shutdown;
        let wanted = !shutdown && std::mem::take(&mut slot.wanted);
        drop(slot);
        drop(retired);
        if shutdown {
            return;
        }
        if wanted {
            let spare = segment::prepare(dir, SPARE_FILE_NAME, segment_size, fill);
            shared.lock().ready = Some(spare);
        }
    }
}
