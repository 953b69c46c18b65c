//! The driver: one thread sends every order at its scheduled time over every session and reads
//! every reply, sleeping in `ppoll` when there is nothing to do. The [`Ledger`] matches replies to
//! orders by ClOrdID (one bit per order) and feeds the recorder; [`NetStats`] counts what the
//! sending and receiving did, anomalies included.

use std::os::fd::AsRawFd;

use hayate::EventKind;
use hayate::adapters::clock::unix_ns;

use super::replication::PROBE_NS;
use super::session::Session;
use super::sleep::{MAX_SLEEP_NS, ppoll};
use crate::recorder::Recorder;
use crate::schedule::{Clock, NS_PER_S, Plan, Ticker};

/// How long replies are awaited after the producer's give-up time before the orders still
/// unanswered are charged a lower bound.
const REPLY_GRACE_NS: u64 = 5 * NS_PER_S;

/// What the sending and receiving did.
#[derive(Debug, Default)]
pub(super) struct NetStats {
    pub(super) sent: u64,
    /// The latest an order was encoded after its scheduled time.
    pub(super) max_send_lag_ns: u64,
    /// Orders encoded more than 1 ms after their scheduled time.
    pub(super) late_1ms: u64,
    /// Writes the kernel refused because a socket's send buffer was full.
    pub(super) would_block: u64,
    /// Sleeps in ppoll.
    pub(super) sleeps: u64,
    pub(super) bytes_out: u64,
    pub(super) bytes_in: u64,
    /// First reports that were refusals (an order the engine or the gateway rejected).
    pub(super) rejected: u64,
    /// First reports for an order already acknowledged.
    pub(super) duplicates: u64,
    /// Reports naming no order of this run (another client's traffic on the same account).
    pub(super) foreign: u64,
    /// Refusals above the order level (binary Reject, FIX Reject/BusinessMessageReject/Logout):
    /// they carry no ClOrdID, so their orders stay unacknowledged.
    pub(super) protocol_rejects: u64,
    pub(super) first_protocol_reject: Option<String>,
    /// Messages that could not be framed or decoded.
    pub(super) garbled: u64,
    /// Measured orders never sent (the sender gave up), with the time it gave up.
    pub(super) abandoned: Option<(u64, u64)>,
    /// Orders sent but never acknowledged by the reply deadline, with that deadline.
    pub(super) unanswered: Option<(u64, u64)>,
    /// Sessions the gateway (or the network) closed.
    pub(super) closed: Vec<String>,
}

/// Replies to orders: the recorder, one bit per order, and the counters.
pub(super) struct Ledger {
    pub(super) plan: Plan,
    pub(super) sessions: u64,
    pub(super) recorder: Recorder,
    pub(super) acked: Vec<u64>,
    pub(super) acks: u64,
    pub(super) stats: NetStats,
}

impl Ledger {
    pub(super) fn new(plan: Plan, sessions: u64) -> Result<Ledger, String> {
        Ok(Ledger {
            plan,
            sessions,
            recorder: Recorder::new(plan)?,
            acked: vec![0; plan.total().div_ceil(64) as usize],
            acks: 0,
            stats: NetStats::default(),
        })
    }

    #[inline]
    fn is_acked(&self, i: u64) -> bool {
        self.acked[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    #[inline]
    pub(super) fn on_reply(
        &mut self,
        now: u64,
        id: Option<u64>,
        session: usize,
        first: bool,
        kind: u8,
        reason: u8,
    ) {
        let ours = id.filter(|&i| i < self.plan.total() && i % self.sessions == session as u64);
        let Some(i) = ours else {
            self.stats.foreign += 1;
            return;
        };
        if !first {
            self.recorder.record(now, 0, 1, kind, reason);
            return;
        }
        if self.is_acked(i) {
            self.stats.duplicates += 1;
            return;
        }
        self.acked[(i / 64) as usize] |= 1 << (i % 64);
        self.acks += 1;
        self.stats.rejected += u64::from(kind == EventKind::Rejected as u8);
        self.recorder
            .record(now, self.plan.due_ns(i), 0, kind, reason);
    }

    pub(super) fn on_protocol_reject(&mut self, text: impl FnOnce() -> String) {
        self.stats.protocol_rejects += 1;
        if self.stats.first_protocol_reject.is_none() {
            self.stats.first_protocol_reject = Some(text());
        }
    }
}

/// Sends every order at its scheduled time and reads replies until each sent order is answered
/// (or refused above the order level), or the reply deadline passes. `probe` is called with the
/// time about every `PROBE_NS` (when the loop comes round).
pub(super) fn drive(
    sessions: &mut [Session],
    ledger: &mut Ledger,
    clock: Clock,
    trade_every: u64,
    probe: &mut dyn FnMut(u64),
) {
    let plan = ledger.plan;
    let n = sessions.len() as u64;
    let total = plan.total();
    let give_up = plan.give_up_ns();
    let reply_deadline = give_up + REPLY_GRACE_NS;
    let mut ticker = Ticker::new(&plan);
    let mut i = 0u64;
    let mut fds: Vec<libc::pollfd> = sessions
        .iter()
        .map(|s| libc::pollfd {
            fd: s.stream.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut next_probe = 0;
    loop {
        let mut progress = false;
        let now = clock.now_ns();
        if now >= next_probe {
            probe(now);
            next_probe = now + PROBE_NS;
        }
        if i < total && ticker.due <= now {
            if now > give_up {
                let unsent_measured = total - i.max(plan.warmup);
                ledger.stats.abandoned = Some((unsent_measured, now));
                i = total;
            } else {
                // Everything due goes out now, back to back if the generator fell behind.
                let wall = unix_ns();
                while i < total && ticker.due <= now {
                    let lag = now - ticker.due;
                    ledger.stats.max_send_lag_ns = ledger.stats.max_send_lag_ns.max(lag);
                    ledger.stats.late_1ms += u64::from(lag > 1_000_000);
                    // Every `trade_every`-th order crosses: a buy at the sell price, which
                    // trades one lot with the maker (a book change: a market-data update).
                    let cross = trade_every > 0 && i % trade_every == trade_every - 1;
                    sessions[(i % n) as usize].encode_order(
                        i,
                        cross || (i / n) % 2 == 0,
                        cross,
                        wall,
                    );
                    ledger.stats.sent += 1;
                    i += 1;
                    ticker.advance();
                }
            }
        }
        for session in sessions.iter_mut() {
            if session.closed.is_none() && session.has_output() {
                progress |= session.flush(&mut ledger.stats);
            }
        }
        for session in sessions.iter_mut() {
            if session.closed.is_none() {
                progress |= session.receive(ledger, clock);
            }
        }
        // A FIX heartbeat answer may have been queued while reading.
        for session in sessions.iter_mut() {
            if session.closed.is_none() && session.has_output() {
                progress |= session.flush(&mut ledger.stats);
            }
        }
        if sessions.iter().all(|s| s.closed.is_some()) {
            break;
        }
        let now = clock.now_ns();
        if i >= total {
            let answered = ledger.acks + ledger.stats.protocol_rejects;
            if answered >= ledger.stats.sent {
                break;
            }
            if now > reply_deadline {
                ledger.stats.unanswered = Some((ledger.stats.sent - ledger.acks, now));
                break;
            }
        }
        if progress {
            continue;
        }
        let wake = if i < total {
            ticker.due
        } else {
            reply_deadline
        };
        if wake <= now {
            continue;
        }
        for (fd, session) in fds.iter_mut().zip(sessions.iter()) {
            // A negative fd is skipped by ppoll: a closed socket would report hang-up forever.
            if session.closed.is_some() {
                fd.fd = -1;
            }
            fd.events = if session.has_output() {
                libc::POLLIN | libc::POLLOUT
            } else {
                libc::POLLIN
            };
            fd.revents = 0;
        }
        ledger.stats.sleeps += 1;
        let _ = ppoll(&mut fds, (wake - now).min(MAX_SLEEP_NS));
    }
    ledger.stats.closed = sessions
        .iter()
        .filter_map(|s| {
            s.closed
                .as_ref()
                .map(|why| format!("session {}: {why}", s.index))
        })
        .collect();
    // Orders that never got an answer are charged at least until the wait for them ended.
    if let Some((_, deadline)) = ledger.stats.unanswered {
        let sent = ledger.stats.sent;
        let mut charged = 0;
        for i in plan.warmup..sent {
            if !ledger.is_acked(i) {
                let latency = deadline.saturating_sub(plan.due_ns(i)).max(1);
                ledger.recorder.histogram.saturating_record(latency);
                charged += 1;
            }
        }
        ledger.stats.unanswered = Some((charged, deadline));
    }
}
