//! Order books: open orders in a preallocated arena, price levels as FIFO queues threaded through
//! the arena, and each book side as a sorted ring (`VecDeque`) of levels with the best price last.
//!
//! Why a sorted ring and not a tree: almost all activity is near the touch, the back of the ring,
//! and a search starts from there — a level `d` ticks from the best is among the last `d + 1`
//! places, and in a dense book exactly at the first place probed;
//! inserting or removing a level moves only the shorter side of the ring, so levels near the touch
//! or at the far end of a deep book are O(1), and nothing allocates within the preallocated
//! capacity — a tree allocates a node per new level. Each resting order knows its level, so
//! cancelling one is O(1); only a level that empties is searched for, to take it off the ladder.

use std::cmp::Ordering;
use std::collections::VecDeque;

use crate::engine::accounts::NIL;
use crate::engine::breaker::BreakerState;
use crate::units::{
    ClientOrderId, OrderId, OrderType, Price, Qty, SelfTradePrevention, Side, SymbolId, TimeInForce,
};

/// An open order, as the engine holds it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Order {
    pub id: OrderId,
    /// Dense account index (see `Accounts`).
    pub account: u32,
    pub symbol: SymbolId,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub stp: SelfTradePrevention,
    pub post_only: bool,
    pub price: Price,
    pub order_qty: Qty,
    pub leaves: Qty,
    pub cum: Qty,
    pub cum_cost: u64,
    pub client_order_id: ClientOrderId,
    /// The level (slot in its book side's level arena) while the order rests.
    pub level: u32,
    /// Neighbours in the price level's queue.
    pub prev: u32,
    pub next: u32,
    /// Neighbours in the account's list of open orders.
    pub account_prev: u32,
    pub account_next: u32,
}

/// Slots for open orders, reused through a free list so steady-state trading allocates nothing.
pub(crate) struct Arena {
    slots: Vec<Order>,
    free_head: u32,
}

impl Arena {
    pub fn with_capacity(capacity: usize) -> Arena {
        Arena {
            slots: Vec::with_capacity(capacity),
            free_head: NIL,
        }
    }

    /// Stores `order`, returning its slot.
    #[inline]
    pub fn insert(&mut self, order: Order) -> u32 {
        if self.free_head != NIL {
            let slot = self.free_head;
            self.free_head = self.slots[slot as usize].next;
            self.slots[slot as usize] = order;
            slot
        } else {
            self.slots.push(order);
            (self.slots.len() - 1) as u32
        }
    }

    /// Frees a slot; the caller has unlinked it from every list.
    #[inline]
    pub fn remove(&mut self, slot: u32) {
        self.slots[slot as usize].next = self.free_head;
        self.slots[slot as usize].leaves = Qty(0);
        self.free_head = slot;
    }

    #[inline]
    pub fn get(&self, slot: u32) -> &Order {
        &self.slots[slot as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> &mut Order {
        &mut self.slots[slot as usize]
    }
}

/// One price level: a FIFO queue of orders at one price.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub price: Price,
    pub head: u32,
    pub tail: u32,
    /// Sum of the queue's leaves quantities.
    pub total: u64,
    pub count: u32,
}

/// One side of a book. Levels live in a slot arena (so an order can name its level and leave it
/// without a search); the ladder lists (price, level slot) sorted from the worst price to the best.
pub(crate) struct BookSide {
    ladder: VecDeque<(Price, u32)>,
    levels: Vec<Level>,
    free_levels: Vec<u32>,
    is_bid: bool,
}

impl BookSide {
    pub fn new(side: Side, capacity: usize) -> BookSide {
        BookSide {
            ladder: VecDeque::with_capacity(capacity),
            levels: Vec::with_capacity(capacity),
            free_levels: Vec::with_capacity(capacity),
            is_bid: side == Side::Buy,
        }
    }

    /// Where a level at `level` sorts relative to `price`: levels run from the worst price (front)
    /// to the best (back).
    #[inline]
    fn order(&self, level: Price, price: Price) -> Ordering {
        if self.is_bid {
            level.cmp(&price)
        } else {
            price.cmp(&level)
        }
    }

    /// The index of the level at `price`, or where it would be inserted.
    ///
    /// Prices are distinct whole ticks, so at most `d` levels lie between `price` and the best
    /// one, `d` ticks away (the best included): the answer is among the last `d + 1` places. In a
    /// dense book the first probe, `d` places below the best, is the level itself; otherwise a
    /// bisection of that window finishes the search. Near the touch the window is tiny.
    #[inline]
    fn position(&self, price: Price) -> Result<usize, usize> {
        let len = self.ladder.len();
        let Some(&(best, _)) = self.ladder.back() else {
            return Err(0);
        };
        match self.order(best, price) {
            Ordering::Equal => return Ok(len - 1),
            Ordering::Less => return Err(len), // better than the best
            Ordering::Greater => {}
        }
        let distance = usize::try_from(best.0.abs_diff(price.0)).unwrap_or(usize::MAX);
        let mut low = (len - 1).saturating_sub(distance);
        let mut high = len - 1; // the best sorts after `price`
        match self.order(self.ladder[low].0, price) {
            Ordering::Equal => return Ok(low),
            // Only when the window reaches the worst level: everything sorts after `price`.
            Ordering::Greater => return Err(low),
            Ordering::Less => low += 1,
        }
        while low < high {
            let mid = low + (high - low) / 2;
            match self.order(self.ladder[mid].0, price) {
                Ordering::Equal => return Ok(mid),
                Ordering::Greater => high = mid,
                Ordering::Less => low = mid + 1,
            }
        }
        Err(low)
    }

    /// The best level.
    #[inline]
    pub fn best(&self) -> Option<&Level> {
        self.ladder.back().map(|&(_, l)| &self.levels[l as usize])
    }

    /// The best level, mutably.
    #[inline]
    pub fn best_mut(&mut self) -> Option<&mut Level> {
        self.ladder
            .back()
            .map(|&(_, l)| &mut self.levels[l as usize])
    }

    /// The level in slot `level`, if that slot is on the ladder's arena.
    pub fn level(&self, level: u32) -> Option<&Level> {
        self.levels.get(level as usize)
    }

    /// Number of price levels.
    pub fn len(&self) -> usize {
        self.ladder.len()
    }

    /// Appends the order in `slot` to the back of its price's queue.
    pub fn push_back(&mut self, arena: &mut Arena, slot: u32) {
        let (price, leaves) = {
            let o = arena.get(slot);
            (o.price, o.leaves.0)
        };
        let level_slot = match self.position(price) {
            Ok(i) => self.ladder[i].1,
            Err(i) => {
                let level = Level {
                    price,
                    head: NIL,
                    tail: NIL,
                    total: 0,
                    count: 0,
                };
                let l = match self.free_levels.pop() {
                    Some(l) => {
                        self.levels[l as usize] = level;
                        l
                    }
                    None => {
                        self.levels.push(level);
                        (self.levels.len() - 1) as u32
                    }
                };
                self.ladder.insert(i, (price, l));
                l
            }
        };
        let level = &mut self.levels[level_slot as usize];
        let tail = level.tail;
        {
            let o = arena.get_mut(slot);
            o.level = level_slot;
            o.prev = tail;
            o.next = NIL;
        }
        if tail == NIL {
            level.head = slot;
        } else {
            arena.get_mut(tail).next = slot;
        }
        level.tail = slot;
        level.total += leaves;
        level.count += 1;
    }

    /// Takes the order in `slot` out of its queue, dropping the level if it empties (the only
    /// case that searches the ladder).
    pub fn unlink(&mut self, arena: &mut Arena, slot: u32) {
        let (level_slot, leaves, prev, next) = {
            let o = arena.get(slot);
            (o.level, o.leaves.0, o.prev, o.next)
        };
        if prev == NIL {
            self.levels[level_slot as usize].head = next;
        } else {
            arena.get_mut(prev).next = next;
        }
        if next == NIL {
            self.levels[level_slot as usize].tail = prev;
        } else {
            arena.get_mut(next).prev = prev;
        }
        let level = &mut self.levels[level_slot as usize];
        level.total -= leaves;
        level.count -= 1;
        if level.count == 0 {
            let price = level.price;
            match self.position(price) {
                Ok(at) => {
                    self.ladder.remove(at);
                }
                Err(_) => panic!("engine invariant broken: level {price} missing from the ladder"),
            }
            self.free_levels.push(level_slot);
        }
    }

    /// Lowers the queued quantity of the order in `slot`'s level after it shrank by `qty` in place.
    #[inline]
    pub fn shrink(&mut self, arena: &Arena, slot: u32, qty: u64) {
        self.levels[arena.get(slot).level as usize].total -= qty;
    }

    /// Levels best first.
    pub fn iter_best_first(&self) -> impl Iterator<Item = &Level> {
        self.ladder
            .iter()
            .rev()
            .map(|&(_, l)| &self.levels[l as usize])
    }
}

/// One symbol's book and trading state.
pub(crate) struct Book {
    pub bids: BookSide,
    pub asks: BookSide,
    /// The last trade's price, or the configured reference price before the first trade.
    pub reference_price: Option<Price>,
    /// Halted by an operator (only an operator's resume ends it).
    pub halted: bool,
    /// The circuit breaker's anchor, recent trades and halt (unused unless configured).
    pub breaker: BreakerState,
}

impl Book {
    pub fn new(reference_price: Option<Price>, level_capacity: usize) -> Book {
        Book {
            bids: BookSide::new(Side::Buy, level_capacity),
            asks: BookSide::new(Side::Sell, level_capacity),
            reference_price,
            halted: false,
            breaker: BreakerState::new(reference_price),
        }
    }

    /// Halted on its own, by an operator or by its circuit breaker (the exchange's halt aside).
    #[inline]
    pub fn is_halted(&self) -> bool {
        self.halted || self.breaker.halted_until().is_some()
    }

    #[inline]
    pub fn side(&self, side: Side) -> &BookSide {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    #[inline]
    pub fn side_mut(&mut self, side: Side) -> &mut BookSide {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }
}

/// True when a taker on `side` with limit `limit` may trade with a resting order at `resting`.
#[inline]
pub(crate) fn crosses(side: Side, limit: Price, resting: Price) -> bool {
    match side {
        Side::Buy => resting <= limit,
        Side::Sell => resting >= limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `position` agrees with a linear scan on dense, sparse and wrapped ladders, both sides.
    #[test]
    fn position_agrees_with_a_linear_scan() {
        for side in [Side::Buy, Side::Sell] {
            for gap in [1u64, 2, 7] {
                let mut book = BookSide::new(side, 4);
                // Push at the front and the back so the ring wraps.
                for k in 0..40u64 {
                    let price = Price(1_000 + k * gap);
                    let at = match side {
                        Side::Buy => book.ladder.len(),
                        Side::Sell => 0,
                    };
                    book.ladder.insert(at, (price, 0));
                }
                let linear = |p: Price| {
                    let found = book.ladder.iter().position(|&(q, _)| q == p);
                    found.ok_or_else(|| {
                        book.ladder
                            .iter()
                            .position(|&(q, _)| book.order(q, p) == Ordering::Greater)
                            .unwrap_or(book.ladder.len())
                    })
                };
                for p in 900..1_400 {
                    assert_eq!(
                        book.position(Price(p)),
                        linear(Price(p)),
                        "{side:?} gap {gap} price {p}"
                    );
                }
            }
        }
    }
}
