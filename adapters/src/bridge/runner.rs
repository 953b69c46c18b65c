//! The bridge's loop: observe the primary, apply each command with the same engine, hand what it
//! produced to every sink, in order, each from its own cursor.
//!
//! ```text
//!  primary ──records──▶ Observation ──▶ Applier ──Applied──▶ sink 1 (cursor in its system)
//!  (observer port)                                     └───▶ sink 2 …
//! ```
//!
//! At start each sink says how far it holds the stream (its cursor, committed with its data);
//! the applier is restored from its newest snapshot at or before the lowest cursor and the
//! primary is asked for the records after it. A command is handed to a sink only if it lies past
//! that sink's cursor, so a bridge killed at any moment and restarted writes nothing twice and
//! skips nothing. A sink that is down is retried (its cursor read again first) until it comes
//! back; meanwhile the bridge reads nothing from the primary, which drops it after missed
//! heartbeats and never waits for it — the bridge reconnects from where it stands.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hayate_core::EngineConfig;

use super::apply::Applier;
use super::rows::Applied;
use super::sink::{Sink, SinkError};
use crate::replication::observer::{Observation, ObserveSettings, Position};

/// How the bridge runs.
#[derive(Debug, Clone)]
pub struct BridgeSettings {
    /// How it reaches the primary.
    pub observe: ObserveSettings,
    /// The exchange's engine configuration (the same as the gateway's).
    pub engine: EngineConfig,
    /// Where it keeps its snapshots.
    pub data_dir: PathBuf,
    /// At most this many commands per sink write (one transaction, one batch of publishes).
    pub batch: usize,
    /// Its engine and market data are saved every this many commands.
    pub snapshot_every: u64,
    /// A symbol's level-2 snapshot is published every this many of its updates.
    pub md_snapshot_every: u64,
    /// The whole market-data state is published every this many commands.
    pub md_state_every: u64,
    /// How long it waits before trying a sink or the primary again.
    pub retry: Duration,
}

/// One sink's figures.
#[derive(Debug, Default)]
pub struct SinkStatus {
    /// The sink's name.
    pub name: &'static str,
    /// The last sequence it holds.
    pub cursor: AtomicU64,
    /// Commands written to it since start.
    pub commands: AtomicU64,
    /// Writes it failed (each retried).
    pub errors: AtomicU64,
    /// Whether its last write or cursor read failed.
    pub down: AtomicBool,
}

/// What the bridge is doing, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct BridgeStatus {
    /// The last sequence applied.
    pub applied_seq: AtomicU64,
    /// The primary's last processed sequence, as it last said.
    pub primary_seq: AtomicU64,
    /// The receive time (ns since the Unix epoch) of the last command every sink holds.
    pub written_ts_ns: AtomicU64,
    /// Whether it is connected to a primary.
    pub connected: AtomicBool,
    /// Connections to a primary since start.
    pub connections: AtomicU64,
    /// Per sink, in the order given.
    pub sinks: Vec<SinkStatus>,
    /// Why it stopped, when it stopped on its own.
    pub failure: Mutex<Option<String>>,
}

impl BridgeStatus {
    /// The lowest cursor over the sinks (what every sink holds).
    pub fn written_seq(&self) -> u64 {
        self.sinks
            .iter()
            .map(|s| s.cursor.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }

    /// How many processed commands of the primary some sink does not hold yet.
    pub fn lag_sequences(&self) -> u64 {
        self.primary_seq
            .load(Ordering::Acquire)
            .saturating_sub(self.written_seq())
    }

    /// How old the newest command every sink holds is, when some are missing (0 when caught
    /// up): the age of what a back office or an edge shows.
    pub fn lag_seconds(&self, now_ns: u64) -> f64 {
        if self.lag_sequences() == 0 {
            return 0.0;
        }
        let written = self.written_ts_ns.load(Ordering::Acquire);
        if written == 0 {
            return 0.0;
        }
        now_ns.saturating_sub(written) as f64 / 1e9
    }

    /// Why it stopped on its own, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }
}

/// A running bridge; stops (saving its state) when [`Bridge::stop`] is called or it is dropped.
pub struct Bridge {
    stop: Arc<AtomicBool>,
    status: Arc<BridgeStatus>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("applied_seq", &self.status.applied_seq)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// Starts the bridge's thread over `sinks`.
    pub fn start(settings: BridgeSettings, sinks: Vec<Box<dyn Sink>>) -> std::io::Result<Bridge> {
        let status = Arc::new(BridgeStatus {
            sinks: sinks
                .iter()
                .map(|s| SinkStatus {
                    name: s.name(),
                    ..SinkStatus::default()
                })
                .collect(),
            ..BridgeStatus::default()
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, status) = (Arc::clone(&stop), Arc::clone(&status));
            std::thread::Builder::new()
                .name("hayate-bridge".into())
                .spawn(move || {
                    let mut run = Run {
                        settings,
                        sinks,
                        status: Arc::clone(&status),
                        stop,
                    };
                    if let Err(e) = run.run() {
                        tracing::error!(error = %e, "bridge stopped");
                        if let Ok(mut failure) = status.failure.lock() {
                            *failure = Some(e);
                        }
                    }
                })?
        };
        Ok(Bridge {
            stop,
            status,
            thread: Some(thread),
        })
    }

    /// Its figures.
    pub fn status(&self) -> Arc<BridgeStatus> {
        Arc::clone(&self.status)
    }

    /// Whether its thread ended (on a fatal error: [`BridgeStatus::failure`] says why).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops it: the current write finishes, its state is saved.
    pub fn stop(mut self) -> Option<String> {
        self.halt();
        self.status.failure()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The bridge's thread.
struct Run {
    settings: BridgeSettings,
    sinks: Vec<Box<dyn Sink>>,
    status: Arc<BridgeStatus>,
    stop: Arc<AtomicBool>,
}

impl Run {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Sleeps `retry`, waking early to stop.
    fn pause(&self) {
        let step = Duration::from_millis(20);
        let mut slept = Duration::ZERO;
        while slept < self.settings.retry && !self.stopping() {
            std::thread::sleep(step);
            slept += step;
        }
    }

    fn run(&mut self) -> Result<(), String> {
        let mut cursors = Vec::with_capacity(self.sinks.len());
        for index in 0..self.sinks.len() {
            match self.read_cursor(index)? {
                Some(cursor) => cursors.push(cursor),
                None => return Ok(()),
            }
        }
        let start = cursors.iter().copied().min().unwrap_or(0);
        let (applier, notes) = Applier::restore(
            &self.settings.engine,
            &self.settings.data_dir,
            start,
            self.settings.md_snapshot_every,
        );
        let mut applier = applier.with_market_state_every(self.settings.md_state_every);
        for note in notes {
            tracing::warn!(snapshot = %note, "bridge: passed over a snapshot");
        }
        tracing::info!(
            from = applier.seq(),
            cursors = ?cursors,
            "bridge: applier restored; sinks resume after their cursors"
        );
        self.status
            .applied_seq
            .store(applier.seq(), Ordering::Release);
        let mut saved_at = applier.seq();
        let mut batch: Vec<Applied> = Vec::with_capacity(self.settings.batch);
        while !self.stopping() {
            let (epoch, epoch_start) = applier.engine().epoch();
            let position = Position {
                epoch,
                epoch_start,
                last_seq: applier.seq(),
            };
            let mut observation = match Observation::connect(&self.settings.observe, position) {
                Ok(observation) => observation,
                Err(e) if e.is_fatal() => return Err(e.to_string()),
                Err(e) => {
                    tracing::warn!(error = %e, "bridge: no primary to observe; retrying");
                    self.pause();
                    continue;
                }
            };
            tracing::info!(node = %observation.node(), from = applier.seq() + 1,
                "bridge: observing");
            self.status.connected.store(true, Ordering::Release);
            self.status.connections.fetch_add(1, Ordering::Relaxed);
            // Records → applied → written, until the connection breaks or the bridge stops.
            let ended = loop {
                if self.stopping() {
                    break None;
                }
                let mut wait = Duration::from_millis(100);
                let polled = loop {
                    let room = self.settings.batch.saturating_sub(batch.len());
                    if room == 0 {
                        break Ok(());
                    }
                    match observation.poll(wait, |seq, command| {
                        batch.push(applier.apply(seq, command));
                    }) {
                        // More may be queued: take it without waiting, up to a batch.
                        Ok(n) if n > 0 => wait = Duration::ZERO,
                        Ok(_) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                self.status
                    .primary_seq
                    .store(observation.primary_seq(), Ordering::Release);
                self.status
                    .applied_seq
                    .store(applier.seq(), Ordering::Release);
                if !batch.is_empty() {
                    if !self.write(&mut cursors, &batch)? {
                        break None;
                    }
                    if let Some(last) = batch.last() {
                        self.status
                            .written_ts_ns
                            .store(last.timestamp_ns, Ordering::Release);
                    }
                    batch.clear();
                    observation.acknowledge(applier.seq());
                    // Every sink holds what the applier has applied: a snapshot now is at or
                    // before every cursor, so a restart can start from it.
                    if applier.seq() >= saved_at + self.settings.snapshot_every {
                        self.save(&applier);
                        saved_at = applier.seq();
                    }
                }
                if let Err(e) = polled {
                    break Some(e);
                }
            };
            self.status.connected.store(false, Ordering::Release);
            match ended {
                None => break,
                Some(e) if e.is_fatal() => return Err(e.to_string()),
                Some(e) => {
                    tracing::warn!(error = %e, "bridge: lost the primary; reconnecting");
                }
            }
        }
        // Saved only where every sink holds it: a restart starts from a snapshot at or before
        // the lowest cursor.
        if cursors.iter().all(|&c| c >= applier.seq()) {
            self.save(&applier);
        }
        Ok(())
    }

    fn save(&self, applier: &Applier) {
        if let Err(e) = applier.save(&self.settings.data_dir, 2) {
            tracing::warn!(error = %e, "bridge: could not save its state (a restart replays more)");
        }
    }

    /// A sink's cursor, retried while the sink is unavailable; `None` when stopping.
    fn read_cursor(&mut self, index: usize) -> Result<Option<u64>, String> {
        loop {
            if self.stopping() {
                return Ok(None);
            }
            let status = &self.status.sinks[index];
            match self.sinks[index].cursor() {
                Ok(cursor) => {
                    status.cursor.store(cursor, Ordering::Release);
                    status.down.store(false, Ordering::Release);
                    return Ok(Some(cursor));
                }
                Err(SinkError::Fatal { sink, message }) => {
                    return Err(format!("{sink}: {message}"));
                }
                Err(e) => {
                    status.errors.fetch_add(1, Ordering::Relaxed);
                    status.down.store(true, Ordering::Release);
                    tracing::warn!(error = %e, "bridge: sink unavailable; retrying");
                    self.pause();
                }
            }
        }
    }

    /// Writes `batch` to every sink, each from its cursor, retrying a sink until it takes it.
    /// `Ok(false)` when stopping before every sink took it.
    fn write(&mut self, cursors: &mut [u64], batch: &[Applied]) -> Result<bool, String> {
        for (index, cursor) in cursors.iter_mut().enumerate() {
            loop {
                let from = batch.partition_point(|a| a.seq <= *cursor);
                let Some(part) = batch.get(from..).filter(|p| !p.is_empty()) else {
                    break;
                };
                let status = &self.status.sinks[index];
                match self.sinks[index].write(part) {
                    Ok(()) => {
                        let last = part.last().map_or(*cursor, |a| a.seq);
                        *cursor = last;
                        status.cursor.store(last, Ordering::Release);
                        status
                            .commands
                            .fetch_add(part.len() as u64, Ordering::Relaxed);
                        status.down.store(false, Ordering::Release);
                        break;
                    }
                    Err(SinkError::Fatal { sink, message }) => {
                        return Err(format!("{sink}: {message}"));
                    }
                    Err(e) => {
                        status.errors.fetch_add(1, Ordering::Relaxed);
                        status.down.store(true, Ordering::Release);
                        tracing::warn!(error = %e, "bridge: write failed; retrying");
                        self.pause();
                        // Part of the batch may have been written: ask where the sink stands.
                        match self.read_cursor(index)? {
                            Some(read) => *cursor = read,
                            None => return Ok(false),
                        }
                    }
                }
            }
        }
        Ok(true)
    }
}
