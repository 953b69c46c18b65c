//! The open-loop schedule every mode shares: one monotonic [`Clock`] for both ends, the [`Plan`]
//! that says when command `i` is due and which commands are measured, and the [`Ticker`] that
//! steps through the due times without a division per command. Kept apart from the modes so the
//! coordinated-omission correction (latency from the *scheduled* time) is defined once.

use std::time::Instant;

pub(crate) const NS_PER_S: u64 = 1_000_000_000;
/// Time between the start of the clock and the first scheduled command, so the initial deposits
/// are through and the threads are running.
const LEAD_NS: u64 = 100_000_000;

/// One monotonic clock for both ends: nanoseconds since `start`.
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) start: Instant,
}

impl Clock {
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// When each command is due, and which ones are measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub(crate) rate: u64,
    /// Commands scheduled during the warm-up.
    pub(crate) warmup: u64,
    /// Commands scheduled during the measurement.
    pub(crate) measured: u64,
    /// Nanoseconds (on the [`Clock`]) of command 0.
    pub(crate) t0_ns: u64,
    drain_timeout_ns: u64,
    /// The scheduled times of the first measured command and of the first one after them.
    pub(crate) window: (u64, u64),
}

impl Plan {
    pub(crate) fn new(
        rate: u64,
        warmup_s: f64,
        duration_s: f64,
        drain_s: f64,
    ) -> Result<Plan, String> {
        let warmup = (warmup_s * rate as f64).round() as u64;
        let measured = (duration_s * rate as f64).round() as u64;
        if measured == 0 {
            return Err(format!(
                "{duration_s} s at {rate}/s schedules no command to measure"
            ));
        }
        let mut plan = Plan {
            rate,
            warmup,
            measured,
            t0_ns: LEAD_NS,
            drain_timeout_ns: (drain_s * NS_PER_S as f64) as u64,
            window: (0, 0),
        };
        plan.window = (plan.due_ns(warmup), plan.due_ns(warmup + measured));
        Ok(plan)
    }

    pub(crate) fn total(&self) -> u64 {
        self.warmup + self.measured
    }

    /// The scheduled time of command `i` (the producer steps through them with a [`Ticker`]).
    pub(crate) fn due_ns(&self, i: u64) -> u64 {
        self.t0_ns + (i as u128 * NS_PER_S as u128 / self.rate as u128) as u64
    }

    #[inline]
    pub(crate) fn window_start_ns(&self) -> u64 {
        self.window.0
    }

    #[inline]
    pub(crate) fn window_end_ns(&self) -> u64 {
        self.window.1
    }

    pub(crate) fn window_s(&self) -> f64 {
        (self.window_end_ns() - self.window_start_ns()) as f64 / NS_PER_S as f64
    }

    /// When the producer gives up on a backlog.
    pub(crate) fn give_up_ns(&self) -> u64 {
        self.window_end_ns().saturating_add(self.drain_timeout_ns)
    }

    #[inline]
    pub(crate) fn is_measured(&self, timestamp_ns: u64) -> bool {
        (self.window.0..self.window.1).contains(&timestamp_ns)
    }
}

/// Steps through the scheduled times `t0 + ⌊i·10⁹/rate⌋` exactly, without dividing per command.
pub(crate) struct Ticker {
    pub(crate) due: u64,
    whole: u64,
    frac: u64,
    acc: u64,
    rate: u64,
}

impl Ticker {
    pub(crate) fn new(plan: &Plan) -> Ticker {
        Ticker {
            due: plan.t0_ns,
            whole: NS_PER_S / plan.rate,
            frac: NS_PER_S % plan.rate,
            acc: 0,
            rate: plan.rate,
        }
    }

    #[inline]
    pub(crate) fn advance(&mut self) {
        self.due += self.whole;
        self.acc += self.frac;
        if self.acc >= self.rate {
            self.acc -= self.rate;
            self.due += 1;
        }
    }
}
