//! The in-process producer's pacing: sends each command of the flow at its scheduled time
//! (stamped with that time, not the send time) into a [`CommandSink`], retrying while the sink
//! pushes back and giving up on a backlog after the drain timeout. The sink is a trait so the
//! pacing does not depend on where commands go.

use std::time::Duration;

use hayate::Command;
use hayate::pipeline::{PublishError, Publisher};

use crate::flow::{Flow, FlowCounts};
use crate::schedule::{Clock, Plan, Ticker};

/// Where the producer sends commands.
pub(crate) trait CommandSink {
    /// Sends `command` now, or says the exchange cannot take it yet.
    fn try_send(&mut self, command: &Command) -> Result<(), SendError>;
}

/// Why a command was not sent.
pub(crate) enum SendError {
    /// Push-back: retry (the wait is part of the command's latency).
    Full,
    /// The exchange will take no more commands.
    Closed(String),
}

impl CommandSink for Publisher {
    #[inline]
    fn try_send(&mut self, command: &Command) -> Result<(), SendError> {
        match self.try_publish(command) {
            Ok(()) => Ok(()),
            Err(PublishError::Full) => Err(SendError::Full),
            Err(e) => Err(SendError::Closed(e.to_string())),
        }
    }
}

/// What the producer did.
#[derive(Debug, Default)]
pub(crate) struct ProducerStats {
    pub(crate) sent: u64,
    /// Attempts refused because the input ring was full.
    pub(crate) full: u64,
    /// The latest a command was sent after its scheduled time.
    pub(crate) max_send_lag_ns: u64,
    /// Commands sent more than 1 ms after their scheduled time.
    pub(crate) late_1ms: u64,
    /// Measured commands never sent (the producer gave up), with the time it gave up.
    pub(crate) abandoned: Option<(u64, u64)>,
    /// Why the exchange refused commands, if it did.
    pub(crate) closed: Option<String>,
    pub(crate) flow: FlowCounts,
}

/// Sends `plan.total()` commands from `flow`, each at its scheduled time, stamped with it.
pub(crate) fn run_producer(
    sink: &mut impl CommandSink,
    flow: &mut Flow,
    plan: &Plan,
    clock: Clock,
) -> ProducerStats {
    let mut stats = ProducerStats::default();
    let total = plan.total();
    let give_up = plan.give_up_ns();
    let mut i = 0;
    let mut ticker = Ticker::new(plan);
    // The next command is built before its time comes, so building it costs no latency; when the
    // producer is behind, commands go out back to back.
    let mut next = flow.next_command();
    'schedule: while i < total {
        let due = ticker.due;
        let now = clock.now_ns();
        if now < due {
            wait_until(clock, due, now);
        }
        let command = next.at(due);
        let mut spins = 0u32;
        loop {
            match sink.try_send(&command) {
                Ok(()) => break,
                Err(SendError::Full) => {
                    stats.full += 1;
                    backoff(&mut spins);
                    if spins % 64 == 0 && clock.now_ns() > give_up {
                        break 'schedule;
                    }
                }
                Err(SendError::Closed(why)) => {
                    stats.closed = Some(why);
                    break 'schedule;
                }
            }
        }
        let now = clock.now_ns();
        let lag = now.saturating_sub(due);
        stats.max_send_lag_ns = stats.max_send_lag_ns.max(lag);
        stats.late_1ms += u64::from(lag > 1_000_000);
        stats.sent += 1;
        i += 1;
        ticker.advance();
        next = flow.next_command();
        if now > give_up {
            break;
        }
    }
    if i < total {
        let unsent_measured = total - i.max(plan.warmup);
        stats.abandoned = Some((unsent_measured, clock.now_ns()));
    }
    stats.flow = flow.counts();
    stats
}

/// Waits until `due`: sleeps when far ahead, yields when close, spins in the last microseconds.
#[inline]
fn wait_until(clock: Clock, due: u64, mut now: u64) {
    while now < due {
        let ahead = due - now;
        if ahead > 2_000_000 {
            std::thread::sleep(Duration::from_nanos(ahead - 1_000_000));
        } else if ahead > 5_000 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
        now = clock.now_ns();
    }
}

/// Spin a little, then yield: for retries and idle polls.
#[inline]
fn backoff(spins: &mut u32) {
    if *spins < 100 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
    *spins = spins.wrapping_add(1);
}
