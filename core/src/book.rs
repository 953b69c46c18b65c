//! Order books: open orders in a preallocated arena, price levels as FIFO queues threaded through
//! the arena, and each book side as a sorted vector of levels with the best price last.
//!
//! Why a sorted vector and not a tree: almost all activity is near the touch, which is the end of
//! the vector, so finding, adding and removing a level there moves a few elements and allocates
//! nothing; a tree allocates a node per new level. Cancelling by order id is O(1) in the queue
//! (doubly linked) plus a binary search for the level.

use crate::account::NIL;
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

/// One side of a book: levels sorted so the best price is last.
pub(crate) struct BookSide {
    pub levels: Vec<Level>,
    is_bid: bool,
}

impl BookSide {
    pub fn new(side: Side, capacity: usize) -> BookSide {
        BookSide {
            levels: Vec::with_capacity(capacity),
            is_bid: side == Side::Buy,
        }
    }

    /// True when `a` is a better price than `b` on this side.
    #[inline]
    fn better(&self, a: Price, b: Price) -> bool {
        if self.is_bid { a > b } else { a < b }
    }

    /// The index of the level at `price`, or where it would be inserted.
    #[inline]
    fn position(&self, price: Price) -> Result<usize, usize> {
        // Most lookups are at or near the touch (the end), so try it before bisecting.
        if let Some(last) = self.levels.last() {
            if last.price == price {
                return Ok(self.levels.len() - 1);
            }
            if self.better(price, last.price) {
                return Err(self.levels.len());
            }
        }
        if self.is_bid {
            self.levels.binary_search_by(|l| l.price.cmp(&price))
        } else {
            self.levels.binary_search_by(|l| price.cmp(&l.price))
        }
    }

    /// The best level.
    #[inline]
    pub fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    /// Appends the order in `slot` to the back of its price's queue.
    pub fn push_back(&mut self, arena: &mut Arena, slot: u32) {
        let (price, leaves) = {
            let o = arena.get(slot);
            (o.price, o.leaves.0)
        };
        let at = match self.position(price) {
            Ok(i) => i,
            Err(i) => {
                self.levels.insert(
                    i,
                    Level {
                        price,
                        head: NIL,
                        tail: NIL,
                        total: 0,
                        count: 0,
                    },
                );
                i
            }
        };
        let level = &mut self.levels[at];
        let tail = level.tail;
        {
            let o = arena.get_mut(slot);
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

    /// Takes the order in `slot` out of its queue, dropping the level if it empties.
    pub fn unlink(&mut self, arena: &mut Arena, slot: u32) {
        let (price, leaves, prev, next) = {
            let o = arena.get(slot);
            (o.price, o.leaves.0, o.prev, o.next)
        };
        let Ok(at) = self.position(price) else {
            panic!("engine invariant broken: open order at {price} has no level");
        };
        if prev == NIL {
            self.levels[at].head = next;
        } else {
            arena.get_mut(prev).next = next;
        }
        if next == NIL {
            self.levels[at].tail = prev;
        } else {
            arena.get_mut(next).prev = prev;
        }
        let level = &mut self.levels[at];
        level.total -= leaves;
        level.count -= 1;
        if level.count == 0 {
            self.levels.remove(at);
        }
    }

    /// Lowers the queued quantity at `price` after an order there shrank by `qty` in place.
    #[inline]
    pub fn shrink(&mut self, price: Price, qty: u64) {
        if let Ok(at) = self.position(price) {
            self.levels[at].total -= qty;
        }
    }

    /// Levels best first.
    pub fn iter_best_first(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev()
    }
}

/// One symbol's book and trading state.
pub(crate) struct Book {
    pub bids: BookSide,
    pub asks: BookSide,
    /// The last trade's price, or the configured reference price before the first trade.
    pub reference_price: Option<Price>,
    pub halted: bool,
}

impl Book {
    pub fn new(reference_price: Option<Price>, level_capacity: usize) -> Book {
        Book {
            bids: BookSide::new(Side::Buy, level_capacity),
            asks: BookSide::new(Side::Sell, level_capacity),
            reference_price,
            halted: false,
        }
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
