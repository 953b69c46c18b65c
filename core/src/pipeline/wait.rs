//! How a pipeline stage waits for work.
//!
//! `disruptor` 4 offers busy-spin and sleep. Busy-spinning stages starve each other when there are
//! more of them than cores (measured here: a diamond of four spinning threads on two cores fell
//! from ~75 M to ~2 M messages/s with millisecond medians), so the default backs off: spin briefly
//! (the next command usually arrives within microseconds under load), yield a little, then sleep
//! until a publisher wakes the stage (`eventcount.rs`): no timed naps, so an idle stage costs
//! nothing and a woken one starts at once.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use disruptor::Sequence;
use disruptor::wait_strategies::WaitStrategy;

use super::Health;

/// A stage's wait strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Wait {
    /// Spin, then yield a little, then sleep until woken. The default: safe with more stages than
    /// cores, and an idle stage costs nothing.
    #[default]
    Backoff,
    /// Spin, then yield, never sleep: lower wake-up latency, one core busy per idle stage.
    Yield,
    /// Spin without pause: the lowest latency, for stages pinned to dedicated cores only.
    BusySpin,
}

/// Spins before yielding; about a microsecond of `spin_loop` hints.
const SPINS: u32 = 100;
/// Yields before a ring stage sleeps until woken.
const YIELDS_BEFORE_SLEEP: u32 = 1_000;

thread_local! {
    /// (sequence waited for, times asked): the strategy is a `Copy` value called in a loop with no
    /// state of its own, so the per-thread count of idle polls lives here.
    static IDLE: Cell<(Sequence, u32)> = const { Cell::new((Sequence::MIN, 0)) };
    /// The pipeline a ring stage's thread belongs to, where it sleeps and is woken (set by
    /// [`sleep_on`] when the stage starts; `None` on threads outside the pipeline).
    static STAGE: RefCell<Option<(Arc<Health>, Sleeper)>> = const { RefCell::new(None) };
}

/// What a ring stage's idle wait sleeps until.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sleeper {
    /// A publisher publishes the slot (the journaler, the replicator).
    Published,
    /// The journaler and the replicator let the slot's command through (the matcher, whose
    /// ring sequence `s` is journal sequence `base + s + 1`): it sleeps once per hand-off,
    /// not once for the publisher and again for the commit.
    LetThrough {
        /// Journal sequence of ring sequence 0, minus one.
        base: u64,
    },
}

/// Called first thing on a ring stage's thread: where its idle waits sleep and what wakes them.
pub(crate) fn sleep_on(health: Arc<Health>, sleeper: Sleeper) {
    STAGE.with(|stage| *stage.borrow_mut() = Some((health, sleeper)));
}

impl WaitStrategy for Wait {
    #[inline]
    fn wait_for(&self, sequence: Sequence) {
        if *self == Wait::BusySpin {
            return;
        }
        let polls = IDLE.with(|idle| {
            let (waited, count) = idle.get();
            let count = if waited == sequence {
                count.saturating_add(1)
            } else {
                0
            };
            idle.set((sequence, count));
            count
        });
        if *self == Wait::Backoff && polls >= SPINS.saturating_add(YIELDS_BEFORE_SLEEP) {
            let slept = STAGE.with(|stage| match &*stage.borrow() {
                Some((health, Sleeper::Published)) => {
                    health
                        .input
                        .sleep_unless(|| health.published_ring.load(Ordering::Acquire) >= sequence);
                    true
                }
                Some((health, Sleeper::LetThrough { base })) => {
                    let seq = base + sequence as u64 + 1;
                    health.gate.sleep_unless(|| health.lets_through(seq));
                    true
                }
                None => false,
            });
            if slept {
                return;
            }
        }
        self.pause(polls);
    }
}

impl Wait {
    /// Pauses a polling loop on its `idle`-th empty pass in a row without sleeping: busy-spin
    /// spins; the others spin a moment, then yield the core.
    #[inline]
    pub fn pause(self, idle: u32) {
        match self {
            Wait::BusySpin => std::hint::spin_loop(),
            _ if idle < SPINS => std::hint::spin_loop(),
            Wait::Yield | Wait::Backoff => std::thread::yield_now(),
        }
    }
}

impl std::str::FromStr for Wait {
    type Err = String;

    fn from_str(s: &str) -> Result<Wait, String> {
        match s {
            "backoff" => Ok(Wait::Backoff),
            "yield" => Ok(Wait::Yield),
            "busy-spin" | "busy_spin" => Ok(Wait::BusySpin),
            other => Err(format!(
                "unknown wait strategy {other:?} (backoff, yield or busy-spin)"
            )),
        }
    }
}

/// Backing off in a retry loop on a full ring: spin briefly, then yield the core.
#[derive(Default)]
pub(crate) struct Backoff(u32);

impl Backoff {
    /// Waits a little, longer as the retries pile up.
    #[inline]
    pub fn snooze(&mut self) {
        if self.0 < SPINS {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        self.0 = self.0.saturating_add(1);
    }
}
