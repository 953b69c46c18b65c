//! An open order's places besides the book: the id and ClOrdID indices and its account's list,
//! and letting go of all of them (and its hold) when it ends.

use super::accounts::NIL;
use super::config::SymbolSpec;
use super::{State, hold_of};
use crate::units::{OrderId, Side};

impl State {
    /// Releases what the order in `slot` still holds, takes it out of the book (if there) and every
    /// index, and frees the slot. Marks the slot's id 0 so callers can tell it is gone.
    pub(super) fn forget(&mut self, spec: &SymbolSpec, slot: u32, in_book: bool) {
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
    pub(super) fn index(&mut self, slot: u32) {
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
}
