//! The naive baseline: the order book most people write first.
//!
//! Each side is a `BTreeMap<price, VecDeque<order>>`, and a std `HashMap<id, (side, price)>`
//! (SipHash) finds an order's level for cancel and replace, which then searches the level's queue
//! linearly. Matching is price-time priority with the same rules as Hayate's engine (fills at the
//! maker's price, GTC remainders rest, IOC and market remainders are dropped, FIX-style replace:
//! the new quantity is the new *total*, priority is kept only when the price is unchanged and the
//! leaves quantity does not grow, otherwise the order goes to the back of its new level and
//! matches first if it now crosses).
//!
//! It does strictly less work than Hayate: no accounts, no reservations, no fees, no client order
//! ids, no validation, and it reports only trades (a 32-byte [`Trade`]), not the 128-byte
//! execution reports Hayate writes for every accept, fill (both sides), cancel and replace.
//!
//! The stream generator also uses it as its oracle (best prices, live orders, fillable depth), so
//! its accessors below are not part of the timed work.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::stream::{Op, OpSide};

/// A resting order.
#[derive(Clone, Copy, Debug)]
pub struct NaiveOrder {
    /// The order id (the stream's id).
    pub id: u64,
    /// Quantity still open, in lots.
    pub leaves: u64,
    /// Quantity filled so far, in lots.
    pub cum: u64,
}

/// One trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// The resting order's id.
    pub maker: u64,
    /// The incoming (or replaced-and-crossing) order's id.
    pub taker: u64,
    /// The maker's price, in ticks.
    pub price: u64,
    /// Lots traded.
    pub qty: u64,
}

/// The naive book.
#[derive(Clone, Default)]
pub struct NaiveBook {
    bids: BTreeMap<u64, VecDeque<NaiveOrder>>,
    asks: BTreeMap<u64, VecDeque<NaiveOrder>>,
    index: HashMap<u64, (OpSide, u64)>,
}

#[inline]
fn crosses(side: OpSide, limit: u64, resting: u64) -> bool {
    match side {
        OpSide::Buy => resting <= limit,
        OpSide::Sell => resting >= limit,
    }
}

impl NaiveBook {
    /// An empty book with room for `orders` in its id index.
    pub fn with_capacity(orders: usize) -> NaiveBook {
        NaiveBook {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            index: HashMap::with_capacity(orders),
        }
    }

    /// Applies one op, reporting trades to `sink`. Returns false when a cancel or replace names
    /// no live order (nothing changes then).
    #[inline]
    pub fn apply<F: FnMut(&Trade)>(&mut self, op: &Op, sink: &mut F) -> bool {
        match *op {
            Op::Limit {
                id,
                side,
                price,
                qty,
            } => {
                let filled = self.take(id, side, price, qty, sink);
                if filled < qty {
                    self.rest(
                        side,
                        price,
                        NaiveOrder {
                            id,
                            leaves: qty - filled,
                            cum: filled,
                        },
                    );
                }
                true
            }
            Op::Ioc {
                id,
                side,
                price,
                qty,
            } => {
                self.take(id, side, price, qty, sink);
                true
            }
            Op::Market { id, side, qty } => {
                let limit = match side {
                    OpSide::Buy => u64::MAX,
                    OpSide::Sell => 0,
                };
                self.take(id, side, limit, qty, sink);
                true
            }
            Op::Cancel { id } => self.cancel(id),
            Op::Replace {
                id,
                price,
                new_total,
                ..
            } => self.replace(id, price, new_total, sink),
        }
    }

    fn levels_mut(&mut self, side: OpSide) -> &mut BTreeMap<u64, VecDeque<NaiveOrder>> {
        match side {
            OpSide::Buy => &mut self.bids,
            OpSide::Sell => &mut self.asks,
        }
    }

    fn levels(&self, side: OpSide) -> &BTreeMap<u64, VecDeque<NaiveOrder>> {
        match side {
            OpSide::Buy => &self.bids,
            OpSide::Sell => &self.asks,
        }
    }

    fn rest(&mut self, side: OpSide, price: u64, order: NaiveOrder) {
        self.index.insert(order.id, (side, price));
        self.levels_mut(side)
            .entry(price)
            .or_default()
            .push_back(order);
    }

    /// Matches a taker against the opposite side while prices cross; returns the lots filled.
    fn take<F: FnMut(&Trade)>(
        &mut self,
        taker: u64,
        side: OpSide,
        limit: u64,
        qty: u64,
        sink: &mut F,
    ) -> u64 {
        let mut remaining = qty;
        while remaining > 0 {
            let entry = match side {
                OpSide::Buy => self.asks.first_entry(),
                OpSide::Sell => self.bids.last_entry(),
            };
            let Some(mut entry) = entry else { break };
            let price = *entry.key();
            if !crosses(side, limit, price) {
                break;
            }
            let queue = entry.get_mut();
            while remaining > 0 {
                let Some(maker) = queue.front_mut() else {
                    break;
                };
                let q = remaining.min(maker.leaves);
                maker.leaves -= q;
                maker.cum += q;
                remaining -= q;
                sink(&Trade {
                    maker: maker.id,
                    taker,
                    price,
                    qty: q,
                });
                if maker.leaves == 0 {
                    let id = maker.id;
                    queue.pop_front();
                    self.index.remove(&id);
                }
            }
            if queue.is_empty() {
                entry.remove();
            }
        }
        qty - remaining
    }

    /// Takes a live order out of its level; `None` if `id` is not live.
    fn unlink(&mut self, id: u64) -> Option<(OpSide, u64, NaiveOrder)> {
        let (side, price) = self.index.remove(&id)?;
        let levels = self.levels_mut(side);
        let queue = levels.get_mut(&price).expect("indexed order has a level");
        let pos = queue
            .iter()
            .position(|o| o.id == id)
            .expect("indexed order is in its level");
        let order = queue.remove(pos).expect("position is in range");
        if queue.is_empty() {
            levels.remove(&price);
        }
        Some((side, price, order))
    }

    fn cancel(&mut self, id: u64) -> bool {
        self.unlink(id).is_some()
    }

    fn replace<F: FnMut(&Trade)>(&mut self, id: u64, price: u64, total: u64, sink: &mut F) -> bool {
        let Some(&(side, old_price)) = self.index.get(&id) else {
            return false;
        };
        if price == old_price {
            let queue = self
                .levels_mut(side)
                .get_mut(&price)
                .expect("indexed order has a level");
            let order = queue
                .iter_mut()
                .find(|o| o.id == id)
                .expect("indexed order is in its level");
            if total > order.cum && total - order.cum <= order.leaves {
                // Priority kept: shrink in place.
                order.leaves = total - order.cum;
                return true;
            }
        }
        let (side, _, mut order) = self.unlink(id).expect("checked above");
        if total <= order.cum {
            return true; // replaced done: the order ends
        }
        let leaves = total - order.cum;
        let filled = self.take(id, side, price, leaves, sink);
        order.cum += filled;
        order.leaves = leaves - filled;
        if order.leaves > 0 {
            self.rest(side, price, order);
        }
        true
    }

    // ----- oracle accessors, used by the stream generator (not timed) ---------------------

    /// The best bid price.
    pub fn best_bid(&self) -> Option<u64> {
        self.bids.keys().next_back().copied()
    }

    /// The best ask price.
    pub fn best_ask(&self) -> Option<u64> {
        self.asks.keys().next().copied()
    }

    /// The worst (deepest) price of a side.
    pub fn deepest(&self, side: OpSide) -> Option<u64> {
        match side {
            OpSide::Buy => self.bids.keys().next().copied(),
            OpSide::Sell => self.asks.keys().next_back().copied(),
        }
    }

    /// True when `id` is a live (resting) order.
    pub fn contains(&self, id: u64) -> bool {
        self.index.contains_key(&id)
    }

    /// A live order: its side, price and state.
    pub fn order(&self, id: u64) -> Option<(OpSide, u64, NaiveOrder)> {
        let &(side, price) = self.index.get(&id)?;
        let order = self.levels(side)[&price].iter().find(|o| o.id == id)?;
        Some((side, price, *order))
    }

    /// Number of live orders.
    pub fn live_orders(&self) -> usize {
        self.index.len()
    }

    /// Number of price levels on a side.
    pub fn level_count(&self, side: OpSide) -> usize {
        self.levels(side).len()
    }

    /// The least aggressive limit at which a taker on `side` fills `qty` in full against the
    /// current book, or `None` if the opposite side holds less than `qty`.
    pub fn fill_price(&self, side: OpSide, qty: u64) -> Option<u64> {
        let mut need = qty;
        let levels: Box<dyn Iterator<Item = (&u64, &VecDeque<NaiveOrder>)>> = match side {
            OpSide::Buy => Box::new(self.asks.iter()),
            OpSide::Sell => Box::new(self.bids.iter().rev()),
        };
        for (&price, queue) in levels {
            let total: u64 = queue.iter().map(|o| o.leaves).sum();
            if total >= need {
                return Some(price);
            }
            need -= total;
        }
        None
    }
}
