//! The replicator stage. It reads the same slots as the journaler, in parallel, and the matcher
//! waits for both. Without a standby it passes commands through. With one (a [`ReplicaLink`],
//! fed by a replication transport that streams the journal to the standby and reports its
//! acknowledgements), it holds each batch in synchronous mode until the standby has made the
//! batch durable, so no command is matched — and no client acknowledged — before the standby
//! has it. The transport lives outside the core (it needs sockets); the link is the only thing
//! they share: a few atomics, and the transport's wake-up, which this node's journaler calls
//! when records are appended or made durable while the transport sleeps (`wakeup.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use disruptor::Sequence;

use super::eventcount::EventCount;
use super::wakeup::Wakeup;
use super::{Health, InputSlot};

/// Whether the primary waits for its standby before acting on a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationMode {
    /// The matcher waits for the standby's ack (the default): no acknowledged command is lost in a
    /// failover.
    #[default]
    Sync,
    /// The matcher does not wait: lower latency, a failover may lose the last commands.
    Async,
}

/// What synchronous replication does when the standby does not acknowledge in time
/// (`[replication] on_standby_loss`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StandbyLossPolicy {
    /// Keep trading without the standby and raise the `degraded` alarm until it has caught up
    /// again (availability first; a failover in the meantime may lose the unreplicated tail).
    #[default]
    Degrade,
    /// Stop accepting commands (safety first: no acknowledgement without a standby copy).
    Halt,
}

/// The replicator's view of the standby, shared with the replication transport.
#[derive(Debug)]
pub struct ReplicaLink {
    mode: ReplicationMode,
    on_loss: StandbyLossPolicy,
    timeout: Duration,
    /// False on a standby: its pipeline applies the primary's stream and has no standby of its
    /// own until it is promoted.
    active: AtomicBool,
    acked_seq: AtomicU64,
    connected: AtomicBool,
    degraded: AtomicBool,
    held_ns: AtomicU64,
    /// Where a synchronous batch sleeps until an acknowledgement (or a disconnect) wakes it.
    acks: EventCount,
    /// The last sequence this node's journaler has appended (readable by a tailer, perhaps not
    /// yet durable).
    journaled_seq: AtomicU64,
    /// The transport's thread, parked in `epoll` when it has nothing to do: woken by this node's
    /// journaler when records are appended (a primary streams them) and when they are durable (a
    /// standby acknowledges them).
    transport: Wakeup,
}

impl ReplicaLink {
    /// A link in `mode`; in sync mode a batch waits at most `timeout` for the standby before
    /// `on_loss` applies.
    pub fn new(
        mode: ReplicationMode,
        on_loss: StandbyLossPolicy,
        timeout: Duration,
    ) -> Arc<ReplicaLink> {
        Arc::new(ReplicaLink {
            mode,
            on_loss,
            timeout,
            active: AtomicBool::new(true),
            acked_seq: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            // Nothing is acknowledged yet. Degrade: trade until a standby has caught up. Halt:
            // the first batch waits for a standby, as every later one.
            degraded: AtomicBool::new(on_loss == StandbyLossPolicy::Degrade),
            held_ns: AtomicU64::new(0),
            acks: EventCount::default(),
            journaled_seq: AtomicU64::new(0),
            transport: Wakeup::default(),
        })
    }

    /// Whether batches wait for a standby at all: a standby's own pipeline sets this false until
    /// it is promoted.
    pub fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Release);
    }

    /// Whether the link holds batches (this node is the primary of a pair).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Transport: the standby has made everything up to `seq` durable.
    pub fn acknowledge(&self, seq: u64) {
        self.acked_seq.fetch_max(seq, Ordering::AcqRel);
        self.acks.notify();
    }

    /// Transport: a standby is connected (or not).
    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
        self.acks.notify();
    }

    /// The highest sequence the standby has acknowledged.
    pub fn acked_seq(&self) -> u64 {
        self.acked_seq.load(Ordering::Acquire)
    }

    /// Trade on without waiting until a standby has caught up, whatever the policy: a freshly
    /// promoted primary has no standby yet (its old primary is the one that failed), and halting
    /// it would turn every failover into an outage. The policy applies again once a standby has
    /// caught up.
    pub fn start_degraded(&self) {
        self.degraded.store(true, Ordering::Release);
    }

    /// Whether a standby is connected.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Synchronous replication is running without its standby (the alarm of `/status`).
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    /// The mode.
    pub fn mode(&self) -> ReplicationMode {
        self.mode
    }

    /// Total time batches were held waiting for the standby, nanoseconds.
    pub fn held_ns(&self) -> u64 {
        self.held_ns.load(Ordering::Relaxed)
    }

    /// Transport: how to wake its thread when it has parked (see [`ReplicaLink::park_transport`]);
    /// replaces the previous connection's.
    pub fn set_transport_waker(&self, wake: impl Fn() + Send + Sync + 'static) {
        self.transport.set(Box::new(wake));
    }

    /// Transport: about to sleep (in `epoll`) until the journal grows or becomes more durable.
    /// Check [`ReplicaLink::journaled_seq`] or the durable sequence once more afterwards, then
    /// sleep only if nothing changed; call [`ReplicaLink::unpark_transport`] on waking.
    pub fn park_transport(&self) {
        self.transport.park();
    }

    /// Transport: awake again.
    pub fn unpark_transport(&self) {
        self.transport.unpark();
    }

    /// The last sequence this node's journal holds (appended; durable once the commit is).
    pub fn journaled_seq(&self) -> u64 {
        self.journaled_seq.load(Ordering::Acquire)
    }

    /// How many times the journaler woke a parked transport (for metrics and tests).
    pub fn transport_wakes(&self) -> u64 {
        self.transport.wakes()
    }

    /// Journaler: records through `seq` are in the journal (before the commit, so a primary
    /// streams them while its own commit runs).
    #[inline]
    pub(crate) fn journal_appended(&self, seq: u64) {
        self.journaled_seq.store(seq, Ordering::Release);
        self.transport.notify();
    }

    /// Journaler: the commit is done (a standby acknowledges what is durable).
    #[inline]
    pub(crate) fn journal_durable(&self) {
        self.transport.notify();
    }
}

/// The stage.
pub(crate) struct Replicator {
    link: Option<Arc<ReplicaLink>>,
    health: Arc<Health>,
    /// Journal sequence of ring sequence 0, minus one.
    base: u64,
}

/// A degraded link waits for a batch again once its standby is connected and at most this many
/// sequences behind it: close enough that the wait is a few milliseconds of streaming, while a
/// standby replaying a long backlog does not hold every batch for `ack_timeout_ms`.
const CATCH_UP_WINDOW: u64 = 4096;

/// Spins while a synchronous batch waits for its acknowledgement, before sleeping.
const ACK_SPINS: u32 = 200;

impl Replicator {
    pub fn new(link: Option<Arc<ReplicaLink>>, health: Arc<Health>, base: u64) -> Replicator {
        Replicator { link, health, base }
    }

    /// The ring handler: in sync mode, hold the batch until the standby has it.
    #[inline]
    pub fn on_command(&mut self, _slot: &InputSlot, sequence: Sequence, end_of_batch: bool) {
        if !end_of_batch {
            return;
        }
        let seq = self.base + sequence as u64 + 1;
        self.hold_for_standby(seq);
        // The batch may go to the matcher now.
        self.health.replicated_seq.store(seq, Ordering::Release);
        self.health.gate.notify();
    }

    /// In synchronous mode, holds the batch ending at `seq` until the standby acknowledges it
    /// (or gives up on the standby, as its loss policy says).
    fn hold_for_standby(&self, seq: u64) {
        let Some(link) = &self.link else {
            return;
        };
        if link.mode != ReplicationMode::Sync || !link.is_active() || self.health.has_failed() {
            return;
        }
        if link.acked_seq() >= seq {
            link.degraded.store(false, Ordering::Release);
            return;
        }
        // Degraded: do not wait on every batch for a standby that is gone or still catching up.
        // Once it is connected and close behind, this batch is waited for as usual, and its
        // acknowledgement clears the alarm (even under a steady flow that leaves no gap).
        let close = seq.saturating_sub(link.acked_seq()) <= CATCH_UP_WINDOW;
        if link.is_degraded() && !(link.is_connected() && close) {
            return;
        }
        let started = Instant::now();
        let mut spins = 0u32;
        loop {
            if link.acked_seq() >= seq {
                break;
            }
            // Degrade gives up at once when no standby is connected; halt gives a standby the
            // whole timeout to (re)connect and catch up, since giving up stops the exchange.
            let gone = link.on_loss == StandbyLossPolicy::Degrade && !link.is_connected();
            if gone || started.elapsed() >= link.timeout {
                match link.on_loss {
                    _ if link.is_degraded() => {} // still degraded: the standby did not keep up
                    StandbyLossPolicy::Degrade => link.degraded.store(true, Ordering::Release),
                    StandbyLossPolicy::Halt => self.health.fail(format!(
                        "no standby acknowledged sequence {seq} within {:?} (connected: {}): \
                         halted (synchronous replication, on_standby_loss = halt)",
                        link.timeout,
                        link.is_connected()
                    )),
                }
                break;
            }
            // An acknowledgement is a network round trip away: spin a moment, then sleep until
            // the transport reports one (or the connection drops; the event count's safety net
            // brings the timeout check around at least every 100 ms).
            if spins < ACK_SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                link.acks.sleep_unless(|| {
                    link.acked_seq() >= seq
                        || (link.on_loss == StandbyLossPolicy::Degrade && !link.is_connected())
                });
            }
        }
        if link.acked_seq() >= seq {
            link.degraded.store(false, Ordering::Release);
        }
        link.held_ns
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}
