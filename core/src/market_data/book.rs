//! The L2 book of one symbol: price levels per side, each with total leaves and order count.

use crate::units::{Price, Qty, Side};

/// One price level: total leaves quantity and number of orders (both 0: no level).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Level {
    /// Total leaves quantity at the price, in lots.
    pub qty: Qty,
    /// Number of resting orders at the price.
    pub orders: u32,
}

impl Level {
    /// No level.
    pub const NONE: Level = Level {
        qty: Qty(0),
        orders: 0,
    };

    /// Whether the level exists (has resting quantity).
    pub fn exists(&self) -> bool {
        self.qty.0 > 0
    }
}

/// One side's levels, sorted so that the best is LAST: changes happen near the touch, where a
/// `Vec` inserts and removes cheaply. Bids ascend (best = highest), offers descend.
#[derive(Clone, Debug, Default)]
pub(super) struct SideLevels {
    levels: Vec<(Price, Level)>,
    /// Offers are stored descending.
    descending: bool,
}

impl SideLevels {
    fn new(side: Side, capacity: usize) -> SideLevels {
        SideLevels {
            levels: Vec::with_capacity(capacity),
            descending: side == Side::Sell,
        }
    }

    /// Position of `price` (Ok) or where it would go (Err), in storage order.
    fn search(&self, price: Price) -> Result<usize, usize> {
        if self.descending {
            self.levels.binary_search_by(|(p, _)| price.cmp(p))
        } else {
            self.levels.binary_search_by(|(p, _)| p.cmp(&price))
        }
    }

    /// The level at `price` (`Level::NONE` if there is none).
    pub(super) fn get(&self, price: Price) -> Level {
        match self.search(price) {
            Ok(i) => self.levels[i].1,
            Err(_) => Level::NONE,
        }
    }

    /// Sets the level at `price`; a level without quantity is removed.
    pub(super) fn set(&mut self, price: Price, level: Level) {
        match (self.search(price), level.exists()) {
            (Ok(i), true) => self.levels[i].1 = level,
            (Ok(i), false) => {
                self.levels.remove(i);
            }
            (Err(i), true) => self.levels.insert(i, (price, level)),
            (Err(_), false) => {}
        }
    }

    /// How many levels are better than `price` (its rank when it exists).
    pub(super) fn better_than(&self, price: Price) -> usize {
        match self.search(price) {
            Ok(i) => self.levels.len() - 1 - i,
            Err(i) => self.levels.len() - i,
        }
    }

    /// Levels best first.
    pub(super) fn best_first(&self) -> impl Iterator<Item = (Price, Level)> + '_ {
        self.levels.iter().rev().copied()
    }

    pub(super) fn len(&self) -> usize {
        self.levels.len()
    }
}

/// Whether `a` is a better price than `b` on `side`.
pub(super) fn better(side: Side, a: Price, b: Price) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

/// One symbol's L2 book.
#[derive(Clone, Debug, Default)]
pub struct L2Book {
    pub(super) bids: SideLevels,
    pub(super) asks: SideLevels,
}

impl L2Book {
    pub(super) fn new(capacity: usize) -> L2Book {
        L2Book {
            bids: SideLevels::new(Side::Buy, capacity),
            asks: SideLevels::new(Side::Sell, capacity),
        }
    }

    pub(super) fn side(&self, side: Side) -> &SideLevels {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    pub(super) fn side_mut(&mut self, side: Side) -> &mut SideLevels {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The side's levels, best first.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (Price, Level)> + '_ {
        self.side(side).best_first()
    }

    /// The side's best level.
    pub fn best(&self, side: Side) -> Option<(Price, Level)> {
        self.levels(side).next()
    }

    /// How many levels the side has.
    pub fn len(&self, side: Side) -> usize {
        self.side(side).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_come_best_first_on_both_sides() {
        let mut book = L2Book::new(4);
        for p in [10, 30, 20] {
            let level = Level {
                qty: Qty(p),
                orders: 1,
            };
            book.side_mut(Side::Buy).set(Price(p), level);
            book.side_mut(Side::Sell).set(Price(p), level);
        }
        let bids: Vec<u64> = book.levels(Side::Buy).map(|(p, _)| p.0).collect();
        let asks: Vec<u64> = book.levels(Side::Sell).map(|(p, _)| p.0).collect();
        assert_eq!((bids, asks), (vec![30, 20, 10], vec![10, 20, 30]));
        assert_eq!(book.side(Side::Buy).better_than(Price(20)), 1);
        assert_eq!(book.side(Side::Buy).better_than(Price(25)), 1);
        assert_eq!(book.side(Side::Sell).better_than(Price(25)), 2);
        book.side_mut(Side::Buy).set(Price(30), Level::NONE);
        assert_eq!(book.best(Side::Buy).map(|(p, _)| p.0), Some(20));
    }
}
