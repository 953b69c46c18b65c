//! Matching (BEHAVIOUR.md §2–§3): taking liquidity level by level, each fill's settlement and
//! fees, self-trade prevention, FOK availability, and what happens to a taker's remainder.

use super::accounts::NIL;
use super::book::crosses;
use super::config::{EngineConfig, SymbolSpec};
use super::{State, hold_of};
use crate::event::{EVENT_FLAG_MAKER, EventKind, EventSink, Fill, Reason};
use crate::units::{Amount, Price, Qty, SelfTradePrevention, Side, SymbolId, TimeInForce, TradeId};

impl State {
    /// Matches a taker (a new order, or a replace that now crosses) within the circuit breaker's
    /// bounds and settles it; when the bounds stopped it, its remainder is cancelled
    /// `CIRCUIT_BREAKER` and the symbol halts (BEHAVIOUR.md §10).
    pub(super) fn take_and_settle<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        slot: u32,
        stp: SelfTradePrevention,
        out: &mut S,
    ) {
        let symbol = self.arena.get(slot).symbol;
        let spec = &config.symbols[symbol.0 as usize];
        let bounds = self.breaker_bounds(spec, symbol);
        let tripped = self.take(spec, slot, stp, bounds, out);
        self.settle_taker(spec, slot, tripped, out);
        if tripped {
            self.trip_breaker(config, symbol, out);
        }
    }

    /// After matching: a GTC remainder rests, any other remainder is cancelled (`CIRCUIT_BREAKER`
    /// when the breaker's bounds stopped it), a filled order ends.
    pub(super) fn settle_taker<S: EventSink>(
        &mut self,
        spec: &SymbolSpec,
        slot: u32,
        tripped: bool,
        out: &mut S,
    ) {
        let o = self.arena.get(slot);
        if o.leaves.0 == 0 {
            if o.id.0 != 0 {
                self.forget(spec, slot, false);
            }
            return;
        }
        if tripped {
            self.end(spec, slot, false, Reason::CircuitBreaker, out);
        } else if o.tif == TimeInForce::Gtc {
            let symbol = o.symbol;
            let side = o.side;
            self.books[symbol.0 as usize]
                .side_mut(side)
                .push_back(&mut self.arena, slot);
        } else {
            self.end(spec, slot, false, Reason::IocRemainder, out);
        }
    }

    /// The circuit breaker's bounds for a taker in `symbol` now (BEHAVIOUR.md §10), ageing its
    /// anchor; `None` when it has no breaker or no anchor yet.
    #[inline]
    pub(super) fn breaker_bounds(
        &mut self,
        spec: &SymbolSpec,
        symbol: SymbolId,
    ) -> Option<(Price, Price)> {
        let breaker = spec.breaker.as_ref()?;
        self.books[symbol.0 as usize]
            .breaker
            .bounds(self.clock, breaker)
    }

    /// What other accounts offer a FOK order at acceptable prices, counted until it suffices, and
    /// whether the circuit breaker's `bounds` stopped the count at a level the order's limit
    /// would have reached.
    pub(super) fn fok_available(&self, slot: u32, bounds: Option<(Price, Price)>) -> (u64, bool) {
        let taker = self.arena.get(slot);
        let book = &self.books[taker.symbol.0 as usize];
        let mut available = 0u64;
        for level in book.side(taker.side.opposite()).iter_best_first() {
            if !crosses(taker.side, taker.price, level.price) {
                break;
            }
            if outside(bounds, level.price) {
                return (available, true);
            }
            let mut m = level.head;
            while m != NIL {
                let maker = self.arena.get(m);
                if maker.account != taker.account {
                    available = available.saturating_add(maker.leaves.0);
                    if available >= taker.leaves.0 {
                        return (available, false);
                    }
                }
                m = maker.next;
            }
        }
        (available, false)
    }

    /// Matches the (unbooked) order in `slot` against the opposite side while prices cross, with
    /// self-trade prevention `stp`, never at a price outside the circuit breaker's `bounds`.
    /// Leaves the order's slot alive unless STP cancelled it (then its id is set to 0 so
    /// `settle_taker` knows). Returns true when the bounds stopped it: a level its limit crosses
    /// lies beyond them, so the breaker trips.
    pub(super) fn take<S: EventSink>(
        &mut self,
        spec: &SymbolSpec,
        slot: u32,
        stp: SelfTradePrevention,
        bounds: Option<(Price, Price)>,
        out: &mut S,
    ) -> bool {
        let (symbol, side, limit, account) = {
            let t = self.arena.get(slot);
            (t.symbol.0 as usize, t.side, t.price, t.account)
        };
        let maker_side = side.opposite();
        loop {
            let taker_leaves = self.arena.get(slot).leaves.0;
            if taker_leaves == 0 {
                return false;
            }
            let Some(level) = self.books[symbol].side(maker_side).best() else {
                return false;
            };
            if !crosses(side, limit, level.price) {
                return false;
            }
            if outside(bounds, level.price) {
                return true;
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
                    return false;
                }
                SelfTradePrevention::CancelBoth => {
                    self.end(spec, maker, true, Reason::SelfTrade, out);
                    self.end(spec, slot, false, Reason::SelfTrade, out);
                    return false;
                }
                SelfTradePrevention::DecrementCancel => {
                    if maker_leaves < taker_leaves {
                        self.end(spec, maker, true, Reason::SelfTrade, out);
                        self.decrement(spec, slot, maker_leaves, false, out);
                    } else if maker_leaves > taker_leaves {
                        self.decrement(spec, maker, taker_leaves, true, out);
                        self.end(spec, slot, false, Reason::SelfTrade, out);
                        return false;
                    } else {
                        self.end(spec, maker, true, Reason::SelfTrade, out);
                        self.end(spec, slot, false, Reason::SelfTrade, out);
                        return false;
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
        if let Some(breaker) = &spec.breaker {
            book.breaker.record(self.clock, px, breaker.window_ns);
        }
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
    pub(super) fn end<S: EventSink>(
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
}

/// True when `price` lies outside the circuit breaker's bounds (never without bounds).
#[inline]
fn outside(bounds: Option<(Price, Price)>, price: Price) -> bool {
    bounds.is_some_and(|(low, high)| price < low || price > high)
}
