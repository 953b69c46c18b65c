//! Waking a consumer of the output ring that sleeps in a system call.
//!
//! A gateway's event loop waits for sockets in `epoll`; it cannot also wait on the output ring.
//! Rather than poll with a timer (a millisecond of latency when idle) or spin (a core lost on a
//! small machine), it *parks*: it raises a flag, checks the ring once more, and sleeps in `epoll`.
//! The matcher, at the end of each batch that produced events, looks at the flag and, only if it
//! is raised, calls the consumer's wake function (e.g. a `mio::Waker`, one `write` to an eventfd).
//! A busy gateway never parks, so the matcher makes no system call on the hot path.
//!
//! The flag and the ring cursor form a Dekker pair: the consumer stores the flag then reads the
//! cursor; the matcher stores the cursor then reads the flag. A sequentially consistent fence on
//! each side guarantees at least one of them sees the other's store, so no wake-up is lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

/// The shared half of the park/wake protocol.
pub(crate) struct OutputWakeup {
    parked: AtomicBool,
    wakes: AtomicU64,
    wake: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for OutputWakeup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputWakeup")
            .field("parked", &self.parked)
            .field("wakes", &self.wakes)
            .finish_non_exhaustive()
    }
}

impl OutputWakeup {
    pub(crate) fn new(wake: Box<dyn Fn() + Send + Sync>) -> OutputWakeup {
        OutputWakeup {
            parked: AtomicBool::new(false),
            wakes: AtomicU64::new(0),
            wake,
        }
    }

    /// Consumer: announce the intent to sleep. Check the ring once more afterwards.
    pub(crate) fn park(&self) {
        self.parked.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Consumer: awake again (woken, or found work before sleeping).
    pub(crate) fn unpark(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Producer, after publishing: wake the consumer if it parked.
    #[inline]
    pub(crate) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::AcqRel) {
            self.wakes.fetch_add(1, Ordering::Relaxed);
            (self.wake)();
        }
    }

    /// How many times the consumer was woken (for metrics).
    pub(crate) fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }
}
