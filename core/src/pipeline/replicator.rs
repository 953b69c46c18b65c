//! The replicator stage. It reads the same slots as the journaler, in parallel, and the matcher
//! waits for both; until replication gives it a standby to stream to, it passes commands through.
//! The topology is in place so that adding a peer changes this stage only.

use disruptor::Sequence;

use super::InputSlot;

pub(crate) struct Replicator;

impl Replicator {
    /// The ring handler: nothing to send without a peer.
    #[inline]
    pub fn on_command(&mut self, _slot: &InputSlot, _sequence: Sequence, _end_of_batch: bool) {}
}
