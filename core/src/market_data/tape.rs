//! The trade tape of one symbol: the newest trades, in a fixed-size ring.

use super::TAPE_CAPACITY;
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
    /// Allocated once, to [`TAPE_CAPACITY`]; when full, `next` is the oldest (overwritten next).
    trades: Vec<Trade>,
    next: usize,
}

impl Tape {
    pub(super) fn new() -> Tape {
        Tape {
            trades: Vec::with_capacity(TAPE_CAPACITY),
            next: 0,
        }
    }

    pub(super) fn push(&mut self, trade: Trade) {
        if self.trades.len() < TAPE_CAPACITY {
            self.trades.push(trade);
        } else {
            self.trades[self.next] = trade;
            self.next = (self.next + 1) % TAPE_CAPACITY;
        }
    }

    /// The trades, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Trade> + '_ {
        let (older, newer) = self.trades.split_at(self.next);
        newer.iter().chain(older.iter()).rev()
    }

    /// The newest trade.
    pub fn last(&self) -> Option<&Trade> {
        self.newest_first().next()
    }

    /// How many trades it holds.
    pub fn len(&self) -> usize {
        self.trades.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(id: u64) -> Trade {
        Trade {
            trade_id: TradeId(id),
            price: Price(1),
            qty: Qty(1),
            taker_side: Side::Buy,
            timestamp_ns: 0,
            journal_seq: id,
        }
    }

    #[test]
    fn keeps_the_newest_trades_newest_first() {
        let mut tape = Tape::new();
        for id in 1..=(TAPE_CAPACITY as u64 + 5) {
            tape.push(trade(id));
        }
        assert_eq!(tape.len(), TAPE_CAPACITY);
        let ids: Vec<u64> = tape.newest_first().take(3).map(|t| t.trade_id.0).collect();
        let newest = TAPE_CAPACITY as u64 + 5;
        assert_eq!(ids, vec![newest, newest - 1, newest - 2]);
        assert_eq!(tape.newest_first().last().map(|t| t.trade_id.0), Some(6));
    }
}
