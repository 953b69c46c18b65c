//! The matching engine: the business logic processor of BEHAVIOUR.md §1–§3.
//!
//! Single-threaded, no I/O, no clock: [`Engine::process`] applies one [`Command`] and writes its
//! [`Event`]s to a sink. Everything is an integer, every sum is checked, and the steady state
//! allocates nothing (orders live in a reused arena, levels in preallocated vectors, indices in
//! preallocated hash maps with a fast hasher).

use crate::command::{COMMAND_VERSION, Command, CommandKind};
use crate::event::{EVENT_FLAG_POST_ONLY, Event, EventKind, EventSink, OrderStatus, Reason};
use crate::units::{
    AccountId, Amount, ClientOrderId, OrderId, Price, Qty, SelfTradePrevention, Side, SymbolId,
    TimeInForce,
};
use accounts::Accounts;
use book::{Arena, Book, Order};
use index::OrderIndex;

mod accounts;
mod admission;
mod amendments;
mod book;
mod breaker;
mod config;
mod funds;
mod index;
mod invariants;
mod matching;
mod operator;
mod orders;
mod queries;
mod refusal;
mod snapshot;

pub use crate::fields::SnapshotError;
pub use config::{AssetSpec, BPS, BreakerSpec, EngineConfig, SymbolSpec};
pub use refusal::refusal;

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
    pub(crate) config: EngineConfig,
    pub(crate) state: State,
}

/// Everything that changes. Kept apart from the configuration so a symbol's spec can be borrowed
/// while the books and balances are mutated.
pub(crate) struct State {
    pub books: Vec<Book>,
    pub arena: Arena,
    /// Open orders by order id and by (account index, ClOrdID).
    pub index: OrderIndex,
    pub accounts: Accounts,
    pub exchange_halted: bool,
    /// (epoch, first sequence) of every epoch after the first (epoch 1 starts at sequence 1).
    pub epochs: Vec<(u64, u64)>,
    pub next_order_id: u64,
    pub next_trade_id: u64,
    pub max_open_orders: u32,
    /// The engine's time: the largest command timestamp seen so far. The circuit breaker measures
    /// by it, so a command stamped a little earlier than one before it (two gateway threads) never
    /// moves time back.
    pub clock: u64,
    /// The earliest time a circuit breaker's halt ends (`u64::MAX` when none is on), so a command
    /// checks one number, not every symbol.
    pub breaker_deadline: u64,
}

impl Engine {
    /// A new engine with empty books and the configured accounts (and the fee account) at zero.
    pub fn new(config: EngineConfig) -> Engine {
        let order_capacity = config.order_capacity as usize;
        let level_capacity = config.level_capacity as usize;
        let mut accounts = Accounts::new(config.assets.len());
        for &id in &config.accounts {
            accounts.get_or_create(id);
        }
        let state = State {
            books: config
                .symbols
                .iter()
                .map(|s| Book::new(s.reference_price, level_capacity))
                .collect(),
            arena: Arena::with_capacity(order_capacity),
            index: OrderIndex::with_capacity(order_capacity),
            accounts,
            exchange_halted: false,
            epochs: Vec::new(),
            next_order_id: 1,
            next_trade_id: 1,
            max_open_orders: config.max_open_orders,
            clock: 0,
            breaker_deadline: u64::MAX,
        };
        Engine { config, state }
    }

    /// Applies one command, writing its events to `out` (at least one).
    pub fn process<S: EventSink>(&mut self, cmd: &Command, out: &mut S) {
        let kind = match cmd.command_kind() {
            Some(kind) if cmd.version == COMMAND_VERSION => kind,
            _ => {
                let mut e = Event::new(EventKind::CommandRejected);
                e.reason = Reason::Malformed as u8;
                e.account = cmd.account;
                e.client_order_id = cmd.client_order_id;
                out.emit(&e);
                return;
            }
        };
        let config = &self.config;
        let state = &mut self.state;
        state.clock = state.clock.max(cmd.timestamp_ns);
        if state.clock >= state.breaker_deadline {
            // BEHAVIOUR.md §10: the first command at or after the end of a breaker's halt resumes
            // the symbol before it is processed.
            state.end_breaker_halts(out);
        }
        match kind {
            CommandKind::NewOrder => state.new_order(config, cmd, out),
            CommandKind::Cancel => state.cancel(config, cmd, out),
            CommandKind::Replace => state.replace(config, cmd, out),
            CommandKind::MassCancel => state.mass_cancel(config, cmd, out),
            CommandKind::QueryOrder => state.query(cmd, out),
            CommandKind::Deposit => state.deposit(config, cmd, out),
            CommandKind::Withdraw => state.withdraw(config, cmd, out),
            CommandKind::Halt | CommandKind::Resume => state.halt(config, cmd, kind, out),
            CommandKind::Snapshot => out.emit(&Event::new(EventKind::SnapshotMarked)),
            CommandKind::Epoch => state.raise_epoch(cmd, out),
            CommandKind::Block | CommandKind::Unblock => state.block(config, cmd, kind, out),
            CommandKind::Notice => out.emit(&notice_recorded(cmd)),
        }
    }
}

/// The acknowledgement of one notice part (`detail`: the part, the parts, the action, the
/// incident it is about): the engine keeps no notice, readers of the journal do.
fn notice_recorded(cmd: &Command) -> Event {
    let mut e = Event::new(EventKind::NoticeRecorded);
    if let Some(part) = cmd.notice_part() {
        e.detail = [
            u64::from(part.part),
            u64::from(part.parts),
            u64::from(part.action),
            part.target,
        ];
    }
    e
}

impl State {
    pub(super) fn view(&self, slot: u32) -> OrderView {
        let o = self.arena.get(slot);
        OrderView {
            id: o.id,
            account: self.accounts.id(o.account),
            symbol: o.symbol,
            side: o.side,
            price: o.price,
            order_qty: o.order_qty,
            leaves_qty: o.leaves,
            cum_qty: o.cum,
            cum_cost: o.cum_cost,
            client_order_id: o.client_order_id,
            time_in_force: o.tif,
            post_only: o.post_only,
            stp: o.stp,
        }
    }

    /// An event describing the order in `slot` as it is now.
    pub(super) fn order_event(&self, kind: EventKind, slot: u32) -> Event {
        let o = self.arena.get(slot);
        let mut e = Event::new(kind);
        e.side = o.side as u8;
        e.order_type = o.order_type as u8;
        e.time_in_force = o.tif as u8;
        e.status = status_of(o) as u8;
        e.flags = if o.post_only { EVENT_FLAG_POST_ONLY } else { 0 };
        e.account = self.accounts.id(o.account);
        e.symbol = o.symbol;
        e.order_id = o.id;
        e.price = o.price;
        e.order_qty = o.order_qty;
        e.leaves_qty = o.leaves;
        e.cum_qty = o.cum;
        e.cum_cost = o.cum_cost;
        e.client_order_id = o.client_order_id;
        e
    }

    /// The `Canceled` event for the order in `slot`: nothing left open.
    pub(super) fn canceled_event(&self, slot: u32, reason: Reason) -> Event {
        let mut e = self.order_event(EventKind::Canceled, slot);
        e.reason = reason as u8;
        e.status = OrderStatus::Canceled as u8;
        e.leaves_qty = Qty(0);
        e.set_orig_client_order_id(self.arena.get(slot).client_order_id);
        e
    }
}

/// What an open buy order at `price` with `leaves` holds; its hold was computed without overflow
/// when it was admitted, and leaves only shrink, so this never falls back.
#[inline]
fn hold_of(spec: &SymbolSpec, price: Price, leaves: u64) -> u64 {
    spec.buy_hold(price, Qty(leaves)).map_or(0, |h| h.0)
}

/// An open order's status from its quantities.
fn status_of(o: &Order) -> OrderStatus {
    if o.leaves.0 == 0 && o.cum.0 > 0 {
        OrderStatus::Filled
    } else if o.cum.0 > 0 {
        OrderStatus::PartiallyFilled
    } else {
        OrderStatus::New
    }
}
