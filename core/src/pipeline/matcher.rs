//! The matcher stage: the engine, fed durable commands in ring order, publishing every event to
//! the output ring with the command's sequence and receive time.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam::channel::Sender;
use disruptor::{Producer, RingBufferFull, Sequence, SingleConsumerBarrier, SingleProducer};

use super::snapshotter::SnapshotRequest;
use super::wait::{Backoff, Wait};
use super::wakeup::Wakeup;
use super::{Health, InputSlot, Output, StageDone, panic_message};
use crate::command::CommandKind;
use crate::engine::Engine;
use crate::event::Event;

pub(crate) struct Matcher {
    engine: Engine,
    output: SingleProducer<Output, SingleConsumerBarrier>,
    /// Journal sequence of ring sequence 0, minus one.
    base: u64,
    last_seq: u64,
    health: Arc<Health>,
    snapshot_dir: Option<PathBuf>,
    done: Sender<StageDone>,
    periodic: Option<Periodic>,
    /// Wakes a parked consumer of the output ring at the end of a batch that produced events.
    wakeup: Option<Arc<Wakeup>>,
    /// Whether this batch published anything yet.
    published: bool,
    /// How it waits for the journaler and the replicator.
    wait: Wait,
}

/// Periodic snapshots: every `every` commands, the state goes to the snapshot writer.
pub(crate) struct Periodic {
    pub every: u64,
    pub since: u64,
    pub writer: Sender<SnapshotRequest>,
}

impl Matcher {
    pub fn new(
        engine: Engine,
        output: SingleProducer<Output, SingleConsumerBarrier>,
        base: u64,
        health: Arc<Health>,
        snapshot_dir: Option<PathBuf>,
        done: Sender<StageDone>,
        periodic: Option<Periodic>,
    ) -> Matcher {
        Matcher {
            engine,
            output,
            base,
            last_seq: base,
            health,
            snapshot_dir,
            done,
            periodic,
            wakeup: None,
            published: false,
            wait: Wait::default(),
        }
    }

    /// The same matcher, waiting for the journaler and the replicator as `wait` says.
    pub fn waiting(mut self, wait: Wait) -> Matcher {
        self.wait = wait;
        self
    }

    /// The same matcher, waking a parked output consumer (see `wakeup.rs`).
    pub fn waking(mut self, wakeup: Option<Arc<Wakeup>>) -> Matcher {
        self.wakeup = wakeup;
        self
    }

    /// The ring handler: process the command, publish its events.
    pub fn on_command(&mut self, slot: &InputSlot, sequence: Sequence, end_of_batch: bool) {
        // A failed journaler may not have journaled this command: never act on it.
        if self.health.has_failed() {
            return;
        }
        let seq = self.base + sequence as u64 + 1;
        self.await_gate(seq);
        if self.health.has_failed() {
            return;
        }
        let timestamp_ns = slot.command.timestamp_ns;
        let Matcher { engine, output, .. } = self;
        let step = catch_unwind(AssertUnwindSafe(|| {
            // Each event is published when the next one arrives, so the last can be marked.
            let mut held: Option<Output> = None;
            let mut index = 0u32;
            engine.process(&slot.command, &mut |event: &Event| {
                let out = Output {
                    seq,
                    timestamp_ns,
                    index,
                    last: false,
                    event: *event,
                };
                if let Some(previous) = held.replace(out) {
                    publish(output, previous);
                }
                index += 1;
            });
            if let Some(mut last) = held {
                last.last = true;
                publish(output, last);
            }
            index > 0
        }));
        match step {
            Ok(published) => {
                self.last_seq = seq;
                self.published |= published;
                if end_of_batch {
                    self.finish_batch();
                }
                if let Some(periodic) = &mut self.periodic {
                    periodic.since = periodic.since.saturating_add(1);
                    // An operator's request: snapshot at the end of this batch.
                    if slot.command.kind == CommandKind::Snapshot as u8 {
                        periodic.since = periodic.every;
                    }
                    // Serialise only when the writer can take it; otherwise try next batch.
                    if end_of_batch
                        && periodic.since >= periodic.every
                        && !periodic.writer.is_full()
                    {
                        let state = self.engine.save();
                        if periodic
                            .writer
                            .try_send(SnapshotRequest { seq, state })
                            .is_ok()
                        {
                            periodic.since = 0;
                        }
                    }
                }
            }
            Err(panic) => self.health.fail(format!(
                "matcher panicked at sequence {seq}: {}",
                panic_message(&*panic)
            )),
        }
    }
}

impl Matcher {
    /// Whether the journaler made command `seq` durable and the replicator let it through (or a
    /// stage failed, which the caller checks next).
    #[inline]
    fn let_through(&self, seq: u64) -> bool {
        self.health.lets_through(seq)
    }

    /// Waits until command `seq` may be matched: spins, then (by the wait strategy) yields and
    /// sleeps until the journaler's commit or the replicator's release wakes it. What the batch
    /// already produced goes out first, so no report waits on a later command's commit.
    fn await_gate(&mut self, seq: u64) {
        if self.let_through(seq) {
            return;
        }
        self.finish_batch();
        let mut idle = 0u32;
        while !self.let_through(seq) {
            match self.wait {
                Wait::BusySpin => std::hint::spin_loop(),
                _ if idle < GATE_SPINS => std::hint::spin_loop(),
                Wait::Yield => std::thread::yield_now(),
                Wait::Backoff if idle < GATE_SPINS + GATE_YIELDS => std::thread::yield_now(),
                Wait::Backoff => {
                    let health = &self.health;
                    health.gate.sleep_unless(|| health.lets_through(seq));
                }
            }
            idle = idle.saturating_add(1);
        }
    }

    /// The end of a batch (or a pause in one): the processed sequence for monitors and
    /// `stop`, and one wake of a parked output consumer if anything was published.
    fn finish_batch(&mut self) {
        self.health
            .processed_seq
            .store(self.last_seq, Ordering::Release);
        if std::mem::take(&mut self.published) {
            if let Some(wakeup) = &self.wakeup {
                wakeup.notify();
            }
            // Replication observers see only processed commands.
            self.health.processed.notify();
        }
    }
}

/// Spins while the matcher waits for a commit, before yielding (a commit under `fsync = never`
/// is a few hundred nanoseconds away).
const GATE_SPINS: u32 = 200;
/// Yields before the matcher sleeps until woken.
const GATE_YIELDS: u32 = 1_000;

/// Publishes one event, waiting while the output ring is full (the disruptor's own blocking
/// publish spins without a pause; this backs off so a slow consumer does not starve the core).
fn publish(output: &mut SingleProducer<Output, SingleConsumerBarrier>, out: Output) {
    let mut backoff = Backoff::default();
    while let Err(RingBufferFull) = output.try_publish(|slot| *slot = out) {
        backoff.snooze();
    }
}

impl Drop for Matcher {
    /// At stop: report the last sequence and digest, and write the stop snapshot if configured.
    fn drop(&mut self) {
        self.health
            .processed_seq
            .store(self.last_seq, Ordering::Release);
        let snapshot = match (&self.snapshot_dir, self.health.has_failed()) {
            (Some(dir), false) if self.last_seq > 0 => {
                crate::recovery::write_snapshot(&self.engine, self.last_seq, dir)
                    .map(Some)
                    .map_err(|e| format!("stop snapshot: {e}"))
            }
            _ => Ok(None),
        };
        let report = snapshot.map(|path| (self.last_seq, self.engine.digest(), path));
        let _ = self.done.send(StageDone::Matcher(report));
    }
}
