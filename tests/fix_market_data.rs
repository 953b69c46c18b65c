//! FIX 4.4 market data end to end, below the sockets (BEHAVIOUR.md §9): random command streams run
//! through an `Engine`, its events feed the market-data builder, and `FixMarketData` turns every
//! update into the messages of three incremental subscriptions (MarketDepth 0, 1 and 5, bids,
//! offers and trades, both symbols) and one full-refresh subscription (MDUpdateType 0, depth 5) on
//! a second session. Every message is written through a real `FixSession`, parsed back, held to
//! the FIX 4.4 data dictionary, and applied to a per-subscription view the way a client would
//! (new inserts, change replaces, delete removes; a W replaces). After every command each view
//! must equal the engine's best `depth` levels (`Engine::depth`), never crossed, and the trades of
//! the X must be the engine's fills.

use std::collections::BTreeMap;
use std::time::Instant;

use hayate::adapters::fix::codec::{Encoder, FieldList, Framing, frame, parse_decimal};
use hayate::adapters::fix::dictionary;
use hayate::adapters::fix::market_data::{FixMarketData, FixMdSend, SessionKey};
use hayate::adapters::fix::seq_store::SeqStore;
use hayate::adapters::fix::session::{FixSession, Inbound, LogonGrant};
use hayate::market_data::MarketData;
use hayate::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

const NOW_NS: u64 = 1_733_390_000_000_000_000;
const SYMBOLS: [&str; 2] = ["BTC-JPY", "ETH-JPY"];
/// The incremental subscriptions (MDReqID, MarketDepth) of session A.
const INCREMENTAL: [(&str, usize); 3] = [("d0", 0), ("d1", 1), ("d5", 5)];
/// The full-refresh subscription of session B.
const FULL: (&str, usize) = ("w5", 5);
const A: SessionKey = (0, 1);
const B: SessionKey = (1, 2);

/// BTC-JPY has a fractional tick (0.5) so prices travel as decimals; ETH-JPY ticks by 1.
fn config() -> EngineConfig {
    let symbol = |name: &str, base, tick: Decimal, unit_notional| SymbolSpec {
        name: name.into(),
        base: AssetId(base),
        quote: AssetId(2),
        tick_size: tick,
        lot_size: Decimal::new(1, 4),
        unit_notional,
        lot_base_minor: 10_000,
        min_qty: Qty(1),
        max_qty: Qty(1_000),
        maker_fee_bps: 0,
        taker_fee_bps: 10,
        band_bps: 0,
        reference_price: None,
        max_notional: SymbolSpec::NO_NOTIONAL_LIMIT,
        breaker: None,
    };
    let asset = |name: &str, decimals| AssetSpec {
        name: name.into(),
        decimals,
    };
    EngineConfig {
        assets: vec![asset("BTC", 8), asset("ETH", 8), asset("JPY", 6)],
        symbols: vec![
            symbol(SYMBOLS[0], 0, Decimal::new(5, 1), 50),
            symbol(SYMBOLS[1], 1, Decimal::ONE, 100),
        ],
        accounts: (1..=3).map(AccountId).collect(),
        max_open_orders: 40,
        order_capacity: 512,
        level_capacity: 64,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Limit {
        account: u32,
        symbol: u16,
        buy: bool,
        price: u64,
        qty: u64,
        ioc: bool,
        client: u8,
    },
    Cancel {
        account: u32,
        client: u8,
    },
    Replace {
        account: u32,
        client: u8,
        price: u64,
        qty: u64,
        new_client: u8,
    },
    Halt {
        symbol: Option<u16>,
        resume: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let account = 1u32..=3;
    prop_oneof![
        12 => (account.clone(), 0u16..2, any::<bool>(), 90u64..110, 1u64..30, prop::bool::weighted(0.2), 0u8..10)
            .prop_map(|(account, symbol, buy, price, qty, ioc, client)| Op::Limit {
                account, symbol, buy, price, qty, ioc, client,
            }),
        4 => (account.clone(), 0u8..10).prop_map(|(account, client)| Op::Cancel { account, client }),
        3 => (account, 0u8..10, 90u64..110, 1u64..30, 0u8..10)
            .prop_map(|(account, client, price, qty, new_client)| Op::Replace {
                account, client, price, qty, new_client,
            }),
        1 => (prop::option::of(0u16..2), any::<bool>())
            .prop_map(|(symbol, resume)| Op::Halt { symbol, resume }),
    ]
}

fn client(n: u8) -> ClientOrderId {
    ClientOrderId::new(&format!("c{n}")).expect("a short id")
}

fn command(op: &Op) -> Command {
    match *op {
        Op::Limit {
            account,
            symbol,
            buy,
            price,
            qty,
            ioc,
            client: c,
        } => {
            let side = if buy { Side::Buy } else { Side::Sell };
            let order = NewOrder::limit(
                AccountId(account),
                SymbolId(symbol),
                side,
                Price(price),
                Qty(qty),
                client(c),
            );
            let tif = if ioc {
                TimeInForce::Ioc
            } else {
                TimeInForce::Gtc
            };
            Command::new_order(order.with_tif(tif))
        }
        Op::Cancel { account, client: c } => Command::cancel(
            AccountId(account),
            OrderRef::Client(client(c)),
            ClientOrderId::EMPTY,
        ),
        Op::Replace {
            account,
            client: c,
            price,
            qty,
            new_client,
        } => Command::replace(
            AccountId(account),
            OrderRef::Client(client(c)),
            client(new_client),
            Price(price),
            Qty(qty),
        ),
        Op::Halt { symbol, resume } => {
            let symbol = symbol.map(SymbolId);
            if resume {
                Command::resume(symbol)
            } else {
                Command::halt(symbol)
            }
        }
    }
}

/// A logged-on FIX session for `comp_id`.
fn session(comp_id: &str) -> FixSession {
    let mut e = Encoder::new();
    e.start(b"A", comp_id.as_bytes(), b"HAYATE", 1, NOW_NS);
    e.field(98, b"0");
    e.field(108, b"30");
    let now = Instant::now();
    let mut session = FixSession::new("HAYATE", now);
    let Inbound::Logon(request) = session.on_message(e.finish(), now, NOW_NS) else {
        panic!("the logon is refused");
    };
    let grant = LogonGrant {
        seqs: SeqStore::in_memory().expect("an in-memory store"),
        reset_on_logon: false,
        store: None,
    };
    session.accept_logon(&request, grant, now, NOW_NS);
    session.outbound().clear();
    session
}

/// A MarketDataRequest for both symbols, bids, offers and trades.
fn request(id: &str, depth: usize, full_refresh: bool) -> FieldList {
    let mut e = Encoder::new();
    e.start(b"V", b"CLIENT", b"HAYATE", 2, NOW_NS);
    e.field(262, id.as_bytes());
    e.field(263, b"1");
    e.field_u64(264, depth as u64);
    e.field(265, if full_refresh { b"0" } else { b"1" });
    e.field(267, b"3");
    for t in [b"0", b"1", b"2"] {
        e.field(269, t);
    }
    e.field(146, b"2");
    for s in SYMBOLS {
        e.field(55, s.as_bytes());
    }
    let mut fields = FieldList::new();
    fields.parse(e.finish()).expect("parses");
    dictionary::validate(&fields).expect("a valid V");
    fields
}

/// What `session` wrote, parsed and held to the FIX 4.4 dictionary.
fn written(session: &mut FixSession) -> Result<Vec<FieldList>, String> {
    let bytes = std::mem::take(session.outbound());
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Framing::Complete { len } = frame(&bytes[at..], 1 << 20) else {
            return Err("a bad frame".to_owned());
        };
        let message = &bytes[at..at + len];
        let text = || String::from_utf8_lossy(message).replace('\x01', "|");
        let mut fields = FieldList::new();
        fields
            .parse(message)
            .map_err(|e| format!("{e:?}: {}", text()))?;
        dictionary::validate(&fields).map_err(|v| format!("dictionary: {v}: {}", text()))?;
        out.push(fields);
        at += len;
    }
    Ok(out)
}

/// One side of a view: price in ticks → (size in lots, orders).
type Side2 = BTreeMap<u64, (u64, u32)>;
/// A subscription's view: [symbol][side: 0 bids, 1 offers].
type View = [[Side2; 2]; 2];

/// One MDEntries entry as (tag, value) pairs.
type Entry = Vec<(u32, String)>;

fn entries(message: &FieldList, first: u32) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut inside = false;
    for (tag, value) in message.iter() {
        match tag {
            268 => inside = true,
            10 => {}
            _ if !inside => {}
            _ => {
                if tag == first {
                    out.push(Vec::new());
                }
                if let Some(entry) = out.last_mut() {
                    entry.push((tag, String::from_utf8_lossy(value).into_owned()));
                }
            }
        }
    }
    out
}

fn get(entry: &Entry, tag: u32) -> Option<&str> {
    entry
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, v)| v.as_str())
}

/// A decimal field back in units of `step` (ticks or lots); it must be a whole number of them.
fn units(value: Option<&str>, step: Decimal) -> Result<u64, String> {
    let value = value.ok_or("a missing price or size")?;
    let d = parse_decimal(value.as_bytes()).ok_or(format!("not a decimal: {value}"))?;
    let n = d / step;
    if !n.fract().is_zero() {
        return Err(format!("{value} is not a multiple of {step}"));
    }
    n.to_u64().ok_or(format!("{value} out of range"))
}

fn symbol_index(name: Option<&str>) -> Result<usize, String> {
    SYMBOLS
        .iter()
        .position(|s| Some(*s) == name)
        .ok_or(format!("unknown symbol {name:?}"))
}

/// A level entry: (side index, price in ticks, (size in lots, orders)).
type Level = (usize, u64, Option<(u64, u32)>);

/// A level entry (269 = 0 or 1) as (side, price in ticks, (size in lots, orders) unless a delete
/// left them out).
fn level(config: &EngineConfig, symbol: usize, entry: &Entry) -> Result<Level, String> {
    let spec = &config.symbols[symbol];
    let side = match get(entry, 269) {
        Some("0") => 0,
        Some("1") => 1,
        other => return Err(format!("not a level: {other:?}")),
    };
    let price = units(get(entry, 270), spec.tick_size)?;
    let size = match get(entry, 271) {
        None => None,
        Some(v) => {
            let lots = units(Some(v), spec.lot_size)?;
            let orders = get(entry, 346)
                .and_then(|o| o.parse::<u32>().ok())
                .ok_or("a level without NumberOfOrders")?;
            Some((lots, orders))
        }
    };
    Ok((side, price, size))
}

/// Applies an X's entries to `view`; returns the trades (symbol, price ticks, lots) in order.
fn apply_x(
    config: &EngineConfig,
    view: &mut View,
    x: &FieldList,
) -> Result<Vec<(usize, u64, u64)>, String> {
    let list = entries(x, 279);
    if list.is_empty() {
        return Err("an X without entries".to_owned());
    }
    if x.get_str(268) != Some(list.len().to_string().as_str()) {
        return Err("NoMDEntries is not the number of entries".to_owned());
    }
    let mut trades = Vec::new();
    for entry in &list {
        let symbol = symbol_index(get(entry, 55))?;
        if get(entry, 269) == Some("2") {
            if get(entry, 279) != Some("0") {
                return Err("a trade that is not new".to_owned());
            }
            if get(entry, 272).is_none() || get(entry, 273).is_none() {
                return Err("a trade without MDEntryDate/MDEntryTime".to_owned());
            }
            let spec = &config.symbols[symbol];
            trades.push((
                symbol,
                units(get(entry, 270), spec.tick_size)?,
                units(get(entry, 271), spec.lot_size)?,
            ));
            continue;
        }
        let (side, price, size) = level(config, symbol, entry)?;
        let levels = &mut view[symbol][side];
        match (get(entry, 279), size) {
            (Some("0"), Some(size)) => {
                if levels.insert(price, size).is_some() {
                    return Err(format!("new for a level in the view: {entry:?}"));
                }
            }
            (Some("1"), Some(size)) => {
                if levels.insert(price, size).is_none() {
                    return Err(format!("change for a level not in the view: {entry:?}"));
                }
            }
            (Some("2"), _) => {
                if levels.remove(&price).is_none() {
                    return Err(format!("delete for a level not in the view: {entry:?}"));
                }
            }
            _ => return Err(format!("a bad entry: {entry:?}")),
        }
    }
    Ok(trades)
}

/// Replaces one symbol of `view` with a W's levels.
fn apply_w(config: &EngineConfig, view: &mut View, w: &FieldList) -> Result<(), String> {
    let symbol = symbol_index(w.get_str(55))?;
    let list = entries(w, 269);
    if w.get_str(268) != Some(list.len().to_string().as_str()) {
        return Err("NoMDEntries is not the number of entries".to_owned());
    }
    view[symbol] = Default::default();
    for entry in list.iter().filter(|e| get(e, 269) != Some("2")) {
        let (side, price, size) = level(config, symbol, entry)?;
        let size = size.ok_or("a snapshot level without a size")?;
        if view[symbol][side].insert(price, size).is_some() {
            return Err("a price twice in a snapshot".to_owned());
        }
    }
    Ok(())
}

fn best(engine: &Engine, symbol: usize, side: Side, depth: usize) -> Side2 {
    let depth = if depth == 0 { usize::MAX } else { depth };
    engine
        .depth(SymbolId(symbol as u16), side)
        .into_iter()
        .take(depth)
        .map(|(p, q, n)| (p.0, (q.0, n)))
        .collect()
}

/// What a run sent, so a test can tell the generator reaches every kind of entry.
#[derive(Debug, Default)]
struct Seen {
    x: usize,
    w: usize,
    f: usize,
    trades: usize,
    new: usize,
    change: usize,
    delete: usize,
}

/// Runs `ops`; the error says which command broke which rule.
fn run(ops: &[Op]) -> Result<Seen, String> {
    let mut seen = Seen::default();
    let config = config();
    let mut engine = Engine::new(config.clone());
    let mut market = MarketData::new(&config);
    let mut fix = FixMarketData::new();
    let mut a = session("A");
    let mut b = session("B");
    let mut sink: Vec<Event> = Vec::new();
    for account in 1..=3 {
        for asset in 0..3 {
            let deposit = Command::deposit(
                AccountId(account),
                AssetId(asset),
                Amount(1_000_000_000_000_000),
            );
            engine.process(&deposit, &mut sink);
        }
    }
    // Deposits change no book: the builder needs none of them.
    let mut views: Vec<View> = vec![View::default(); INCREMENTAL.len() + 1];
    for (n, (id, depth)) in INCREMENTAL.iter().enumerate() {
        let v = request(id, *depth, false);
        if let Some(reason) = fix.on_request(A, &v, &market, &config, &mut a, NOW_NS) {
            return Err(format!("{id} refused ({reason})"));
        }
        for w in written(&mut a)? {
            apply_w(&config, &mut views[n], &w)?;
        }
    }
    let v = request(FULL.0, FULL.1, true);
    if fix
        .on_request(B, &v, &market, &config, &mut b, NOW_NS)
        .is_some()
    {
        return Err("the full-refresh subscription is refused".to_owned());
    }
    for w in written(&mut b)? {
        apply_w(&config, &mut views[INCREMENTAL.len()], &w)?;
    }
    if fix.subscriptions() != 4 {
        return Err(format!("{} subscriptions", fix.subscriptions()));
    }

    let mut sends: Vec<FixMdSend> = Vec::new();
    for (t, op) in ops.iter().enumerate() {
        let seq = t as u64 + 1;
        let mut events: Vec<Event> = Vec::new();
        engine.process(&command(op), &mut events);
        sends.clear();
        for (index, event) in events.iter().enumerate() {
            let out = pipeline::Output {
                seq,
                timestamp_ns: NOW_NS + seq * 1_000_000,
                index: index as u32,
                last: index + 1 == events.len(),
                event: *event,
            };
            market.on_output(&out, |update, market| {
                fix.on_update(update, market, &config, &mut sends);
            });
        }
        for send in &sends {
            let session = match send.key {
                A => &mut a,
                B => &mut b,
                other => return Err(format!("a send to an unknown session {other:?}")),
            };
            session.send(&[send.msg_type], NOW_NS, |e| e.raw(fix.body(send)));
        }
        fix.sent();
        let fills: Vec<(usize, u64, u64)> = events
            .iter()
            .filter(|e| e.event_kind() == Some(EventKind::Fill) && !e.is_maker())
            .map(|e| {
                let fill = e.fill();
                (e.symbol.0 as usize, fill.last_px.0, fill.last_qty.0)
            })
            .collect();
        let why = |e: String| format!("after {op:?} (command {seq}): {e}");
        let mut trades: Vec<Vec<(usize, u64, u64)>> = vec![Vec::new(); INCREMENTAL.len()];
        for message in written(&mut a).map_err(why)? {
            match message.msg_type() {
                Some(b"X") => {
                    seen.x += 1;
                    for entry in entries(&message, 279) {
                        match (get(&entry, 269), get(&entry, 279)) {
                            (Some("2"), _) => seen.trades += 1,
                            (_, Some("0")) => seen.new += 1,
                            (_, Some("1")) => seen.change += 1,
                            _ => seen.delete += 1,
                        }
                    }
                    let id = message.get_str(262).unwrap_or("");
                    let n = INCREMENTAL
                        .iter()
                        .position(|(i, _)| *i == id)
                        .ok_or_else(|| why(format!("an X for {id:?}")))?;
                    let got = apply_x(&config, &mut views[n], &message).map_err(why)?;
                    trades[n].extend(got);
                }
                Some(b"f") => {
                    seen.f += 1;
                    symbol_index(message.get_str(55)).map_err(why)?;
                    if !matches!(message.get(326), Some(b"2" | b"3")) {
                        return Err(why("a SecurityStatus without 2 or 3".to_owned()));
                    }
                }
                other => return Err(why(format!("an unexpected {other:?}"))),
            }
        }
        for message in written(&mut b).map_err(why)? {
            match message.msg_type() {
                Some(b"W") => {
                    seen.w += 1;
                    apply_w(&config, &mut views[INCREMENTAL.len()], &message).map_err(why)?
                }
                Some(b"f") => {}
                other => return Err(why(format!("an unexpected {other:?} on B"))),
            }
        }
        for (n, got) in trades.iter().enumerate() {
            if *got != fills {
                return Err(why(format!(
                    "{}: the X's trades {got:?}, the engine's fills {fills:?}",
                    INCREMENTAL[n].0
                )));
            }
        }
        let depths = INCREMENTAL.iter().map(|(_, d)| *d).chain([FULL.1]);
        for (n, depth) in depths.enumerate() {
            for symbol in 0..SYMBOLS.len() {
                for (i, side) in [Side::Buy, Side::Sell].into_iter().enumerate() {
                    let expected = best(&engine, symbol, side, depth);
                    if views[n][symbol][i] != expected {
                        return Err(why(format!(
                            "view {n} (depth {depth}) of {} {side:?}: {:?}, the book {:?}",
                            SYMBOLS[symbol], views[n][symbol][i], expected
                        )));
                    }
                }
                let bid = views[n][symbol][0].keys().next_back();
                let ask = views[n][symbol][1].keys().next();
                if let (Some(bid), Some(ask)) = (bid, ask)
                    && bid >= ask
                {
                    return Err(why(format!("a crossed view at depth {depth}")));
                }
            }
        }
    }
    Ok(seen)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fix_subscribers_views_equal_the_book_after_every_command(
        ops in prop::collection::vec(op(), 1..200),
    ) {
        if let Err(e) = run(&ops) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// The generator reaches every kind of message and entry (otherwise the property proves little).
#[test]
fn the_streams_make_trades_new_changed_and_deleted_levels_and_halts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let mut total = Seen::default();
    for _ in 0..32 {
        let ops = prop::collection::vec(op(), 100..200)
            .new_tree(&mut runner)
            .expect("a stream")
            .current();
        let seen = run(&ops).expect("the property holds");
        total.x += seen.x;
        total.w += seen.w;
        total.f += seen.f;
        total.trades += seen.trades;
        total.new += seen.new;
        total.change += seen.change;
        total.delete += seen.delete;
    }
    println!("{total:?}");
    let counts = [
        total.x,
        total.w,
        total.f,
        total.trades,
        total.new,
        total.change,
        total.delete,
    ];
    assert!(counts.iter().all(|&n| n > 0), "{total:?}");
}

/// The check can fail: a view that lost one entry no longer equals the book.
#[test]
fn a_view_missing_an_entry_is_caught() {
    let config = config();
    let mut view = View::default();
    let mut e = Encoder::new();
    e.start(b"X", b"HAYATE", b"A", 2, NOW_NS);
    e.field(262, b"d0");
    e.field(268, b"1");
    e.field(279, b"2");
    e.field(269, b"0");
    e.field(55, b"BTC-JPY");
    e.field(270, b"50");
    let mut x = FieldList::new();
    x.parse(e.finish()).expect("parses");
    assert!(
        apply_x(&config, &mut view, &x).is_err(),
        "a delete of a level the view does not hold"
    );
    // A fixed stream with trades passes.
    let ops = [
        Op::Limit {
            account: 1,
            symbol: 0,
            buy: true,
            price: 100,
            qty: 5,
            ioc: false,
            client: 1,
        },
        Op::Limit {
            account: 2,
            symbol: 0,
            buy: false,
            price: 99,
            qty: 3,
            ioc: false,
            client: 1,
        },
        Op::Halt {
            symbol: None,
            resume: false,
        },
    ];
    run(&ops).expect("a simple stream");
}
