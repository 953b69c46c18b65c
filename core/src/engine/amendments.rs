//! Requests about open orders (BEHAVIOUR.md §3, §8): cancel, replace (in place or re-queued),
//! mass cancel and query, each checked in its order before anything changes.

use super::accounts::NIL;
use super::book::crosses;
use super::config::EngineConfig;
use super::refusal::request_rejected;
use super::{State, hold_of};
use crate::command::{Command, FLAG_CANCEL_ON_DISCONNECT, FLAG_SYMBOL_CHECKED};
use crate::event::{EVENT_FLAG_ALL_SYMBOLS, Event, EventKind, EventSink, Reason};
use crate::units::{Qty, Side, SymbolId};

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

impl State {
    /// The open order a cancel, replace or query names, if it is the account's (BEHAVIOUR.md §3, §8).
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

    pub(super) fn cancel<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        out: &mut S,
    ) {
        let Some(slot) = self.target(cmd) else {
            out.emit(&request_rejected(
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

    pub(super) fn query<S: EventSink>(&mut self, cmd: &Command, out: &mut S) {
        match self.target(cmd) {
            Some(slot) => out.emit(&self.order_event(EventKind::OrderStatus, slot)),
            None => out.emit(&request_rejected(
                EventKind::QueryRejected,
                cmd,
                Reason::UnknownOrder,
            )),
        }
    }

    pub(super) fn replace<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        out: &mut S,
    ) {
        match self.check_replace(config, cmd) {
            Err(reason) => {
                out.emit(&request_rejected(EventKind::ReplaceRejected, cmd, reason));
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

    /// Validates a replace in BEHAVIOUR.md §8's order. Changes nothing.
    fn check_replace(&self, config: &EngineConfig, cmd: &Command) -> Result<Replacement, Reason> {
        // A blocked account has no open orders, so without this its replaces would all be told
        // UNKNOWN_ORDER; the firm should see why (BEHAVIOUR.md §10).
        if self
            .accounts
            .find(cmd.account)
            .is_some_and(|account| self.accounts.is_blocked(account))
        {
            return Err(Reason::AccountBlocked);
        }
        let slot = self.target(cmd).ok_or(Reason::UnknownOrder)?;
        let o = self.arena.get(slot);
        if cmd.flags & FLAG_SYMBOL_CHECKED != 0 && cmd.symbol != o.symbol {
            return Err(Reason::UnknownOrder);
        }
        let spec = &config.symbols[o.symbol.0 as usize];
        let book = &self.books[o.symbol.0 as usize];
        if self.exchange_halted || book.is_halted() {
            return Err(Reason::Halted);
        }
        if cmd.price.0 == 0 {
            return Err(Reason::InvalidPrice);
        }
        let total = Qty(cmd.qty);
        if total.0 == 0 || total < spec.min_qty || total > spec.max_qty {
            return Err(Reason::InvalidQty);
        }
        match spec.notional(cmd.price, total) {
            None => return Err(Reason::InvalidQty),
            Some(notional) if notional > spec.max_notional => return Err(Reason::NotionalLimit),
            Some(_) => {}
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
            // overflows is a reservation overflow (BEHAVIOUR.md §8).
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
            self.take_and_settle(config, slot, o.stp, out);
        }
    }

    pub(super) fn mass_cancel<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        cmd: &Command,
        out: &mut S,
    ) {
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
                let mut e = request_rejected(EventKind::MassCancelRejected, cmd, reason);
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
        let symbol = (!all).then_some(cmd.symbol);
        let count = self.cancel_account_orders(config, account, symbol, reason, out);
        let mut e = Event::new(EventKind::MassCanceled);
        e.reason = reason as u8;
        e.flags = if all { EVENT_FLAG_ALL_SYMBOLS } else { 0 };
        e.account = cmd.account;
        e.symbol = cmd.symbol;
        e.client_order_id = cmd.client_order_id;
        e.detail[0] = count;
        out.emit(&e);
    }

    /// Cancels every open order of the account at `account` (only those in `symbol` when given),
    /// oldest accepted first, each reported `Canceled` with `reason`; returns how many.
    pub(super) fn cancel_account_orders<S: EventSink>(
        &mut self,
        config: &EngineConfig,
        account: u32,
        symbol: Option<SymbolId>,
        reason: Reason,
        out: &mut S,
    ) -> u64 {
        let mut count = 0u64;
        let mut slot = self.accounts.orders(account).head;
        while slot != NIL {
            let o = *self.arena.get(slot);
            if symbol.is_none_or(|s| o.symbol == s) {
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
        count
    }
}
