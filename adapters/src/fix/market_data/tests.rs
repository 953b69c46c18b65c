use std::time::Instant;

use hayate_core::pipeline::Output;
use hayate_core::units::{AccountId, Amount, AssetId, ClientOrderId};
use hayate_core::{AssetSpec, Command, Engine, Event, NewOrder, OrderRef, SymbolSpec};

use super::*;
use crate::fix::codec::{Framing, frame};
use crate::fix::dictionary;
use crate::fix::seq_store::SeqStore;
use crate::fix::session::{Inbound, LogonGrant};

const NOW_NS: u64 = 1_733_390_000_123_000_000;

/// Two symbols: BTC-JPY with a fractional tick (0.5) so prices are written as decimals,
/// ETH-JPY with tick 1.
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
        max_qty: Qty(1_000_000),
        maker_fee_bps: 0,
        taker_fee_bps: 0,
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
            symbol("BTC-JPY", 0, Decimal::new(5, 1), 50),
            symbol("ETH-JPY", 1, Decimal::ONE, 100),
        ],
        accounts: vec![AccountId(1), AccountId(2)],
        max_open_orders: 100,
        order_capacity: 1024,
        level_capacity: 64,
    }
}

/// A logged-on session whose every message we read back.
fn session(comp_id: &str) -> FixSession {
    let mut e = Encoder::new();
    e.start(b"A", comp_id.as_bytes(), b"HAYATE", 1, NOW_NS);
    e.field(98, b"0");
    e.field(108, b"30");
    let logon = e.finish().to_vec();
    let now = Instant::now();
    let mut session = FixSession::new("HAYATE", now);
    let Inbound::Logon(request) = session.on_message(&logon, now, NOW_NS) else {
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

/// What `session` wrote, parsed, each held to the FIX 4.4 data dictionary.
fn written(session: &mut FixSession) -> Vec<FieldList> {
    let bytes = std::mem::take(session.outbound());
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Framing::Complete { len } = frame(&bytes[at..], 1 << 20) else {
            panic!("a bad frame: {:?}", String::from_utf8_lossy(&bytes[at..]));
        };
        let mut fields = FieldList::new();
        fields.parse(&bytes[at..at + len]).expect("parses");
        if let Err(v) = dictionary::validate(&fields) {
            panic!(
                "the dictionary refuses what we sent ({v}): {}",
                String::from_utf8_lossy(&bytes[at..at + len]).replace('\x01', "|")
            );
        }
        out.push(fields);
        at += len;
    }
    out
}

/// A V's fields; `fields` after the header, in order.
fn request(fields: &[(u32, &str)]) -> FieldList {
    let mut e = Encoder::new();
    e.start(b"V", b"CLIENT", b"HAYATE", 2, NOW_NS);
    for (tag, value) in fields {
        e.field(*tag, value.as_bytes());
    }
    let mut list = FieldList::new();
    list.parse(e.finish()).expect("parses");
    list
}

/// A V for `symbols`, entry types `types`, depth and update type.
fn subscribe(id: &str, kind: &str, depth: &str, types: &[&str], symbols: &[&str]) -> FieldList {
    let mut fields = vec![(262, id), (263, kind), (264, depth)];
    let types_count = types.len().to_string();
    let symbols_count = symbols.len().to_string();
    fields.push((267, types_count.as_str()));
    fields.extend(types.iter().map(|t| (269, *t)));
    fields.push((146, symbols_count.as_str()));
    fields.extend(symbols.iter().map(|s| (55, *s)));
    request(&fields)
}

/// The entries of a W or X: one map per entry, split at `first`.
fn entries(message: &FieldList, first: u32) -> Vec<Vec<(u32, String)>> {
    let mut out: Vec<Vec<(u32, String)>> = Vec::new();
    let mut inside = false;
    for (tag, value) in message.iter() {
        if tag == 268 {
            inside = true;
            continue;
        }
        if !inside || tag == 10 {
            continue;
        }
        if tag == first {
            out.push(Vec::new());
        }
        if let Some(entry) = out.last_mut() {
            entry.push((tag, String::from_utf8_lossy(value).into_owned()));
        }
    }
    out
}

fn entry_string(entry: &[(u32, String)]) -> String {
    entry
        .iter()
        .filter(|(tag, _)| !matches!(tag, 272 | 273))
        .map(|(tag, value)| format!("{tag}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An engine, its builder and the FIX market data, fed command by command.
struct Rig {
    config: EngineConfig,
    engine: Engine,
    market: MarketData,
    fix: FixMarketData,
    seq: u64,
    client: u64,
}

impl Rig {
    fn new() -> Rig {
        let config = config();
        let mut rig = Rig {
            engine: Engine::new(config.clone()),
            market: MarketData::new(&config),
            config,
            fix: FixMarketData::new(),
            seq: 0,
            client: 0,
        };
        for account in [1, 2] {
            for asset in 0..3 {
                let deposit = Command::deposit(
                    AccountId(account),
                    AssetId(asset),
                    Amount(1_000_000_000_000_000),
                );
                rig.run(&deposit);
            }
        }
        rig
    }

    /// Runs `cmd`; returns the sends of its updates with their bodies.
    fn run(&mut self, cmd: &Command) -> Vec<(FixMdSend, Vec<u8>)> {
        self.seq += 1;
        let mut events: Vec<Event> = Vec::new();
        self.engine.process(cmd, &mut events);
        let mut sends = Vec::new();
        let (market, fix, config) = (&mut self.market, &mut self.fix, &self.config);
        fix.sent();
        for (index, event) in events.iter().enumerate() {
            let out = Output {
                seq: self.seq,
                timestamp_ns: NOW_NS + self.seq,
                index: index as u32,
                last: index + 1 == events.len(),
                event: *event,
            };
            market.on_output(&out, |update, market| {
                fix.on_update(update, market, config, &mut sends);
            });
        }
        sends
            .into_iter()
            .map(|send| (send, self.fix.body(&send).to_vec()))
            .collect()
    }

    fn order(&mut self, account: u32, symbol: u16, side: Side, price: u64, qty: u64) {
        self.client += 1;
        let id = ClientOrderId::new(&format!("c{}", self.client)).expect("an id");
        let order = NewOrder::limit(
            AccountId(account),
            SymbolId(symbol),
            side,
            Price(price),
            Qty(qty),
            id,
        );
        self.run(&Command::new_order(order));
    }

    fn request(&mut self, key: SessionKey, session: &mut FixSession, v: &FieldList) -> Option<u8> {
        self.fix
            .on_request(key, v, &self.market, &self.config, session, NOW_NS)
    }
}

/// Writes `sends` through `session` as the gateway does, then reads them back.
fn deliver(session: &mut FixSession, sends: &[(FixMdSend, Vec<u8>)]) -> Vec<FieldList> {
    for (send, body) in sends {
        session.send(&[send.msg_type], NOW_NS, |e| e.raw(body));
    }
    written(session)
}

/// A book: bids 100, 99 (2 orders), 98; offers 101, 102 (BTC-JPY, tick 0.5). The orders
/// at 100, 101 and 102 are account 2's.
fn with_book(rig: &mut Rig) {
    rig.order(2, 0, Side::Buy, 200, 10);
    rig.order(1, 0, Side::Buy, 198, 20);
    rig.order(2, 0, Side::Buy, 198, 5);
    rig.order(1, 0, Side::Buy, 196, 30);
    rig.order(2, 0, Side::Sell, 202, 7);
    rig.order(2, 0, Side::Sell, 204, 8);
}

const ALL: [&str; 3] = ["0", "1", "2"];

#[test]
fn every_refusal_is_a_valid_reject_with_its_reason() {
    let mut rig = Rig::new();
    let mut s = session("CLIENT");
    let key = (0, 1);
    let long = "x".repeat(MAX_REQ_ID + 1);
    let cases: Vec<(FieldList, u8, &str)> = vec![
        (subscribe("a", "1", "0", &["0"], &["NOPE"]), b'0', "a"),
        (
            subscribe("a", "1", "0", &["0"], &["BTC-JPY", "NOPE"]),
            b'0',
            "a",
        ),
        (
            request(&[(262, "a"), (263, "1"), (264, "0"), (267, "1"), (269, "0")]),
            b'0',
            "a",
        ),
        (
            subscribe(&long, "1", "0", &["0"], &["BTC-JPY"]),
            b'0',
            &long[..MAX_REQ_ID],
        ),
        (subscribe("a", "7", "0", &["0"], &["BTC-JPY"]), b'4', "a"),
        (
            request(&[(262, "a"), (264, "0"), (146, "1"), (55, "BTC-JPY")]),
            b'4',
            "a",
        ),
        (subscribe("a", "1", "-1", &["0"], &["BTC-JPY"]), b'5', "a"),
        (subscribe("a", "1", "1001", &["0"], &["BTC-JPY"]), b'5', "a"),
        (
            subscribe("a", "1", "99999999999999999999999", &["0"], &["BTC-JPY"]),
            b'5',
            "a",
        ),
        (subscribe("a", "1", "two", &["0"], &["BTC-JPY"]), b'5', "a"),
        (
            request(&[
                (262, "a"),
                (263, "1"),
                (264, "0"),
                (265, "2"),
                (267, "1"),
                (269, "0"),
                (146, "1"),
                (55, "BTC-JPY"),
            ]),
            b'6',
            "a",
        ),
        (
            request(&[
                (262, "a"),
                (263, "1"),
                (264, "0"),
                (266, "N"),
                (267, "1"),
                (269, "0"),
                (146, "1"),
                (55, "BTC-JPY"),
            ]),
            b'7',
            "a",
        ),
        (
            subscribe("a", "1", "0", &["0", "4"], &["BTC-JPY"]),
            b'8',
            "a",
        ),
        (subscribe("a", "1", "0", &["B"], &["BTC-JPY"]), b'8', "a"),
    ];
    for (v, reason, id) in &cases {
        assert_eq!(rig.request(key, &mut s, v), Some(*reason), "{v:?}");
        let out = written(&mut s);
        assert_eq!(out.len(), 1, "one Y for {v:?}");
        let y = &out[0];
        assert_eq!(y.msg_type(), Some(b"Y".as_slice()));
        assert_eq!(y.get(281), Some([*reason].as_slice()));
        assert_eq!(y.get_str(262), Some(*id));
        assert!(y.get_str(58).is_some_and(|t| !t.is_empty()));
    }
    assert_eq!(rig.fix.subscriptions(), 0, "no refusal subscribes");

    // Duplicate MDReqID: only of a live subscription of the same session.
    let v = subscribe("dup", "1", "0", &ALL, &["BTC-JPY"]);
    assert_eq!(rig.request(key, &mut s, &v), None);
    assert_eq!(written(&mut s)[0].msg_type(), Some(b"W".as_slice()));
    assert_eq!(rig.request(key, &mut s, &v), Some(b'1'));
    let y = written(&mut s);
    assert_eq!(y[0].get(281), Some(b"1".as_slice()));
    let mut other = session("OTHER");
    assert_eq!(
        rig.request((1, 2), &mut other, &v),
        None,
        "another session may use it"
    );
    written(&mut other);
    assert_eq!(rig.fix.subscriptions(), 2);
}

#[test]
fn a_session_holds_a_bounded_number_of_subscriptions() {
    let mut rig = Rig::new();
    let mut s = session("CLIENT");
    for n in 0..MAX_SUBSCRIPTIONS_PER_SESSION {
        let v = subscribe(&format!("r{n}"), "1", "1", &["0"], &["ETH-JPY"]);
        assert_eq!(rig.request((0, 1), &mut s, &v), None);
    }
    written(&mut s);
    let v = subscribe("one-more", "1", "1", &["0"], &["ETH-JPY"]);
    assert_eq!(rig.request((0, 1), &mut s, &v), Some(b'2'));
    assert_eq!(written(&mut s)[0].msg_type(), Some(b"Y".as_slice()));
    // A snapshot subscribes nothing, so it is still answered.
    let v = subscribe("snap", "0", "1", &["0"], &["ETH-JPY"]);
    assert_eq!(rig.request((0, 1), &mut s, &v), None);
    assert_eq!(written(&mut s)[0].msg_type(), Some(b"W".as_slice()));
    rig.fix.drop_session((0, 1));
    assert_eq!(rig.fix.subscriptions(), 0);
}

#[test]
fn snapshots_show_the_best_levels_of_each_side_then_the_last_trade() {
    let mut rig = Rig::new();
    let mut s = session("CLIENT");
    // An empty book: NoMDEntries 0.
    let v = subscribe("e", "0", "0", &ALL, &["BTC-JPY", "ETH-JPY"]);
    assert_eq!(rig.request((0, 1), &mut s, &v), None);
    let out = written(&mut s);
    assert_eq!(out.len(), 2, "one W per symbol");
    for (w, symbol) in out.iter().zip(["BTC-JPY", "ETH-JPY"]) {
        assert_eq!(w.msg_type(), Some(b"W".as_slice()));
        assert_eq!(w.get_str(262), Some("e"));
        assert_eq!(w.get_str(55), Some(symbol));
        assert_eq!(w.get_str(268), Some("0"));
    }
    assert_eq!(rig.fix.subscriptions(), 0, "263=0 does not subscribe");

    with_book(&mut rig);
    let expect_full = [
        "269=0 270=100 271=0.001 346=1",
        "269=0 270=99 271=0.0025 346=2",
        "269=0 270=98 271=0.003 346=1",
        "269=1 270=101 271=0.0007 346=1",
        "269=1 270=102 271=0.0008 346=1",
    ];
    for (depth, expect) in [
        ("0", expect_full.to_vec()),
        ("1", vec![expect_full[0], expect_full[3]]),
        (
            "2",
            vec![
                expect_full[0],
                expect_full[1],
                expect_full[3],
                expect_full[4],
            ],
        ),
        ("1000", expect_full.to_vec()),
    ] {
        let v = subscribe("d", "0", depth, &["0", "1"], &["BTC-JPY"]);
        assert_eq!(rig.request((0, 1), &mut s, &v), None);
        let w = written(&mut s).remove(0);
        let got: Vec<String> = entries(&w, 269).iter().map(|e| entry_string(e)).collect();
        assert_eq!(got, expect, "depth {depth}");
        assert_eq!(w.get_str(268), Some(expect.len().to_string().as_str()));
    }
    // Offers only.
    let v = subscribe("o", "0", "0", &["1"], &["BTC-JPY"]);
    rig.request((0, 1), &mut s, &v);
    let w = written(&mut s).remove(0);
    let got: Vec<String> = entries(&w, 269).iter().map(|e| entry_string(e)).collect();
    assert_eq!(got, expect_full[3..].to_vec());

    // A trade: 0.0005 at 101; the snapshot with trades ends with the last one.
    rig.order(1, 0, Side::Buy, 202, 5);
    let v = subscribe("t", "0", "1", &ALL, &["BTC-JPY"]);
    rig.request((0, 1), &mut s, &v);
    let w = written(&mut s).remove(0);
    let got = entries(&w, 269);
    let strings: Vec<String> = got.iter().map(|e| entry_string(e)).collect();
    assert_eq!(
        strings,
        [
            "269=0 270=100 271=0.001 346=1",
            "269=1 270=101 271=0.0002 346=1",
            "269=2 270=101 271=0.0005",
        ]
    );
    let trade = &got[2];
    let date = &trade
        .iter()
        .find(|(t, _)| *t == 272)
        .expect("MDEntryDate")
        .1;
    let time = &trade
        .iter()
        .find(|(t, _)| *t == 273)
        .expect("MDEntryTime")
        .1;
    assert_eq!(date, "20241205");
    assert_eq!(time.len(), 12, "HH:MM:SS.sss: {time}");
    // Without 2, no trade.
    let v = subscribe("nt", "0", "1", &["0", "1"], &["BTC-JPY"]);
    rig.request((0, 1), &mut s, &v);
    assert_eq!(entries(&written(&mut s)[0], 269).len(), 2);
}

#[test]
fn incrementals_follow_each_depth_view_and_carry_trades() {
    let mut rig = Rig::new();
    with_book(&mut rig);
    let mut s = session("CLIENT");
    for (id, depth) in [("full", "0"), ("top", "1"), ("two", "2")] {
        let v = subscribe(id, "1", depth, &ALL, &["BTC-JPY"]);
        assert_eq!(rig.request((0, 1), &mut s, &v), None);
    }
    written(&mut s);
    assert_eq!(rig.fix.subscriptions(), 3);
    // The X each subscription gets for `cmd`: (MDReqID, entries).
    let x = |rig: &mut Rig, s: &mut FixSession, cmd: Command| {
        let sends = rig.run(&cmd);
        let out = deliver(s, &sends);
        out.iter()
            .map(|m| {
                assert_eq!(m.msg_type(), Some(b"X".as_slice()));
                let list: Vec<String> = entries(m, 279).iter().map(|e| entry_string(e)).collect();
                (m.get_str(262).unwrap_or("").to_owned(), list)
            })
            .collect::<Vec<_>>()
    };

    // A new best bid 100.5: new for everyone; the old best leaves depth 1, and 98 depth 2.
    // Buys are account 2's, sells account 1's: the sells trade with the bids (account 2's
    // at the top) instead of meeting self-trade prevention.
    let order = |price, qty, side, n: u64| {
        Command::new_order(NewOrder::limit(
            AccountId(if side == Side::Buy { 2 } else { 1 }),
            SymbolId(0),
            side,
            Price(price),
            Qty(qty),
            ClientOrderId::new(&format!("x{n}")).expect("an id"),
        ))
    };
    let got = x(&mut rig, &mut s, order(201, 4, Side::Buy, 1));
    assert_eq!(
        got,
        [
            (
                "full".to_owned(),
                vec!["279=0 269=0 55=BTC-JPY 270=100.5 271=0.0004 346=1".to_owned()]
            ),
            (
                "top".to_owned(),
                vec![
                    "279=2 269=0 55=BTC-JPY 270=100".to_owned(),
                    "279=0 269=0 55=BTC-JPY 270=100.5 271=0.0004 346=1".to_owned(),
                ]
            ),
            (
                "two".to_owned(),
                vec![
                    "279=2 269=0 55=BTC-JPY 270=99".to_owned(),
                    "279=0 269=0 55=BTC-JPY 270=100.5 271=0.0004 346=1".to_owned(),
                ]
            ),
        ]
    );

    // An order at 98 (third level): only the full book sees a change; the others get no X.
    let got = x(&mut rig, &mut s, order(196, 1, Side::Buy, 2));
    assert_eq!(
        got,
        [(
            "full".to_owned(),
            vec!["279=1 269=0 55=BTC-JPY 270=98 271=0.0031 346=2".to_owned()]
        )]
    );

    // A sell of 0.0006 at 100: takes 100.5 entirely and 0.0002 of 100. Depth 1 sees 100.5
    // go and 100 come back; every subscriber gets the trades after the levels.
    let got = x(&mut rig, &mut s, order(200, 6, Side::Sell, 3));
    let trades = [
        "279=0 269=2 55=BTC-JPY 270=100.5 271=0.0004".to_owned(),
        "279=0 269=2 55=BTC-JPY 270=100 271=0.0002".to_owned(),
    ];
    let mut top = vec![
        "279=2 269=0 55=BTC-JPY 270=100.5".to_owned(),
        "279=0 269=0 55=BTC-JPY 270=100 271=0.0008 346=1".to_owned(),
    ];
    top.extend(trades.iter().cloned());
    let mut full = vec![
        "279=2 269=0 55=BTC-JPY 270=100.5".to_owned(),
        "279=1 269=0 55=BTC-JPY 270=100 271=0.0008 346=1".to_owned(),
    ];
    full.extend(trades.iter().cloned());
    let mut two = vec![
        "279=2 269=0 55=BTC-JPY 270=100.5".to_owned(),
        "279=1 269=0 55=BTC-JPY 270=100 271=0.0008 346=1".to_owned(),
        "279=0 269=0 55=BTC-JPY 270=99 271=0.0025 346=2".to_owned(),
    ];
    two.extend(trades.iter().cloned());
    assert_eq!(
        got,
        [
            ("full".to_owned(), full),
            ("top".to_owned(), top),
            ("two".to_owned(), two)
        ]
    );
    // Every trade entry has its date and time.
    let sends = rig.run(&order(200, 1, Side::Sell, 4));
    for m in deliver(&mut s, &sends) {
        for entry in entries(&m, 279)
            .iter()
            .filter(|e| e.iter().any(|f| *f == (269, "2".to_owned())))
        {
            assert!(entry.iter().any(|(t, _)| *t == 272));
            assert!(entry.iter().any(|(t, _)| *t == 273));
        }
    }

    // Unsubscribe one; a cancel of the best offer reaches the others only.
    let v = subscribe("top", "2", "1", &ALL, &["BTC-JPY"]);
    assert_eq!(rig.request((0, 1), &mut s, &v), None);
    assert!(written(&mut s).is_empty(), "an unsubscribe is not answered");
    let cancel = Command::cancel(
        AccountId(2),
        OrderRef::Client(ClientOrderId::new("c5").expect("an id")),
        ClientOrderId::EMPTY,
    );
    let got = x(&mut rig, &mut s, cancel);
    assert_eq!(
        got.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["full", "two"]
    );
    assert_eq!(
        got[0].1,
        ["279=2 269=1 55=BTC-JPY 270=101"],
        "a cancel that empties a level is a delete"
    );
}

#[test]
fn entry_blocks_are_encoded_once_per_parameter_set() {
    let mut rig = Rig::new();
    let mut a = session("A");
    let mut b = session("B");
    for (key, session, id) in [((0, 1), &mut a, "a1"), ((1, 2), &mut b, "b1")] {
        let v = subscribe(id, "1", "5", &ALL, &["ETH-JPY"]);
        assert_eq!(rig.request(key, session, &v), None);
    }
    // A third with other parameters, and one on the other symbol.
    let v = subscribe("a2", "1", "0", &["0"], &["ETH-JPY"]);
    rig.request((0, 1), &mut a, &v);
    let v = subscribe("a3", "1", "0", &ALL, &["BTC-JPY"]);
    rig.request((0, 1), &mut a, &v);
    written(&mut a);
    written(&mut b);
    let before = rig.fix.encodes();
    rig.order(1, 1, Side::Buy, 3000, 1);
    assert_eq!(
        rig.fix.encodes() - before,
        2,
        "two parameter sets, one encode each"
    );
    let sends = rig.run(&Command::new_order(NewOrder::limit(
        AccountId(1),
        SymbolId(1),
        Side::Buy,
        Price(3001),
        Qty(1),
        ClientOrderId::new("e").expect("an id"),
    )));
    assert_eq!(sends.len(), 3);
    let keys: Vec<SessionKey> = sends.iter().map(|(s, _)| s.key).collect();
    assert_eq!(keys, [(0, 1), (1, 2), (0, 1)]);
    // The shared block: bodies differ only in MDReqID.
    let strip = |body: &[u8], id: &str| {
        body.strip_prefix(format!("262={id}\x01").as_bytes())
            .map(<[u8]>::to_vec)
    };
    assert_eq!(strip(&sends[0].1, "a1"), strip(&sends[1].1, "b1"));
    assert!(strip(&sends[0].1, "a1").is_some());
    assert_eq!(
        deliver(&mut a, &[sends[0].clone(), sends[2].clone()]).len(),
        2
    );
    assert_eq!(deliver(&mut b, &[sends[1].clone()]).len(), 1);
}

#[test]
fn full_refresh_subscribers_get_a_w_after_every_change() {
    let mut rig = Rig::new();
    with_book(&mut rig);
    let mut s = session("CLIENT");
    let v = request(&[
        (262, "w"),
        (263, "1"),
        (264, "1"),
        (265, "0"),
        (266, "Y"),
        (267, "3"),
        (269, "0"),
        (269, "1"),
        (269, "2"),
        (146, "1"),
        (55, "BTC-JPY"),
    ]);
    assert_eq!(rig.request((0, 1), &mut s, &v), None);
    written(&mut s);
    // Below the top: no change in the depth-1 view, nothing sent.
    rig.order(1, 0, Side::Buy, 190, 1);
    // A trade: a W with the new top and the last trade.
    let sends = rig.run(&Command::new_order(NewOrder::limit(
        AccountId(1),
        SymbolId(0),
        Side::Buy,
        Price(202),
        Qty(7),
        ClientOrderId::new("t").expect("an id"),
    )));
    let out = deliver(&mut s, &sends);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].msg_type(), Some(b"W".as_slice()));
    assert_eq!(out[0].get_str(262), Some("w"));
    let got: Vec<String> = entries(&out[0], 269)
        .iter()
        .map(|e| entry_string(e))
        .collect();
    assert_eq!(
        got,
        [
            "269=0 270=100 271=0.001 346=1",
            "269=1 270=102 271=0.0008 346=1",
            "269=2 270=101 271=0.0007",
        ]
    );
}

#[test]
fn halts_and_resumes_are_security_status_for_every_subscription_of_the_symbol() {
    let mut rig = Rig::new();
    let mut s = session("CLIENT");
    for (id, symbol, types) in [
        ("b1", "BTC-JPY", &ALL[..]),
        ("b2", "BTC-JPY", &["2"][..]),
        ("e1", "ETH-JPY", &ALL[..]),
    ] {
        let v = subscribe(id, "1", "0", types, &[symbol]);
        assert_eq!(rig.request((0, 1), &mut s, &v), None);
    }
    written(&mut s);
    let statuses = |out: &[FieldList]| {
        out.iter()
            .map(|m| {
                assert_eq!(m.msg_type(), Some(b"f".as_slice()));
                format!(
                    "{} {} {}",
                    m.get_str(324).unwrap_or(""),
                    m.get_str(55).unwrap_or(""),
                    m.get_str(326).unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
    };
    let sends = rig.run(&Command::halt(Some(SymbolId(0))));
    assert_eq!(
        statuses(&deliver(&mut s, &sends)),
        ["b1 BTC-JPY 2", "b2 BTC-JPY 2"]
    );
    let sends = rig.run(&Command::resume(Some(SymbolId(0))));
    assert_eq!(
        statuses(&deliver(&mut s, &sends)),
        ["b1 BTC-JPY 3", "b2 BTC-JPY 3"]
    );
    // Exchange-wide: every symbol, in one command.
    let sends = rig.run(&Command::halt(None));
    assert_eq!(
        statuses(&deliver(&mut s, &sends)),
        ["b1 BTC-JPY 2", "b2 BTC-JPY 2", "e1 ETH-JPY 2"]
    );
    rig.fix.drop_session((0, 1));
    assert!(rig.run(&Command::resume(None)).is_empty());
}

#[test]
fn a_trades_only_subscription_ignores_level_changes() {
    let mut rig = Rig::new();
    let mut s = session("CLIENT");
    let v = subscribe("t", "1", "0", &["2"], &["BTC-JPY"]);
    rig.request((0, 1), &mut s, &v);
    written(&mut s);
    rig.order(1, 0, Side::Buy, 200, 3);
    let sends = rig.run(&Command::new_order(NewOrder::limit(
        AccountId(2),
        SymbolId(0),
        Side::Sell,
        Price(200),
        Qty(1),
        ClientOrderId::new("s").expect("an id"),
    )));
    let out = deliver(&mut s, &sends);
    assert_eq!(out.len(), 1);
    let got: Vec<String> = entries(&out[0], 279)
        .iter()
        .map(|e| entry_string(e))
        .collect();
    assert_eq!(got, ["279=0 269=2 55=BTC-JPY 270=100 271=0.0001"]);
}

#[test]
fn a_v_through_the_session_reaches_the_application_and_bad_enums_are_session_rejects() {
    let mut s = session("CLIENT");
    let now = Instant::now();
    let mut e = Encoder::new();
    let mut send = |s: &mut FixSession, seq: u64, fields: &[(u32, &str)]| {
        e.start(b"V", b"CLIENT", b"HAYATE", seq, NOW_NS);
        for (tag, value) in fields {
            e.field(*tag, value.as_bytes());
        }
        s.on_message(e.finish(), now, NOW_NS)
    };
    let good = [
        (262, "a"),
        (263, "1"),
        (264, "0"),
        (267, "1"),
        (269, "0"),
        (146, "1"),
        (55, "X"),
    ];
    assert_eq!(send(&mut s, 2, &good), Inbound::Application);
    // MDEntryType 4 is defined by FIX 4.4: it reaches us (and we refuse it with Y 8).
    let defined = [
        (262, "a"),
        (263, "1"),
        (264, "0"),
        (267, "1"),
        (269, "4"),
        (146, "1"),
        (55, "X"),
    ];
    assert_eq!(send(&mut s, 3, &defined), Inbound::Application);
    // SubscriptionRequestType 7 is not: a session Reject.
    let undefined = [
        (262, "a"),
        (263, "7"),
        (264, "0"),
        (267, "1"),
        (269, "0"),
        (146, "1"),
        (55, "X"),
    ];
    assert_eq!(send(&mut s, 4, &undefined), Inbound::Nothing);
    let out = written(&mut s);
    assert_eq!(out.last().and_then(|m| m.msg_type()), Some(b"3".as_slice()));
}
