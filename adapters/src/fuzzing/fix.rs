//! The FIX target: one connection's bytes through framing, codec, dictionary and session, and its
//! seeds.

use super::*;

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
                        && u.password
                            .verify(request.password.as_deref().unwrap_or_default()))
            });
        match (user, accepted) {
            (Some(user), true) => {
                let seqs = SeqStore::in_memory().expect("an anonymous map");
                let grant = LogonGrant {
                    seqs,
                    reset_on_logon: user.reset_on_logon,
                    store: Some(MessageStore::in_memory(1 << 16).expect("an anonymous map")),
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
