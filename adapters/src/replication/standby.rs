//! The standby's side: the primary's records go into this node's own pipeline, in order and
//! exactly once, so its journal holds the same records at the same sequences and its matcher
//! reaches the same state (the same digest at the same sequence).

use hayate_core::command::Command;
use hayate_core::pipeline::{PublishError, Publisher};

/// Why a record could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A record is missing: the stream skipped from `expected` to `got` (reconnect and resume).
    #[error("replication gap: expected sequence {expected}, got {got}")]
    Gap {
        /// The sequence this node needs next.
        expected: u64,
        /// The sequence that came.
        got: u64,
    },
    /// This node's pipeline does not take commands any more.
    #[error("the standby's pipeline refused the record: {0}")]
    Pipeline(String),
}

/// Publishes the primary's records into the standby's pipeline.
pub struct Applier {
    publisher: Publisher,
    next_seq: u64,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl Applier {
    /// An applier for a pipeline whose journal ends at `last_seq`. Nothing else may publish to
    /// that pipeline: the journal numbers records in arrival order, and they must keep the
    /// primary's numbers.
    pub fn new(publisher: Publisher, last_seq: u64) -> Applier {
        Applier {
            publisher,
            next_seq: last_seq + 1,
        }
    }

    /// The sequence this node needs next.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Applies record `seq`. A record already applied (a retransmission after a reconnect) is
    /// skipped; a gap is an error.
    pub fn apply(&mut self, seq: u64, command: &Command) -> Result<(), ApplyError> {
        if seq < self.next_seq {
            return Ok(());
        }
        if seq > self.next_seq {
            return Err(ApplyError::Gap {
                expected: self.next_seq,
                got: seq,
            });
        }
        match self.publisher.publish(command) {
            Ok(()) => {
                self.next_seq += 1;
                Ok(())
            }
            Err(PublishError::Full) => Err(ApplyError::Pipeline("ring full".to_owned())),
            Err(e) => Err(ApplyError::Pipeline(e.to_string())),
        }
    }
}
