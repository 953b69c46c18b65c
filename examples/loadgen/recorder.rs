//! The recorder every mode feeds: the latency histogram of measured commands (scheduled send →
//! first event), event counts by kind and reason, and a per-second timeline. Mode-independent:
//! the in-process consumer and the network ledger hand it the same (time, schedule, kind,
//! reason) facts.

use hayate::{Event, EventKind};
use hdrhistogram::Histogram;

use crate::schedule::{NS_PER_S, Plan};

/// The largest latency the histogram tells apart (larger ones are recorded as this).
pub(crate) const HIGHEST_NS: u64 = 60 * NS_PER_S;

/// Latencies and event counts, fed one event at a time.
pub(crate) struct Recorder {
    pub(crate) plan: Plan,
    pub(crate) histogram: Histogram<u64>,
    /// Events by kind and reason.
    pub(crate) events: Box<[[u64; 32]; 32]>,
    /// Commands completed (first event seen), all phases.
    pub(crate) completed: u64,
    /// Measured commands completed.
    pub(crate) completed_measured: u64,
    /// Completions seen while the measurement window was open.
    pub(crate) completed_in_window: u64,
    /// When the last measured command completed.
    pub(crate) last_measured_ns: u64,
    /// Per second since t0: (completions, max latency ns of measured ones).
    pub(crate) timeline: Vec<(u64, u64)>,
}

impl Recorder {
    pub(crate) fn new(plan: Plan) -> Result<Recorder, String> {
        let histogram = Histogram::new_with_bounds(1, HIGHEST_NS, 3)
            .map_err(|e| format!("histogram: {e:?}"))?;
        let seconds = (plan.give_up_ns() - plan.t0_ns) / NS_PER_S + 3;
        Ok(Recorder {
            plan,
            histogram,
            events: Box::new([[0; 32]; 32]),
            completed: 0,
            completed_measured: 0,
            completed_in_window: 0,
            last_measured_ns: 0,
            timeline: vec![(0, 0); seconds as usize],
        })
    }

    /// One event, received at `now_ns`.
    #[inline]
    pub(crate) fn on_event(&mut self, now_ns: u64, timestamp_ns: u64, index: u32, event: &Event) {
        self.record(now_ns, timestamp_ns, index, event.kind, event.reason);
    }

    /// One reply of `kind` and `reason` to the command scheduled at `timestamp_ns`; `index` 0
    /// marks its first, which completes it.
    #[inline]
    pub(crate) fn record(
        &mut self,
        now_ns: u64,
        timestamp_ns: u64,
        index: u32,
        kind: u8,
        reason: u8,
    ) {
        self.events[usize::from(kind & 31)][usize::from(reason & 31)] += 1;
        if index != 0 {
            return;
        }
        self.completed += 1;
        let in_window = self.plan.is_measured(now_ns);
        self.completed_in_window += u64::from(in_window);
        let second = (now_ns.saturating_sub(self.plan.t0_ns) / NS_PER_S) as usize;
        let slot = second.min(self.timeline.len() - 1);
        self.timeline[slot].0 += 1;
        if self.plan.is_measured(timestamp_ns) {
            let latency = now_ns.saturating_sub(timestamp_ns).max(1);
            self.histogram.saturating_record(latency);
            self.completed_measured += 1;
            self.last_measured_ns = now_ns;
            self.timeline[slot].1 = self.timeline[slot].1.max(latency);
        }
    }

    /// Charges the last `count` commands of the plan, which were never sent, from their
    /// scheduled time to when the sender gave up (`gave_up_ns`): a lower bound of what a client
    /// would have waited. Returns how many (0 for `None`).
    pub(crate) fn charge_never_sent(&mut self, abandoned: Option<(u64, u64)>) -> u64 {
        let Some((count, gave_up_ns)) = abandoned else {
            return 0;
        };
        for i in self.plan.total() - count..self.plan.total() {
            let latency = gave_up_ns.saturating_sub(self.plan.due_ns(i)).max(1);
            self.histogram.saturating_record(latency);
        }
        count
    }

    /// Commands completed while the measurement window was open, per second, and that rate as a
    /// share of the offered rate.
    pub(crate) fn achieved(&self) -> (f64, f64) {
        let achieved = self.completed_in_window as f64 / self.plan.window_s();
        (achieved, achieved / self.plan.rate as f64)
    }

    /// How long after the measurement window closed the last measured command completed, in ms.
    pub(crate) fn tail_ms(&self) -> f64 {
        self.last_measured_ns
            .saturating_sub(self.plan.window_end_ns()) as f64
            / 1e6
    }

    pub(crate) fn count(&self, kind: EventKind) -> u64 {
        self.events[kind as usize & 31].iter().sum()
    }
}
