//! Market data (BEHAVIOUR.md §9): the builder fed the engine's events as the matcher publishes them.
//!
//! - A property test over random command streams: after every command the builder's L2 equals
//!   the engine's book; each update's level changes are exactly the levels whose (size, orders)
//!   the command changed; subscriber views of depth 0, 1 and 5 kept only by applying the
//!   published view changes equal the book's best levels and are never crossed; sequences rise
//!   by exactly one per update and symbol; trades equal the taker fills; status and ticker flags
//!   are set exactly when they changed; a builder saved and loaded mid-stream goes on to publish
//!   the same updates.
//! - Halts and resumes, symbol and exchange-wide (an exchange resume does not resume a symbol
//!   halted on its own); a sweep is one update; damaged saves are refused without panicking.
//! - `market_data::recover` on real data directories (journal, engine snapshots, market-data
//!   snapshots) equals a builder fed live, with or without a market-data snapshot, past damaged
//!   ones, at an earlier sequence, and falls back (with a warning) when the journal was trimmed.

use std::collections::BTreeMap;
use std::path::Path;

use hayate::journal::{FlushPolicy, Journal, JournalOptions};
use hayate::market_data::{
    self, LevelChange, MarketData, Trade, TradingStatus, Update, ViewAction, ViewChange,
};
use hayate::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const ACCOUNTS: u32 = 4;
const SYMBOLS: [SymbolId; 2] = [SymbolId(0), SymbolId(1)];
const SIDES: [Side; 2] = [Side::Buy, Side::Sell];
const DEPTHS: [usize; 3] = [0, 1, 5];

fn config() -> EngineConfig {
    hayate_testkit::market::two_symbol_config(ACCOUNTS, 10)
}

/// Every account funded for far more than it can rest.
fn funding() -> Vec<Command> {
    let mut commands = Vec::new();
    for account in 1..=ACCOUNTS {
        for asset in 0..3 {
            commands.push(Command::deposit(
                AccountId(account),
                AssetId(asset),
                Amount(1 << 40),
            ));
        }
    }
    commands
}

/// A command drawn by proptest, turned into a `Command` against the engine's current ids.
#[derive(Clone, Debug)]
enum Op {
    Order {
        account: u32,
        symbol: u16,
        buy: bool,
        market: bool,
        tif: u8,
        price: u64,
        qty: u64,
        post_only: bool,
        stp: u8,
    },
    Cancel {
        account: u32,
        back: u64,
    },
    Replace {
        account: u32,
        back: u64,
        price: u64,
        qty: u64,
    },
    MassCancel {
        account: u32,
        symbol: Option<u16>,
        disconnect: bool,
    },
    Query {
        account: u32,
        back: u64,
    },
    Deposit {
        account: u32,
    },
    Halt {
        symbol: Option<u16>,
        resume: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let account = 1..=ACCOUNTS;
    // Mostly the two symbols, sometimes an unknown one (refused: no market data).
    let symbol = prop::sample::select(vec![0u16, 0, 0, 0, 0, 1, 1, 1, 1, 2]);
    prop_oneof![
        12 => (account.clone(), symbol.clone(), any::<bool>(), prop::bool::weighted(0.1),
               prop::sample::select(vec![1u8, 1, 1, 3, 4]), 975u64..1_025, 1u64..30,
               prop::bool::weighted(0.1), 0u8..5)
            .prop_map(|(account, symbol, buy, market, tif, price, qty, post_only, stp)| Op::Order {
                account, symbol, buy, market, tif, price, qty, post_only, stp,
            }),
        3 => (account.clone(), 0u64..12).prop_map(|(account, back)| Op::Cancel { account, back }),
        3 => (account.clone(), 0u64..8, 975u64..1_025, 1u64..35)
            .prop_map(|(account, back, price, qty)| Op::Replace { account, back, price, qty }),
        1 => (account.clone(), prop::option::of(0u16..2), prop::bool::weighted(0.3))
            .prop_map(|(account, symbol, disconnect)| Op::MassCancel { account, symbol, disconnect }),
        1 => (account.clone(), 0u64..8).prop_map(|(account, back)| Op::Query { account, back }),
        1 => account.prop_map(|account| Op::Deposit { account }),
        1 => (prop::option::weighted(0.5, 0u16..2), prop::bool::weighted(0.85))
            .prop_map(|(symbol, resume)| Op::Halt { symbol, resume }),
    ]
}

/// The `back`-th newest open order and its owner, so that most cancels and replaces find their
/// order (the account drawn is used when none is open: a refusal).
fn open_order(engine: &Engine, account: u32, back: u64) -> (AccountId, OrderRef) {
    let mut open: Vec<(OrderId, AccountId)> = engine
        .accounts()
        .into_iter()
        .flat_map(|a| engine.open_orders(a).into_iter().map(move |o| (o.id, a)))
        .collect();
    open.sort_unstable_by_key(|(id, _)| std::cmp::Reverse(*id));
    match open.get(back as usize % open.len().max(1)) {
        Some(&(id, owner)) => (owner, OrderRef::Id(id)),
        None => (AccountId(account), OrderRef::Id(OrderId(back))),
    }
}

/// Recent order ids are the likeliest to be open: `back` counts down from the newest.
fn recent(engine: &Engine, back: u64) -> OrderRef {
    OrderRef::Id(OrderId(engine.next_order_id().0.saturating_sub(back + 1)))
}

fn command(engine: &Engine, op: &Op, t: u64) -> Command {
    let id = ClientOrderId::new(&format!("c{t}")).expect("short id");
    let cmd = match *op {
        Op::Order {
            account,
            symbol,
            buy,
            market,
            tif,
            price,
            qty,
            post_only,
            stp,
        } => {
            let side = if buy { Side::Buy } else { Side::Sell };
            let (account, symbol) = (AccountId(account), SymbolId(symbol));
            let mut order = if market {
                NewOrder::market(account, symbol, side, Qty(qty), id)
            } else {
                NewOrder::limit(account, symbol, side, Price(price), Qty(qty), id)
            }
            .with_tif(TimeInForce::from_u8(tif).unwrap_or(TimeInForce::Gtc))
            .with_stp(match stp {
                0 | 1 => SelfTradePrevention::DecrementCancel,
                2 => SelfTradePrevention::CancelOldest,
                3 => SelfTradePrevention::CancelNewest,
                _ => SelfTradePrevention::CancelBoth,
            });
            order.post_only = post_only;
            Command::new_order(order)
        }
        Op::Cancel { account, back } => {
            let (account, order) = open_order(engine, account, back);
            Command::cancel(account, order, ClientOrderId::EMPTY)
        }
        Op::Replace {
            account,
            back,
            price,
            qty,
        } => {
            let (account, order) = open_order(engine, account, back);
            Command::replace(account, order, id, Price(price), Qty(qty))
        }
        Op::MassCancel {
            account,
            symbol,
            disconnect,
        } => {
            if disconnect {
                Command::cancel_on_disconnect(AccountId(account))
            } else {
                Command::mass_cancel(
                    AccountId(account),
                    symbol.map(SymbolId),
                    ClientOrderId::EMPTY,
                )
            }
        }
        Op::Query { account, back } => Command::query_order(
            AccountId(account),
            recent(engine, back),
            ClientOrderId::EMPTY,
        ),
        Op::Deposit { account } => Command::deposit(AccountId(account), AssetId(2), Amount(1_000)),
        Op::Halt { symbol, resume } => {
            if resume {
                Command::resume(symbol.map(SymbolId))
            } else {
                Command::halt(symbol.map(SymbolId))
            }
        }
    };
    cmd.at(1_700_000_000_000_000_000 + t)
}

/// What a test keeps of an update (the builder's own buffers are reused).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Published {
    symbol: SymbolId,
    sequence: u64,
    journal_seq: u64,
    timestamp_ns: u64,
    levels: Vec<LevelChange>,
    trades: Vec<Trade>,
    status: Option<TradingStatus>,
    ticker_changed: bool,
    /// The view changes for each of `DEPTHS`, bids then offers.
    views: Vec<Vec<ViewChange>>,
}

fn published(update: &Update, market: &MarketData) -> Published {
    let mut views = Vec::new();
    for depth in DEPTHS {
        for side in SIDES {
            let mut changes = Vec::new();
            market.view_changes(update, side, depth, &mut changes);
            views.push(changes);
        }
    }
    Published {
        symbol: update.symbol,
        sequence: update.sequence,
        journal_seq: update.journal_seq,
        timestamp_ns: update.timestamp_ns,
        levels: update.levels.clone(),
        trades: update.trades.clone(),
        status: update.status,
        ticker_changed: update.ticker_changed,
        views,
    }
}

/// Feeds one command's events as the matcher marks them (index, last on the final one).
fn feed(market: &mut MarketData, seq: u64, cmd: &Command, events: &[Event]) -> Vec<Published> {
    let mut out = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let output = pipeline::Output {
            seq,
            timestamp_ns: cmd.timestamp_ns,
            index: index as u32,
            last: index + 1 == events.len(),
            event: *event,
        };
        market.on_output(&output, |update, market| {
            out.push(published(update, market))
        });
    }
    out
}

/// Processes one command on the engine and feeds its events to the builder.
fn step(engine: &mut Engine, market: &mut MarketData, seq: u64, cmd: &Command) -> Vec<Published> {
    let mut events = Vec::new();
    engine.process(cmd, &mut events);
    feed(market, seq, cmd, &events)
}

/// A fresh engine and builder after the funding commands (sequences 1..=12).
fn funded() -> (Engine, MarketData, u64) {
    let mut engine = Engine::new(config());
    let mut market = MarketData::new(&config());
    let mut seq = 0;
    for cmd in funding() {
        seq += 1;
        assert!(step(&mut engine, &mut market, seq, &cmd).is_empty());
    }
    (engine, market, seq)
}

/// One side of a book: price → (size, orders).
type Side2 = BTreeMap<u64, (u64, u32)>;

fn engine_side(engine: &Engine, symbol: SymbolId, side: Side) -> Side2 {
    engine
        .depth(symbol, side)
        .into_iter()
        .map(|(p, q, n)| (p.0, (q.0, n)))
        .collect()
}

fn best(engine: &Engine, symbol: SymbolId, side: Side, depth: usize) -> Side2 {
    let depth = if depth == 0 { usize::MAX } else { depth };
    let levels = engine.depth(symbol, side).into_iter().take(depth);
    levels.map(|(p, q, n)| (p.0, (q.0, n))).collect()
}

fn apply_view(view: &mut Side2, changes: &[ViewChange]) -> Result<(), String> {
    let mut deleting = true;
    for c in changes {
        let entry = (c.level.qty.0, c.level.orders);
        match c.action {
            ViewAction::Delete => {
                if !deleting {
                    return Err(format!("a delete after a new or change: {changes:?}"));
                }
                if view.remove(&c.price.0) != Some(entry) {
                    return Err(format!("delete of a level not so in the view: {c:?}"));
                }
            }
            ViewAction::New => {
                deleting = false;
                if view.insert(c.price.0, entry).is_some() {
                    return Err(format!("new for a level already in the view: {c:?}"));
                }
            }
            ViewAction::Change => {
                deleting = false;
                if view.insert(c.price.0, entry).is_none() {
                    return Err(format!("change of a level not in the view: {c:?}"));
                }
            }
        }
    }
    Ok(())
}

/// A level change as (side, price, (size, orders) before, after).
type Change = (Side, u64, (u64, u32), (u64, u32));

/// The level changes a command made to one symbol, bids then offers, each best first.
fn expected_levels(before: &[Side2; 2], after: &[Side2; 2]) -> Vec<Change> {
    let mut out = Vec::new();
    for (i, side) in SIDES.into_iter().enumerate() {
        let mut prices: Vec<u64> = before[i].keys().chain(after[i].keys()).copied().collect();
        prices.sort_unstable();
        prices.dedup();
        if side == Side::Buy {
            prices.reverse();
        }
        for p in prices {
            let b = before[i].get(&p).copied().unwrap_or((0, 0));
            let a = after[i].get(&p).copied().unwrap_or((0, 0));
            if a != b {
                out.push((side, p, b, a));
            }
        }
    }
    out
}

type Ticker3 = (Option<(u64, u64)>, Option<(u64, u64)>, Option<u64>);

fn ticker(book: &[Side2; 2], last: Option<u64>) -> Ticker3 {
    (
        book[0].iter().next_back().map(|(p, (q, _))| (*p, *q)),
        book[1].iter().next().map(|(p, (q, _))| (*p, *q)),
        last,
    )
}

fn halted(engine: &Engine, symbol: SymbolId) -> bool {
    engine.is_halted(Some(symbol)) || engine.is_halted(None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn market_data_follows_the_engine_after_every_command(
        ops in prop::collection::vec(op(), 1..200),
        split in any::<prop::sample::Index>(),
    ) {
        let (mut engine, mut market, mut seq) = funded();
        // views[symbol][depth][side], kept only from published view changes.
        let mut views = vec![vec![[Side2::new(), Side2::new()]; DEPTHS.len()]; SYMBOLS.len()];
        let mut sequences = [0u64; 2];
        let mut last_trade: [Option<u64>; 2] = [None; 2];
        let split = split.index(ops.len());
        let mut restored: Option<MarketData> = None;
        for (t, op) in ops.iter().enumerate() {
            if t == split {
                let loaded = MarketData::load(&config(), &market.save())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(loaded.digest(), market.digest());
                restored = Some(loaded);
            }
            seq += 1;
            let cmd = command(&engine, op, t as u64);
            let books_before: Vec<[Side2; 2]> = SYMBOLS
                .iter()
                .map(|&s| [engine_side(&engine, s, Side::Buy), engine_side(&engine, s, Side::Sell)])
                .collect();
            let halted_before: Vec<bool> = SYMBOLS.iter().map(|&s| halted(&engine, s)).collect();
            let mut events = Vec::new();
            engine.process(&cmd, &mut events);
            let updates = feed(&mut market, seq, &cmd, &events);
            if let Some(r) = restored.as_mut() {
                let again = feed(r, seq, &cmd, &events);
                prop_assert_eq!(&again, &updates, "the loaded builder diverged at {:?}", op);
            }
            // One update per symbol, in symbol order.
            let symbols: Vec<SymbolId> = updates.iter().map(|u| u.symbol).collect();
            let mut sorted = symbols.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(&symbols, &sorted, "updates in symbol order, one each");
            for (s, &symbol) in SYMBOLS.iter().enumerate() {
                let after = [engine_side(&engine, symbol, Side::Buy), engine_side(&engine, symbol, Side::Sell)];
                for (i, side) in SIDES.into_iter().enumerate() {
                    let book: Side2 = market
                        .book(symbol)
                        .map(|b| b.levels(side).map(|(p, l)| (p.0, (l.qty.0, l.orders))).collect())
                        .unwrap_or_default();
                    prop_assert_eq!(&book, &after[i], "{:?} {:?} after {:?}", symbol, side, op);
                    prop_assert_eq!(market.book(symbol).map(|b| b.len(side)), Some(after[i].len()));
                }
                let trades: Vec<Trade> = events
                    .iter()
                    .filter(|e| e.event_kind() == Some(EventKind::Fill) && !e.is_maker() && e.symbol == symbol)
                    .map(|e| {
                        let fill = e.fill();
                        Trade {
                            trade_id: fill.trade_id,
                            price: fill.last_px,
                            qty: fill.last_qty,
                            taker_side: e.side().expect("a fill has a side"),
                            timestamp_ns: cmd.timestamp_ns,
                            journal_seq: seq,
                        }
                    })
                    .collect();
                let levels = expected_levels(&books_before[s], &after);
                let status_now = halted(&engine, symbol);
                let status_changed = status_now != halted_before[s];
                let last_before = last_trade[s];
                if let Some(trade) = trades.last() {
                    last_trade[s] = Some(trade.trade_id.0);
                }
                let ticker_changed = ticker(&books_before[s], last_before) != ticker(&after, last_trade[s]);
                let update = updates.iter().find(|u| u.symbol == symbol);
                let expect_update = !levels.is_empty() || !trades.is_empty() || status_changed;
                prop_assert_eq!(update.is_some(), expect_update, "{:?} after {:?}", symbol, op);
                let status = if status_now { TradingStatus::Halted } else { TradingStatus::Open };
                prop_assert_eq!(market.status(symbol), status);
                if let Some(u) = update {
                    prop_assert_eq!(u.sequence, sequences[s] + 1, "sequences rise by one");
                    sequences[s] = u.sequence;
                    prop_assert_eq!(u.journal_seq, seq);
                    prop_assert_eq!(u.timestamp_ns, cmd.timestamp_ns);
                    let published: Vec<_> = u
                        .levels
                        .iter()
                        .map(|c| (c.side, c.price.0, (c.before.qty.0, c.before.orders), (c.after.qty.0, c.after.orders)))
                        .collect();
                    prop_assert_eq!(&published, &levels, "level changes of {:?} after {:?}", symbol, op);
                    prop_assert_eq!(&u.trades, &trades);
                    prop_assert_eq!(u.status, status_changed.then_some(status));
                    prop_assert_eq!(u.ticker_changed, ticker_changed, "ticker of {:?} after {:?}", symbol, op);
                    for (d, views) in views[s].iter_mut().enumerate() {
                        for (i, view) in views.iter_mut().enumerate() {
                            if let Err(e) = apply_view(view, &u.views[d * 2 + i]) {
                                return Err(TestCaseError::fail(format!(
                                    "depth {} after {op:?}: {e}", DEPTHS[d]
                                )));
                            }
                        }
                    }
                }
                prop_assert_eq!(market.sequence(symbol), sequences[s]);
                for (d, &depth) in DEPTHS.iter().enumerate() {
                    for (i, side) in SIDES.into_iter().enumerate() {
                        prop_assert_eq!(
                            &views[s][d][i],
                            &best(&engine, symbol, side, depth),
                            "view of depth {} {:?} {:?} after {:?}", depth, symbol, side, op
                        );
                    }
                    let bid = views[s][d][0].keys().next_back();
                    let ask = views[s][d][1].keys().next();
                    if let (Some(bid), Some(ask)) = (bid, ask) {
                        prop_assert!(bid < ask, "a crossed view at depth {}", depth);
                    }
                }
                let tape = market.tape(symbol).expect("a tape");
                prop_assert_eq!(tape.last().map(|t| t.trade_id.0), last_trade[s]);
                prop_assert_eq!(market.ticker(symbol).last.map(|t| t.trade_id.0), last_trade[s]);
            }
            prop_assert_eq!(market.journal_seq(), seq);
        }
        if let Some(r) = restored {
            prop_assert_eq!(r.digest(), market.digest());
            prop_assert_eq!(r.save(), market.save());
        }
    }
}

fn limit(account: u32, symbol: u16, side: Side, price: u64, qty: u64) -> Command {
    let id = ClientOrderId::new(&format!("{account}-{symbol}-{price}-{qty}")).expect("short id");
    Command::new_order(NewOrder::limit(
        AccountId(account),
        SymbolId(symbol),
        side,
        Price(price),
        Qty(qty),
        id,
    ))
}

/// Runs `cmd` as the next command and returns (symbol, status) of every update.
fn statuses(
    engine: &mut Engine,
    market: &mut MarketData,
    seq: &mut u64,
    cmd: Command,
) -> Vec<(u16, Option<TradingStatus>)> {
    *seq += 1;
    step(engine, market, *seq, &cmd)
        .into_iter()
        .map(|u| (u.symbol.0, u.status))
        .collect()
}

#[test]
fn halts_and_resumes_publish_each_symbols_status_change() {
    use TradingStatus::{Halted, Open};
    let (mut engine, mut market, mut seq) = funded();
    let (e, m, s) = (&mut engine, &mut market, &mut seq);
    assert_eq!(
        statuses(e, m, s, Command::halt(Some(SymbolId(0)))),
        [(0, Some(Halted))]
    );
    // The exchange halts: only symbol 1's status changes.
    assert_eq!(statuses(e, m, s, Command::halt(None)), [(1, Some(Halted))]);
    // The exchange resumes: symbol 0 stays halted on its own.
    assert_eq!(statuses(e, m, s, Command::resume(None)), [(1, Some(Open))]);
    assert_eq!(m.status(SymbolId(0)), Halted);
    assert_eq!(m.status(SymbolId(1)), Open);
    assert_eq!(
        statuses(e, m, s, Command::resume(Some(SymbolId(0)))),
        [(0, Some(Open))]
    );
    // Both change together, in symbol order.
    assert_eq!(
        statuses(e, m, s, Command::halt(None)),
        [(0, Some(Halted)), (1, Some(Halted))]
    );
    // A symbol halt under an exchange halt changes no status: no update.
    assert_eq!(statuses(e, m, s, Command::halt(Some(SymbolId(1)))), []);
    assert_eq!(statuses(e, m, s, Command::resume(None)), [(0, Some(Open))]);
    assert_eq!(m.status(SymbolId(1)), Halted);
    assert_eq!(
        (m.sequence(SymbolId(0)), m.sequence(SymbolId(1))),
        (4, 3),
        "one sequence per update and symbol"
    );
}

#[test]
fn a_sweep_is_one_update_with_its_trades_and_levels() {
    let (mut engine, mut market, mut seq) = funded();
    for (price, qty) in [(1_001, 5), (1_002, 5), (1_002, 3), (1_004, 7)] {
        seq += 1;
        step(
            &mut engine,
            &mut market,
            seq,
            &limit(1, 0, Side::Sell, price, qty),
        );
    }
    let book = market.book(SymbolId(0)).expect("book");
    let asks: Vec<(u64, u64, u32)> = book
        .levels(Side::Sell)
        .map(|(p, l)| (p.0, l.qty.0, l.orders))
        .collect();
    assert_eq!(asks, [(1_001, 5, 1), (1_002, 8, 2), (1_004, 7, 1)]);
    let before = market.sequence(SymbolId(0));
    // Takes the 13 lots at 1001 and 1002; its limit is 1003, so 1004 is untouched and the other
    // 2 lots rest as the new best bid.
    seq += 1;
    let updates = step(
        &mut engine,
        &mut market,
        seq,
        &limit(2, 0, Side::Buy, 1_003, 15),
    );
    assert_eq!(updates.len(), 1, "{updates:?}");
    let u = &updates[0];
    assert_eq!(u.sequence, before + 1);
    let trades: Vec<(u64, u64, Side)> = u
        .trades
        .iter()
        .map(|t| (t.price.0, t.qty.0, t.taker_side))
        .collect();
    assert_eq!(
        trades,
        [
            (1_001, 5, Side::Buy),
            (1_002, 5, Side::Buy),
            (1_002, 3, Side::Buy)
        ]
    );
    let levels: Vec<(Side, u64, u64, u64)> = u
        .levels
        .iter()
        .map(|c| (c.side, c.price.0, c.before.qty.0, c.after.qty.0))
        .collect();
    assert_eq!(
        levels,
        [
            (Side::Buy, 1_003, 0, 2),
            (Side::Sell, 1_001, 5, 0),
            (Side::Sell, 1_002, 8, 0)
        ]
    );
    assert!(u.ticker_changed && u.status.is_none());
    let tape: Vec<u64> = market
        .tape(SymbolId(0))
        .expect("tape")
        .newest_first()
        .map(|t| t.qty.0)
        .collect();
    assert_eq!(tape, [3, 5, 5], "newest first");
    let ticker = market.ticker(SymbolId(0));
    assert_eq!(ticker.bid, Some((Price(1_003), Qty(2))));
    assert_eq!(ticker.ask, Some((Price(1_004), Qty(7))));
    assert_eq!(ticker.last.map(|t| t.qty.0), Some(3));
    // Depth 1: the best offer 1001 is deleted and 1004 enters; the new bid enters. (The book is
    // still as the command left it, so its published update can be asked again.)
    let update = Update {
        symbol: u.symbol,
        sequence: u.sequence,
        journal_seq: u.journal_seq,
        timestamp_ns: u.timestamp_ns,
        levels: u.levels.clone(),
        trades: u.trades.clone(),
        status: u.status,
        ticker_changed: u.ticker_changed,
    };
    let one = |side| {
        let mut changes = Vec::new();
        market.view_changes(&update, side, 1, &mut changes);
        changes
            .iter()
            .map(|c| (c.action, c.price.0, c.level.qty.0))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        one(Side::Sell),
        [(ViewAction::Delete, 1_001, 5), (ViewAction::New, 1_004, 7)]
    );
    assert_eq!(one(Side::Buy), [(ViewAction::New, 1_003, 2)]);
    // A query changes nothing: no update.
    seq += 1;
    let query = Command::query_order(
        AccountId(1),
        OrderRef::Id(OrderId(engine.next_order_id().0 - 2)),
        ClientOrderId::EMPTY,
    );
    assert!(step(&mut engine, &mut market, seq, &query).is_empty());
    assert_eq!(market.journal_seq(), seq);
}

/// A builder with some state: resting orders on both symbols, trades, a halt.
fn busy() -> (Engine, MarketData, u64) {
    let (mut engine, mut market, mut seq) = funded();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ops = prop::collection::vec(op(), 300)
        .new_tree(&mut runner)
        .expect("ops")
        .current();
    for (t, op) in ops.iter().enumerate() {
        seq += 1;
        let cmd = command(&engine, op, t as u64);
        step(&mut engine, &mut market, seq, &cmd);
    }
    (engine, market, seq)
}

#[test]
fn save_and_load_round_trip_and_refuse_damage() {
    let (mut engine, mut market, mut seq) = busy();
    let saved = market.save();
    let mut loaded = MarketData::load(&config(), &saved).expect("load");
    assert_eq!(loaded.digest(), market.digest());
    assert!(market.tape(SymbolId(0)).is_some_and(|t| !t.is_empty()));
    // Both go on identically.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ops = prop::collection::vec(op(), 100)
        .new_tree(&mut runner)
        .expect("ops")
        .current();
    for (t, op) in ops.iter().enumerate() {
        seq += 1;
        let cmd = command(&engine, op, 10_000 + t as u64);
        let mut events = Vec::new();
        engine.process(&cmd, &mut events);
        assert_eq!(
            feed(&mut market, seq, &cmd, &events),
            feed(&mut loaded, seq, &cmd, &events)
        );
    }
    assert_eq!(loaded.digest(), market.digest());

    // Every truncation is refused; every flipped byte is refused or loads, never panics.
    for cut in 0..saved.len() {
        assert!(MarketData::load(&config(), &saved[..cut]).is_err(), "{cut}");
    }
    for at in 0..saved.len() {
        let mut damaged = saved.clone();
        damaged[at] ^= 0x5a;
        let _ = MarketData::load(&config(), &damaged);
    }
    let mut longer = saved.clone();
    longer.push(0);
    assert!(MarketData::load(&config(), &longer).is_err());

    // Other symbols: refused, even with the same number of them.
    let mut renamed = config();
    renamed.symbols[1].name = "SOL-JPY".into();
    assert!(MarketData::load(&renamed, &saved).is_err());
    let mut fewer = config();
    fewer.symbols.pop();
    assert!(MarketData::load(&fewer, &saved).is_err());
}

// ---------------------------------------------------------------------------------------------
// Recovery from a data directory

/// A deterministic stream for the recovery tests: the funding, then `op()` values.
fn stream(n: usize) -> Vec<Op> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    prop::collection::vec(op(), n)
        .new_tree(&mut runner)
        .expect("ops")
        .current()
}

/// What a live node left on disk, and what its builder was at every sequence.
struct Live {
    data: tempfile::TempDir,
    /// `digests[seq]`: the live builder's digest after `seq` (index 0: before any).
    digests: Vec<u64>,
    market: MarketData,
    engine: Engine,
    journal: Journal,
}

/// Runs the funding and `ops` live: journal each command, process it, feed the builder; an
/// engine snapshot every `engine_every` commands and a market-data snapshot at each of `md_at`.
fn run_live(ops: &[Op], engine_every: u64, md_at: &[u64]) -> Live {
    let data = tempfile::tempdir().expect("tempdir");
    let (mut journal, _) = Journal::open(
        pipeline::journal_dir(data.path()),
        JournalOptions {
            segment_size: 16 * 1024,
            flush_policy: FlushPolicy::Never,
            first_seq: 1,
        },
    )
    .expect("journal");
    let mut engine = Engine::new(config());
    let mut market = MarketData::new(&config());
    let mut digests = vec![market.digest()];
    let funding = funding();
    let funded = funding.len();
    let commands = funding
        .into_iter()
        .map(Some)
        .chain(ops.iter().map(|_| None));
    for (t, cmd) in commands.enumerate() {
        let cmd = cmd.unwrap_or_else(|| command(&engine, &ops[t - funded], t as u64));
        let seq = journal.append(cmd.as_bytes()).expect("append");
        step(&mut engine, &mut market, seq, &cmd);
        digests.push(market.digest());
        if seq % engine_every == 0 {
            recovery::write_snapshot(&engine, seq, &pipeline::snapshot_dir(data.path()))
                .expect("engine snapshot");
        }
        if md_at.contains(&seq) {
            market_data::write_snapshot(&market, &market_data::snapshot_dir(data.path()), 0)
                .expect("md snapshot");
        }
    }
    journal.commit().expect("commit");
    Live {
        data,
        digests,
        market,
        engine,
        journal,
    }
}

fn recover(data: &Path, end: u64) -> (MarketData, market_data::MarketRecoveryReport) {
    market_data::recover(&config(), data, end).expect("recover")
}

#[test]
fn recovery_replays_the_journal_or_continues_from_a_snapshot() {
    let live = run_live(&stream(1_500), 400, &[600, 1_100]);
    let end = live.digests.len() as u64 - 1;
    let md_dir = market_data::snapshot_dir(live.data.path());

    // From the newest market-data snapshot, its engine state from the engine snapshot at 800.
    let (market, report) = recover(live.data.path(), end);
    assert_eq!(report.snapshot.as_ref().map(|s| s.0), Some(1_100));
    assert_eq!(report.replayed, end - 1_100);
    assert!(report.warning.is_none() && report.skipped.is_empty());
    assert_eq!(market.digest(), live.market.digest());
    assert_eq!(market.journal_seq(), end);

    // At an earlier point (the replay tool): from the snapshot at 600, and the newer one is only
    // passed over, not discarded.
    let (market, report) = recover(live.data.path(), 1_000);
    assert_eq!(report.snapshot.as_ref().map(|s| s.0), Some(600));
    assert_eq!(market.digest(), live.digests[1_000]);
    assert!(md_dir.join("snapshot-00000000000000001100.snap").exists());

    // A damaged newest snapshot: the older one serves.
    let newest = md_dir.join("snapshot-00000000000000001100.snap");
    let mut bytes = std::fs::read(&newest).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&newest, bytes).expect("write");
    let (market, report) = recover(live.data.path(), end);
    assert_eq!(report.snapshot.as_ref().map(|s| s.0), Some(600));
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert_eq!(market.digest(), live.market.digest());

    // No usable market-data snapshot: the whole journal, from sequence 1.
    std::fs::remove_dir_all(&md_dir).expect("rm");
    let (market, report) = recover(live.data.path(), end);
    assert!(report.snapshot.is_none() && report.warning.is_none());
    assert_eq!(report.replayed, end);
    assert_eq!(market.digest(), live.market.digest());
    let (market, _) = recover(live.data.path(), 700);
    assert_eq!(market.digest(), live.digests[700]);

    // Snapshots written by `write_snapshot` keep the newest `keep`.
    for at in [100, 200, 300, end] {
        let (market, _) = recover(live.data.path(), at);
        market_data::write_snapshot(&market, &md_dir, 2).expect("md snapshot");
    }
    let kept: Vec<u64> = hayate::journal::snapshot_file::list_snapshots(&md_dir)
        .expect("list")
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(kept, [300, end]);

    // A market-data snapshot past the journal's end describes commands it no longer has.
    let (mut ahead, _) = recover(live.data.path(), end);
    let (mut engine, mut s) = (Engine::load(&live.engine.save()).expect("copy"), end);
    for cmd in [Command::halt(None), Command::resume(None)] {
        s += 1;
        step(&mut engine, &mut ahead, s, &cmd);
    }
    market_data::write_snapshot(&ahead, &md_dir, 0).expect("md snapshot");
    let (market, report) = recover(live.data.path(), end);
    assert_eq!(market.digest(), live.market.digest());
    assert!(report.skipped.iter().any(|s| s.contains("discarded")));
    assert!(
        !md_dir
            .join(hayate::journal::snapshot_file::snapshot_file_name(end + 2))
            .exists()
    );
}

#[test]
fn recovery_falls_back_to_the_engine_when_the_journal_was_trimmed() {
    let mut live = run_live(&stream(1_500), 500, &[400]);
    let end = live.digests.len() as u64 - 1;
    // Retention as a node applies it: the journal before the engine snapshot at 1000 is gone,
    // so neither a full replay nor the engine state at the market-data snapshot (400) exists.
    let deleted = live.journal.delete_segments_through(1_000).expect("trim");
    assert!(!deleted.is_empty());
    let check = |market: &MarketData| {
        for symbol in SYMBOLS {
            for side in SIDES {
                let book: Vec<(Price, Qty, u32)> = market
                    .book(symbol)
                    .expect("book")
                    .levels(side)
                    .map(|(p, l)| (p, l.qty, l.orders))
                    .collect();
                assert_eq!(book, live.engine.depth(symbol, side));
            }
            assert_eq!(market.status(symbol), live.market.status(symbol));
            // Never behind what was published: sequences only go forward.
            assert!(market.sequence(symbol) >= live.market.sequence(symbol));
        }
        assert_eq!(market.journal_seq(), end);
    };
    let (market, report) = recover(live.data.path(), end);
    assert!(report.warning.is_some(), "{report:?}");
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    check(&market);
    let md = MarketData::load(
        &config(),
        &hayate::journal::snapshot_file::read_snapshot(
            market_data::snapshot_dir(live.data.path()).join("snapshot-00000000000000000400.snap"),
        )
        .expect("read")
        .1,
    )
    .expect("load");
    for symbol in SYMBOLS {
        assert_eq!(
            market.sequence(symbol),
            md.sequence(symbol) + (end - 400),
            "past any sequence published since the snapshot"
        );
    }

    std::fs::remove_dir_all(market_data::snapshot_dir(live.data.path())).expect("rm");
    let (market, report) = recover(live.data.path(), end);
    assert!(report.warning.is_some() && report.snapshot.is_none());
    check(&market);
    // It goes on like the live builder from here, sequences apart.
    let (mut a, mut b) = (live.market.clone(), market);
    let mut engine = Engine::load(&live.engine.save()).expect("copy");
    let mut seq = end;
    for (t, op) in stream(200).iter().enumerate() {
        seq += 1;
        let cmd = command(&engine, op, 50_000 + t as u64);
        let mut events = Vec::new();
        engine.process(&cmd, &mut events);
        let (x, y) = (
            feed(&mut a, seq, &cmd, &events),
            feed(&mut b, seq, &cmd, &events),
        );
        let levels = |u: &Vec<Published>| -> Vec<_> {
            u.iter()
                .map(|u| (u.symbol, u.levels.clone(), u.status))
                .collect()
        };
        assert_eq!(levels(&x), levels(&y));
    }
}

/// The property test is only as good as its stream: check that it reaches what the views must
/// handle (levels pushed below a depth and lifted into it, trades, halts, sweeps).
#[test]
fn the_generated_stream_reaches_every_view_case() {
    let (mut engine, mut market, mut seq) = funded();
    let mut seen = BTreeMap::<&str, u32>::new();
    for (t, op) in stream(3_000).iter().enumerate() {
        seq += 1;
        let cmd = command(&engine, op, t as u64);
        for u in step(&mut engine, &mut market, seq, &cmd) {
            let changed = |price: Price| u.levels.iter().any(|c| c.price == price);
            for (d, changes) in u.views.iter().enumerate() {
                let depth = DEPTHS[d / 2];
                for c in changes {
                    let case = match (c.action, changed(c.price)) {
                        (ViewAction::Delete, false) => "pushed below",
                        (ViewAction::New, false) => "lifted into",
                        (ViewAction::Delete, true) => "deleted",
                        (ViewAction::New, true) => "new",
                        (ViewAction::Change, _) => "changed",
                    };
                    if depth > 0 || changed(c.price) {
                        *seen.entry(case).or_default() += 1;
                    }
                }
            }
            *seen.entry("trades").or_default() += u.trades.len() as u32;
            *seen.entry("status").or_default() += u32::from(u.status.is_some());
            *seen.entry("sweeps").or_default() += u32::from(u.trades.len() > 1);
        }
    }
    for case in [
        "pushed below",
        "lifted into",
        "deleted",
        "new",
        "changed",
        "trades",
        "status",
        "sweeps",
    ] {
        assert!(
            seen.get(case).is_some_and(|n| *n >= 5),
            "{case} is rare: {seen:?}"
        );
    }
}
