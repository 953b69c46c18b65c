//! Fuzz target bodies for the gateway's decoders, shared by the cargo-fuzz targets in
//! `adapters/fuzz` and the stable smoke run in `tests/fuzz_smoke.rs`.
//!
//! Each target takes arbitrary bytes as a client's byte stream, runs them through the same steps
//! the server does, and panics when a decoder panics or an invariant breaks: what the gateway
//! writes must frame and parse back, decoded messages must re-encode to what was read, and
//! commands built from them must survive the journal's encoding. [`fix_seeds`],
//! [`binary_seeds`] and [`replication_seeds`] are real traffic for a fuzzer to start from.
//!
//! Nothing here touches a file or a socket, so a target runs thousands of times a second.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::AuthMode;
use crate::config::ExchangeConfig;
use hayate_core::units::AccountId;
use hayate_core::{
    ClientOrderId, Command, Event, OrderId, OrderType, Price, Qty, Side, SymbolId, TimeInForce,
};

use crate::binary::codec::{self as binary_codec, Framing as BinaryFraming, HEADER_LEN};
use crate::binary::messages::{
    CancelOnDisconnect, ClientMessage, DecodeError, Funds, HaltTarget, Logon, LogonAck, MassCancel,
    NewOrder, Replace, Report, SymbolInfo,
};
use crate::binary::messages::{OrderRequest, RejectCode, ServerMessage};
use crate::binary::orders as binary_orders;
use crate::fix::codec::{
    self as fix_codec, BEGIN_STRING, Encoder, FieldList, Framing as FixFraming, SOH,
    format_utc_timestamp, parse_decimal, parse_utc_timestamp,
};
use crate::fix::dictionary::{self, MsgClass};
use crate::fix::market_data::FixMarketData;
use crate::fix::orders::{self as fix_orders, RequestIds};
use crate::fix::seq_store::SeqStore;
use crate::fix::session::{FixSession, Inbound, LogonGrant, LogonRequest};

/// The gateway's clock as the targets see it (Unix ns): the seeds' SendingTime, so they pass the
/// session's SendingTime check.
pub const NOW_NS: u64 = 1_790_000_000_000_000_000;

/// Our FIX SenderCompID, as in the demo configuration.
const US: &str = "HAYATE";

/// The demo exchange, built once per process.
fn config() -> &'static ExchangeConfig {
    static CONFIG: OnceLock<ExchangeConfig> = OnceLock::new();
    CONFIG.get_or_init(ExchangeConfig::demo)
}

fn max_message_size() -> usize {
    config().gateway().max_message_size
}

// ---------------------------------------------------------------------------------------------
// FIX
// ---------------------------------------------------------------------------------------------

/// Feeds `data` to a fresh FIX session as one connection's byte stream: frames it as the server
/// does (skipping garbled bytes, stopping at an incomplete or oversized message), checks each
/// complete message against the codec and dictionary, and drives a [`FixSession`] with it,
/// answering Logons and application messages as the gateway would. Panics on a decoder panic or
/// a broken invariant.
pub fn fix_stream(data: &[u8]) {
    let max = max_message_size();
    let t0 = Instant::now();
    let mut driver = FixDriver {
        session: FixSession::new(US, t0),
        fields: FieldList::new(),
        t0,
        now: t0,
        market_data: FixMarketData::new(),
    };
    let mut buf = data;
    loop {
        match fix_codec::frame(buf, max) {
            FixFraming::Incomplete => break,
            FixFraming::TooLarge { declared } => {
                assert!(declared > 0, "TooLarge with BodyLength 0");
                break;
            }
            FixFraming::Garbled { skip, why } => {
                assert!(
                    skip >= 1 && skip <= buf.len(),
                    "Garbled skip {skip} of {} bytes ({why})",
                    buf.len()
                );
                buf = buf.get(skip..).unwrap_or_default();
            }
            FixFraming::Complete { len } => {
                assert!(len <= buf.len() && len <= max, "Complete len {len}");
                let (message, rest) = buf.split_at(len);
                check_fix_framing(message, max);
                driver.fields_check(message);
                driver.deliver(message);
                buf = rest;
            }
        }
    }
    driver.timers();
}

/// A complete message frames the same alone, and every cut of it is incomplete (the server
/// frames partial reads).
fn check_fix_framing(message: &[u8], max: usize) {
    let len = message.len();
    assert_eq!(fix_codec::frame(message, max), FixFraming::Complete { len });
    let header_end = len.min(40);
    let cuts = (0..header_end).chain([len / 2, len - 1]);
    for cut in cuts.filter(|&c| c < len) {
        let framing = fix_codec::frame(message.get(..cut).unwrap_or_default(), max);
        assert_eq!(
            framing,
            FixFraming::Incomplete,
            "a cut at {cut} of a complete {len}-byte message"
        );
    }
}

struct FixDriver {
    session: FixSession,
    fields: FieldList,
    t0: Instant,
    now: Instant,
    /// Market-data requests are answered from an empty book, as a fresh gateway would.
    market_data: FixMarketData,
}

impl FixDriver {
    /// The codec and dictionary alone, on one framed message.
    fn fields_check(&mut self, message: &[u8]) {
        let fields = &mut self.fields;
        if fields.parse(message).is_err() {
            return;
        }
        // The fields are the message: `tag=value<SOH>` each, values non-empty and SOH-free.
        let mut rebuilt = Vec::with_capacity(message.len());
        for (tag, value) in fields.iter() {
            assert!(tag > 0 && !value.is_empty() && !value.contains(&SOH));
            rebuilt.extend_from_slice(tag.to_string().as_bytes());
            rebuilt.push(b'=');
            rebuilt.extend_from_slice(value);
            rebuilt.push(SOH);
        }
        assert_eq!(rebuilt, message, "parsed fields do not rebuild the message");
        assert_eq!(fields.len(), fields.iter().count());
        assert_eq!(fields.as_bytes(), message);
        for (tag, value) in fields.iter() {
            check_fix_value(tag, value);
        }
        let class = dictionary::classify(fields.msg_type().unwrap_or_default());
        if matches!(class, MsgClass::Session | MsgClass::Application) {
            // The Display text goes to the log and into Text (58).
            if let Err(violation) = dictionary::validate(fields) {
                assert!(!violation.to_string().is_empty());
            }
        }
    }

    /// One message to the session, answered as the server answers.
    fn deliver(&mut self, message: &[u8]) {
        self.now += Duration::from_millis(7);
        let inbound = self.session.on_message(message, self.now, NOW_NS);
        match inbound {
            Inbound::Nothing => {}
            Inbound::Close => assert!(self.session.is_closed(), "Close from an open session"),
            Inbound::Logon(request) => self.logon(&request),
            Inbound::Application => self.application(),
        }
        self.drain();
    }

    /// Accepts a Logon the demo exchange would accept (its users' comp ids and credentials, to
    /// us), with an in-memory sequence store; refuses the others.
    fn logon(&mut self, request: &LogonRequest) {
        let user = config().user_by_comp_id(&request.sender_comp_id);
        let accepted = request.target_comp_id == US
            && user.is_some_and(|u| {
                u.auth != AuthMode::Password
                    || (request.username.as_deref() == Some(u.username.as_str())
                        && request.password.as_deref() == Some(u.password.as_str()))
            });
        match (user, accepted) {
            (Some(user), true) => {
                let seqs = SeqStore::in_memory().expect("an anonymous map");
                let grant = LogonGrant {
                    seqs,
                    reset_on_logon: user.reset_on_logon,
                };
                self.session.accept_logon(request, grant, self.now, NOW_NS);
            }
            _ => {
                self.session
                    .refuse_logon("refused by the fuzz target", NOW_NS);
                assert!(self.session.is_closed());
            }
        }
    }

    /// An application message: to a command (checked as the journal would read it) or a refusal
    /// written back, as the server does.
    fn application(&mut self) {
        assert!(
            self.session.is_active(),
            "an application message before logon"
        );
        let engine = config().engine_config();
        if self.session.fields().msg_type() == Some(b"V".as_slice()) {
            let fields = self.session.fields().clone();
            let market = empty_market();
            self.market_data
                .on_request((0, 1), &fields, market, engine, &mut self.session, NOW_NS);
            return;
        }
        match fix_orders::to_command(self.session.fields(), AccountId(1), engine) {
            Ok(command) => check_command(&command),
            Err(refusal) => {
                let ids = RequestIds::of(self.session.fields());
                fix_orders::write_refusal(&mut self.session, &refusal, &ids, b"L1-1", NOW_NS);
            }
        }
    }

    /// Heartbeats, test requests and the logon timeout, after the stream.
    fn timers(&mut self) {
        for after in [1, 31, 37, 80, 200] {
            let at = self.t0 + Duration::from_secs(after);
            let inbound = self.session.on_timer(at, NOW_NS, Duration::from_secs(10));
            assert!(matches!(inbound, Inbound::Nothing | Inbound::Close));
            self.drain();
        }
    }

    /// Everything the session wrote must be FIX 4.4 we would accept ourselves.
    fn drain(&mut self) {
        let bytes = std::mem::take(self.session.outbound());
        let mut at = bytes.as_slice();
        let mut fields = FieldList::new();
        while !at.is_empty() {
            let len = match fix_codec::frame(at, usize::MAX) {
                FixFraming::Complete { len } => len,
                other => panic!("the session wrote a bad frame: {other:?} in {at:?}"),
            };
            let (message, rest) = at.split_at(len);
            if let Err(error) = fields.parse(message) {
                panic!("the session wrote an unparseable message ({error}): {message:?}");
            }
            assert_eq!(fields.get(8), Some(BEGIN_STRING.as_bytes()));
            assert_eq!(fields.get(49), Some(US.as_bytes()));
            let seq = fields.msg_seq_num().expect("our MsgSeqNum");
            assert!(
                seq >= 1 && seq < self.session.next_out(),
                "we sent MsgSeqNum {seq}, next_out {}",
                self.session.next_out()
            );
            let msg_type = fields.msg_type().expect("our MsgType");
            // Session messages, and the market-data messages the dictionary defines for this.
            let checked = dictionary::classify(msg_type) == MsgClass::Session
                || matches!(msg_type, b"W" | b"X" | b"Y" | b"f");
            if checked && let Err(violation) = dictionary::validate(&fields) {
                panic!(
                    "we sent a message the FIX 4.4 dictionary refuses ({violation}): {message:?}"
                );
            }
            at = rest;
        }
    }
}

/// The demo exchange's market data before any order, built once.
fn empty_market() -> &'static hayate_core::market_data::MarketData {
    static MARKET: OnceLock<hayate_core::market_data::MarketData> = OnceLock::new();
    MARKET.get_or_init(|| hayate_core::market_data::MarketData::new(config().engine_config()))
}

/// Value-level decoders on any field: what parses must survive our own encoding.
fn check_fix_value(tag: u32, value: &[u8]) {
    if let Some(ns) = parse_utc_timestamp(value) {
        let mut text = [0u8; 21];
        format_utc_timestamp(ns, &mut text);
        assert_eq!(
            parse_utc_timestamp(&text),
            Some(ns - ns % 1_000_000),
            "tag {tag}: timestamp {value:?} does not survive formatting"
        );
    }
    if let Some(decimal) = parse_decimal(value) {
        let mut e = Encoder::new();
        e.start(b"0", b"A", b"B", 1, 0);
        e.field_decimal(1, decimal.mantissa(), decimal.scale());
        let message = e.finish().to_vec();
        let mut fields = FieldList::new();
        fields.parse(&message).expect("our encoding parses");
        assert_eq!(
            fields.get(1).and_then(parse_decimal),
            Some(decimal),
            "tag {tag}: decimal {value:?} does not survive encoding"
        );
    }
}

/// A command the gateway publishes must read back from its bytes, as the journal reads it.
fn check_command(command: &Command) {
    assert_eq!(
        Command::from_bytes(command.as_bytes()).as_ref(),
        Ok(command),
        "a command does not survive its encoding"
    );
}

// ---------------------------------------------------------------------------------------------
// Binary
// ---------------------------------------------------------------------------------------------

/// Feeds `data` to the binary protocol as one connection's byte stream: frames it as the server
/// does (stopping at an incomplete message or an out-of-bounds length), decodes each message as
/// a client's (mapped to an engine command for a trader and for an admin) and as a server's (the
/// client library's side), and checks that what decodes re-encodes to the same message. Panics
/// on a decoder panic or a broken invariant.
pub fn binary_stream(data: &[u8]) {
    let max = max_message_size();
    let mut buf = data;
    loop {
        match binary_codec::frame(buf, max) {
            BinaryFraming::Incomplete => {
                assert!(buf.len() < max, "Incomplete with {} bytes", buf.len());
                break;
            }
            BinaryFraming::Invalid { declared } => {
                assert!(declared < HEADER_LEN || declared > max);
                break;
            }
            BinaryFraming::Complete { len } => {
                assert!((HEADER_LEN..=max).contains(&len) && len <= buf.len());
                let (message, rest) = buf.split_at(len);
                check_client_message(message);
                check_server_message(message);
                buf = rest;
            }
        }
    }
}

fn check_client_message(message: &[u8]) {
    let decoded = match ClientMessage::decode(message) {
        Ok(decoded) => decoded,
        Err(error) => {
            check_decode_error(&error);
            return;
        }
    };
    // Padding is kept as read, so a client message re-encodes byte for byte.
    let mut encoded = Vec::new();
    decoded.encode(&mut encoded);
    assert_eq!(encoded, message, "{decoded:?} re-encodes differently");
    assert_eq!(ClientMessage::decode(&encoded), Ok(decoded));
    // Decoding refused bad text, so every text accessor succeeds.
    match &decoded {
        ClientMessage::Logon(logon) => {
            assert!(logon.username().is_some() && logon.password().is_some());
            let _ = logon.cancel_on_disconnect();
        }
        ClientMessage::NewOrder(order) => {
            let _ = (order.side(), order.order_type(), order.time_in_force());
            let _ = (order.stp(), order.post_only());
        }
        ClientMessage::Deposit(funds) | ClientMessage::Withdraw(funds) => {
            assert!(funds.asset().is_some() && funds.amount_text().is_some());
            let _ = funds.amount();
        }
        ClientMessage::Halt(target) | ClientMessage::Resume(target) => {
            assert!(target.target().is_some());
            let _ = target.is_all();
        }
        _ => {}
    }
    let engine = config().engine_config();
    match binary_orders::to_command(&decoded, AccountId(1), engine) {
        Ok(command) => check_command(&command),
        Err(why) => assert!(!why.is_empty()),
    }
    match binary_orders::admin_command(&decoded, engine) {
        Ok(Some(command)) => check_command(&command),
        Ok(None) => {}
        Err(why) => assert!(!why.is_empty()),
    }
    assert_eq!(decoded.is_admin(), decoded.msg_type() >= 0x20);
}

fn check_server_message(message: &[u8]) {
    let decoded = match ServerMessage::decode(message) {
        Ok(decoded) => decoded,
        Err(error) => {
            check_decode_error(&error);
            return;
        }
    };
    // Padding is written as zeros, so compare decoded values.
    let mut encoded = Vec::new();
    decoded.encode(&mut encoded);
    assert_eq!(encoded.len(), message.len());
    assert_eq!(ServerMessage::decode(&encoded), Ok(decoded));
    match decoded {
        ServerMessage::SymbolInfo(info) => {
            assert!(info.name().is_some());
            assert!(info.tick_size_text().is_some() && info.lot_size_text().is_some());
            let _ = (info.tick_size(), info.lot_size());
        }
        ServerMessage::Report(report) => {
            let _ = format!("{report:?}");
        }
        ServerMessage::Reject { code, .. } => {
            assert_eq!(RejectCode::from_u16(code as u16), Some(code));
        }
        _ => {}
    }
}

/// What a Reject carries: a text and a code.
fn check_decode_error(error: &DecodeError) {
    assert!(!error.to_string().is_empty());
    let _ = error.reject_code();
}

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

/// A FIX message from ALICE to us: header by the encoder, then `fields`.
fn fix_message(msg_type: &str, seq: u64, fields: &[(u32, &str)]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.start(msg_type.as_bytes(), b"ALICE", US.as_bytes(), seq, NOW_NS);
    for (tag, value) in fields {
        e.field(*tag, value.as_bytes());
    }
    e.finish().to_vec()
}

/// Real FIX traffic for fuzzers to start from: byte streams of one connection, each starting
/// with a Logon the demo exchange accepts (one is refused), then orders, cancels, replaces,
/// status and mass-cancel requests and the session messages (heartbeat, test request, resend
/// request, sequence reset, reject, logout).
pub fn fix_seeds() -> Vec<Vec<u8>> {
    let mut t = [0u8; 21];
    format_utc_timestamp(NOW_NS, &mut t);
    let t = std::str::from_utf8(&t).unwrap_or_default();
    let logon = |seq, extra: &[(u32, &str)]| {
        let mut fields = vec![(98, "0"), (108, "30"), (553, "alice"), (554, "change-me")];
        fields.extend_from_slice(extra);
        fix_message("A", seq, &fields)
    };
    let order = |seq, id: &str, side: &str| {
        fix_message(
            "D",
            seq,
            &[
                (11, id),
                (55, "BTC-JPY"),
                (54, side),
                (60, t),
                (38, "1.5"),
                (40, "2"),
                (44, "5000000"),
                (59, "0"),
            ],
        )
    };
    let streams: Vec<Vec<Vec<u8>>> = vec![
        vec![logon(1, &[])],
        vec![logon(1, &[(141, "Y"), (8013, "Y")])],
        vec![fix_message(
            "A",
            1,
            &[(98, "0"), (108, "30"), (553, "mallory"), (554, "guess")],
        )],
        vec![
            logon(1, &[]),
            order(2, "a1", "1"),
            fix_message("D", 3, &[(11, "m1"), (55, "BTC-JPY"), (54, "2"), (60, t)]),
            fix_message(
                "F",
                4,
                &[(41, "a1"), (11, "c1"), (55, "BTC-JPY"), (54, "1"), (60, t)],
            ),
            fix_message(
                "G",
                5,
                &[
                    (41, "a1"),
                    (11, "a2"),
                    (55, "BTC-JPY"),
                    (54, "1"),
                    (60, t),
                    (38, "2"),
                    (40, "2"),
                    (44, "4950000"),
                ],
            ),
            fix_message("H", 6, &[(11, "a2"), (55, "BTC-JPY"), (54, "1")]),
            fix_message("q", 7, &[(11, "mc"), (530, "7"), (60, t)]),
            fix_message("q", 8, &[(11, "mc2"), (530, "1"), (55, "BTC-JPY"), (60, t)]),
            fix_message("D", 9, &[(1, "2"), (11, "x"), (55, "ETH-JPY"), (54, "1")]),
        ],
        vec![
            logon(1, &[]),
            fix_message("0", 2, &[]),
            fix_message("1", 3, &[(112, "T1")]),
            fix_message("2", 4, &[(7, "1"), (16, "0")]),
            fix_message("4", 5, &[(123, "Y"), (36, "9")]),
            fix_message("0", 12, &[]),
            fix_message("0", 9, &[(43, "Y"), (122, t)]),
            fix_message("3", 10, &[(45, "2"), (373, "1"), (58, "x")]),
            fix_message("B", 11, &[(148, "news")]),
            fix_message("5", 12, &[(58, "bye")]),
        ],
        vec![
            b"garbage8=FIX".to_vec(),
            logon(1, &[]),
            order(2, "b1", "2"),
            fix_message("4", 3, &[(36, "1")]),
        ],
        vec![
            logon(1, &[]),
            fix_message(
                "V",
                2,
                &[
                    (262, "md1"),
                    (263, "1"),
                    (264, "0"),
                    (267, "3"),
                    (269, "0"),
                    (269, "1"),
                    (269, "2"),
                    (146, "1"),
                    (55, "BTC-JPY"),
                ],
            ),
            fix_message(
                "V",
                3,
                &[
                    (262, "md2"),
                    (263, "0"),
                    (264, "5"),
                    (265, "0"),
                    (266, "N"),
                    (267, "1"),
                    (269, "7"),
                    (146, "2"),
                    (55, "BTC-JPY"),
                    (55, "ETH-JPY"),
                ],
            ),
            fix_message(
                "V",
                4,
                &[
                    (262, "md1"),
                    (263, "2"),
                    (264, "0"),
                    (267, "1"),
                    (269, "0"),
                    (146, "1"),
                    (55, "BTC-JPY"),
                ],
            ),
        ],
    ];
    streams.into_iter().map(|s| s.concat()).collect()
}

/// Real binary traffic for fuzzers to start from: a trader's stream (logon, orders, cancel,
/// replace, mass cancel, query, heartbeat, logout), an admin's, and server messages.
pub fn binary_seeds() -> Vec<Vec<u8>> {
    let id = |text: &str| ClientOrderId::new(text).unwrap_or(ClientOrderId::EMPTY);
    let symbol = config()
        .engine_config()
        .symbol_id("BTC-JPY")
        .unwrap_or(SymbolId(0));
    let encode = |messages: &[ClientMessage]| {
        let mut out = Vec::new();
        for m in messages {
            m.encode(&mut out);
        }
        out
    };
    let mut seeds = Vec::new();
    if let Some(logon) = Logon::new("alice", "change-me", CancelOnDisconnect::Session) {
        let order = NewOrder::new(
            id("o1"),
            symbol,
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            Price(5_000_000),
            Qty(10),
        );
        seeds.push(encode(&[
            ClientMessage::Logon(logon),
            ClientMessage::NewOrder(order),
            ClientMessage::Cancel(OrderRequest::new(id("c1"), id("o1"), OrderId(0))),
            ClientMessage::Replace(Replace::new(
                id("o2"),
                id("o1"),
                OrderId(7),
                Price(4_999_000),
                Qty(5),
            )),
            ClientMessage::MassCancel(MassCancel::new(id("m1"), Some(symbol))),
            ClientMessage::MassCancel(MassCancel::new(ClientOrderId::EMPTY, None)),
            ClientMessage::QueryOrder(OrderRequest::new(
                ClientOrderId::EMPTY,
                id("o2"),
                OrderId(0),
            )),
            ClientMessage::Heartbeat,
            ClientMessage::Logout,
        ]));
        seeds.push(encode(&[ClientMessage::NewOrder(NewOrder::new(
            id("o3"),
            symbol,
            Side::Sell,
            OrderType::Market,
            TimeInForce::Ioc,
            Price(0),
            Qty(1),
        ))]));
    }
    let mut admin = Vec::new();
    if let Some(logon) = Logon::new("admin", "change-me", CancelOnDisconnect::Configured) {
        admin.push(ClientMessage::Logon(logon));
    }
    if let Some(funds) = Funds::new(AccountId(1), "JPY", "1000.5") {
        admin.push(ClientMessage::Deposit(funds));
    }
    if let Some(funds) = Funds::new(AccountId(2), "BTC", "0.00000001") {
        admin.push(ClientMessage::Withdraw(funds));
    }
    if let Some(target) = HaltTarget::new("BTC-JPY") {
        admin.push(ClientMessage::Halt(target));
    }
    if let Some(target) = HaltTarget::new("*") {
        admin.push(ClientMessage::Resume(target));
    }
    admin.extend([
        ClientMessage::Snapshot,
        ClientMessage::Status,
        ClientMessage::Promote,
    ]);
    seeds.push(encode(&admin));

    let mut server = Vec::new();
    ServerMessage::LogonAck(LogonAck::new(AccountId(1), false, 30_000)).encode(&mut server);
    ServerMessage::Reject {
        code: RejectCode::Malformed,
        ref_msg_type: 0x10,
        text: "bad value: side",
    }
    .encode(&mut server);
    ServerMessage::Heartbeat.encode(&mut server);
    if let Some(info) = SymbolInfo::new(symbol, "BTC-JPY", "1", "0.0001") {
        ServerMessage::SymbolInfo(info).encode(&mut server);
    }
    let event: Event = bytemuck::Zeroable::zeroed();
    ServerMessage::Report(Report::new(1, NOW_NS, 0, &event)).encode(&mut server);
    ServerMessage::AdminResult {
        ok: true,
        status: 0,
        text: "{\"ok\":true}",
    }
    .encode(&mut server);
    seeds.push(server);
    seeds
}

// ---------------------------------------------------------------------------------------------
// Replication
// ---------------------------------------------------------------------------------------------

/// Feeds `data` to the replication protocol as the stream one node receives from its peer:
/// frames it as the replication peer does (stopping where the connection would be
/// dropped), decodes every frame, and checks that a decoded message encodes to one that decodes
/// equal and that records are numbered in order. Panics on a decoder panic or a broken
/// invariant.
pub fn replication_stream(data: &[u8]) {
    use crate::replication::protocol::{self, Framing, Message};
    let mut buf = data;
    loop {
        match protocol::frame(buf) {
            Framing::Incomplete => break,
            Framing::Invalid { declared } => {
                assert!(!(protocol::HEADER_LEN..=protocol::MAX_FRAME).contains(&declared));
                break;
            }
            Framing::Complete { len } => {
                assert!(len >= protocol::HEADER_LEN && len <= buf.len());
                let (bytes, rest) = buf.split_at(len);
                if let Ok(message) = Message::decode(bytes) {
                    let mut again = Vec::new();
                    message.encode(&mut again);
                    assert_eq!(
                        Message::decode(&again).as_ref(),
                        Ok(&message),
                        "a decoded message re-encodes to itself"
                    );
                    if let Message::Records(records) = message {
                        let mut n = 0u64;
                        for (seq, _command) in records.iter() {
                            assert_eq!(
                                Some(seq),
                                records.first_seq().checked_add(n),
                                "records are numbered in order"
                            );
                            n += 1;
                        }
                        assert_eq!(n, u64::from(records.count()));
                    }
                }
                buf = rest;
            }
        }
    }
}

/// Real replication traffic: a handshake each way, records, acknowledgements, heartbeats, an
/// epoch notice and the refusals.
pub fn replication_seeds() -> Vec<Vec<u8>> {
    use crate::replication::protocol::{
        Ack, EpochNotice, Heartbeat, Hello, Message, RecordsWriter, RefuseCode, Truncate, Welcome,
    };
    let mut standby = Vec::new();
    Message::Hello(Hello {
        epoch: 1,
        last_seq: 40,
        last_epoch_start: 1,
        config_digest: 0x0123_4567_89ab_cdef,
    })
    .encode(&mut standby);
    Message::Ack(Ack {
        durable_seq: 42,
        applied_seq: 41,
    })
    .encode(&mut standby);
    Message::Heartbeat(Heartbeat {
        epoch: 1,
        seq: 42,
        sent_ns: 7,
    })
    .encode(&mut standby);
    let mut primary = Vec::new();
    Message::Welcome(Welcome {
        epoch: 2,
        resume_from: 41,
        primary_last_seq: 60,
    })
    .encode(&mut primary);
    let mut writer = RecordsWriter::begin(&mut primary, 41);
    for command in [
        Command::halt(None),
        Command::resume(None),
        Command::epoch(2, 43),
    ] {
        let _ = writer.push(&mut primary, &command);
    }
    writer.finish(&mut primary);
    Message::EpochNotice(EpochNotice {
        epoch: 3,
        epoch_start: 61,
    })
    .encode(&mut primary);
    let mut refusals = Vec::new();
    Message::Truncate(Truncate {
        keep_through: 16,
        epoch: 2,
    })
    .encode(&mut refusals);
    Message::Refuse {
        code: RefuseCode::StaleEpoch,
        text: "the standby has seen a later epoch",
    }
    .encode(&mut refusals);
    vec![standby, primary, refusals]
}

// ---------------------------------------------------------------------------------------------
// WebSocket feed
// ---------------------------------------------------------------------------------------------

/// A client's bytes after the WebSocket handshake, as the feed reads them: tungstenite's framing
/// (with the feed's limits) and then our request parser on every text message. Panics only if
/// something panics; every refusal must be a reason the `error` message can carry.
pub fn ws_stream(data: &[u8]) {
    use tungstenite::protocol::{Role, WebSocketConfig};
    let limits = config().market_data();
    let socket = Replay {
        input: std::io::Cursor::new(data),
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_message_size));
    let mut ws = tungstenite::WebSocket::from_raw_socket(socket, Role::Server, Some(ws_config));
    for _ in 0..1024 {
        match ws.read() {
            Ok(tungstenite::Message::Text(text)) => {
                match crate::market_data::request::parse(text.as_str(), config().engine_config()) {
                    Ok(request) => assert!(!request.pairs.is_empty()),
                    Err(why) => {
                        let mut out = String::new();
                        crate::market_data::json::error(&mut out, &why);
                        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&out);
                        assert!(parsed.is_ok(), "our error message is not JSON: {out}");
                    }
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// A byte stream that reads `input` and swallows writes (the feed's answers).
struct Replay<'a> {
    input: std::io::Cursor<&'a [u8]>,
}

impl std::io::Read for Replay<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl std::io::Write for Replay<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Masked client frames (text, binary, ping, close) carrying real requests and junk.
pub fn ws_seeds() -> Vec<Vec<u8>> {
    let frame = |opcode: u8, payload: &[u8]| {
        let mut out = vec![0x80 | opcode];
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    };
    let subscribe = br#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2","matches","ticker",{"name":"status","product_ids":["BTC-JPY"]}]}"#;
    let unsubscribe = br#"{"type":"unsubscribe","product_ids":["BTC-JPY"],"channels":["level2"]}"#;
    vec![
        frame(1, subscribe),
        [frame(1, subscribe), frame(1, unsubscribe)].concat(),
        frame(1, b"not json"),
        frame(
            1,
            br#"{"type":"subscribe","product_ids":["NOPE"],"channels":["level2"]}"#,
        ),
        frame(2, b"\x00\x01binary"),
        [frame(9, b"ping"), frame(1, subscribe)].concat(),
        frame(8, &[0x03, 0xe8]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_run_clean() {
        for seed in fix_seeds() {
            fix_stream(&seed);
        }
        for seed in binary_seeds() {
            binary_stream(&seed);
        }
        for seed in replication_seeds() {
            replication_stream(&seed);
        }
    }

    /// Found by cargo-fuzz: records ending at the last sequence there is (the harness counted
    /// one past it and overflowed; the decoder was right).
    #[test]
    fn records_ending_at_the_largest_sequence() {
        use crate::replication::protocol::RecordsWriter;
        let mut frame = Vec::new();
        let mut writer = RecordsWriter::begin(&mut frame, u64::MAX);
        assert!(writer.push(&mut frame, &Command::halt(None)).is_ok());
        assert_eq!(writer.finish(&mut frame), 1);
        replication_stream(&frame);
    }

    #[test]
    fn fix_seeds_reach_the_application_layer() {
        let seed = fix_seeds().swap_remove(3);
        let t0 = Instant::now();
        let mut session = FixSession::new(US, t0);
        let mut buf = seed.as_slice();
        let mut applications = 0;
        while let FixFraming::Complete { len } = fix_codec::frame(buf, 4096) {
            let (message, rest) = buf.split_at(len);
            match session.on_message(message, t0, NOW_NS) {
                Inbound::Logon(request) => {
                    let grant = LogonGrant {
                        seqs: SeqStore::in_memory().expect("map"),
                        reset_on_logon: false,
                    };
                    session.accept_logon(&request, grant, t0, NOW_NS);
                }
                Inbound::Application => applications += 1,
                other => assert_eq!(other, Inbound::Nothing),
            }
            buf = rest;
        }
        assert!(buf.is_empty());
        assert!(
            applications >= 6,
            "only {applications} application messages"
        );
    }
}
