use super::msg_type::*;
use super::*;
use crate::binary::codec::{Framing, frame};
use hayate_core::{Amount, EventKind, Fill, TradeId};
use proptest::prelude::*;
use std::mem::offset_of;

fn cl(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

fn all_client_messages() -> Vec<ClientMessage> {
    let mut order = NewOrder::new(
        cl("o-1"),
        SymbolId(7),
        Side::Sell,
        OrderType::Limit,
        TimeInForce::Ioc,
        Price(5_000_000),
        Qty(25),
    );
    order.stp = SelfTradePrevention::CancelBoth as u8;
    order.post_only = 1;
    vec![
        ClientMessage::Logon(Logon::new("alice", "pässword", CancelOnDisconnect::Session).unwrap()),
        ClientMessage::Logout,
        ClientMessage::Heartbeat,
        ClientMessage::NewOrder(order),
        ClientMessage::Cancel(OrderRequest::new(cl("c-1"), cl("o-1"), OrderId(0))),
        ClientMessage::Replace(Replace::new(
            cl("o-2"),
            cl("o-1"),
            OrderId(99),
            Price(4_900_000),
            Qty(30),
        )),
        ClientMessage::MassCancel(MassCancel::new(cl("m-1"), Some(SymbolId(3)))),
        ClientMessage::MassCancel(MassCancel::new(ClientOrderId::EMPTY, None)),
        ClientMessage::QueryOrder(OrderRequest::new(
            ClientOrderId::EMPTY,
            cl("o-1"),
            OrderId(5),
        )),
        ClientMessage::Deposit(Funds::new(AccountId(1), "JPY", "10000000.5").unwrap()),
        ClientMessage::Withdraw(Funds::new(AccountId(2), "BTC", "0.00000001").unwrap()),
        ClientMessage::Halt(HaltTarget::new("BTC-JPY").unwrap()),
        ClientMessage::Resume(HaltTarget::new(HaltTarget::ALL).unwrap()),
        ClientMessage::Snapshot,
        ClientMessage::Status,
        ClientMessage::Promote,
        ClientMessage::Block(AccountTarget::new(AccountId(7))),
        ClientMessage::Unblock(AccountTarget::new(AccountId(u32::MAX))),
    ]
}

fn sample_event() -> Event {
    let mut e = Event::new(EventKind::Fill);
    e.side = Side::Buy as u8;
    e.order_type = OrderType::Limit as u8;
    e.time_in_force = TimeInForce::Gtc as u8;
    e.status = 1;
    e.account = AccountId(1);
    e.symbol = SymbolId(0);
    e.order_id = OrderId(42);
    e.price = Price(5_000_000);
    e.order_qty = Qty(10);
    e.leaves_qty = Qty(6);
    e.cum_qty = Qty(4);
    e.cum_cost = 20_000_000;
    e.client_order_id = cl("o-1");
    e.set_fill(Fill {
        last_px: Price(5_000_000),
        last_qty: Qty(4),
        trade_id: TradeId(17),
        fee: Amount(2000),
    });
    e
}
fn all_server_texts() -> Vec<ServerMessage<'static>> {
    vec![
        ServerMessage::LogonAck(LogonAck::new(AccountId(1), false, 1000)),
        ServerMessage::LogonAck(LogonAck::new(AccountId(0), true, 1000)),
        ServerMessage::Reject {
            code: RejectCode::BadValue,
            ref_msg_type: NEW_ORDER,
            text: "side",
        },
        ServerMessage::Reject {
            code: RejectCode::Throttled,
            ref_msg_type: CANCEL,
            text: "",
        },
        ServerMessage::Heartbeat,
        ServerMessage::SymbolInfo(SymbolInfo::new(SymbolId(0), "BTC-JPY", "1", "0.0001").unwrap()),
        ServerMessage::Report(Report::new(
            12,
            1_700_000_000_000_000_000,
            2,
            &sample_event(),
        )),
        ServerMessage::AdminResult {
            ok: true,
            status: 0,
            text: "{\"state\":\"running\"}",
        },
        ServerMessage::AdminResult {
            ok: false,
            status: 3,
            text: "unknown symbol ✗",
        },
    ]
}

#[test]
fn client_messages_round_trip() {
    for m in all_client_messages() {
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out[2], m.msg_type());
        assert_eq!(out[3], VERSION);
        assert_eq!(usize::from(u16::from_le_bytes([out[0], out[1]])), out.len());
        assert_eq!(ClientMessage::decode(&out), Ok(m), "{m:?}");
    }
}

#[test]
fn server_messages_round_trip() {
    for m in all_server_texts() {
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out[2], m.msg_type());
        assert_eq!(usize::from(u16::from_le_bytes([out[0], out[1]])), out.len());
        assert_eq!(ServerMessage::decode(&out), Ok(m), "{m:?}");
    }
}

#[test]
fn accessors() {
    let logon = Logon::new("alice", "pässword", CancelOnDisconnect::All).unwrap();
    assert_eq!(logon.username(), Some("alice"));
    assert_eq!(logon.password(), Some("pässword"));
    assert_eq!(logon.cancel_on_disconnect(), Some(CancelOnDisconnect::All));
    assert!(!format!("{logon:?}").contains("pässword"));
    assert!(Logon::new(&"x".repeat(33), "p", CancelOnDisconnect::None).is_none());
    assert!(Logon::new(&"x".repeat(32), "p", CancelOnDisconnect::None).is_some());
    assert!(Logon::new("a\0b", "p", CancelOnDisconnect::None).is_none());

    let order = NewOrder::new(
        cl("o"),
        SymbolId(1),
        Side::Buy,
        OrderType::Market,
        TimeInForce::Fok,
        Price(0),
        Qty(1),
    );
    assert_eq!(order.order_type, ORDER_TYPE_MARKET);
    assert_eq!(order.order_type(), Some(OrderType::Market));
    assert_eq!(order.side(), Some(Side::Buy));
    assert_eq!(order.time_in_force(), Some(TimeInForce::Fok));
    assert_eq!(order.stp(), Some(SelfTradePrevention::DecrementCancel));
    assert_eq!(order.post_only(), Some(false));

    let funds = Funds::new(AccountId(1), "JPY", "1.50").unwrap();
    assert_eq!(funds.asset(), Some("JPY"));
    assert_eq!(funds.amount(), Some(Decimal::new(150, 2)));
    assert!(
        Funds::new(AccountId(1), "JPY", "x")
            .unwrap()
            .amount()
            .is_none()
    );
    assert!(Funds::new(AccountId(1), &"A".repeat(17), "1").is_none());

    assert!(HaltTarget::new("all").unwrap().is_all());
    assert!(!HaltTarget::new("BTC-JPY").unwrap().is_all());

    let info = SymbolInfo::new(SymbolId(0), "BTC-JPY", "1", "0.0001").unwrap();
    assert_eq!(info.name(), Some("BTC-JPY"));
    assert_eq!(info.tick_size(), Some(Decimal::ONE));
    assert_eq!(info.lot_size(), Some(Decimal::new(1, 4)));

    let mut gap = [0u8; 16];
    gap[0] = b'a';
    gap[2] = b'b';
    assert_eq!(padded_text(&gap), None);
    assert_eq!(padded_text(&[0xFF, 0]), None);
    assert_eq!(padded_text(&[0; 4]), Some(""));
    assert_eq!(padded_text(b"abcd"), Some("abcd"));

    let event = sample_event();
    let report = Report::new(1, 2, 3, &event);
    assert_eq!(report.event(), event);
    assert!(format!("{report:?}").contains("order_id"));

    let mc = MassCancel::new(cl("m"), None);
    assert_eq!(mc.all_symbols, 1);
    assert!(ClientMessage::Promote.is_admin());
    assert!(ClientMessage::Deposit(funds).is_admin());
    assert!(!ClientMessage::QueryOrder(OrderRequest::new(cl("q"), cl("o"), OrderId(0))).is_admin());
}

#[test]
fn layouts() {
    assert_eq!(offset_of!(Logon, password), 32);
    assert_eq!(offset_of!(Logon, cancel_on_disconnect), 64);
    assert_eq!(offset_of!(NewOrder, price), 32);
    assert_eq!(offset_of!(NewOrder, qty), 40);
    assert_eq!(offset_of!(NewOrder, symbol), 48);
    assert_eq!(offset_of!(NewOrder, side), 50);
    assert_eq!(offset_of!(NewOrder, order_type), 51);
    assert_eq!(offset_of!(NewOrder, time_in_force), 52);
    assert_eq!(offset_of!(NewOrder, stp), 53);
    assert_eq!(offset_of!(NewOrder, post_only), 54);
    assert_eq!(offset_of!(OrderRequest, orig_client_order_id), 32);
    assert_eq!(offset_of!(OrderRequest, order_id), 64);
    assert_eq!(offset_of!(Replace, order_id), 64);
    assert_eq!(offset_of!(Replace, price), 72);
    assert_eq!(offset_of!(Replace, qty), 80);
    assert_eq!(offset_of!(MassCancel, symbol), 32);
    assert_eq!(offset_of!(MassCancel, all_symbols), 34);
    assert_eq!(offset_of!(Funds, asset), 8);
    assert_eq!(offset_of!(Funds, amount), 24);
    assert_eq!(offset_of!(LogonAck, is_admin), 4);
    assert_eq!(offset_of!(LogonAck, heartbeat_ms), 8);
    assert_eq!(offset_of!(SymbolInfo, name), 8);
    assert_eq!(offset_of!(SymbolInfo, tick_size), 24);
    assert_eq!(offset_of!(SymbolInfo, lot_size), 48);
    assert_eq!(offset_of!(Report, timestamp_ns), 8);
    assert_eq!(offset_of!(Report, index), 16);
    assert_eq!(offset_of!(Report, event), 24);
    assert_eq!(offset_of!(RejectFixed, ref_msg_type), 2);

    // The documented example (BINARY_PROTOCOL.md) must be what the code writes.
    let doc = include_str!("../../../BINARY_PROTOCOL.md");
    let (order, report) = doc_example();
    for bytes in [order, report] {
        let hex = hex_dump(&bytes);
        assert!(doc.contains(&hex), "the document lacks:\n{hex}");
    }
}

/// 16 bytes per line, offset first, as the document shows them.
fn hex_dump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, line)| {
            let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            format!("{:04x}  {}\n", i * 16, hex.join(" "))
        })
        .collect()
}

fn doc_example() -> (Vec<u8>, Vec<u8>) {
    let order = NewOrder::new(
        cl("o-1"),
        SymbolId(0),
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        Price(5_000_000),
        Qty(10),
    );
    let mut order_bytes = Vec::new();
    ClientMessage::NewOrder(order).encode(&mut order_bytes);
    let mut event = Event::new(EventKind::Accepted);
    event.side = Side::Buy as u8;
    event.order_type = OrderType::Limit as u8;
    event.time_in_force = TimeInForce::Gtc as u8;
    event.account = AccountId(1);
    event.order_id = OrderId(1);
    event.price = Price(5_000_000);
    event.order_qty = Qty(10);
    event.leaves_qty = Qty(10);
    event.client_order_id = cl("o-1");
    let mut report_bytes = Vec::new();
    ServerMessage::Report(Report::new(3, 1_700_000_000_000_000_000, 0, &event))
        .encode(&mut report_bytes);
    (order_bytes, report_bytes)
}

#[test]
#[ignore = "prints the document's hex example"]
fn print_doc_example() {
    let (order, report) = doc_example();
    println!("{}\n{}", hex_dump(&order), hex_dump(&report));
}

#[test]
fn encode_appends_without_allocating() {
    let mut out = Vec::with_capacity(1024);
    out.push(0xEE);
    let ptr = out.as_ptr();
    for m in all_server_texts() {
        m.encode(&mut out);
    }
    assert_eq!(out.as_ptr(), ptr, "no reallocation with enough capacity");
    assert_eq!(out[0], 0xEE);
}

#[test]
fn framing_split_at_every_byte() {
    let mut stream = Vec::new();
    let messages = all_client_messages();
    for m in &messages {
        m.encode(&mut stream);
    }
    for cut in 0..=stream.len() {
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for chunk in [&stream[..cut], &stream[cut..]] {
            buf.extend_from_slice(chunk);
            while let Framing::Complete { len } = frame(&buf, 4096) {
                got.push(ClientMessage::decode(&buf[..len]).unwrap());
                buf.drain(..len);
            }
        }
        assert!(buf.is_empty());
        assert_eq!(got, messages, "cut at {cut}");
    }
}

#[test]
fn text_truncated_at_a_char_boundary() {
    // 'é' is 2 bytes: 257 bytes of text cut at 256 would split the last one.
    let long = format!("a{}", "é".repeat(128));
    let mut out = Vec::new();
    ServerMessage::Reject {
        code: RejectCode::Malformed,
        ref_msg_type: 0,
        text: &long,
    }
    .encode(&mut out);
    let Ok(ServerMessage::Reject { text, .. }) = ServerMessage::decode(&out) else {
        panic!("decodes");
    };
    assert_eq!(text.len(), 255);
    assert!(long.starts_with(text));

    let json = "x".repeat(5000);
    out.clear();
    ServerMessage::AdminResult {
        ok: true,
        status: 0,
        text: &json,
    }
    .encode(&mut out);
    assert_eq!(out.len(), HEADER_LEN + 8 + MAX_ADMIN_TEXT);
    let Ok(ServerMessage::AdminResult { text, .. }) = ServerMessage::decode(&out) else {
        panic!("decodes");
    };
    assert_eq!(text.len(), MAX_ADMIN_TEXT);
}

fn encoded_client(m: ClientMessage) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode(&mut out);
    out
}

fn set_len(bytes: &mut [u8]) {
    let len = u16::try_from(bytes.len()).unwrap().to_le_bytes();
    bytes[..2].copy_from_slice(&len);
}

#[test]
fn decode_errors() {
    // Shorter than a header.
    assert_eq!(
        ClientMessage::decode(&[3, 0, 3]),
        Err(DecodeError::BadLength {
            msg_type: 3,
            expected: HEADER_LEN,
            got: 3
        })
    );
    assert_eq!(
        ClientMessage::decode(&[]),
        Err(DecodeError::BadLength {
            msg_type: 0,
            expected: HEADER_LEN,
            got: 0
        })
    );
    // Version.
    assert_eq!(
        ClientMessage::decode(&[4, 0, HEARTBEAT, 2]),
        Err(DecodeError::BadVersion(2))
    );
    // Unknown types, including a server type sent to the server and vice versa.
    for t in [0x00, 0x04, 0x15, 0x2A, LOGON_ACK, 0xFF] {
        let e = ClientMessage::decode(&[4, 0, t, VERSION]).unwrap_err();
        assert_eq!(e, DecodeError::UnknownType(t));
        assert_eq!(e.reject_code(), RejectCode::UnknownMessageType);
    }
    assert_eq!(
        ServerMessage::decode(&[4, 0, NEW_ORDER, VERSION]),
        Err(DecodeError::UnknownType(NEW_ORDER))
    );
    // Declared length disagrees with the bytes given.
    assert_eq!(
        ClientMessage::decode(&[5, 0, HEARTBEAT, VERSION]),
        Err(DecodeError::BadLength {
            msg_type: HEARTBEAT,
            expected: 5,
            got: 4
        })
    );
    // Wrong size for the type: one byte short, one byte long, and a body on an empty message.
    let mut order = encoded_client(all_client_messages()[3]);
    order.pop();
    set_len(&mut order);
    let e = ClientMessage::decode(&order).unwrap_err();
    assert_eq!(
        e,
        DecodeError::BadLength {
            msg_type: NEW_ORDER,
            expected: 60,
            got: 59
        }
    );
    assert_eq!(e.reject_code(), RejectCode::Malformed);
    order.extend_from_slice(&[0, 0]);
    set_len(&mut order);
    assert!(matches!(
        ClientMessage::decode(&order),
        Err(DecodeError::BadLength { got: 61, .. })
    ));
    assert_eq!(
        ClientMessage::decode(&[5, 0, LOGOUT, VERSION, 0]),
        Err(DecodeError::BadLength {
            msg_type: LOGOUT,
            expected: 4,
            got: 5
        })
    );
    // Bad text: invalid UTF-8, and a byte after the padding.
    let mut logon = encoded_client(all_client_messages()[0]);
    logon[HEADER_LEN] = 0xFF;
    assert_eq!(
        ClientMessage::decode(&logon),
        Err(DecodeError::BadText {
            msg_type: LOGON,
            field: "username"
        })
    );
    let mut cancel = encoded_client(all_client_messages()[4]);
    cancel[HEADER_LEN + 32 + 31] = b'x';
    assert_eq!(
        ClientMessage::decode(&cancel),
        Err(DecodeError::BadText {
            msg_type: CANCEL,
            field: "orig_client_order_id"
        })
    );
    // Variable messages: below the minimum, above the maximum, bad text, bad code.
    assert_eq!(
        ServerMessage::decode(&[11, 0, REJECT, VERSION, 3, 0, 0, 0, 0, 0, 0]),
        Err(DecodeError::BadLength {
            msg_type: REJECT,
            expected: 12,
            got: 11
        })
    );
    let mut reject = vec![0, 0, REJECT, VERSION, 3, 0, 0, 0, 0, 0, 0, 0];
    reject.extend_from_slice(&[b'a'; MAX_REJECT_TEXT + 1]);
    set_len(&mut reject);
    assert_eq!(
        ServerMessage::decode(&reject),
        Err(DecodeError::BadLength {
            msg_type: REJECT,
            expected: 12 + MAX_REJECT_TEXT,
            got: 13 + MAX_REJECT_TEXT
        })
    );
    reject.truncate(14);
    reject[13] = 0xC3; // a truncated two-byte sequence
    set_len(&mut reject);
    assert_eq!(
        ServerMessage::decode(&reject),
        Err(DecodeError::BadText {
            msg_type: REJECT,
            field: "text"
        })
    );
    reject[13] = b'b';
    reject[4] = 0;
    assert_eq!(
        ServerMessage::decode(&reject),
        Err(DecodeError::BadValue {
            msg_type: REJECT,
            field: "code"
        })
    );
    let admin = [13, 0, ADMIN_RESULT, VERSION, 1, 0, 0, 0, 0, 0, 0, 0, 0x80];
    assert_eq!(
        ServerMessage::decode(&admin),
        Err(DecodeError::BadText {
            msg_type: ADMIN_RESULT,
            field: "text"
        })
    );
    // Display texts name the problem.
    assert_eq!(
        DecodeError::UnknownType(0x42).to_string(),
        "unknown message type 0x42"
    );
}

fn arb_text<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    // Arbitrary chars (multi-byte ones included), cut to the field at a char boundary.
    proptest::collection::vec(any::<char>().prop_filter("no NUL", |&c| c != '\0'), 0..=N).prop_map(
        |chars| {
            let s: String = chars.into_iter().collect();
            fill_text(truncate_text(&s, N)).unwrap()
        },
    )
}

fn arb_cl() -> impl Strategy<Value = ClientOrderId> {
    arb_text::<32>().prop_map(ClientOrderId)
}

fn arb_client() -> impl Strategy<Value = ClientMessage> {
    let logon = (arb_text::<32>(), arb_text::<32>(), any::<u8>()).prop_map(|(u, p, c)| {
        ClientMessage::Logon(Logon {
            username: u,
            password: p,
            cancel_on_disconnect: c,
            ..Zeroable::zeroed()
        })
    });
    let order = (
        arb_cl(),
        any::<u64>(),
        any::<u64>(),
        any::<u16>(),
        any::<[u8; 5]>(),
    )
        .prop_map(|(c, p, q, s, [side, ot, tif, stp, po])| {
            ClientMessage::NewOrder(NewOrder {
                client_order_id: c,
                price: Price(p),
                qty: Qty(q),
                symbol: SymbolId(s),
                side,
                order_type: ot,
                time_in_force: tif,
                stp,
                post_only: po,
                ..Zeroable::zeroed()
            })
        });
    let cancel = (arb_cl(), arb_cl(), any::<u64>(), any::<bool>()).prop_map(|(c, o, id, q)| {
        if q {
            ClientMessage::QueryOrder(OrderRequest::new(c, o, OrderId(id)))
        } else {
            ClientMessage::Cancel(OrderRequest::new(c, o, OrderId(id)))
        }
    });
    let replace = (arb_cl(), arb_cl(), any::<[u64; 3]>()).prop_map(|(c, o, [id, p, q])| {
        ClientMessage::Replace(Replace::new(c, o, OrderId(id), Price(p), Qty(q)))
    });
    let mass = (arb_cl(), any::<u16>(), any::<u8>()).prop_map(|(c, s, a)| {
        ClientMessage::MassCancel(MassCancel {
            client_order_id: c,
            symbol: SymbolId(s),
            all_symbols: a,
            ..Zeroable::zeroed()
        })
    });
    let funds = (
        any::<u32>(),
        arb_text::<16>(),
        arb_text::<32>(),
        any::<bool>(),
    )
        .prop_map(|(a, asset, amount, w)| {
            let f = Funds {
                account: AccountId(a),
                asset,
                amount,
                ..Zeroable::zeroed()
            };
            if w {
                ClientMessage::Withdraw(f)
            } else {
                ClientMessage::Deposit(f)
            }
        });
    let halt = (arb_text::<16>(), any::<bool>()).prop_map(|(t, r)| {
        let h = HaltTarget { target: t };
        if r {
            ClientMessage::Resume(h)
        } else {
            ClientMessage::Halt(h)
        }
    });
    let unit = prop::sample::select(vec![
        ClientMessage::Logout,
        ClientMessage::Heartbeat,
        ClientMessage::Snapshot,
        ClientMessage::Status,
        ClientMessage::Promote,
    ]);
    let block = (any::<u32>(), any::<bool>()).prop_map(|(a, u)| {
        let t = AccountTarget::new(AccountId(a));
        if u {
            ClientMessage::Unblock(t)
        } else {
            ClientMessage::Block(t)
        }
    });
    prop_oneof![
        logon, order, cancel, replace, mass, funds, halt, block, unit
    ]
}

const ALL_TYPES: [u8; 23] = [
    LOGON,
    LOGOUT,
    HEARTBEAT,
    NEW_ORDER,
    CANCEL,
    REPLACE,
    MASS_CANCEL,
    QUERY_ORDER,
    DEPOSIT,
    WITHDRAW,
    HALT,
    RESUME,
    SNAPSHOT,
    STATUS,
    PROMOTE,
    BLOCK,
    UNBLOCK,
    LOGON_ACK,
    REJECT,
    SERVER_HEARTBEAT,
    SYMBOL_INFO,
    REPORT,
    ADMIN_RESULT,
];

proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = ClientMessage::decode(&bytes);
        let _ = ServerMessage::decode(&bytes);
    }

    #[test]
    fn decode_never_panics_behind_a_valid_header(
        t in prop::sample::select(ALL_TYPES.to_vec()),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        // A well-formed header gets random bytes past the header checks, into the bodies.
        let mut bytes = vec![0, 0, t, VERSION];
        bytes.extend_from_slice(&body);
        set_len(&mut bytes);
        if let Ok(m) = ClientMessage::decode(&bytes) {
            // Whatever decodes has readable text.
            if let ClientMessage::Logon(l) = m {
                prop_assert!(l.username().is_some() && l.password().is_some());
            }
            let mut again = Vec::new();
            m.encode(&mut again);
            prop_assert_eq!(again.len(), bytes.len());
        }
        if let Ok(m) = ServerMessage::decode(&bytes) {
            let mut again = Vec::new();
            m.encode(&mut again);
            prop_assert_eq!(ServerMessage::decode(&again), Ok(m));
        }
    }

    #[test]
    fn client_round_trip(m in arb_client()) {
        let mut out = Vec::new();
        m.encode(&mut out);
        prop_assert_eq!(frame(&out, 4096), Framing::Complete { len: out.len() });
        prop_assert_eq!(ClientMessage::decode(&out), Ok(m));
    }

    #[test]
    fn server_round_trip(
        seq in any::<u64>(),
        ts in any::<u64>(),
        index in any::<u32>(),
        words in any::<[u64; 16]>(),
        ack in (any::<u32>(), any::<bool>(), any::<u32>()),
        info in (any::<u16>(), arb_text::<16>(), arb_text::<24>(), arb_text::<24>()),
        code in 1u16..=9,
        ref_type in any::<u8>(),
        status in any::<u8>(),
        text in ".{0,80}",
    ) {
        // Any 128 bytes are an Event: the report must carry them untouched.
        let event: Event = bytemuck::cast(words);
        let (name, tick, lot) = (info.1, info.2, info.3);
        let messages = [
            ServerMessage::Report(Report::new(seq, ts, index, &event)),
            ServerMessage::LogonAck(LogonAck::new(AccountId(ack.0), ack.1, ack.2)),
            ServerMessage::SymbolInfo(SymbolInfo {
                symbol: SymbolId(info.0),
                name,
                tick_size: tick,
                lot_size: lot,
                ..Zeroable::zeroed()
            }),
            ServerMessage::Reject {
                code: RejectCode::from_u16(code).unwrap(),
                ref_msg_type: ref_type,
                text: &text,
            },
            ServerMessage::AdminResult { ok: status == 0, status, text: &text },
        ];
        let mut out = Vec::new();
        for m in &messages {
            m.encode(&mut out);
        }
        let mut rest = &out[..];
        for m in messages {
            let Framing::Complete { len } = frame(rest, 4096) else {
                return Err(TestCaseError::fail("incomplete"));
            };
            prop_assert_eq!(ServerMessage::decode(&rest[..len]), Ok(m));
            rest = &rest[len..];
        }
        prop_assert!(rest.is_empty());
    }
}

#[test]
fn a_notice_travels_with_its_text() {
    use hayate_core::command::{NOTICE_TEXT_MAX, Notice, NoticeAction, NoticeSeverity};
    let notice = Notice {
        action: NoticeAction::Open,
        severity: NoticeSeverity::Critical,
        target: 0,
        components: 0b11,
        window: (0, 0),
        text: "Order entry down\0Since 10:00 UTC — é".as_bytes().to_vec(),
    };
    let mut out = Vec::new();
    let text = std::str::from_utf8(&notice.text).unwrap();
    encode_notice(&mut out, &NoticeHead::of(&notice), text);
    let Ok(ClientMessage::Notice(head)) = ClientMessage::decode(&out) else {
        panic!("a Notice decodes");
    };
    assert_eq!(notice_text(&out), text);
    assert_eq!(head.notice(notice_text(&out)), Some(notice));
    // Too long a text is refused by the decoder; the encoder cuts at a character boundary.
    let mut long = Vec::new();
    encode_notice(&mut long, &head, &"é".repeat(NOTICE_TEXT_MAX));
    assert_eq!(notice_text(&long).len(), NOTICE_TEXT_MAX);
    long.extend_from_slice(b"xx");
    let len = (long.len() as u16).to_le_bytes();
    long[..2].copy_from_slice(&len);
    assert!(matches!(
        ClientMessage::decode(&long),
        Err(DecodeError::BadLength { .. })
    ));
    // Not UTF-8.
    let mut bad = Vec::new();
    encode_notice(&mut bad, &head, "ab");
    let n = bad.len();
    bad[n - 1] = 0xFF;
    assert!(ClientMessage::decode(&bad).is_err());
    // Unknown action bytes decode (the gateway refuses them, naming why).
    let odd = NoticeHead { action: 9, ..head };
    assert_eq!(odd.notice("x"), None);
}
