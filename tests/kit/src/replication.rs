//! What the replication tests (`tests/replication.rs`, `tests/observers.rs`) share: a node that
//! never changes epoch, standing in for the gateway's, and the resting limit orders they stream.

use hayate::adapters::replication::primary::PrimaryState;
use hayate::adapters::replication::standby::StandbyState;
use hayate::pipeline::Monitor;
use hayate::{AccountId, ClientOrderId, Command, NewOrder, Price, Qty, Side, SymbolId};

/// A node of epoch 1 that is never told to step down: the pipeline's monitor answers what a
/// primary or a standby is asked about itself.
pub struct EpochOneNode(pub Monitor);

impl PrimaryState for EpochOneNode {
    fn epochs(&self) -> Vec<(u64, u64)> {
        Vec::new()
    }
    fn last_seq(&self) -> u64 {
        self.0.stats().durable_seq
    }
    fn step_down(&self, _higher_epoch: u64) {}
}

impl StandbyState for EpochOneNode {
    fn epoch(&self) -> (u64, u64) {
        (1, 1)
    }
    fn durable_seq(&self) -> u64 {
        self.0.stats().durable_seq
    }
    fn applied_seq(&self) -> u64 {
        self.0.stats().processed_seq
    }
}

/// Order `n` of `account` on the demo's first symbol: buys and sells in turn, a few ticks
/// around 5,000,000, so some trade and most rest. Its client order id is `n`, timestamp `n`.
pub fn demo_order(account: u32, n: u64) -> Command {
    let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
    let id = ClientOrderId::new(&n.to_string()).expect("a short id");
    Command::new_order(NewOrder::limit(
        AccountId(account),
        SymbolId(0),
        side,
        Price(4_999_990 + n % 20),
        Qty(1 + n % 3),
        id,
    ))
    .at(n)
}
