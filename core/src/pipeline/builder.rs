//! Configuring and starting a pipeline. Starting is recovery: the engine is rebuilt from the newest
//! snapshot and the journal before the first command is accepted.

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam::utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use bytemuck::Zeroable;
use disruptor::{ProcessorSettings, build_multi_producer, build_single_producer};
use hayate_journal::JournalOptions;

use super::journaler::Journaler;
use super::matcher::{Matcher, Periodic};
use super::replicator::{ReplicaLink, Replicator};
use super::snapshotter;
use super::wait::{self, Sleeper, Wait};
use super::wakeup::Wakeup;
use super::{EventReceiver, Health, InputSlot, Output, Pipeline, PipelineError, Publisher};
use crate::command::Command;
use crate::engine::EngineConfig;
use crate::event::Event;
use crate::recovery::{self, RecoveryReport};

/// Cores to pin each stage's thread to (`None`: let the OS schedule it). Pin only on machines with
/// a core to spare per pinned stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StagePins {
    /// The journaler's core.
    pub journaler: Option<usize>,
    /// The replicator's core.
    pub replicator: Option<usize>,
    /// The matcher's core.
    pub matcher: Option<usize>,
}

/// Configures a [`Pipeline`]; [`PipelineBuilder::start`] recovers and starts it.
pub struct PipelineBuilder {
    engine: EngineConfig,
    data_dir: PathBuf,
    journal: JournalOptions,
    input_ring: usize,
    output_ring: usize,
    wait: Wait,
    pins: StagePins,
    snapshot_on_stop: bool,
    snapshot_every: u64,
    keep_snapshots: usize,
    initial_commands: Vec<Command>,
    wakeup: Option<Arc<Wakeup>>,
    replica: Option<Arc<ReplicaLink>>,
}

impl std::fmt::Debug for PipelineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("data_dir", &self.data_dir)
            .field("input_ring", &self.input_ring)
            .field("output_ring", &self.output_ring)
            .field("wait", &self.wait)
            .field("pins", &self.pins)
            .field("snapshot_every", &self.snapshot_every)
            .finish_non_exhaustive()
    }
}

impl PipelineBuilder {
    pub(super) fn new(engine: EngineConfig, data_dir: PathBuf) -> PipelineBuilder {
        PipelineBuilder {
            engine,
            data_dir,
            journal: JournalOptions::default(),
            input_ring: 1 << 14,
            output_ring: 1 << 16,
            wait: Wait::default(),
            pins: StagePins::default(),
            snapshot_on_stop: true,
            snapshot_every: 0,
            keep_snapshots: 3,
            initial_commands: Vec::new(),
            wakeup: None,
            replica: None,
        }
    }

    /// Journal segment size and flush policy (default: 64 MiB, `always`).
    pub fn journal_options(mut self, options: JournalOptions) -> Self {
        self.journal = options;
        self
    }

    /// Input ring slots, a power of two ≥ 64 (default 16384). A full ring pushes back on
    /// publishers.
    pub fn input_ring(mut self, slots: usize) -> Self {
        self.input_ring = slots;
        self
    }

    /// Output ring slots, a power of two (default 65536).
    pub fn output_ring(mut self, slots: usize) -> Self {
        self.output_ring = slots;
        self
    }

    /// How idle stages wait (default [`Wait::Backoff`], safe on a machine with fewer cores than
    /// stages; [`Wait::BusySpin`] only with a dedicated core per stage).
    pub fn wait(mut self, wait: Wait) -> Self {
        self.wait = wait;
        self
    }

    /// Pin stages to cores (default: none).
    pub fn pins(mut self, pins: StagePins) -> Self {
        self.pins = pins;
        self
    }

    /// Write a snapshot when stopping (default: yes), so the next start replays nothing.
    pub fn snapshot_on_stop(mut self, yes: bool) -> Self {
        self.snapshot_on_stop = yes;
        self
    }

    /// Write a snapshot every `every` commands (0: never, the default) on a background thread,
    /// keep the newest `keep` (0: all) and delete the journal segments wholly covered by the
    /// oldest kept one (default keep: 3).
    pub fn snapshots(mut self, every: u64, keep: usize) -> Self {
        self.snapshot_every = every;
        self.keep_snapshots = keep;
        self
    }

    /// Commands to journal and apply first, only when the journal is new (the configuration's
    /// `[[deposits]]`).
    pub fn initial_commands(mut self, commands: Vec<Command>) -> Self {
        self.initial_commands = commands;
        self
    }

    /// Lets the consumer of the output ring sleep: the matcher calls `wake` at the end of a batch
    /// that produced events, but only while the consumer is parked ([`EventReceiver::park`]), so
    /// a busy consumer costs the matcher one fence per batch and no system call.
    pub fn output_wakeup(mut self, wake: impl Fn() + Send + Sync + 'static) -> Self {
        self.wakeup = Some(Arc::new(Wakeup::new(Box::new(wake))));
        self
    }

    /// Gives the replicator stage a standby: in synchronous mode each batch waits until the
    /// standby has acknowledged it (see [`ReplicaLink`]). The replication transport, outside the
    /// core, feeds the link.
    pub fn replica(mut self, link: Arc<ReplicaLink>) -> Self {
        self.replica = Some(link);
        self
    }

    /// Recovers the engine from `data_dir` and starts the stages. Returns the pipeline, the
    /// receiver of its events, and what recovery found.
    pub fn start(self) -> Result<(Pipeline, EventReceiver, RecoveryReport), PipelineError> {
        // The multi-producer ring of `disruptor` needs at least 64 slots.
        for (name, slots, least) in [
            ("input_ring", self.input_ring, 64),
            ("output_ring", self.output_ring, 2),
        ] {
            if !slots.is_power_of_two() || slots < least {
                return Err(PipelineError::Config(format!(
                    "{name} must be a power of two ≥ {least}, not {slots}"
                )));
            }
        }
        let cores: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .iter()
            .map(|c| c.id)
            .collect();
        for (stage, pin) in [
            ("journaler", self.pins.journaler),
            ("replicator", self.pins.replicator),
            ("matcher", self.pins.matcher),
        ] {
            if let Some(core) = pin.filter(|core| !cores.contains(core)) {
                return Err(PipelineError::Config(format!(
                    "{stage} pinned to core {core}, but this machine's cores are {cores:?}"
                )));
            }
        }

        let snapshot_dir = super::snapshot_dir(&self.data_dir);
        let (engine, journal, report) = recovery::recover(
            &self.engine,
            &super::journal_dir(&self.data_dir),
            &snapshot_dir,
            self.journal,
        )?;
        let base = report.last_seq;
        let fresh = base == 0 && report.snapshot.is_none();
        let health = Arc::new(Health {
            accepting: AtomicBool::new(true),
            durable_seq: CachePadded::new(AtomicU64::new(base)),
            replicated_seq: CachePadded::new(AtomicU64::new(base)),
            published_ring: CachePadded::new(AtomicI64::new(-1)),
            processed_seq: CachePadded::new(AtomicU64::new(base)),
            start_seq: base,
            ..Health::default()
        });
        let (done_tx, done_rx) = crossbeam::channel::bounded(2);

        let blank_output = || Output {
            seq: 0,
            timestamp_ns: 0,
            index: 0,
            last: false,
            event: Event::zeroed(),
        };
        let (poller, output) =
            build_single_producer(self.output_ring, blank_output, self.wait).new_event_poller();
        let output = output.build();

        let mut journaler = Journaler::new(
            journal,
            base,
            Arc::clone(&health),
            done_tx.clone(),
            self.replica.clone(),
        );
        let mut replicator = Replicator::new(self.replica.clone(), Arc::clone(&health), base);
        // The writer runs even without periodic snapshots: an operator's Snapshot command uses it.
        let (writer, snapshotter) = snapshotter::spawn(
            snapshot_dir.clone(),
            self.keep_snapshots,
            Arc::clone(&health),
        )
        .map_err(|e| PipelineError::Config(format!("cannot start the snapshot writer: {e}")))?;
        let periodic = Some(Periodic {
            every: if self.snapshot_every > 0 {
                self.snapshot_every
            } else {
                u64::MAX
            },
            since: 0,
            writer,
        });
        let snapshotter = Some(snapshotter);
        let snapshot_dir = self.snapshot_on_stop.then_some(snapshot_dir);
        let mut matcher = Matcher::new(
            engine,
            output,
            base,
            Arc::clone(&health),
            snapshot_dir,
            done_tx,
            periodic,
        )
        .waking(self.wakeup.clone())
        .waiting(self.wait);

        // The topology, in one place: journaler ∥ replicator ∥ matcher on the input ring, the
        // matcher gated inside its handler on what the journaler made durable and the replicator
        // let through (`Health::durable_seq`, `replicated_seq`). The gate is ours rather than
        // the disruptor's dependency barrier because the disruptor moves a stage's cursor after
        // the handler returns: a stage could not wake the matcher after that store, and a
        // wake-up before it can be lost. Each stage's thread learns where to sleep first thing.
        let blank_input = || InputSlot {
            command: Command::zeroed(),
        };
        let sleeper = |health: &Arc<Health>, what: Sleeper| {
            let health = Arc::clone(health);
            move || wait::sleep_on(health, what)
        };
        let producer = build_multi_producer(self.input_ring, blank_input, self.wait);
        let producer = pin(producer, self.pins.journaler)
            .thread_name("hayate-journaler")
            .handle_events_and_state_with(
                move |_: &mut (), slot: &InputSlot, seq, end| journaler.on_command(slot, seq, end),
                sleeper(&health, Sleeper::Published),
            );
        let let_through = Sleeper::LetThrough { base };
        // Without a standby the replicator has nothing to do: no stage, no hand-off.
        let producer = if self.replica.is_some() {
            let producer = pin(producer, self.pins.replicator)
                .thread_name("hayate-replicator")
                .handle_events_and_state_with(
                    move |_: &mut (), slot: &InputSlot, seq, end| {
                        replicator.on_command(slot, seq, end)
                    },
                    sleeper(&health, Sleeper::Published),
                );
            pin(producer, self.pins.matcher)
                .thread_name("hayate-matcher")
                .handle_events_and_state_with(
                    move |_: &mut (), slot: &InputSlot, seq, end| {
                        matcher.on_command(slot, seq, end)
                    },
                    sleeper(&health, let_through),
                )
                .build()
        } else {
            health.replicated_seq.store(u64::MAX, Ordering::Release);
            drop(replicator);
            pin(producer, self.pins.matcher)
                .thread_name("hayate-matcher")
                .handle_events_and_state_with(
                    move |_: &mut (), slot: &InputSlot, seq, end| {
                        matcher.on_command(slot, seq, end)
                    },
                    sleeper(&health, let_through),
                )
                .build()
        };

        let mut publisher = Publisher::new(producer, Arc::clone(&health));
        if fresh {
            for command in &self.initial_commands {
                publisher
                    .publish(command)
                    .map_err(|e| PipelineError::StageFailed(e.to_string()))?;
            }
        }
        let pipeline = Pipeline {
            publisher: Some(publisher),
            health,
            stopped: done_rx,
            snapshotter,
        };
        let receiver = EventReceiver {
            poller,
            wakeup: self.wakeup,
        };
        Ok((pipeline, receiver, report))
    }
}

/// Pins the next stage added to `builder` when a core is given.
fn pin<E, W, B: ProcessorSettings<E, W>>(builder: B, core: Option<usize>) -> B {
    match core {
        Some(core) => builder.pin_at_core(core),
        None => builder,
    }
}
