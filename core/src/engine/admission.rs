//! A new order's way in (BEHAVIOUR.md §3): the checks in their order, the first failure
//! rejecting it, then booking what it holds and handing it to matching.

use super::State;
use super::accounts::NIL;
use super::book::{Order, crosses};
use super::config::EngineConfig;
use crate::command::Command;
use crate::event::{EventKind, EventSink, Reason};
use crate::units::{
    AccountId, AssetId, OrderId, OrderType, Price, Qty, SelfTradePrevention, Side, TimeInForce,
};

struct Admitted {
    price: Price,
    tif: TimeInForce,
    hold_asset: AssetId,
    hold: u64,
}

impl State {
    pub(super) fn new_order<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        out: &mut S,
    ) {
        match self.admit(config, cmd) {
            Ok((account, admitted)) => self.accept(config, cmd, account, admitted, out),
            Err(reason) => out.emit(&super::refusal::new_order_rejected(cmd, reason)),
        }
    }

    /// Validates a new order in BEHAVIOUR.md §3's order (first failure wins) and returns the account index
    /// and what the order will hold. Changes nothing.
    fn admit(&self, config: &EngineConfig, cmd: &Command) -> Result<(u32, Admitted), Reason> {
        // A command no gateway would build (bad enum bytes) is refused before BEHAVIOUR.md §3's checks.
        let (Some(side), Some(order_type), Some(tif), Some(_)) = (
            Side::from_u8(cmd.side),
            OrderType::from_u8(cmd.order_type),
            TimeInForce::from_u8(cmd.time_in_force),
            SelfTradePrevention::from_command_byte(cmd.stp),
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
        if self.accounts.is_blocked(account) {
            return Err(Reason::AccountBlocked);
        }
        if self.exchange_halted || book.is_halted() {
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
        if !market {
            // BEHAVIOUR.md §10: the fat-finger limit right after INVALID_QTY.
            match spec.notional(cmd.price, qty) {
                None => return Err(Reason::InvalidQty),
                Some(notional) if notional > spec.max_notional => {
                    return Err(Reason::NotionalLimit);
                }
                Some(_) => {}
            }
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
        // BEHAVIOUR.md §8: a market order is IOC unless it says FOK, at the band's protection price.
        let (price, tif) = if market {
            let band = book
                .reference_price
                .and_then(|r| spec.band(r))
                .ok_or(Reason::NoReferencePrice)?;
            let price = if side == Side::Buy { band.1 } else { band.0 };
            // A market order's notional needs the protection price, so both its checks come
            // here (BEHAVIOUR.md §3 row 9c).
            match spec.notional(price, qty) {
                None => return Err(Reason::InvalidQty),
                Some(notional) if notional > spec.max_notional => {
                    return Err(Reason::NotionalLimit);
                }
                Some(_) => {}
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
            // BEHAVIOUR.md §8: a reservation that overflows is INSUFFICIENT_FUNDS (a sell holds base).
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
        let stp = SelfTradePrevention::from_command_byte(cmd.stp)
            .unwrap_or(SelfTradePrevention::DecrementCancel);
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

        if admitted.tif != TimeInForce::Fok {
            self.take_and_settle(config, slot, stp, out);
            return;
        }
        let bounds = self.breaker_bounds(spec, cmd.symbol);
        match self.fok_available(slot, bounds) {
            (available, _) if available >= cmd.qty => {
                // FOK ignores the STP mode: own orders met on the way are cancelled, like `CO`.
                // What suffices within the bounds is taken before any level beyond them.
                let tripped = self.take(spec, slot, SelfTradePrevention::CancelOldest, bounds, out);
                debug_assert!(!tripped, "the bounds were counted in");
                self.settle_taker(spec, slot, false, out);
            }
            // BEHAVIOUR.md §10: all or nothing cannot fill up to the bound, so the order ends
            // whole and, as the bound is what stopped it, the breaker trips.
            (_, true) => {
                self.end(spec, slot, false, Reason::CircuitBreaker, out);
                self.trip_breaker(config, cmd.symbol, out);
            }
            (_, false) => self.end(spec, slot, false, Reason::FokUnfilled, out),
        }
    }
}
