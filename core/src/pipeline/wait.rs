//! How a pipeline stage waits for work.
//!
//! `disruptor` 4 offers busy-spin and sleep. Busy-spinning stages starve each other when there are
//! more of them than cores (measured here: a diamond of four spinning threads on two cores fell
//! from ~75 M to ~2 M messages/s with millisecond medians), so the default backs off: spin briefly
//! (the next command usually arrives within microseconds under load), then yield the core, then
//! sleep in short naps so an idle stage costs almost nothing.

use std::cell::Cell;
use std::time::Duration;

use disruptor::Sequence;
use disruptor::wait_strategies::WaitStrategy;

/// A stage's wait strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Wait {
    /// Spin, then yield, then nap (50 µs). The default: safe with more stages than cores.
    #[default]
    Backoff,
    /// Spin, then yield, never sleep: lower wake-up latency, one core busy per idle stage.
    Yield,
    /// Spin without pause: the lowest latency, for stages pinned to dedicated cores only.
    BusySpin,
}

/// Spins before yielding; about a microsecond of `spin_loop` hints.
const SPINS: u32 = 100;
/// Yields before napping.
const YIELDS: u32 = 1_000;
/// The nap once the stage has been idle a while.
const NAP: Duration = Duration::from_micros(50);

thread_local! {
    /// (sequence waited for, times asked): the strategy is a `Copy` value called in a loop with no
    /// state of its own, so the per-thread count of idle polls lives here.
    static IDLE: Cell<(Sequence, u32)> = const { Cell::new((Sequence::MIN, 0)) };
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
        self.pause(polls, YIELDS);
    }
}

impl Wait {
    /// Pauses a polling loop (outside the rings: a replication thread) on its `idle`-th empty
    /// pass in a row, the way this strategy waits: busy-spin spins; yield spins then yields;
    /// backoff spins, yields `yields` times, then naps 50 µs per pass.
    #[inline]
    pub fn pause(self, idle: u32, yields: u32) {
        match self {
            Wait::BusySpin => std::hint::spin_loop(),
            _ if idle < SPINS => std::hint::spin_loop(),
            Wait::Yield => std::thread::yield_now(),
            Wait::Backoff if idle < SPINS.saturating_add(yields) => std::thread::yield_now(),
            Wait::Backoff => {
                tighten_timer_slack();
                std::thread::sleep(NAP);
            }
        }
    }
}

thread_local! {
    static SLACK_TIGHTENED: Cell<bool> = const { Cell::new(false) };
}

/// Linux stretches a sleeping thread's wake-up by its timer slack (50 µs by default) to batch
/// timer interrupts; that would turn every nap into ~100 µs of latency for the next command. A
/// napping stage asks for 1 µs instead, once per thread (one `prctl` the first time it naps,
/// never on the path of a command).
fn tighten_timer_slack() {
    SLACK_TIGHTENED.with(|done| {
        if !done.get() {
            done.set(true);
            #[cfg(target_os = "linux")]
            // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only this thread.
            unsafe {
                libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong);
            }
        }
    });
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
