//! The matching engine: the business logic processor of SPEC §1–§3.
//!
//! Single-threaded, no I/O, no clock: [`Engine::process`] applies one [`Command`] and writes its
//! [`Event`]s to a sink. Everything is an integer, every sum is checked, and the steady state
//! allocates nothing (orders live in a reused arena, levels in preallocated vectors, indices in
//! preallocated hash maps with a fast hasher).

use crate::account::{Accounts, NIL};
use crate::book::{Arena, Book, Order, crosses};
use crate::command::{COMMAND_VERSION, Command, CommandKind, FLAG_CANCEL_ON_DISCONNECT};
use crate::event::{
    Balance, EVENT_FLAG_ALL_SYMBOLS, EVENT_FLAG_MAKER, EVENT_FLAG_POST_ONLY, Event, EventKind,
    EventSink, Fill, OrderStatus, Reason,
};
use crate::index::OrderIndex;
use crate::market::{EngineConfig, SymbolSpec};
use crate::snapshot::SnapshotError;
use crate::units::{
    AccountId, Amount, AssetId, ClientOrderId, OrderId, OrderType, Price, Qty, SelfTradePrevention,
    Side, SymbolId, TimeInForce, TradeId,
};

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
}

/// The outcome of validating a new order: what it holds and at which price it trades.
struct Admitted {
    price: Price,
    tif: TimeInForce,
    hold_asset: AssetId,
    hold: u64,
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
        }
    }

    /// The current replication epoch and the sequence it began at (`(1, 1)` until a promotion).
    pub fn epoch(&self) -> (u64, u64) {
        self.state.epochs.last().copied().unwrap_or((1, 1))
    }

    /// Every epoch after the first, as (epoch, first sequence), oldest first.
    pub fn epochs(&self) -> &[(u64, u64)] {
        &self.state.epochs
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Balance of an account in an asset; `None` for an unknown account or asset.
    pub fn balance(&self, account: AccountId, asset: AssetId) -> Option<AccountBalance> {
        self.config.asset(asset)?;
        let index = self.state.accounts.find(account)?;
        let cell = self.state.accounts.cell(index, asset);
        Some(AccountBalance {
            available: Amount(cell.available),
            reserved: Amount(cell.reserved),
        })
    }

    /// An open order.
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        let slot = self.state.index.by_id(&self.state.arena, id)?;
        Some(self.state.view(slot))
    }

    /// An account's open orders, oldest first.
    pub fn open_orders(&self, account: AccountId) -> Vec<OrderView> {
        let mut orders = Vec::new();
        if let Some(index) = self.state.accounts.find(account) {
            let mut slot = self.state.accounts.orders(index).head;
            while slot != NIL {
                orders.push(self.state.view(slot));
                slot = self.state.arena.get(slot).account_next;
            }
        }
        orders
    }

    /// Levels of one side, best first: (price, total leaves, order count).
    pub fn depth(&self, symbol: SymbolId, side: Side) -> Vec<(Price, Qty, u32)> {
        self.state
            .books
            .get(symbol.0 as usize)
            .map(|book| {
                book.side(side)
                    .iter_best_first()
                    .map(|l| (l.price, Qty(l.total), l.count))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The last trade's price, or the configured reference price before the first trade.
    pub fn reference_price(&self, symbol: SymbolId) -> Option<Price> {
        self.state.books.get(symbol.0 as usize)?.reference_price
    }

    /// True if the symbol's own halt flag is set, or with `None`, the exchange's.
    pub fn is_halted(&self, symbol: Option<SymbolId>) -> bool {
        match symbol {
            None => self.state.exchange_halted,
            Some(s) => self.state.books.get(s.0 as usize).is_some_and(|b| b.halted),
        }
    }

    /// All account ids, in the order they came to exist (the fee account first).
    pub fn accounts(&self) -> Vec<AccountId> {
        self.state.accounts.ids().to_vec()
    }

    /// Deposits minus withdrawals of an asset: what all balances of it add up to.
    pub fn supply(&self, asset: AssetId) -> Amount {
        Amount(self.state.accounts.supply(asset))
    }

    /// The id the next accepted order will get.
    pub fn next_order_id(&self) -> OrderId {
        OrderId(self.state.next_order_id)
    }

    /// The id the next trade will get.
    pub fn next_trade_id(&self) -> TradeId {
        TradeId(self.state.next_trade_id)
    }

    /// Checks every invariant of SPEC §2–§3: conservation per asset, balances within bounds, every
    /// reservation equal to the holds of its open orders, books uncrossed, level totals and
    /// indices consistent. `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.state.check_invariants(&self.config)
    }

    /// Loads an engine from [`Engine::save`] bytes, checking every field and then every
    /// invariant, so damaged bytes are an error, never a panic or a silently wrong engine.
    pub fn load(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        crate::snapshot::load(bytes)
    }
}

impl State {
    fn view(&self, slot: u32) -> OrderView {
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
    fn order_event(&self, kind: EventKind, slot: u32) -> Event {
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
    fn canceled_event(&self, slot: u32, reason: Reason) -> Event {
        let mut e = self.order_event(EventKind::Canceled, slot);
        e.reason = reason as u8;
        e.status = OrderStatus::Canceled as u8;
        e.leaves_qty = Qty(0);
        e.set_orig_client_order_id(self.arena.get(slot).client_order_id);
        e
    }

    // ----- new orders ---------------------------------------------------------------------

    fn new_order<S: EventSink>(&mut self, config: &EngineConfig, cmd: &Command, out: &mut S) {
        match self.admit(config, cmd) {
            Ok((account, admitted)) => self.accept(config, cmd, account, admitted, out),
            Err(reason) => {
                let mut e = Event::new(EventKind::Rejected);
                e.reason = reason as u8;
                e.status = OrderStatus::Rejected as u8;
                e.side = cmd.side;
                e.order_type = cmd.order_type;
                e.time_in_force = cmd.time_in_force;
                e.flags = if cmd.is_post_only() {
                    EVENT_FLAG_POST_ONLY
                } else {
                    0
                };
                e.account = cmd.account;
                e.symbol = cmd.symbol;
                e.price = cmd.price;
                e.order_qty = Qty(cmd.qty);
                e.leaves_qty = Qty(0);
                e.client_order_id = cmd.client_order_id;
                out.emit(&e);
            }
        }
    }

    /// Validates a new order in SPEC §3's order (first failure wins) and returns the account index
    /// and what the order will hold. Changes nothing.
    fn admit(&self, config: &EngineConfig, cmd: &Command) -> Result<(u32, Admitted), Reason> {
        // A command no gateway would build (bad enum bytes) is refused before the SPEC's checks.
        let (Some(side), Some(order_type), Some(tif), Some(_)) = (
            Side::from_u8(cmd.side),
            OrderType::from_u8(cmd.order_type),
            TimeInForce::from_u8(cmd.time_in_force),
            SelfTradePrevention::from_u8(cmd.stp),
        ) else {
            return Err(Reason::InvalidOrder);
        };
        let spec = config.symbol(cmd.symbol).ok_or(Reason::UnknownSymbol)?;
        let book = &self.books[cmd.symbol.0 as usize];
        if cmd.account == AccountId::FEES {
            return Err(Reason::UnknownAccount);
        }
        let account = self
            .accounts
            .find(cmd.account)
            .ok_or(Reason::UnknownAccount)?;
        if self.exchange_halted || book.halted {
            return Err(Reason::Halted);
        }
        let market = order_type == OrderType::Market;
        if !market && cmd.price.0 == 0 {
            return Err(Reason::InvalidPrice);
        }
        let qty = Qty(cmd.qty);
        if qty.0 == 0 || qty < spec.min_qty || qty > spec.max_qty {
            return Err(Reason::InvalidQty);
        }
        if !market && spec.notional(cmd.price, qty).is_none() {
            return Err(Reason::InvalidQty);
        }
        if cmd.is_post_only() && (market || tif != TimeInForce::Gtc) {
            return Err(Reason::InvalidOrder);
        }
        if !cmd.client_order_id.is_well_formed() {
            return Err(Reason::InvalidOrder);
        }
        if self
            .index
            .by_client(&self.arena, account, &cmd.client_order_id)
            .is_some()
        {
            return Err(Reason::DuplicateOrder);
        }
        // SPEC §8: a market order is IOC unless it says FOK, at the band's protection price.
        let (price, tif) = if market {
            let band = book
                .reference_price
                .and_then(|r| spec.band(r))
                .ok_or(Reason::NoReferencePrice)?;
            let price = if side == Side::Buy { band.1 } else { band.0 };
            if spec.notional(price, qty).is_none() {
                return Err(Reason::InvalidQty);
            }
            let tif = if tif == TimeInForce::Fok {
                TimeInForce::Fok
            } else {
                TimeInForce::Ioc
            };
            (price, tif)
        } else {
            if let Some((low, high)) = book.reference_price.and_then(|r| spec.band(r)) {
                if cmd.price < low || cmd.price > high {
                    return Err(Reason::PriceBand);
                }
            }
            (cmd.price, tif)
        };
        if self.accounts.orders(account).open >= self.max_open_orders {
            return Err(Reason::TooManyOrders);
        }
        let (hold_asset, hold) = match side {
            Side::Buy => (
                spec.quote,
                spec.buy_hold(price, qty)
                    .ok_or(Reason::InsufficientFunds)?
                    .0,
            ),
            // SPEC §8: a reservation that overflows is INSUFFICIENT_FUNDS (a sell holds base).
            Side::Sell => (
                spec.base,
                spec.base_amount(qty).ok_or(Reason::InsufficientFunds)?.0,
            ),
        };
        if self.accounts.cell(account, hold_asset).available < hold {
            return Err(Reason::InsufficientFunds);
        }
        if cmd.is_post_only() {
            if let Some(best) = book.side(side.opposite()).best() {
                if crosses(side, price, best.price) {
                    return Err(Reason::PostOnlyWouldTake);
                }
            }
        }
        Ok((
            account,
            Admitted {
                price,
                tif,
                hold_asset,
                hold,
            },
        ))
    }

    /// Books an admitted order (id, hold, indices), reports it, matches it and rests or ends it.
    fn accept<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        account: u32,
        admitted: Admitted,
        out: &mut S,
    ) {
        let spec = &config.symbols[cmd.symbol.0 as usize];
        // Validated in `admit`; the fallbacks are unreachable.
        let side = Side::from_u8(cmd.side).unwrap_or(Side::Buy);
        let order_type = OrderType::from_u8(cmd.order_type).unwrap_or(OrderType::Limit);
        let stp =
            SelfTradePrevention::from_u8(cmd.stp).unwrap_or(SelfTradePrevention::DecrementCancel);
        let reserved = self
            .accounts
            .reserve(account, admitted.hold_asset, admitted.hold);
        debug_assert!(reserved, "admit checked the funds");
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        let slot = self.arena.insert(Order {
            id,
            account,
            symbol: cmd.symbol,
            side,
            order_type,
            tif: admitted.tif,
            stp,
            post_only: cmd.is_post_only(),
            price: admitted.price,
            order_qty: Qty(cmd.qty),
            leaves: Qty(cmd.qty),
            cum: Qty(0),
            cum_cost: 0,
            client_order_id: cmd.client_order_id,
            level: NIL,
            prev: NIL,
            next: NIL,
            account_prev: NIL,
            account_next: NIL,
        });
        self.index(slot);
        out.emit(&self.order_event(EventKind::Accepted, slot));

        if admitted.tif == TimeInForce::Fok {
            if self.fok_available(slot) < cmd.qty {
                self.end(spec, slot, false, Reason::FokUnfilled, out);
                return;
            }
            // FOK ignores the STP mode: own orders met on the way are cancelled, like `CO`.
            self.take(spec, slot, SelfTradePrevention::CancelOldest, out);
        } else {
            self.take(spec, slot, stp, out);
        }
        self.settle_taker(spec, slot, out);
    }

    /// After matching: a GTC remainder rests, any other remainder is cancelled, a filled order ends.
    fn settle_taker<S: EventSink>(&mut self, spec: &SymbolSpec, slot: u32, out: &mut S) {
        let o = self.arena.get(slot);
        if o.leaves.0 == 0 {
            if o.id.0 != 0 {
                self.forget(spec, slot, false);
            }
            return;
        }
        if o.tif == TimeInForce::Gtc {
            let symbol = o.symbol;
            let side = o.side;
            self.books[symbol.0 as usize]
                .side_mut(side)
                .push_back(&mut self.arena, slot);
        } else {
            self.end(spec, slot, false, Reason::IocRemainder, out);
        }
    }

    /// What other accounts offer a FOK order at acceptable prices, counted until it suffices.
    fn fok_available(&self, slot: u32) -> u64 {
        let taker = self.arena.get(slot);
        let book = &self.books[taker.symbol.0 as usize];
        let mut available = 0u64;
        for level in book.side(taker.side.opposite()).iter_best_first() {
            if !crosses(taker.side, taker.price, level.price) {
                break;
            }
            let mut m = level.head;
            while m != NIL {
                let maker = self.arena.get(m);
                if maker.account != taker.account {
                    available = available.saturating_add(maker.leaves.0);
                    if available >= taker.leaves.0 {
                        return available;
                    }
                }
                m = maker.next;
            }
        }
        available
    }

    /// Matches the (unbooked) order in `slot` against the opposite side while prices cross, with
    /// self-trade prevention `stp`. Leaves the order's slot alive unless STP cancelled it (then
    /// its id is set to 0 so `settle_taker` knows).
    fn take<S: EventSink>(
        &mut self,
        spec: &SymbolSpec,
        slot: u32,
        stp: SelfTradePrevention,
        out: &mut S,
    ) {
        let (symbol, side, limit, account) = {
            let t = self.arena.get(slot);
            (t.symbol.0 as usize, t.side, t.price, t.account)
        };
        let maker_side = side.opposite();
        loop {
            let taker_leaves = self.arena.get(slot).leaves.0;
            if taker_leaves == 0 {
                return;
            }
            let Some(level) = self.books[symbol].side(maker_side).best() else {
                return;
            };
            if !crosses(side, limit, level.price) {
                return;
            }
            let maker = level.head;
            let (maker_account, maker_leaves) = {
                let m = self.arena.get(maker);
                (m.account, m.leaves.0)
            };
            if maker_account != account {
                self.fill(spec, slot, maker, taker_leaves.min(maker_leaves), out);
                continue;
            }
            match stp {
                SelfTradePrevention::CancelOldest => {
                    self.end(spec, maker, true, Reason::SelfTrade, out);
                }
                SelfTradePrevention::CancelNewest => {
                    self.end(spec, slot, false, Reason::SelfTrade, out);
                    return;
                }
                SelfTradePrevention::CancelBoth => {
                    self.end(spec, maker, true, Reason::SelfTrade, out);
                    self.end(spec, slot, false, Reason::SelfTrade, out);
                    return;
                }
                SelfTradePrevention::DecrementCancel => {
                    if maker_leaves < taker_leaves {
                        self.end(spec, maker, true, Reason::SelfTrade, out);
                        self.decrement(spec, slot, maker_leaves, false, out);
                    } else if maker_leaves > taker_leaves {
                        self.decrement(spec, maker, taker_leaves, true, out);
                        self.end(spec, slot, false, Reason::SelfTrade, out);
                        return;
                    } else {
                        self.end(spec, maker, true, Reason::SelfTrade, out);
                        self.end(spec, slot, false, Reason::SelfTrade, out);
                        return;
                    }
                }
            }
        }
    }

    /// Trades `qty` between the taker in `taker` and the maker at the head of the best level.
    fn fill<S: EventSink>(
        &mut self,
        spec: &SymbolSpec,
        taker: u32,
        maker: u32,
        qty: u64,
        out: &mut S,
    ) {
        let (taker_side, taker_account, taker_price) = {
            let t = self.arena.get(taker);
            (t.side, t.account, t.price)
        };
        let (maker_account, maker_price, maker_leaves) = {
            let m = self.arena.get(maker);
            (m.account, m.price, m.leaves.0)
        };
        let px = maker_price;
        let q = Qty(qty);
        // Both sides' holds cover notional(px, q): a buy taker's limit is ≥ px, a buy maker's is px.
        let notional = spec.notional(px, q).map_or(0, |n| n.0);
        let taker_fee = SymbolSpec::fee(Amount(notional), spec.taker_fee_bps).0;
        let maker_fee = SymbolSpec::fee(Amount(notional), spec.maker_fee_bps).0;
        let base = spec.base_amount(q).map_or(0, |b| b.0);
        let (buyer, buyer_price, buyer_leaves, buyer_fee, seller, seller_fee) = match taker_side {
            Side::Buy => {
                let leaves = self.arena.get(taker).leaves.0;
                (
                    taker_account,
                    taker_price,
                    leaves,
                    taker_fee,
                    maker_account,
                    maker_fee,
                )
            }
            Side::Sell => (
                maker_account,
                maker_price,
                maker_leaves,
                maker_fee,
                taker_account,
                taker_fee,
            ),
        };
        // The buyer's hold falls from reserve(L, leaves) to reserve(L, leaves − q); what it does not
        // spend on the trade and its fee (price improvement) returns to available.
        let hold_before = hold_of(spec, buyer_price, buyer_leaves);
        let hold_after = hold_of(spec, buyer_price, buyer_leaves - qty);
        let released = hold_before - hold_after;
        let cost = notional + buyer_fee;
        self.accounts.spend_reserved(buyer, spec.quote, released);
        self.accounts.credit(buyer, spec.quote, released - cost);
        self.accounts.credit(buyer, spec.base, base);
        self.accounts.spend_reserved(seller, spec.base, base);
        self.accounts
            .credit(seller, spec.quote, notional - seller_fee);
        let fee_account = 0; // the fee account is always the first account created
        self.accounts
            .credit(fee_account, spec.quote, buyer_fee + seller_fee);

        let symbol = self.arena.get(taker).symbol;
        let book = &mut self.books[symbol.0 as usize];
        book.reference_price = Some(px);
        if let Some(level) = book.side_mut(taker_side.opposite()).best_mut() {
            level.total -= qty;
        }
        let trade_id = TradeId(self.next_trade_id);
        self.next_trade_id += 1;
        for (slot, fee, maker_flag) in [(taker, taker_fee, 0), (maker, maker_fee, EVENT_FLAG_MAKER)]
        {
            let o = self.arena.get_mut(slot);
            o.leaves.0 -= qty;
            o.cum.0 += qty;
            o.cum_cost += px.0 * qty;
            let mut e = self.order_event(EventKind::Fill, slot);
            e.flags |= maker_flag;
            e.set_fill(Fill {
                last_px: px,
                last_qty: q,
                trade_id,
                fee: Amount(fee),
            });
            out.emit(&e);
        }
        if self.arena.get(maker).leaves.0 == 0 {
            self.forget(spec, maker, true);
        }
    }

    /// Self-trade `DC`: shrinks the order in `slot` by `qty` in place (it keeps its priority),
    /// releasing the hold with it, and reports it Restated.
    fn decrement<S: EventSink>(
        &mut self,
        spec: &SymbolSpec,
        slot: u32,
        qty: u64,
        in_book: bool,
        out: &mut S,
    ) {
        let (side, price, leaves, account, symbol) = {
            let o = self.arena.get(slot);
            (o.side, o.price, o.leaves.0, o.account, o.symbol)
        };
        let (asset, release) = match side {
            Side::Buy => (
                spec.quote,
                hold_of(spec, price, leaves) - hold_of(spec, price, leaves - qty),
            ),
            Side::Sell => (spec.base, spec.base_amount(Qty(qty)).map_or(0, |b| b.0)),
        };
        self.accounts.release(account, asset, release);
        if in_book {
            self.books[symbol.0 as usize]
                .side_mut(side)
                .shrink(&self.arena, slot, qty);
        }
        let o = self.arena.get_mut(slot);
        o.leaves.0 -= qty;
        o.order_qty.0 -= qty;
        let mut e = self.order_event(EventKind::Restated, slot);
        e.reason = Reason::SelfTrade as u8;
        out.emit(&e);
    }

    /// Ends an open order with `reason`: reports it Canceled, releases its hold and frees it.
    fn end<S: EventSink>(
        &mut self,
        spec: &SymbolSpec,
        slot: u32,
        in_book: bool,
        reason: Reason,
        out: &mut S,
    ) {
        out.emit(&self.canceled_event(slot, reason));
        self.forget(spec, slot, in_book);
    }

    /// Releases what the order in `slot` still holds, takes it out of the book (if there) and every
    /// index, and frees the slot. Marks the slot's id 0 so callers can tell it is gone.
    fn forget(&mut self, spec: &SymbolSpec, slot: u32, in_book: bool) {
        let o = *self.arena.get(slot);
        if in_book {
            self.books[o.symbol.0 as usize]
                .side_mut(o.side)
                .unlink(&mut self.arena, slot);
        }
        let (asset, hold) = match o.side {
            Side::Buy => (spec.quote, hold_of(spec, o.price, o.leaves.0)),
            Side::Sell => (spec.base, spec.base_amount(o.leaves).map_or(0, |b| b.0)),
        };
        if hold > 0 {
            self.accounts.release(o.account, asset, hold);
        }
        self.unindex(slot);
        self.arena.get_mut(slot).id = OrderId(0);
        self.arena.remove(slot);
    }

    /// Adds the order in `slot` to the id and ClOrdID indices and its account's list.
    fn index(&mut self, slot: u32) {
        self.index.insert(&self.arena, slot);
        self.link_account_order(slot);
    }

    /// Appends the order in `slot` to its account's list of open orders.
    pub(crate) fn link_account_order(&mut self, slot: u32) {
        let account = self.arena.get(slot).account;
        let tail = self.accounts.orders(account).tail;
        {
            let o = self.arena.get_mut(slot);
            o.account_prev = tail;
            o.account_next = NIL;
        }
        if tail == NIL {
            self.accounts.orders_mut(account).head = slot;
        } else {
            self.arena.get_mut(tail).account_next = slot;
        }
        let list = self.accounts.orders_mut(account);
        list.tail = slot;
        list.open += 1;
    }

    /// Undoes [`State::index`].
    fn unindex(&mut self, slot: u32) {
        self.index.remove(&self.arena, slot);
        let o = *self.arena.get(slot);
        if o.account_prev == NIL {
            self.accounts.orders_mut(o.account).head = o.account_next;
        } else {
            self.arena.get_mut(o.account_prev).account_next = o.account_next;
        }
        if o.account_next == NIL {
            self.accounts.orders_mut(o.account).tail = o.account_prev;
        } else {
            self.arena.get_mut(o.account_next).account_prev = o.account_prev;
        }
        self.accounts.orders_mut(o.account).open -= 1;
    }

    // ----- cancel, replace, mass cancel, query --------------------------------------------

    /// The open order a cancel, replace or query names, if it is the account's (SPEC §3, §8).
    fn target(&self, cmd: &Command) -> Option<u32> {
        let account = self.accounts.find(cmd.account)?;
        let slot = if !cmd.orig_client_order_id.is_empty() {
            let slot = self
                .index
                .by_client(&self.arena, account, &cmd.orig_client_order_id)?;
            if cmd.order_id.0 != 0 && self.arena.get(slot).id != cmd.order_id {
                return None;
            }
            slot
        } else {
            self.index.by_id(&self.arena, cmd.order_id)?
        };
        (self.arena.get(slot).account == account).then_some(slot)
    }

    /// A refusal of a cancel, replace or query, echoing what the request named.
    fn request_rejected(kind: EventKind, cmd: &Command, reason: Reason) -> Event {
        let mut e = Event::new(kind);
        e.reason = reason as u8;
        e.status = OrderStatus::Rejected as u8;
        e.account = cmd.account;
        e.symbol = cmd.symbol;
        e.order_id = cmd.order_id;
        e.price = cmd.price;
        e.order_qty = Qty(cmd.qty);
        e.client_order_id = cmd.client_order_id;
        e.set_orig_client_order_id(cmd.orig_client_order_id);
        e
    }

    fn cancel<S: EventSink>(&mut self, config: &EngineConfig, cmd: &Command, out: &mut S) {
        let Some(slot) = self.target(cmd) else {
            out.emit(&Self::request_rejected(
                EventKind::CancelRejected,
                cmd,
                Reason::UnknownOrder,
            ));
            return;
        };
        // A gateway cancels one session's orders one by one when it drops (FIX 8013 = S).
        let reason = if cmd.flags & FLAG_CANCEL_ON_DISCONNECT != 0 {
            Reason::CancelOnDisconnect
        } else {
            Reason::None
        };
        let mut e = self.canceled_event(slot, reason);
        if !cmd.client_order_id.is_empty() {
            e.client_order_id = cmd.client_order_id;
        }
        out.emit(&e);
        let spec = &config.symbols[self.arena.get(slot).symbol.0 as usize];
        self.forget(spec, slot, true);
    }

    fn query<S: EventSink>(&mut self, cmd: &Command, out: &mut S) {
        match self.target(cmd) {
            Some(slot) => out.emit(&self.order_event(EventKind::OrderStatus, slot)),
            None => out.emit(&Self::request_rejected(
                EventKind::QueryRejected,
                cmd,
                Reason::UnknownOrder,
            )),
        }
    }

    fn replace<S: EventSink>(&mut self, config: &EngineConfig, cmd: &Command, out: &mut S) {
        match self.check_replace(config, cmd) {
            Err(reason) => {
                out.emit(&Self::request_rejected(
                    EventKind::ReplaceRejected,
                    cmd,
                    reason,
                ));
            }
            Ok(Replacement::Done(slot)) => {
                let spec = &config.symbols[self.arena.get(slot).symbol.0 as usize];
                let mut e = self.canceled_event(slot, Reason::ReplacedDone);
                e.client_order_id = cmd.client_order_id;
                out.emit(&e);
                self.forget(spec, slot, true);
            }
            Ok(Replacement::Apply {
                slot,
                leaves,
                hold_delta,
            }) => {
                self.apply_replace(config, cmd, slot, leaves, hold_delta, out);
            }
        }
    }

    /// Validates a replace in SPEC §8's order. Changes nothing.
    fn check_replace(&self, config: &EngineConfig, cmd: &Command) -> Result<Replacement, Reason> {
        let slot = self.target(cmd).ok_or(Reason::UnknownOrder)?;
        let o = self.arena.get(slot);
        let spec = &config.symbols[o.symbol.0 as usize];
        let book = &self.books[o.symbol.0 as usize];
        if self.exchange_halted || book.halted {
            return Err(Reason::Halted);
        }
        if cmd.price.0 == 0 {
            return Err(Reason::InvalidPrice);
        }
        let total = Qty(cmd.qty);
        if total.0 == 0 || total < spec.min_qty || total > spec.max_qty {
            return Err(Reason::InvalidQty);
        }
        if spec.notional(cmd.price, total).is_none() {
            return Err(Reason::InvalidQty);
        }
        if !cmd.client_order_id.is_well_formed() {
            return Err(Reason::InvalidOrder);
        }
        if let Some(other) = self
            .index
            .by_client(&self.arena, o.account, &cmd.client_order_id)
        {
            if other != slot {
                return Err(Reason::DuplicateOrder);
            }
        }
        if total <= o.cum {
            return Ok(Replacement::Done(slot));
        }
        if cmd.price != o.price {
            if let Some((low, high)) = book.reference_price.and_then(|r| spec.band(r)) {
                if cmd.price < low || cmd.price > high {
                    return Err(Reason::PriceBand);
                }
            }
        }
        let leaves = total.0 - o.cum.0;
        let (asset, old_hold, new_hold) = match o.side {
            Side::Buy => (
                spec.quote,
                hold_of(spec, o.price, o.leaves.0),
                spec.buy_hold(cmd.price, Qty(leaves))
                    .ok_or(Reason::InsufficientFunds)?
                    .0,
            ),
            // The current hold was computed when the order was admitted; a new one that
            // overflows is a reservation overflow (SPEC §8).
            Side::Sell => (
                spec.base,
                spec.base_amount(o.leaves).map_or(0, |b| b.0),
                spec.base_amount(Qty(leaves))
                    .ok_or(Reason::InsufficientFunds)?
                    .0,
            ),
        };
        if new_hold > old_hold
            && self.accounts.cell(o.account, asset).available < new_hold - old_hold
        {
            return Err(Reason::InsufficientFunds);
        }
        if o.post_only {
            if let Some(best) = book.side(o.side.opposite()).best() {
                if crosses(o.side, cmd.price, best.price) {
                    return Err(Reason::PostOnlyWouldTake);
                }
            }
        }
        Ok(Replacement::Apply {
            slot,
            leaves,
            hold_delta: new_hold as i128 - old_hold as i128,
        })
    }

    /// Applies a validated replace: in place when priority is kept (same price, leaves not
    /// growing), otherwise to the back of the new level, matching first if it now crosses.
    fn apply_replace<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        slot: u32,
        leaves: u64,
        hold_delta: i128,
        out: &mut S,
    ) {
        let o = *self.arena.get(slot);
        let spec = &config.symbols[o.symbol.0 as usize];
        let asset = if o.side == Side::Buy {
            spec.quote
        } else {
            spec.base
        };
        let keeps_priority = cmd.price == o.price && leaves <= o.leaves.0;
        if keeps_priority {
            self.books[o.symbol.0 as usize].side_mut(o.side).shrink(
                &self.arena,
                slot,
                o.leaves.0 - leaves,
            );
        } else {
            self.books[o.symbol.0 as usize]
                .side_mut(o.side)
                .unlink(&mut self.arena, slot);
        }
        if hold_delta > 0 {
            let reserved = self.accounts.reserve(o.account, asset, hold_delta as u64);
            debug_assert!(reserved, "check_replace checked the funds");
        } else if hold_delta < 0 {
            self.accounts
                .release(o.account, asset, (-hold_delta) as u64);
        }
        {
            let m = self.arena.get_mut(slot);
            m.price = cmd.price;
            m.order_qty = Qty(cmd.qty);
            m.leaves = Qty(leaves);
            m.client_order_id = cmd.client_order_id;
        }
        if o.client_order_id != cmd.client_order_id {
            self.index
                .rekey_client(&self.arena, slot, &o.client_order_id);
        }
        let mut e = self.order_event(EventKind::Replaced, slot);
        e.set_orig_client_order_id(o.client_order_id);
        out.emit(&e);
        if !keeps_priority {
            self.take(spec, slot, o.stp, out);
            self.settle_taker(spec, slot, out);
        }
    }

    /// A promotion: the epoch must rise, and its first sequence must follow the current one's.
    fn raise_epoch<S: EventSink>(&mut self, cmd: &Command, out: &mut S) {
        let (epoch, start) = self.epochs.last().copied().unwrap_or((1, 1));
        let mut e;
        if cmd.qty > epoch && cmd.order_id.0 > start {
            self.epochs.push((cmd.qty, cmd.order_id.0));
            e = Event::new(EventKind::EpochRaised);
        } else {
            e = Event::new(EventKind::EpochRejected);
            e.reason = Reason::InvalidOrder as u8;
        }
        e.detail[0] = cmd.qty;
        e.detail[1] = if e.event_kind() == Some(EventKind::EpochRaised) {
            cmd.order_id.0
        } else {
            epoch
        };
        out.emit(&e);
    }

    fn mass_cancel<S: EventSink>(&mut self, config: &EngineConfig, cmd: &Command, out: &mut S) {
        let all = cmd.is_all_symbols();
        let refused = if all || config.symbol(cmd.symbol).is_some() {
            self.accounts
                .find(cmd.account)
                .ok_or(Reason::UnknownAccount)
        } else {
            Err(Reason::UnknownSymbol)
        };
        let account = match refused {
            Ok(account) => account,
            Err(reason) => {
                let mut e = Self::request_rejected(EventKind::MassCancelRejected, cmd, reason);
                e.flags = if all { EVENT_FLAG_ALL_SYMBOLS } else { 0 };
                out.emit(&e);
                return;
            }
        };
        let reason = if cmd.flags & FLAG_CANCEL_ON_DISCONNECT != 0 {
            Reason::CancelOnDisconnect
        } else {
            Reason::None
        };
        let mut count = 0u64;
        let mut slot = self.accounts.orders(account).head;
        while slot != NIL {
            let o = *self.arena.get(slot);
            if all || o.symbol == cmd.symbol {
                self.end(
                    &config.symbols[o.symbol.0 as usize],
                    slot,
                    true,
                    reason,
                    out,
                );
                count += 1;
            }
            slot = o.account_next;
        }
        let mut e = Event::new(EventKind::MassCanceled);
        e.reason = reason as u8;
        e.flags = if all { EVENT_FLAG_ALL_SYMBOLS } else { 0 };
        e.account = cmd.account;
        e.symbol = cmd.symbol;
        e.client_order_id = cmd.client_order_id;
        e.detail[0] = count;
        out.emit(&e);
    }

    // ----- funds and operations -----------------------------------------------------------

    fn funds_event(&self, kind: EventKind, cmd: &Command, reason: Reason) -> Event {
        let mut e = Event::new(kind);
        e.reason = reason as u8;
        e.account = cmd.account;
        e.asset = cmd.asset;
        let (available, reserved) = match self.accounts.find(cmd.account) {
            Some(index) if (cmd.asset.0 as usize) < self.accounts.asset_count() => {
                let cell = self.accounts.cell(index, cmd.asset);
                (cell.available, cell.reserved)
            }
            _ => (0, 0),
        };
        e.set_balance(Balance {
            amount: Amount(cmd.qty),
            available: Amount(available),
            reserved: Amount(reserved),
        });
        e
    }

    fn deposit<S: EventSink>(&mut self, config: &EngineConfig, cmd: &Command, out: &mut S) {
        let amount = Amount(cmd.qty);
        let refused = if config.asset(cmd.asset).is_none() {
            Some(Reason::UnknownAsset)
        } else if amount.0 == 0 || !self.accounts.can_deposit(cmd.asset, amount) {
            Some(Reason::InvalidAmount)
        } else {
            None
        };
        if let Some(reason) = refused {
            out.emit(&self.funds_event(EventKind::DepositRejected, cmd, reason));
            return;
        }
        let index = self.accounts.get_or_create(cmd.account);
        self.accounts.deposit(index, cmd.asset, amount);
        out.emit(&self.funds_event(EventKind::Deposited, cmd, Reason::None));
    }

    fn withdraw<S: EventSink>(&mut self, config: &EngineConfig, cmd: &Command, out: &mut S) {
        let amount = Amount(cmd.qty);
        let outcome = match self.accounts.find(cmd.account) {
            None => Err(Reason::UnknownAccount),
            Some(_) if config.asset(cmd.asset).is_none() => Err(Reason::UnknownAsset),
            Some(_) if amount.0 == 0 => Err(Reason::InvalidAmount),
            Some(index) if self.accounts.withdraw(index, cmd.asset, amount) => Ok(()),
            Some(_) => Err(Reason::InsufficientFunds),
        };
        match outcome {
            Ok(()) => out.emit(&self.funds_event(EventKind::Withdrawn, cmd, Reason::None)),
            Err(reason) => out.emit(&self.funds_event(EventKind::WithdrawRejected, cmd, reason)),
        }
    }

    fn halt<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        kind: CommandKind,
        out: &mut S,
    ) {
        let halted = kind == CommandKind::Halt;
        let mut e = Event::new(if halted {
            EventKind::Halted
        } else {
            EventKind::Resumed
        });
        e.symbol = cmd.symbol;
        if cmd.is_all_symbols() {
            self.exchange_halted = halted;
            e.flags = EVENT_FLAG_ALL_SYMBOLS;
        } else if config.symbol(cmd.symbol).is_some() {
            self.books[cmd.symbol.0 as usize].halted = halted;
        } else {
            e.kind = EventKind::HaltRejected as u8;
            e.reason = Reason::UnknownSymbol as u8;
        }
        out.emit(&e);
    }

    // ----- invariants ---------------------------------------------------------------------

    fn check_invariants(&self, config: &EngineConfig) -> Result<(), String> {
        let assets = config.assets.len();
        let accounts = self.accounts.ids().len();
        // What the open orders must hold, per account and asset.
        let mut holds = vec![0u128; accounts * assets];
        let mut open = vec![0u32; accounts];
        let mut seen = 0usize;
        for (symbol, book) in self.books.iter().enumerate() {
            let spec = &config.symbols[symbol];
            for side in [Side::Buy, Side::Sell] {
                let mut previous: Option<Price> = None;
                for level in book.side(side).iter_best_first() {
                    if let Some(p) = previous {
                        let worse = match side {
                            Side::Buy => level.price < p,
                            Side::Sell => level.price > p,
                        };
                        if !worse {
                            return Err(format!(
                                "symbol {symbol} {side:?} levels out of order at {}",
                                level.price
                            ));
                        }
                    }
                    previous = Some(level.price);
                    let (mut total, mut count, mut slot) = (0u64, 0u32, level.head);
                    while slot != NIL {
                        let o = self.arena.get(slot);
                        let own_level = book.side(side).level(o.level);
                        if o.price != level.price
                            || o.side != side
                            || o.symbol.0 as usize != symbol
                            || !own_level.is_some_and(|l| std::ptr::eq(l, level))
                        {
                            return Err(format!("order {} sits in the wrong level", o.id));
                        }
                        if o.leaves.0 == 0 || o.order_qty.0 != o.leaves.0 + o.cum.0 {
                            return Err(format!(
                                "order {} has leaves {} cum {} qty {}",
                                o.id, o.leaves, o.cum, o.order_qty
                            ));
                        }
                        if self.index.by_id(&self.arena, o.id) != Some(slot)
                            || self
                                .index
                                .by_client(&self.arena, o.account, &o.client_order_id)
                                != Some(slot)
                        {
                            return Err(format!("order {} is missing from an index", o.id));
                        }
                        let (asset, hold) = match side {
                            Side::Buy => (spec.quote, spec.buy_hold(o.price, o.leaves)),
                            Side::Sell => (spec.base, spec.base_amount(o.leaves)),
                        };
                        let hold =
                            hold.ok_or_else(|| format!("order {} holds more than i64::MAX", o.id))?;
                        holds[o.account as usize * assets + asset.0 as usize] += hold.0 as u128;
                        open[o.account as usize] += 1;
                        total += o.leaves.0;
                        count += 1;
                        seen += 1;
                        slot = o.next;
                    }
                    if total != level.total || count != level.count || count == 0 {
                        return Err(format!(
                            "symbol {symbol} level {} totals {}/{} but holds {total}/{count}",
                            level.price, level.total, level.count
                        ));
                    }
                }
            }
            if let (Some(bid), Some(ask)) = (book.bids.best(), book.asks.best()) {
                if bid.price >= ask.price {
                    return Err(format!(
                        "symbol {symbol} is crossed: bid {} ≥ ask {}",
                        bid.price, ask.price
                    ));
                }
            }
        }
        let (ids, clients) = self.index.len();
        if seen != ids || seen != clients {
            return Err(format!(
                "{seen} orders in books but {} / {} indexed",
                ids, clients
            ));
        }
        for asset in 0..assets {
            let asset_id = AssetId(asset as u16);
            let mut sum = 0u128;
            for account in 0..accounts {
                let cell = self.accounts.cell(account as u32, asset_id);
                if cell.available > crate::units::MAX_AMOUNT
                    || cell.reserved > crate::units::MAX_AMOUNT
                {
                    return Err(format!(
                        "account {} asset {asset} balance out of range",
                        self.accounts.id(account as u32)
                    ));
                }
                if cell.reserved as u128 != holds[account * assets + asset] {
                    return Err(format!(
                        "account {} asset {asset}: reserved {} but open orders hold {}",
                        self.accounts.id(account as u32),
                        cell.reserved,
                        holds[account * assets + asset]
                    ));
                }
                sum += cell.available as u128 + cell.reserved as u128;
            }
            if sum != self.accounts.supply(asset_id) as u128 {
                return Err(format!(
                    "asset {asset}: balances sum to {sum} but deposits − withdrawals = {}",
                    self.accounts.supply(asset_id)
                ));
            }
        }
        for (account, &n) in open.iter().enumerate() {
            if self.accounts.orders(account as u32).open != n {
                return Err(format!(
                    "account {} counts {} open orders but has {n}",
                    self.accounts.id(account as u32),
                    self.accounts.orders(account as u32).open
                ));
            }
        }
        Ok(())
    }
}

/// A validated replace.
enum Replacement {
    /// The new total is not above what has filled: the order ends `REPLACED_DONE`.
    Done(u32),
    /// Apply it: new leaves, and how the hold changes.
    Apply {
        slot: u32,
        leaves: u64,
        hold_delta: i128,
    },
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
