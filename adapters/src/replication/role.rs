//! What this node is in its pair, shared by the gateway loop (which refuses orders unless the
//! node is the primary), the replication threads (which change it) and `/status`.
//!
//! Everything here is cold: the gateway reads the role once per logon and once per timer tick,
//! never per order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

/// The node's part in the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleState {
    /// Accepts orders (also a node without `[replication]`).
    Primary,
    /// Applies its primary's stream; accepts no orders.
    Standby,
    /// Was primary and learnt of a higher epoch: another node is primary now. Accepts no orders.
    SteppedDown,
}

impl RoleState {
    fn from_u8(v: u8) -> RoleState {
        match v {
            0 => RoleState::Primary,
            1 => RoleState::Standby,
            _ => RoleState::SteppedDown,
        }
    }

    /// `primary` or `standby`, as `/status` writes it (a stepped-down node is no primary).
    pub fn name(self) -> &'static str {
        match self {
            RoleState::Primary => "primary",
            RoleState::Standby | RoleState::SteppedDown => "standby",
        }
    }
}

/// What the node does when the gateway stops because its role changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejoin {
    /// Nothing: an ordinary stop.
    No,
    /// Start again as a standby (this node stepped down).
    AsStandby,
    /// Drop every journal record after this sequence (its primary never had them), then start
    /// again as a standby.
    Truncating(u64),
}

/// The shared role.
#[derive(Debug)]
pub struct NodeRole {
    state: AtomicU8,
    /// The epoch history after epoch 1 as (epoch, first sequence): what a standby's handshake
    /// is checked against.
    epochs: Mutex<Vec<(u64, u64)>>,
    current_epoch: AtomicU64,
    stepped_down_by: AtomicU64,
    promotion_requested: AtomicBool,
    /// The answer for whoever asked for the promotion, once it is done (or failed).
    promotion_outcome: Mutex<Option<Result<String, String>>>,
    rejoin: Mutex<Rejoin>,
    /// Why the primary refused this standby for good (configuration, epoch), for `/status`.
    refused: Mutex<Option<String>>,
}

impl NodeRole {
    /// A node starting as `state` with the recovered epoch history.
    pub fn new(state: RoleState, epochs: Vec<(u64, u64)>) -> NodeRole {
        let current = epochs.last().map_or(1, |e| e.0);
        NodeRole {
            state: AtomicU8::new(state as u8),
            epochs: Mutex::new(epochs),
            current_epoch: AtomicU64::new(current),
            stepped_down_by: AtomicU64::new(0),
            promotion_requested: AtomicBool::new(false),
            promotion_outcome: Mutex::new(None),
            rejoin: Mutex::new(Rejoin::No),
            refused: Mutex::new(None),
        }
    }

    /// The current role.
    pub fn state(&self) -> RoleState {
        RoleState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Why client logons and orders are refused, or `None` on the primary.
    pub fn refusal(&self) -> Option<String> {
        match self.state() {
            RoleState::Primary => None,
            RoleState::Standby => {
                Some("this node is a standby: it accepts no orders (connect to the primary)".into())
            }
            RoleState::SteppedDown => Some(format!(
                "this node stepped down: epoch {} has another primary (connect to it)",
                self.stepped_down_by.load(Ordering::Acquire)
            )),
        }
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.current_epoch.load(Ordering::Acquire)
    }

    /// The current epoch and the sequence it began at (`(1, 1)` before any promotion).
    pub fn epoch_start(&self) -> (u64, u64) {
        self.epochs().last().copied().unwrap_or((1, 1))
    }

    /// The epoch history after epoch 1.
    pub fn epochs(&self) -> Vec<(u64, u64)> {
        self.epochs.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The matcher raised the epoch (this node's promotion, or its primary's, replicated).
    /// Idempotent: the promotion and the event that reports it both call it.
    pub fn record_epoch(&self, epoch: u64, start_seq: u64) {
        if let Ok(mut epochs) = self.epochs.lock() {
            if epochs.last().is_none_or(|&(last, _)| epoch > last) && epoch > 1 {
                epochs.push((epoch, start_seq));
                self.current_epoch.fetch_max(epoch, Ordering::AcqRel);
            }
        }
    }

    /// This node is the primary now (its promotion is journaled).
    pub fn become_primary(&self) {
        self.state
            .store(RoleState::Primary as u8, Ordering::Release);
    }

    /// A node of `higher_epoch` exists: stop taking orders. Returns true the first time.
    pub fn step_down(&self, higher_epoch: u64) -> bool {
        self.stepped_down_by
            .fetch_max(higher_epoch, Ordering::AcqRel);
        let was = self
            .state
            .swap(RoleState::SteppedDown as u8, Ordering::AcqRel);
        was != RoleState::SteppedDown as u8
    }

    /// The epoch that made this node step down (0 if it has not).
    pub fn stepped_down_by(&self) -> u64 {
        self.stepped_down_by.load(Ordering::Acquire)
    }

    /// An operator (or the missed heartbeats) asks for a promotion. Refused unless this node is a
    /// standby and no promotion is under way.
    pub fn request_promotion(&self) -> Result<(), String> {
        match self.state() {
            RoleState::Primary => Err("promote: this node is already the primary".into()),
            RoleState::SteppedDown => Err(
                "promote: this node stepped down after a failover; it rejoins as a standby".into(),
            ),
            RoleState::Standby => {
                if self.promotion_requested.swap(true, Ordering::AcqRel) {
                    Err("promote: a promotion is already under way".into())
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Whether a promotion was asked for.
    pub fn promotion_requested(&self) -> bool {
        self.promotion_requested.load(Ordering::Acquire)
    }

    /// The promotion is over (`Ok` = this node is primary), with a sentence for the operator.
    pub fn finish_promotion(&self, outcome: Result<String, String>) {
        if outcome.is_err() {
            self.promotion_requested.store(false, Ordering::Release);
        }
        if let Ok(mut slot) = self.promotion_outcome.lock() {
            *slot = Some(outcome);
        }
    }

    /// The promotion's outcome, once (for the admin who asked).
    pub fn take_promotion_outcome(&self) -> Option<Result<String, String>> {
        self.promotion_outcome
            .lock()
            .ok()
            .and_then(|mut o| o.take())
    }

    /// The gateway must stop and start again as a standby.
    pub fn request_rejoin(&self, rejoin: Rejoin) {
        if let Ok(mut slot) = self.rejoin.lock() {
            // Truncating wins over a plain rejoin: the tail must go either way.
            if !matches!(*slot, Rejoin::Truncating(_)) {
                *slot = rejoin;
            }
        }
    }

    /// What the node must do after its gateway stopped.
    pub fn rejoin(&self) -> Rejoin {
        self.rejoin.lock().map_or(Rejoin::No, |r| *r)
    }

    /// The primary refused this standby for good; the node stays up, alarmed.
    pub fn set_refused(&self, why: String) {
        if let Ok(mut slot) = self.refused.lock() {
            *slot = Some(why);
        }
    }

    /// Why the primary refused this standby, if it did.
    pub fn refused(&self) -> Option<String> {
        self.refused.lock().ok().and_then(|r| r.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_primary_takes_orders() {
        let role = NodeRole::new(RoleState::Primary, Vec::new());
        assert_eq!(role.refusal(), None);
        assert!(role.step_down(3));
        assert!(!role.step_down(2), "stepping down twice reports once");
        let why = role.refusal().unwrap_or_default();
        assert!(why.contains("epoch 3"), "{why}");
        assert_eq!(role.state().name(), "standby");
        let standby = NodeRole::new(RoleState::Standby, Vec::new());
        assert!(standby.refusal().unwrap_or_default().contains("standby"));
    }

    #[test]
    fn epochs_only_rise() {
        let role = NodeRole::new(RoleState::Standby, vec![(2, 10)]);
        assert_eq!(role.epoch_start(), (2, 10));
        role.record_epoch(3, 20);
        role.record_epoch(3, 20);
        role.record_epoch(2, 30);
        assert_eq!(role.epochs(), vec![(2, 10), (3, 20)]);
        assert_eq!(role.epoch(), 3);
    }

    #[test]
    fn a_promotion_is_asked_for_once_and_only_on_a_standby() {
        let role = NodeRole::new(RoleState::Standby, Vec::new());
        assert!(role.request_promotion().is_ok());
        assert!(role.request_promotion().is_err());
        role.finish_promotion(Err("no".into()));
        assert_eq!(role.take_promotion_outcome(), Some(Err("no".into())));
        assert_eq!(role.take_promotion_outcome(), None);
        assert!(
            role.request_promotion().is_ok(),
            "a failed promotion can be retried"
        );
        role.become_primary();
        assert!(role.request_promotion().is_err());
    }

    #[test]
    fn truncation_is_not_forgotten_by_a_later_rejoin() {
        let role = NodeRole::new(RoleState::Primary, Vec::new());
        assert_eq!(role.rejoin(), Rejoin::No);
        role.request_rejoin(Rejoin::Truncating(7));
        role.request_rejoin(Rejoin::AsStandby);
        assert_eq!(role.rejoin(), Rejoin::Truncating(7));
    }
}
