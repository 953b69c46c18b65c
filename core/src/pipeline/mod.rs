//! The LMAX pipeline: a multi-producer input ring whose journaler and replicator stages run in
//! parallel, a matcher gated on both, and an output ring to whoever consumes the events.
//!
//! ```text
//!  Publisher ──┐                 ┌─▶ journaler (append; one commit per ring batch) ─┐
//!  Publisher ──┼─▶ input ring ───┤                                                  ├─▶ matcher ─▶ output ring ─▶ EventReceiver
//!  Publisher ──┘  (disruptor)    └─▶ replicator (pass-through until it has a peer) ─┘   (Engine)     (disruptor)
//! ```
//!
//! The journaler commits (group commit: one msync under `fsync = always`) at the end of each batch
//! the ring hands it and then publishes its durable sequence; the matcher reads a command only once
//! that sequence (and the replicator's) has reached it, so it never acts on a command before it is
//! durable by the configured policy, and outputs never get ahead of the journal. Without a standby
//! there is no replicator stage. Idle stages sleep until woken (`wait.rs`, `eventcount.rs`).
//!
//! ```no_run
//! use hayate_core::pipeline::Pipeline;
//! use hayate_core::*;
//!
//! let config = CoreConfig::demo();
//! let (pipeline, mut events, report) = Pipeline::builder(config.engine.clone(), "data")
//!     .initial_commands(config.deposits.clone())
//!     .start()?;
//! println!("recovered: {report}");
//! let mut publisher = pipeline.publisher();
//! publisher.publish(&Command::halt(None))?;
//! while events.poll(|out| println!("{} {}", out.seq, out.event.describe(&config.engine)))? == 0 {}
//! drop(publisher);
//! let stopped = pipeline.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod config;
mod eventcount;
mod journaler;
mod matcher;
mod replicator;
mod snapshotter;
pub mod wait;
mod wakeup;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam::utils::CachePadded;

use disruptor::{
    EventPoller, MultiConsumerBarrier, MultiProducer, Polling, Producer, RingBufferFull,
    SingleProducerBarrier,
};

pub use builder::{PipelineBuilder, StagePins};
pub use config::{JournalConfig, PipelineConfig};
pub use replicator::{ReplicaLink, ReplicationMode, StandbyLossPolicy};
pub use wait::Wait;

// The data directory's layout is recovery's; the pipeline starts on it.
pub use crate::recovery::{journal_dir, snapshot_dir};

use crate::command::{COMMAND_VERSION, Command};
use crate::event::Event;
use crate::recovery::RecoveryError;

/// One command on the input ring.
#[derive(Clone, Copy, Debug)]
pub struct InputSlot {
    /// The command, as journaled.
    pub command: Command,
}

/// One event on the output ring, with what a gateway needs to answer: the command's journal
/// sequence, its receive time, and the event's place among the command's events (`(seq, index)`
/// is unique across restarts, so it makes an ExecID).
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Journal sequence of the command that produced the event.
    pub seq: u64,
    /// The command's receive time (ns since the Unix epoch), as journaled.
    pub timestamp_ns: u64,
    /// 0 for the command's first event, 1 for the next…
    pub index: u32,
    /// Whether this is the command's last event (a consumer that groups per command, like the
    /// market-data builder, knows the command is complete without waiting for the next one).
    pub last: bool,
    /// The event.
    pub event: Event,
}

/// Why a command was not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The input ring is full: back off and retry (the pipeline is behind).
    #[error("the input ring is full")]
    Full,
    /// The command is not one the engine reads (bad version or kind); it never reaches the journal.
    #[error("malformed command: {0}")]
    Malformed(String),
    /// The pipeline is stopping or a stage failed; nothing more is accepted.
    #[error("the pipeline is not accepting commands: {0}")]
    Stopped(String),
}

/// Why the pipeline could not start, or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Recovery failed (names the file or sequence).
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    /// The configuration cannot work (a ring size, a core id).
    #[error("pipeline configuration: {0}")]
    Config(String),
    /// A stage panicked or hit an I/O error; the pipeline stopped accepting commands.
    #[error("pipeline stage failed: {0}")]
    StageFailed(String),
}

/// State the stages and handles share: cold except for the flags read once per command or batch.
/// What one thread writes often sits on a cache line of its own (`CachePadded`): the publishers'
/// sequence and count change with every command, and sharing a line with the durable sequence
/// the matcher reads per command would make every one of those reads a cache miss.
#[derive(Debug, Default)]
pub(crate) struct Health {
    accepting: AtomicBool,
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
    /// Last sequence the journaler made durable.
    pub(crate) durable_seq: CachePadded<AtomicU64>,
    /// Last sequence the replicator let through (acknowledged by the standby in sync mode).
    pub(crate) replicated_seq: CachePadded<AtomicU64>,
    /// The highest input-ring sequence a publisher has published (-1: none yet).
    pub(crate) published_ring: CachePadded<AtomicI64>,
    /// Where the input ring's stages sleep; publishers notify it.
    pub(crate) input: CachePadded<eventcount::EventCount>,
    /// Where the matcher sleeps until the journaler and the replicator let a command through;
    /// both notify it, and so does a failure.
    pub(crate) gate: CachePadded<eventcount::EventCount>,
    /// Live publishers: the last one to go closes `input`, so no stage sleeps through the
    /// ring's shutdown.
    publishers: AtomicUsize,
    /// Last sequence the matcher processed.
    pub(crate) processed_seq: CachePadded<AtomicU64>,
    /// A consumer of processed sequences that sleeps in `epoll` (the replication port's observer
    /// hub: it streams only what the matcher has let through), woken by the matcher after a batch.
    pub(crate) processed: wakeup::Wakeup,
    /// Sequence of the last periodic snapshot written.
    pub(crate) snapshot_seq: AtomicU64,
    /// The last sequence recovered at start (what `processed_seq` was before any publish).
    pub(crate) start_seq: u64,
    /// Journal segments wholly at or below this sequence may be deleted (retention).
    pub(crate) retain_through: AtomicU64,
    /// Why the last periodic snapshot failed, until one succeeds.
    snapshot_error: Mutex<Option<String>>,
    /// Counters for monitoring.
    pub(crate) stats: Stats,
}

/// Monitoring counters the stages bump with relaxed atomics (never a lock on the hot path).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Bumped by the publishers on every command: a line of its own.
    pub(crate) published: CachePadded<AtomicU64>,
    pub(crate) journal_bytes: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) commit_ns: AtomicU64,
}

/// A point-in-time reading of the pipeline's counters, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Commands published since start.
    pub published: u64,
    /// The last sequence made durable.
    pub durable_seq: u64,
    /// The last sequence the matcher processed.
    pub processed_seq: u64,
    /// Commands in the input ring not yet processed (published − processed since start).
    pub ring_depth: u64,
    /// Journal bytes written since start (frames, headers included).
    pub journal_bytes: u64,
    /// Journal commits (group commits, one per ring batch).
    pub commits: u64,
    /// Total time spent in commits (the fsync under `fsync = always`), nanoseconds.
    pub commit_ns: u64,
}

impl Health {
    pub(crate) fn fail(&self, what: String) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(what);
        }
        self.failed.store(true, Ordering::Release);
        self.accepting.store(false, Ordering::Release);
        // The matcher may be waiting for a command the failed stage will never let through.
        self.gate.notify();
    }

    #[inline]
    pub(crate) fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Whether the journaler made command `seq` durable and the replicator let it through, or
    /// a stage failed (the matcher checks which next).
    #[inline]
    pub(crate) fn lets_through(&self, seq: u64) -> bool {
        (self.durable_seq.load(Ordering::Acquire) >= seq
            && self.replicated_seq.load(Ordering::Acquire) >= seq)
            || self.has_failed()
    }

    fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    fn stats(&self) -> PipelineStats {
        let published = self.stats.published.load(Ordering::Relaxed);
        let processed_seq = self.processed_seq.load(Ordering::Acquire);
        let processed_since_start = processed_seq.saturating_sub(self.start_seq);
        PipelineStats {
            published,
            durable_seq: self.durable_seq.load(Ordering::Acquire),
            processed_seq,
            ring_depth: published.saturating_sub(processed_since_start),
            journal_bytes: self.stats.journal_bytes.load(Ordering::Relaxed),
            commits: self.stats.commits.load(Ordering::Relaxed),
            commit_ns: self.stats.commit_ns.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn set_snapshot_error(&self, error: Option<String>) {
        if let Ok(mut slot) = self.snapshot_error.lock() {
            *slot = error;
        }
    }
}

/// Describes a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_string())
}

/// A handle that publishes commands into the input ring. Clone one per producing thread.
pub struct Publisher {
    producer: MultiProducer<InputSlot, MultiConsumerBarrier>,
    health: Arc<Health>,
}

impl Publisher {
    fn new(producer: MultiProducer<InputSlot, MultiConsumerBarrier>, health: Arc<Health>) -> Self {
        health.publishers.fetch_add(1, Ordering::AcqRel);
        Publisher { producer, health }
    }
}

impl Clone for Publisher {
    fn clone(&self) -> Self {
        Publisher::new(self.producer.clone(), Arc::clone(&self.health))
    }
}

impl Drop for Publisher {
    /// The last publisher's drop shuts the ring down (the disruptor does, dropping the producer
    /// after this): stages must not sleep through it.
    fn drop(&mut self) {
        if self.health.publishers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.health.input.close();
            self.health.gate.close();
        }
    }
}

impl Publisher {
    /// Publishes `command`, or reports at once that the ring is full ([`PublishError::Full`]) so a
    /// gateway can push back on its client instead of blocking.
    pub fn try_publish(&mut self, command: &Command) -> Result<(), PublishError> {
        self.check(command)?;
        match self.producer.try_publish(|slot| slot.command = *command) {
            Ok(sequence) => {
                self.health.stats.published.fetch_add(1, Ordering::Relaxed);
                // A locked read-modify-write, sequentially consistent: the wake-up check needs
                // no fence of its own.
                self.health
                    .published_ring
                    .fetch_max(sequence, Ordering::SeqCst);
                // Wakes the journaler and the replicator only if they sleep: no system call
                // while they are busy.
                self.health.input.notify_after_seqcst_rmw();
                Ok(())
            }
            Err(RingBufferFull) => Err(PublishError::Full),
        }
    }

    /// Publishes `command`, waiting (spin, then yield) while the ring is full.
    pub fn publish(&mut self, command: &Command) -> Result<(), PublishError> {
        let mut backoff = wait::Backoff::default();
        loop {
            match self.try_publish(command) {
                Err(PublishError::Full) => backoff.snooze(),
                done => return done,
            }
        }
    }

    fn check(&self, command: &Command) -> Result<(), PublishError> {
        if !self.health.accepting.load(Ordering::Acquire) {
            let why = self
                .health
                .failure()
                .unwrap_or_else(|| "stopping".to_string());
            return Err(PublishError::Stopped(why));
        }
        if command.version != COMMAND_VERSION || command.command_kind().is_none() {
            return Err(PublishError::Malformed(format!(
                "version {} kind {}",
                command.version, command.kind
            )));
        }
        Ok(())
    }
}

/// Receives the matcher's events from the output ring. Each [`EventReceiver::poll`] hands over one
/// batch (everything published since the last poll), so a gateway can flush its sockets once per
/// batch.
pub struct EventReceiver {
    poller: EventPoller<Output, SingleProducerBarrier>,
    wakeup: Option<Arc<wakeup::Wakeup>>,
}

/// The pipeline has stopped and every event has been received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline has stopped and every event was received")]
pub struct Stopped;

impl EventReceiver {
    /// Calls `on_event` for every event available now, in order, and returns how many there were
    /// (0 when none is waiting). `Err(Stopped)` once the pipeline has shut down and all is read.
    pub fn poll(&mut self, mut on_event: impl FnMut(&Output)) -> Result<usize, Stopped> {
        match self.poller.poll() {
            Ok(mut batch) => {
                let mut n = 0;
                for out in &mut batch {
                    on_event(out);
                    n += 1;
                }
                Ok(n)
            }
            Err(Polling::NoEvents) => Ok(0),
            Err(Polling::Shutdown) => Err(Stopped),
        }
    }

    /// Announces that the caller is about to sleep until the wake function given to
    /// [`PipelineBuilder::output_wakeup`] is called. Poll once more after parking: events that
    /// arrived just before are not signalled. Call [`EventReceiver::unpark`] when awake. Without a
    /// wake function this does nothing (the caller must not sleep long).
    pub fn park(&self) {
        if let Some(wakeup) = &self.wakeup {
            wakeup.park();
        }
    }

    /// Ends a [`EventReceiver::park`]: the caller is awake and polling again.
    pub fn unpark(&self) {
        if let Some(wakeup) = &self.wakeup {
            wakeup.unpark();
        }
    }

    /// How many times the matcher called the wake function (a parked consumer was woken).
    pub fn wakes(&self) -> u64 {
        self.wakeup.as_ref().map_or(0, |w| w.wakes())
    }
}

/// What [`Pipeline::stop`] reports.
#[derive(Debug, Default)]
pub struct StopReport {
    /// The last sequence journaled and made durable.
    pub durable_seq: u64,
    /// The last sequence the matcher processed.
    pub processed_seq: u64,
    /// The snapshot written at stop, if configured.
    pub snapshot: Option<std::path::PathBuf>,
    /// The engine's digest at stop.
    pub digest: u64,
}

/// What a stage says when its thread ends.
pub(crate) enum StageDone {
    /// The journaler's final durable sequence, or the error of its final sync.
    Journaler(Result<u64, String>),
    /// The matcher's last sequence, digest and stop snapshot, or the snapshot's error.
    Matcher(Result<(u64, u64, Option<std::path::PathBuf>), String>),
}

/// Reads a running pipeline's state from any thread; outlives nothing (the stages may stop).
#[derive(Clone, Debug)]
pub struct Monitor {
    health: Arc<Health>,
}

impl Monitor {
    /// The pipeline's counters now.
    pub fn stats(&self) -> PipelineStats {
        self.health.stats()
    }

    /// Why the pipeline stopped accepting commands, if a stage failed.
    pub fn failure(&self) -> Option<String> {
        self.health.failure()
    }

    /// The last sequence the matcher processed: journaled, durable and (in sync mode)
    /// acknowledged by the standby — what may be shown to the world.
    pub fn processed_seq(&self) -> u64 {
        self.health.processed_seq.load(Ordering::Acquire)
    }

    /// How to wake the one consumer that sleeps until [`Monitor::processed_seq`] moves (replaces
    /// the previous one's). The matcher calls it after a batch, only while the consumer is
    /// parked: no system call while the consumer is busy.
    pub fn set_processed_waker(&self, wake: impl Fn() + Send + Sync + 'static) {
        self.health.processed.set(Box::new(wake));
    }

    /// The consumer is about to sleep: check [`Monitor::processed_seq`] once more, then sleep
    /// until woken; call [`Monitor::unpark_processed`] when awake.
    pub fn park_processed(&self) {
        self.health.processed.park();
    }

    /// Ends a [`Monitor::park_processed`].
    pub fn unpark_processed(&self) {
        self.health.processed.unpark();
    }
}

/// A running pipeline. Start it with [`Pipeline::builder`]; stop it with [`Pipeline::stop`].
pub struct Pipeline {
    publisher: Option<Publisher>,
    health: Arc<Health>,
    stopped: crossbeam::channel::Receiver<StageDone>,
    snapshotter: Option<std::thread::JoinHandle<()>>,
}

impl Pipeline {
    /// A builder for a pipeline over `engine` whose journal and snapshots live under `data_dir`
    /// (`data_dir/journal`, `data_dir/snapshots`).
    pub fn builder(
        engine: crate::engine::EngineConfig,
        data_dir: impl Into<std::path::PathBuf>,
    ) -> PipelineBuilder {
        PipelineBuilder::new(engine, data_dir.into())
    }

    /// A new handle for publishing commands.
    pub fn publisher(&self) -> Publisher {
        match &self.publisher {
            Some(p) => p.clone(),
            None => unreachable!("the pipeline's own publisher lives until stop consumes it"),
        }
    }

    /// The last sequence made durable by the journaler.
    pub fn durable_seq(&self) -> u64 {
        self.health.durable_seq.load(Ordering::Acquire)
    }

    /// The last sequence the matcher processed.
    pub fn processed_seq(&self) -> u64 {
        self.health.processed_seq.load(Ordering::Acquire)
    }

    /// The pipeline's counters now.
    pub fn stats(&self) -> PipelineStats {
        self.health.stats()
    }

    /// A cheap handle for reading [`PipelineStats`] from another thread (e.g. an HTTP server).
    pub fn monitor(&self) -> Monitor {
        Monitor {
            health: Arc::clone(&self.health),
        }
    }

    /// Why the pipeline stopped accepting commands, if a stage failed.
    pub fn failure(&self) -> Option<String> {
        self.health.failure()
    }

    /// The sequence of the last periodic snapshot written (0 if none yet).
    pub fn snapshot_seq(&self) -> u64 {
        self.health.snapshot_seq.load(Ordering::Acquire)
    }

    /// Why the last periodic snapshot failed, until a later one succeeds. Trading goes on: the
    /// journal holds every command.
    pub fn snapshot_error(&self) -> Option<String> {
        self.health
            .snapshot_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
    }

    /// Stops accepting commands, drains what is in the rings (journaled, processed, published),
    /// makes the journal durable, writes a snapshot if configured, and joins the stage threads.
    ///
    /// The stages shut down when the last [`Publisher`] is dropped, so drop every clone first;
    /// and keep polling the [`EventReceiver`] until it reports [`Stopped`], or a full output ring
    /// holds the matcher.
    pub fn stop(mut self) -> Result<StopReport, PipelineError> {
        self.health.accepting.store(false, Ordering::Release);
        drop(self.publisher.take());
        let mut report = StopReport::default();
        let mut problems = Vec::new();
        for _ in 0..2 {
            match self.stopped.recv() {
                Ok(StageDone::Journaler(Ok(durable))) => report.durable_seq = durable,
                Ok(StageDone::Matcher(Ok((processed, digest, snapshot)))) => {
                    report.processed_seq = processed;
                    report.digest = digest;
                    report.snapshot = snapshot;
                }
                Ok(StageDone::Journaler(Err(e)) | StageDone::Matcher(Err(e))) => problems.push(e),
                Err(_) => problems.push("a stage ended without reporting".to_string()),
            }
        }
        // The matcher's end closed the snapshot channel, so the writer finishes and ends.
        if let Some(writer) = self.snapshotter.take() {
            if writer.join().is_err() {
                problems.push("the snapshot writer panicked".to_string());
            }
        }
        if let Some(failure) = self.health.failure() {
            problems.insert(0, failure);
        }
        if problems.is_empty() {
            Ok(report)
        } else {
            Err(PipelineError::StageFailed(problems.join("; ")))
        }
    }
}
