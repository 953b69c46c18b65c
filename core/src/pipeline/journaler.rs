//! The journaler stage: appends every command's bytes to the journal and commits once per ring
//! batch (group commit), then publishes the durable sequence and wakes the matcher, which acts
//! only on commands at or below it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam::channel::Sender;
use disruptor::Sequence;
use hayate_journal::Journal;

use super::{Health, InputSlot, ReplicaLink, StageDone, panic_message};

pub(crate) struct Journaler {
    journal: Journal,
    /// Journal sequence of ring sequence 0, minus one.
    base: u64,
    health: Arc<Health>,
    done: Sender<StageDone>,
    /// Segments at or below this sequence have been deleted (retention).
    deleted_through: u64,
    /// Bytes appended since the last commit.
    batch_bytes: u64,
    /// The replication transport, woken when it sleeps and the journal grows.
    replica: Option<Arc<ReplicaLink>>,
}

impl Journaler {
    pub fn new(
        journal: Journal,
        base: u64,
        health: Arc<Health>,
        done: Sender<StageDone>,
        replica: Option<Arc<ReplicaLink>>,
    ) -> Journaler {
        Journaler {
            journal,
            base,
            health,
            done,
            deleted_through: 0,
            batch_bytes: 0,
            replica,
        }
    }

    /// The ring handler: append, and at the end of the batch commit.
    pub fn on_command(&mut self, slot: &InputSlot, sequence: Sequence, end_of_batch: bool) {
        if self.health.has_failed() {
            return;
        }
        let step = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
            let seq = self
                .journal
                .append(slot.command.as_bytes())
                .map_err(|e| e.to_string())?;
            let expected = self.base + sequence as u64 + 1;
            if seq != expected {
                return Err(format!(
                    "journal gave sequence {seq} to ring slot {expected}"
                ));
            }
            self.batch_bytes +=
                hayate_journal::record::frame_len(slot.command.as_bytes().len()) as u64;
            if end_of_batch {
                if let Some(replica) = &self.replica {
                    replica.journal_appended(seq);
                }
                // vDSO clock reads, not system calls: what /metrics shows as flush time.
                let started = std::time::Instant::now();
                let durable = self.journal.commit().map_err(|e| e.to_string())?;
                let stats = &self.health.stats;
                stats
                    .commit_ns
                    .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats
                    .journal_bytes
                    .fetch_add(std::mem::take(&mut self.batch_bytes), Ordering::Relaxed);
                self.health.durable_seq.store(durable, Ordering::Release);
                // The matcher may sleep until this batch is durable; a standby's transport
                // acknowledges it.
                self.health.gate.notify();
                if let Some(replica) = &self.replica {
                    replica.journal_durable();
                }
                self.retire_covered_segments()?;
            }
            Ok(())
        }));
        match step {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.health.fail(format!("journaler: {e}")),
            Err(panic) => self
                .health
                .fail(format!("journaler panicked: {}", panic_message(&*panic))),
        }
    }
}

impl Journaler {
    /// Retention, once per periodic snapshot: deletes the segments the oldest kept snapshot
    /// covers (a few unlinks; never per command).
    fn retire_covered_segments(&mut self) -> Result<(), String> {
        let retain = self.health.retain_through.load(Ordering::Acquire);
        if retain > self.deleted_through {
            self.journal
                .delete_segments_through(retain)
                .map_err(|e| e.to_string())?;
            self.deleted_through = retain;
        }
        Ok(())
    }
}

impl Drop for Journaler {
    /// The final flush: whatever the policy, everything appended is made durable at stop.
    fn drop(&mut self) {
        let result = self.journal.sync().map_err(|e| e.to_string());
        if let Ok(durable) = result {
            self.health.durable_seq.store(durable, Ordering::Release);
            self.health.gate.notify();
            if let Some(replica) = &self.replica {
                replica.journal_durable();
            }
        }
        // Retention a snapshot asked for after the last batch is applied now.
        let result = result.and_then(|durable| {
            if self.health.has_failed() {
                return Ok(durable);
            }
            self.retire_covered_segments()
                .map(|()| durable)
                .map_err(|e| format!("retention at stop: {e}"))
        });
        // The receiver is gone only if the pipeline handle was dropped without stop().
        let _ = self.done.send(StageDone::Journaler(result));
    }
}
