//! Market data (BEHAVIOUR.md §9): what the exchange shows the world, derived from the matcher's events
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
//! use hayate_core::CoreConfig;
//!
//! let config = CoreConfig::demo();
//! let mut market = MarketData::new(&config.engine);
//! // for each `out` polled from the output ring:
//! //     market.on_output(&out, |update, market| { /* encode once, send to subscribers */ });
//! # let _ = &mut market;
//! ```

mod book;
mod recovery;
mod snapshot;
mod tape;
mod view;

pub use book::{L2Book, Level};
pub use recovery::{MarketRecoveryReport, recover, snapshot_dir, write_snapshot};
pub use tape::{Tape, Trade};

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::engine::EngineConfig;
use crate::event::{EVENT_FLAG_ALL_SYMBOLS, Event, EventKind};
use crate::pipeline::Output;
use crate::units::{Price, Qty, Side, SymbolId, TradeId};

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

/// A resting order as market data knows it: where its leaves quantity counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shadow {
    symbol: SymbolId,
    side: Side,
    price: Price,
    leaves: u64,
}

/// A level the current command touched, with its value before the command.
#[derive(Clone, Copy, Debug)]
struct Touched {
    symbol: SymbolId,
    side: Side,
    price: Price,
    before: Level,
}

/// What a symbol last published as its ticker, to tell whether it changed.
type TickerState = (Option<(Price, Qty)>, Option<(Price, Qty)>, Option<TradeId>);

/// The market-data builder: every symbol's L2 book, tape, ticker, status and sequence.
#[derive(Clone, Debug)]
pub struct MarketData {
    symbols: usize,
    /// The symbols' names, written in snapshots so that one taken under other symbols is refused.
    names: Vec<String>,
    books: Vec<L2Book>,
    tapes: Vec<Tape>,
    sequences: Vec<u64>,
    symbol_halted: Vec<bool>,
    exchange_halted: bool,
    tickers: Vec<TickerState>,
    orders: HashMap<u64, Shadow, FixedState>,
    journal_seq: u64,
    // The command being applied (reused buffers: no allocation in steady state).
    pending_seq: Option<u64>,
    pending_ts: u64,
    touched: Vec<Touched>,
    trades: Vec<(SymbolId, Trade)>,
    /// Every symbol's status before the command's first halt or resume, when it had one.
    status_before: Vec<TradingStatus>,
    status_seen: bool,
    changed_symbols: Vec<SymbolId>,
    updates: Vec<Update>,
}

impl MarketData {
    /// An empty market for `config`'s symbols (every sequence 0, every book empty, every
    /// status open), preallocated for `config.order_capacity` open orders and
    /// `config.level_capacity` levels per side.
    pub fn new(config: &EngineConfig) -> MarketData {
        let symbols = config.symbols.len();
        let levels = config.level_capacity as usize;
        let mut orders = HashMap::with_hasher(FixedState::with_seed(0));
        orders.reserve(config.order_capacity as usize);
        MarketData {
            symbols,
            names: config.symbols.iter().map(|s| s.name.clone()).collect(),
            books: (0..symbols).map(|_| L2Book::new(levels)).collect(),
            tapes: (0..symbols).map(|_| Tape::new()).collect(),
            sequences: vec![0; symbols],
            symbol_halted: vec![false; symbols],
            exchange_halted: false,
            tickers: vec![(None, None, None); symbols],
            orders,
            journal_seq: 0,
            pending_seq: None,
            pending_ts: 0,
            touched: Vec::with_capacity(256),
            trades: Vec::with_capacity(256),
            status_before: Vec::with_capacity(symbols),
            status_seen: false,
            changed_symbols: Vec::with_capacity(symbols.min(64)),
            updates: (0..symbols.min(64)).map(|_| Update::default()).collect(),
        }
    }

    /// Feeds one event from the output ring, in ring order. When `out.last` ends a command, calls
    /// `on_update(update, self)` once for every symbol the command changed (book levels, trades,
    /// or status), in symbol order, after the whole command is applied.
    pub fn on_output(&mut self, out: &Output, mut on_update: impl FnMut(&Update, &MarketData)) {
        if let Some(pending) = self.pending_seq {
            if pending != out.seq {
                // The previous command's last event never came (a consumer started mid-command
                // cannot happen with `last`, but a half command must not leak into this one).
                self.finish(&mut on_update);
            }
        }
        if self.pending_seq.is_none() {
            self.pending_seq = Some(out.seq);
            self.pending_ts = out.timestamp_ns;
        }
        self.apply(&out.event);
        if out.last {
            self.finish(&mut on_update);
        }
    }

    fn apply(&mut self, event: &Event) {
        let Some(kind) = event.event_kind() else {
            return;
        };
        match kind {
            EventKind::Accepted
            | EventKind::Fill
            | EventKind::Replaced
            | EventKind::Restated
            | EventKind::Canceled => {
                if kind == EventKind::Fill && !event.is_maker() {
                    self.record_trade(event);
                }
                let Some(side) = event.side() else {
                    return;
                };
                if event.symbol.0 as usize >= self.symbols {
                    return;
                }
                let now = Shadow {
                    symbol: event.symbol,
                    side,
                    price: event.price,
                    leaves: if kind == EventKind::Canceled {
                        0
                    } else {
                        event.leaves_qty.0
                    },
                };
                self.set_order(event.order_id.0, now);
            }
            EventKind::Halted | EventKind::Resumed => {
                if !self.status_seen {
                    self.status_seen = true;
                    self.status_before.clear();
                    for s in 0..self.symbols {
                        let status = self.status(SymbolId(s as u16));
                        self.status_before.push(status);
                    }
                }
                let halted = kind == EventKind::Halted;
                if event.flags & EVENT_FLAG_ALL_SYMBOLS != 0 {
                    self.exchange_halted = halted;
                } else if let Some(flag) = self.symbol_halted.get_mut(event.symbol.0 as usize) {
                    *flag = halted;
                }
            }
            _ => {}
        }
    }

    fn record_trade(&mut self, event: &Event) {
        let (Some(side), true) = (event.side(), (event.symbol.0 as usize) < self.symbols) else {
            return;
        };
        let fill = event.fill();
        self.trades.push((
            event.symbol,
            Trade {
                trade_id: fill.trade_id,
                price: fill.last_px,
                qty: fill.last_qty,
                taker_side: side,
                timestamp_ns: self.pending_ts,
                journal_seq: self.pending_seq.unwrap_or(0),
            },
        ));
    }

    /// Moves an order's leaves from where it was counted to where it is now.
    fn set_order(&mut self, id: u64, now: Shadow) {
        let was = if now.leaves == 0 {
            self.orders.remove(&id)
        } else {
            self.orders.insert(id, now)
        };
        if let Some(was) = was {
            self.adjust(was.symbol, was.side, was.price, -(was.leaves as i128), -1);
        }
        if now.leaves > 0 {
            self.adjust(now.symbol, now.side, now.price, now.leaves as i128, 1);
        }
    }

    fn adjust(&mut self, symbol: SymbolId, side: Side, price: Price, qty: i128, orders: i64) {
        let levels = self.books[symbol.0 as usize].side_mut(side);
        let before = levels.get(price);
        if !self
            .touched
            .iter()
            .any(|t| t.symbol == symbol && t.side == side && t.price == price)
        {
            self.touched.push(Touched {
                symbol,
                side,
                price,
                before,
            });
        }
        let qty = (i128::from(before.qty.0) + qty).clamp(0, i128::from(u64::MAX)) as u64;
        let orders = (i64::from(before.orders) + orders).clamp(0, i64::from(u32::MAX)) as u32;
        levels.set(
            price,
            Level {
                qty: Qty(qty),
                orders: if qty == 0 { 0 } else { orders },
            },
        );
    }

    /// Ends the pending command: builds one update per changed symbol and hands each over.
    fn finish(&mut self, on_update: &mut impl FnMut(&Update, &MarketData)) {
        let Some(seq) = self.pending_seq.take() else {
            return;
        };
        self.journal_seq = seq;
        self.changed_symbols.clear();
        for t in &self.touched {
            let after = self.books[t.symbol.0 as usize].side(t.side).get(t.price);
            // A sweep changes many levels of one symbol: skipping repeats keeps the list short
            // (it is deduplicated below anyway), so that it stays within its capacity.
            if after != t.before && self.changed_symbols.last() != Some(&t.symbol) {
                self.changed_symbols.push(t.symbol);
            }
        }
        for (symbol, _) in &self.trades {
            if self.changed_symbols.last() != Some(symbol) {
                self.changed_symbols.push(*symbol);
            }
        }
        if self.status_seen {
            for s in 0..self.symbols {
                let symbol = SymbolId(s as u16);
                if self.status_before.get(s) != Some(&self.status(symbol)) {
                    self.changed_symbols.push(symbol);
                }
            }
        }
        self.changed_symbols.sort_unstable();
        self.changed_symbols.dedup();
        while self.updates.len() < self.changed_symbols.len() {
            self.updates.push(Update::default());
        }
        for n in 0..self.changed_symbols.len() {
            let symbol = self.changed_symbols[n];
            self.build_update(n, symbol, seq);
        }
        for trade in &self.trades {
            self.tapes[trade.0.0 as usize].push(trade.1);
        }
        self.touched.clear();
        self.trades.clear();
        self.status_seen = false;
        for n in 0..self.changed_symbols.len() {
            on_update(&self.updates[n], self);
        }
    }

    fn build_update(&mut self, n: usize, symbol: SymbolId, seq: u64) {
        let s = symbol.0 as usize;
        self.sequences[s] += 1;
        let status = self.status(symbol);
        let status_changed =
            self.status_seen && self.status_before.get(s).is_some_and(|b| *b != status);
        let update = &mut self.updates[n];
        update.symbol = symbol;
        update.sequence = self.sequences[s];
        update.journal_seq = seq;
        update.timestamp_ns = self.pending_ts;
        update.levels.clear();
        update.trades.clear();
        update.status = status_changed.then_some(status);
        for side in [Side::Buy, Side::Sell] {
            let first = update.levels.len();
            for t in &self.touched {
                if t.symbol != symbol || t.side != side {
                    continue;
                }
                let after = self.books[s].side(side).get(t.price);
                if after != t.before {
                    update.levels.push(LevelChange {
                        side,
                        price: t.price,
                        before: t.before,
                        after,
                    });
                }
            }
            update.levels[first..].sort_unstable_by(|a, b| {
                if book::better(side, a.price, b.price) {
                    std::cmp::Ordering::Less
                } else if a.price == b.price {
                    std::cmp::Ordering::Equal
                } else {
                    std::cmp::Ordering::Greater
                }
            });
        }
        update
            .trades
            .extend(self.trades.iter().filter(|t| t.0 == symbol).map(|t| t.1));
        let book = &self.books[s];
        let ticker: TickerState = (
            book.best(Side::Buy).map(|(p, l)| (p, l.qty)),
            book.best(Side::Sell).map(|(p, l)| (p, l.qty)),
            update
                .trades
                .last()
                .map(|t| t.trade_id)
                .or(self.tickers[s].2),
        );
        update.ticker_changed = ticker != self.tickers[s];
        self.tickers[s] = ticker;
    }

    /// After a state was set from outside the event stream (load, recovery from the engine):
    /// nothing is pending, and the tickers are what the state shows, so that the next update's
    /// `ticker_changed` compares against them.
    fn settle(&mut self) {
        self.pending_seq = None;
        self.touched.clear();
        self.trades.clear();
        self.status_seen = false;
        for s in 0..self.symbols {
            let ticker = self.ticker(SymbolId(s as u16));
            self.tickers[s] = (ticker.bid, ticker.ask, ticker.last.map(|t| t.trade_id));
        }
    }

    /// The journal sequence of the last command fully applied (0 before any).
    pub fn journal_seq(&self) -> u64 {
        self.journal_seq
    }

    /// The symbol's market-data sequence (0 before its first update).
    pub fn sequence(&self, symbol: SymbolId) -> u64 {
        self.sequences.get(symbol.0 as usize).copied().unwrap_or(0)
    }

    /// The symbol's L2 book.
    pub fn book(&self, symbol: SymbolId) -> Option<&L2Book> {
        self.books.get(symbol.0 as usize)
    }

    /// The symbol's trade tape, newest last.
    pub fn tape(&self, symbol: SymbolId) -> Option<&Tape> {
        self.tapes.get(symbol.0 as usize)
    }

    /// The symbol's ticker.
    pub fn ticker(&self, symbol: SymbolId) -> Ticker {
        let Some(book) = self.book(symbol) else {
            return Ticker::default();
        };
        Ticker {
            bid: book.best(Side::Buy).map(|(p, l)| (p, l.qty)),
            ask: book.best(Side::Sell).map(|(p, l)| (p, l.qty)),
            last: self.tape(symbol).and_then(|t| t.last().copied()),
        }
    }

    /// The symbol's trading status.
    pub fn status(&self, symbol: SymbolId) -> TradingStatus {
        let own = self
            .symbol_halted
            .get(symbol.0 as usize)
            .copied()
            .unwrap_or(false);
        if own || self.exchange_halted {
            TradingStatus::Halted
        } else {
            TradingStatus::Open
        }
    }

    /// The entries that take a subscriber's view of `side` from the best `depth` levels before
    /// `update` to the best `depth` levels after it (`depth` 0: the whole side), in the order to
    /// apply them: deletes first (best first), then new and changed levels (best first). Applying
    /// them keeps the view equal to the book's best levels (BEHAVIOUR.md §9). Appends to `out`.
    ///
    /// Call it inside the `on_update` callback: the before-view is reconstructed from the book
    /// as it is now and the update's level changes (their `before` values).
    pub fn view_changes(
        &self,
        update: &Update,
        side: Side,
        depth: usize,
        out: &mut Vec<ViewChange>,
    ) {
        let Some(book) = self.book(update.symbol) else {
            return;
        };
        let levels = book.side(side);
        let depth = if depth == 0 { usize::MAX } else { depth };
        let changes = update.levels.iter().filter(move |c| c.side == side);
        let (mut added, mut removed) = (0usize, 0usize);
        for c in changes.clone() {
            added += usize::from(!c.before.exists() && c.after.exists());
            removed += usize::from(c.before.exists() && !c.after.exists());
        }
        // Deletes. A level whose value did not change can only leave the view by being pushed
        // below it by levels added above: it now ranks in [depth, depth + added).
        let pushed = if depth == usize::MAX { 0 } else { added };
        view::walk(
            levels,
            side,
            changes.clone(),
            depth,
            pushed,
            |at| match at {
                view::At::Changed { change, old, new } => {
                    if change.before.exists()
                        && old < depth
                        && (!change.after.exists() || new >= depth)
                    {
                        out.push(ViewChange {
                            action: ViewAction::Delete,
                            side,
                            price: change.price,
                            level: change.before,
                        });
                    }
                }
                view::At::Unchanged { price, level, old } => {
                    if old < depth {
                        out.push(ViewChange {
                            action: ViewAction::Delete,
                            side,
                            price,
                            level,
                        });
                    }
                }
            },
        );
        // New and changed levels. An unchanged level can only enter the view by moving up past
        // levels removed above it: it now ranks in [depth - removed, depth).
        let (from, lifted) = if depth == usize::MAX {
            (0, 0)
        } else {
            let from = depth.saturating_sub(removed);
            (from, depth - from)
        };
        view::walk(levels, side, changes, from, lifted, |at| match at {
            view::At::Changed { change, old, new } => {
                if change.after.exists() && new < depth {
                    let action = if !change.before.exists() || old >= depth {
                        ViewAction::New
                    } else {
                        ViewAction::Change
                    };
                    out.push(ViewChange {
                        action,
                        side,
                        price: change.price,
                        level: change.after,
                    });
                }
            }
            view::At::Unchanged { price, level, old } => {
                if old >= depth {
                    out.push(ViewChange {
                        action: ViewAction::New,
                        side,
                        price,
                        level,
                    });
                }
            }
        });
    }

    /// A hash over every symbol's book, tape, ticker, status and sequence: equal on every
    /// builder fed the same events.
    pub fn digest(&self) -> u64 {
        let mut bytes = Vec::with_capacity(4096);
        snapshot::write_state(self, &mut bytes);
        crate::digest::fnv1a_64(&bytes)
    }

    /// The whole state as bytes (see [`MarketData::load`]).
    pub fn save(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(4096);
        snapshot::write_state(self, &mut bytes);
        bytes
    }

    /// Rebuilds a builder from [`MarketData::save`]'s bytes, for `config` (refused if the
    /// symbols differ).
    pub fn load(config: &EngineConfig, bytes: &[u8]) -> Result<MarketData, crate::SnapshotError> {
        snapshot::read_state(config, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies one command made of order changes (id, side, price, leaves; leaves 0 removes) and
    /// returns the view changes of its update for `depth`, as (action, side, price, qty).
    fn command(
        market: &mut MarketData,
        seq: u64,
        orders: &[(u64, Side, u64, u64)],
        depth: usize,
    ) -> Vec<(ViewAction, Side, u64, u64)> {
        market.pending_seq = Some(seq);
        for &(id, side, price, leaves) in orders {
            let shadow = Shadow {
                symbol: SymbolId(0),
                side,
                price: Price(price),
                leaves,
            };
            market.set_order(id, shadow);
        }
        let mut entries = Vec::new();
        market.finish(&mut |update, market| {
            let mut out = Vec::new();
            for side in [Side::Buy, Side::Sell] {
                market.view_changes(update, side, depth, &mut out);
            }
            entries.extend(
                out.iter()
                    .map(|c| (c.action, c.side, c.price.0, c.level.qty.0)),
            );
        });
        entries
    }

    /// A feed thread owns its builder, and standbys and snapshots clone one.
    #[test]
    fn the_builder_is_send_and_clone() {
        fn send_clone<T: Send + Clone + 'static>() {}
        send_clone::<MarketData>();
    }

    #[test]
    fn views_take_levels_pushed_below_and_lifted_into_the_depth() {
        use Side::{Buy, Sell};
        use ViewAction::{Change, Delete, New};
        let config = crate::CoreConfig::demo();
        let mut market = MarketData::new(&config.engine);
        let rest = [(1, Buy, 100, 1), (2, Buy, 99, 2), (3, Buy, 98, 3)];
        assert_eq!(
            command(&mut market, 1, &rest, 2),
            [(New, Buy, 100, 1), (New, Buy, 99, 2)]
        );
        // 101 enters at the top and 99 goes: 100 stays, unchanged, and is not mentioned.
        assert_eq!(
            command(&mut market, 2, &[(4, Buy, 101, 4), (2, Buy, 99, 0)], 2),
            [(Delete, Buy, 99, 2), (New, Buy, 101, 4)]
        );
        // 101 goes: 98, unchanged, is lifted into the view.
        assert_eq!(
            command(&mut market, 3, &[(4, Buy, 101, 0)], 2),
            [(Delete, Buy, 101, 4), (New, Buy, 98, 3)]
        );
        // Two new levels above push both out; an offer changes on the other side.
        let entries = command(
            &mut market,
            4,
            &[(5, Buy, 103, 1), (6, Buy, 102, 1), (7, Sell, 110, 5)],
            2,
        );
        let pushed = [(Delete, Buy, 100, 1), (Delete, Buy, 98, 3)];
        let entered = [(New, Buy, 103, 1), (New, Buy, 102, 1), (New, Sell, 110, 5)];
        assert_eq!(
            entries,
            [&pushed[..2], &entered[..2], &entered[2..]].concat()
        );
        // The whole side: only the changed levels.
        assert_eq!(
            command(&mut market, 5, &[(5, Buy, 103, 0), (6, Buy, 102, 7)], 0),
            [(Delete, Buy, 103, 1), (Change, Buy, 102, 7)]
        );
        assert_eq!(market.sequence(SymbolId(0)), 5);
        assert_eq!(market.journal_seq(), 5);
    }
}
