//! Market data (SPEC §9): what the exchange shows the world, derived from the matcher's events
//! outside the matcher. The [`MarketData`] builder keeps, per symbol, the L2 book (price levels
//! with total leaves and order count, best first), the trade tape, the ticker (best bid/offer and
//! last trade) and the trading status, and numbers the symbol's updates with its market-data
//! sequence.
//!
//! It is plain single-threaded code fed [`Output`]s in ring order — no I/O, no clock — so a
//! replay, a restart or a standby fed the same events holds the same market-data state, sequences
//! included. Every command's changes to one symbol are published as one [`Update`] (a taker that
//! sweeps three levels is one update), so no subscriber sees half a command.
//!
//! ```
//! use hayate_core::market_data::MarketData;
//! use hayate_core::ExchangeConfig;
//!
//! let config = ExchangeConfig::demo();
//! let mut market = MarketData::new(config.engine_config());
//! // for each `out` polled from the output ring:
//! //     market.on_output(&out, |update, market| { /* encode once, send to subscribers */ });
//! # let _ = &mut market;
//! ```

mod book;
mod recovery;
mod snapshot;
mod tape;

pub use book::{L2Book, Level};
pub use recovery::{MarketRecoveryReport, recover, snapshot_dir, write_snapshot};
pub use tape::{Tape, Trade};

use crate::market::EngineConfig;
use crate::pipeline::Output;
use crate::units::{Price, Qty, Side, SymbolId};

/// How many trades the tape keeps per symbol (`GET /trades?limit=N` serves at most this many).
pub const TAPE_CAPACITY: usize = 1000;

/// A symbol's trading status, as market data shows it: halted when the symbol or the whole
/// exchange is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradingStatus {
    /// Continuous trading.
    Open,
    /// Halted (its own halt, or the exchange's).
    Halted,
}

/// One level of a side whose (quantity, order count) a command changed. A level that did not
/// exist before has `before.qty == Qty(0)`; one that is gone has `after.qty == Qty(0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelChange {
    /// Bid (buy) or offer (sell).
    pub side: Side,
    /// The level's price, in ticks.
    pub price: Price,
    /// The level before the command.
    pub before: Level,
    /// The level after the command.
    pub after: Level,
}

/// What happens to one level of a subscriber's depth-limited view (FIX MDUpdateAction 279).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewAction {
    /// The level enters the view (`0`).
    New,
    /// The level stays in the view with another size or order count (`1`).
    Change,
    /// The level leaves the view: emptied, or pushed below the depth (`2`).
    Delete,
}

/// One entry of a depth-limited view's change, from [`MarketData::view_changes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewChange {
    /// New, change or delete.
    pub action: ViewAction,
    /// Bid or offer.
    pub side: Side,
    /// The level's price, in ticks.
    pub price: Price,
    /// The level as it is now (for a delete: as it was).
    pub level: Level,
}

/// One command's changes to one symbol: what every feed encodes once and sends to every
/// subscriber of the symbol. Its buffers belong to the builder and are reused (no allocation in
/// steady state); read it inside the `on_update` callback.
#[derive(Clone, Debug, Default)]
pub struct Update {
    /// The symbol.
    pub symbol: SymbolId,
    /// The symbol's market-data sequence: 1 for its first update, +1 for every later one.
    pub sequence: u64,
    /// The journal sequence of the command.
    pub journal_seq: u64,
    /// The command's receive time (ns since the Unix epoch): the time feeds print.
    pub timestamp_ns: u64,
    /// The levels the command changed, bids first then offers, each side best first.
    pub levels: Vec<LevelChange>,
    /// The trades, in the order they happened.
    pub trades: Vec<Trade>,
    /// The new trading status, when the command changed it.
    pub status: Option<TradingStatus>,
    /// Whether the ticker (best bid/offer with sizes, last trade) changed.
    pub ticker_changed: bool,
}

/// Best bid and offer with their sizes, and the last trade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ticker {
    /// Best bid: (price, total quantity).
    pub bid: Option<(Price, Qty)>,
    /// Best offer: (price, total quantity).
    pub ask: Option<(Price, Qty)>,
    /// The last trade.
    pub last: Option<Trade>,
}

/// The market-data builder: every symbol's L2 book, tape, ticker, status and sequence.
#[derive(Clone, Debug)]
pub struct MarketData {
    _todo: (),
}

impl MarketData {
    /// An empty market for `config`'s symbols (every sequence 0, every book empty, every
    /// status open), preallocated for `config.order_capacity` open orders and
    /// `config.level_capacity` levels per side.
    pub fn new(config: &EngineConfig) -> MarketData {
        let _ = config;
        todo!()
    }

    /// Feeds one event from the output ring, in ring order. When `out.last` ends a command, calls
    /// `on_update(update, self)` once for every symbol the command changed (book levels, trades,
    /// or status), in symbol order, after the whole command is applied.
    pub fn on_output(&mut self, out: &Output, on_update: impl FnMut(&Update, &MarketData)) {
        let _ = (out, on_update);
        todo!()
    }

    /// The journal sequence of the last command fully applied (0 before any).
    pub fn journal_seq(&self) -> u64 {
        todo!()
    }

    /// The symbol's market-data sequence (0 before its first update).
    pub fn sequence(&self, symbol: SymbolId) -> u64 {
        let _ = symbol;
        todo!()
    }

    /// The symbol's L2 book.
    pub fn book(&self, symbol: SymbolId) -> Option<&L2Book> {
        let _ = symbol;
        todo!()
    }

    /// The symbol's trade tape, newest last.
    pub fn tape(&self, symbol: SymbolId) -> Option<&Tape> {
        let _ = symbol;
        todo!()
    }

    /// The symbol's ticker.
    pub fn ticker(&self, symbol: SymbolId) -> Ticker {
        let _ = symbol;
        todo!()
    }

    /// The symbol's trading status.
    pub fn status(&self, symbol: SymbolId) -> TradingStatus {
        let _ = symbol;
        todo!()
    }

    /// The entries that take a subscriber's view of `side` from the best `depth` levels before
    /// `update` to the best `depth` levels after it (`depth` 0: the whole side), in the order to
    /// apply them: deletes first (best first), then new and changed levels (best first). Applying
    /// them keeps the view equal to the book's best levels (SPEC §9). Appends to `out`.
    pub fn view_changes(&self, update: &Update, side: Side, depth: usize, out: &mut Vec<ViewChange>) {
        let _ = (update, side, depth, out);
        todo!()
    }

    /// A hash over every symbol's book, tape, ticker, status and sequence: equal on every
    /// builder fed the same events.
    pub fn digest(&self) -> u64 {
        todo!()
    }

    /// The whole state as bytes (see [`MarketData::load`]).
    pub fn save(&self) -> Vec<u8> {
        todo!()
    }

    /// Rebuilds a builder from [`MarketData::save`]'s bytes, for `config` (refused if the
    /// symbols differ).
    pub fn load(config: &EngineConfig, bytes: &[u8]) -> Result<MarketData, crate::SnapshotError> {
        let _ = (config, bytes);
        todo!()
    }
}
