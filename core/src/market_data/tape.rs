//! The trade tape of one symbol: the newest trades, in a fixed-size ring.

use crate::units::{Price, Qty, Side, TradeId};

/// One trade, as the tape and the `matches` channel show it (no accounts, no order ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Trade {
    /// The engine's trade id.
    pub trade_id: TradeId,
    /// The price (the maker's), in ticks.
    pub price: Price,
    /// The quantity, in lots.
    pub qty: Qty,
    /// The taker's (aggressor's) side; the maker's is the opposite (Coinbase's `side`).
    pub taker_side: Side,
    /// The command's receive time (ns since the Unix epoch).
    pub timestamp_ns: u64,
    /// The journal sequence of the command.
    pub journal_seq: u64,
}

/// A symbol's newest trades (at most [`super::TAPE_CAPACITY`]).
#[derive(Clone, Debug, Default)]
pub struct Tape {
    _todo: (),
}

impl Tape {
    /// The trades, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Trade> + '_ {
        std::iter::empty()
    }

    /// How many trades it holds.
    pub fn len(&self) -> usize {
        0
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
