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

/// One symbol's L2 book.
#[derive(Clone, Debug, Default)]
pub struct L2Book {
    _todo: (),
}

impl L2Book {
    /// The side's levels, best first.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (Price, Level)> + '_ {
        let _ = side;
        std::iter::empty()
    }

    /// The side's best level.
    pub fn best(&self, side: Side) -> Option<(Price, Level)> {
        self.levels(side).next()
    }

    /// How many levels the side has.
    pub fn len(&self, side: Side) -> usize {
        self.levels(side).count()
    }
}
