//! Waking a consumer that sleeps in a system call of its own (`epoll`), not on a futex of ours.
//!
//! A gateway's event loop waits for sockets in `epoll`, and so does a replication transport; they
//! cannot also wait on the pipeline's event counts. Rather than poll with a timer (a millisecond of
//! latency when idle) or spin (a core lost on a small machine), such a consumer *parks*: it raises
//! a flag, checks for work once more, and sleeps in `epoll`. The stage that makes progress for it
//! (the matcher for the output ring, the journaler for the transport) looks at the flag after
//! publishing and, only if it is raised, calls the consumer's wake function (a `mio::Waker`: one
//! `write` to an eventfd). A busy consumer never parks, so the stage makes no system call on the
//! hot path.
//!
//! The flag and the progress form a Dekker pair: the consumer stores the flag then reads the
//! progress; the stage stores the progress then reads the flag. A sequentially consistent fence
//! on each side guarantees at least one of them sees the other's store, so no wake-up is lost.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

/// What wakes the consumer.
type WakeFn = Box<dyn Fn() + Send + Sync>;

/// The shared half of the park/wake protocol.
#[derive(Default)]
pub(crate) struct Wakeup {
    parked: AtomicBool,
    wakes: AtomicU64,
    /// Locked only on the way to waking a parked consumer (a system call follows anyway) and when
    /// a consumer registers (a replication transport, once per connection): never while busy.
    wake: Mutex<Option<WakeFn>>,
}

impl std::fmt::Debug for Wakeup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakeup")
            .field("parked", &self.parked)
            .field("wakes", &self.wakes)
            .finish_non_exhaustive()
    }
}

impl Wakeup {
    pub(crate) fn new(wake: WakeFn) -> Wakeup {
        let wakeup = Wakeup::default();
        wakeup.set(wake);
        wakeup
    }

    /// Consumer: how to wake it from now on (replaces the previous consumer's).
    pub(crate) fn set(&self, wake: WakeFn) {
        if let Ok(mut slot) = self.wake.lock() {
            *slot = Some(wake);
        }
    }

    /// Consumer: announce the intent to sleep. Check for work once more afterwards.
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
            if let Ok(wake) = self.wake.lock()
                && let Some(wake) = &*wake
            {
                wake();
            }
        }
    }

    /// How many times the consumer was woken (for metrics).
    pub(crate) fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }
}
