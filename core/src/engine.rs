//! The matching engine (skeleton: being implemented).

use crate::command::Command;
use crate::event::EventSink;
use crate::market::EngineConfig;
use crate::snapshot::SnapshotError;
use crate::units::*;

/// One account's balance in one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountBalance {
    /// Free to use.
    pub available: Amount,
    /// Held by open orders.
    pub reserved: Amount,
}

/// A read-only view of an open order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderView {
    /// The engine's id.
    pub id: OrderId,
    /// The owner.
    pub account: AccountId,
    /// The symbol.
    pub symbol: SymbolId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price in ticks.
    pub price: Price,
    /// Total quantity (FIX OrderQty), shrunk by self-trade decrements.
    pub order_qty: Qty,
    /// Still open.
    pub leaves_qty: Qty,
    /// Filled.
    pub cum_qty: Qty,
    /// Σ price × qty of fills, tick·lots.
    pub cum_cost: u64,
    /// Current ClOrdID.
    pub client_order_id: ClientOrderId,
    /// Time in force (only GTC orders rest).
    pub time_in_force: TimeInForce,
    /// Post-only flag.
    pub post_only: bool,
    /// STP mode it uses as a taker.
    pub stp: SelfTradePrevention,
}

/// The matching engine.
pub struct Engine {
    config: EngineConfig,
}

impl Engine {
    /// A new engine with empty books and the configured accounts at zero.
    pub fn new(config: EngineConfig) -> Engine {
        Engine { config }
    }
    /// Applies one command, writing its events to `out`.
    pub fn process<S: EventSink>(&mut self, _cmd: &Command, _out: &mut S) {
        todo!()
    }
    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }
    /// Balance of an account in an asset; `None` for an unknown account or asset.
    pub fn balance(&self, _account: AccountId, _asset: AssetId) -> Option<AccountBalance> {
        todo!()
    }
    /// An open order.
    pub fn order(&self, _id: OrderId) -> Option<OrderView> {
        todo!()
    }
    /// An account's open orders in acceptance order.
    pub fn open_orders(&self, _account: AccountId) -> Vec<OrderView> {
        todo!()
    }
    /// Levels of one side, best first: (price, total leaves, order count).
    pub fn depth(&self, _symbol: SymbolId, _side: Side) -> Vec<(Price, Qty, u32)> {
        todo!()
    }
    /// Last trade price, or the configured reference price before the first trade.
    pub fn reference_price(&self, _symbol: SymbolId) -> Option<Price> {
        todo!()
    }
    /// True if the symbol (or, with `None`, the exchange) is halted by its own flag.
    pub fn is_halted(&self, _symbol: Option<SymbolId>) -> bool {
        todo!()
    }
    /// All known account ids.
    pub fn accounts(&self) -> Vec<AccountId> {
        todo!()
    }
    /// Deposits minus withdrawals of an asset.
    pub fn supply(&self, _asset: AssetId) -> Amount {
        todo!()
    }
    /// The next order id the engine will give.
    pub fn next_order_id(&self) -> OrderId {
        todo!()
    }
    /// A hash over all state.
    pub fn digest(&self) -> u64 {
        todo!()
    }
    /// The whole state as snapshot bytes.
    pub fn save(&self) -> Vec<u8> {
        todo!()
    }
    /// Rebuilds an engine from [`Engine::save`] bytes.
    pub fn load(_bytes: &[u8]) -> Result<Engine, SnapshotError> {
        todo!()
    }
    /// Checks every invariant of SPEC §2–§3; `Err` names the first broken one.
    pub fn check_invariants(&self) -> Result<(), String> {
        todo!()
    }
}
