use hayate_core::{
    AccountId, Amount, AssetId, ClientOrderId, NewOrder, OrderId, OrderRef, Price, Qty,
    SelfTradePrevention, Side, SymbolId, TimeInForce,
};
use proptest::prelude::*;

use super::*;

fn encoded(message: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out);
    out
}

/// A records frame with `commands` from `first_seq`.
fn records_frame(first_seq: u64, commands: &[Command]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = RecordsWriter::begin(&mut out, first_seq);
    for command in commands {
        writer.push(&mut out, command).unwrap();
    }
    writer.finish(&mut out);
    out
}

fn halts(n: u64) -> Vec<Command> {
    (0..n).map(|i| Command::halt(None).at(i)).collect()
}

fn hello() -> Hello {
    Hello {
        epoch: 3,
        last_seq: 1_000,
        last_epoch_start: 900,
        config_digest: 0xdead_beef_cafe_f00d,
        nonce: [0x42; NONCE_LEN],
    }
}

fn fixed_messages() -> Vec<Message<'static>> {
    vec![
        Message::Hello(hello()),
        Message::Challenge(Challenge {
            nonce: [1; NONCE_LEN],
            proof: [2; NONCE_LEN],
        }),
        Message::Proof(Proof {
            proof: [3; NONCE_LEN],
        }),
        Message::Welcome(Welcome {
            epoch: 4,
            resume_from: 1_001,
            primary_last_seq: 1_500,
        }),
        Message::Truncate(Truncate {
            keep_through: 899,
            epoch: 4,
        }),
        Message::Refuse {
            code: RefuseCode::ConfigMismatch,
            text: "configuration digest differs",
        },
        Message::Refuse {
            code: RefuseCode::Busy,
            text: "",
        },
        Message::Ack(Ack {
            durable_seq: 10,
            applied_seq: 9,
        }),
        Message::Heartbeat(Heartbeat {
            epoch: 4,
            seq: 77,
            sent_ns: 1_700_000_000_000_000_000,
        }),
        Message::EpochNotice(EpochNotice {
            epoch: 5,
            epoch_start: 1_501,
        }),
        Message::ObserverHello(observer_hello()),
        Message::Refuse {
            code: RefuseCode::ObserversFull,
            text: "8 observers are connected",
        },
    ]
}

fn observer_hello() -> ObserverHello {
    let mut hello = ObserverHello {
        epoch: 2,
        last_seq: 1_000,
        last_epoch_start: 901,
        config_digest: 0xfeed,
        nonce: [3; NONCE_LEN],
        ..ObserverHello::default()
    };
    hello.set_name("bridge-1");
    hello
}

#[test]
fn an_observers_name_is_cut_at_32_bytes_on_a_character_boundary() {
    let hello = observer_hello();
    assert_eq!(hello.name(), "bridge-1");
    let mut long = ObserverHello::default();
    // 31 ASCII bytes and a 3-byte character: the character does not fit, so it is left out.
    long.set_name(&format!("{}語", "x".repeat(31)));
    assert_eq!(long.name(), "x".repeat(31));
    // A name that is not UTF-8 on the wire is shown, not refused.
    let mut raw = ObserverHello::default();
    raw.name[..2].copy_from_slice(&[0xff, b'a']);
    assert_eq!(raw.name(), "\u{fffd}a");
    // An observer's hello decodes with the magic and its own length, like a standby's.
    let bytes = encoded(&Message::ObserverHello(hello));
    assert_eq!(
        bytes.len(),
        HEADER_LEN + MAGIC.len() + size_of::<ObserverHello>()
    );
    assert_eq!(Message::decode(&bytes), Ok(Message::ObserverHello(hello)));
}

#[test]
fn every_message_round_trips() {
    let records = records_frame(42, &halts(3));
    let mut messages = fixed_messages();
    messages.push(Message::decode(&records).unwrap());
    for message in messages {
        let bytes = encoded(&message);
        assert_eq!(frame(&bytes), Framing::Complete { len: bytes.len() });
        assert_eq!(bytes.get(4), Some(&message.msg_type()));
        assert_eq!(Message::decode(&bytes), Ok(message));
    }
    assert_eq!(encoded(&Message::Hello(hello())).len(), 80);
    assert_eq!(
        encoded(&Message::Ack(Ack {
            durable_seq: 1,
            applied_seq: 1
        }))
        .len(),
        24
    );
}

#[test]
fn every_refuse_code_round_trips() {
    for v in 0..=u16::MAX {
        if let Some(code) = RefuseCode::from_u16(v) {
            assert_eq!(code as u16, v);
            let bytes = encoded(&Message::Refuse { code, text: "x" });
            assert_eq!(
                Message::decode(&bytes),
                Ok(Message::Refuse { code, text: "x" })
            );
        }
    }
}

#[test]
fn wire_layout_is_little_endian_with_the_documented_offsets() {
    let bytes = encoded(&Message::Hello(hello()));
    assert_eq!(&bytes[..8], &[80, 0, 0, 0, msg_type::HELLO, VERSION, 0, 0]);
    assert_eq!(&bytes[8..16], b"HAYATERP");
    assert_eq!(&bytes[16..24], &3u64.to_le_bytes());
    assert_eq!(&bytes[40..48], &0xdead_beef_cafe_f00du64.to_le_bytes());
    assert_eq!(&bytes[48..80], &[0x42; NONCE_LEN]);
    let bytes = encoded(&Message::Challenge(Challenge {
        nonce: [1; NONCE_LEN],
        proof: [2; NONCE_LEN],
    }));
    assert_eq!(
        &bytes[..8],
        &[72, 0, 0, 0, msg_type::CHALLENGE, VERSION, 0, 0]
    );
    assert_eq!(
        (&bytes[8..40], &bytes[40..72]),
        (&[1; 32][..], &[2; 32][..])
    );

    let bytes = records_frame(7, &halts(2));
    assert_eq!(&bytes[..4], &(24u32 + 256).to_le_bytes());
    assert_eq!(&bytes[8..16], &7u64.to_le_bytes());
    assert_eq!(&bytes[16..20], &2u32.to_le_bytes());
    assert_eq!(&bytes[20..24], &[0; 4]);
    assert_eq!(&bytes[24..152], Command::halt(None).at(0).as_bytes());
}

fn check_records(first_seq: u64, commands: &[Command]) {
    let bytes = records_frame(first_seq, commands);
    assert_eq!(bytes.len(), RECORDS_HEAD_LEN + commands.len() * COMMAND_LEN);
    let Ok(Message::Records(records)) = Message::decode(&bytes) else {
        panic!("not records");
    };
    assert_eq!(records.first_seq(), first_seq);
    assert_eq!(records.count() as usize, commands.len());
    assert_eq!(records.last_seq(), first_seq + commands.len() as u64 - 1);
    let decoded: Vec<(u64, Command)> = records.iter().collect();
    let expected: Vec<(u64, Command)> = (first_seq..).zip(commands.iter().copied()).collect();
    assert_eq!(decoded, expected);
    // A decoded run re-encodes to the same bytes, so a relay can forward it unchanged.
    assert_eq!(encoded(&Message::Records(records)), bytes);
}

#[test]
fn records_with_one_command() {
    check_records(1, &halts(1));
}

#[test]
fn records_with_a_thousand_commands() {
    check_records(5_000, &halts(1_000));
}

#[test]
fn records_writer_appends_after_existing_bytes_without_allocating() {
    let mut out = Vec::with_capacity(4096);
    Message::Ack(Ack {
        durable_seq: 1,
        applied_seq: 1,
    })
    .encode(&mut out);
    let capacity = out.capacity();
    let before = out.len();
    let mut writer = RecordsWriter::begin(&mut out, 10);
    for command in halts(5) {
        writer.push(&mut out, &command).unwrap();
    }
    assert_eq!(writer.next_seq(), 15);
    assert_eq!(writer.finish(&mut out), 5);
    assert_eq!(out.capacity(), capacity);
    let Framing::Complete { len } = frame(&out) else {
        panic!("no first frame");
    };
    assert_eq!(len, before);
    let second = &out[len..];
    assert_eq!(frame(second), Framing::Complete { len: second.len() });
    let Ok(Message::Records(records)) = Message::decode(second) else {
        panic!("not records");
    };
    assert_eq!((records.first_seq(), records.count()), (10, 5));
}

#[test]
fn records_writer_without_commands_leaves_the_buffer_as_it_was() {
    let mut out = vec![1, 2, 3];
    let writer = RecordsWriter::begin(&mut out, 1);
    assert_eq!(writer.finish(&mut out), 0);
    assert_eq!(out, vec![1, 2, 3]);
}

#[test]
fn records_writer_stops_at_the_frame_limit() {
    let mut out = Vec::new();
    let mut writer = RecordsWriter::begin(&mut out, 1);
    let command = Command::snapshot();
    for _ in 0..MAX_RECORDS {
        writer.push(&mut out, &command).unwrap();
    }
    assert!(writer.is_full());
    assert_eq!(writer.push(&mut out, &command), Err(RecordsFull));
    assert_eq!(writer.finish(&mut out), MAX_RECORDS);
    assert!(out.len() <= MAX_FRAME);
    assert_eq!(frame(&out), Framing::Complete { len: out.len() });
    let Ok(Message::Records(records)) = Message::decode(&out) else {
        panic!("not records");
    };
    assert_eq!(records.iter().count(), MAX_RECORDS as usize);
}

#[test]
fn records_writer_stops_at_the_last_sequence() {
    let mut out = Vec::new();
    let mut writer = RecordsWriter::begin(&mut out, u64::MAX - 1);
    let command = Command::snapshot();
    writer.push(&mut out, &command).unwrap();
    writer.push(&mut out, &command).unwrap();
    assert_eq!(writer.push(&mut out, &command), Err(RecordsFull));
    writer.finish(&mut out);
    let Ok(Message::Records(records)) = Message::decode(&out) else {
        panic!("not records");
    };
    let seqs: Vec<u64> = records.iter().map(|(seq, _)| seq).collect();
    assert_eq!(seqs, vec![u64::MAX - 1, u64::MAX]);
}

/// Feeds `stream` to a receiver in two parts split at `at`, returning the messages it cut.
fn receive_split(stream: &[u8], at: usize) -> Vec<Message<'static>> {
    let mut buffer = Vec::new();
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for part in [&stream[..at], &stream[at..]] {
        buffer.extend_from_slice(part);
        loop {
            match frame(&buffer) {
                Framing::Complete { len } => {
                    frames.push(buffer.drain(..len).collect());
                }
                Framing::Incomplete => break,
                Framing::Invalid { declared } => panic!("invalid length {declared}"),
            }
        }
    }
    assert!(buffer.is_empty());
    frames
        .into_iter()
        .map(|f| {
            let f: &'static [u8] = Vec::leak(f);
            Message::decode(f).unwrap()
        })
        .collect()
}

#[test]
fn a_stream_cuts_the_same_at_every_split() {
    let records = records_frame(1, &halts(3));
    let mut stream = encoded(&Message::Hello(hello()));
    stream.extend_from_slice(&records);
    let expected = vec![Message::Hello(hello()), Message::decode(&records).unwrap()];
    for at in 0..=stream.len() {
        assert_eq!(receive_split(&stream, at), expected, "split at {at}");
    }
}

#[test]
fn invalid_lengths_are_judged_from_four_bytes() {
    for declared in (0..HEADER_LEN as u32).chain([MAX_FRAME as u32 + 1, u32::MAX]) {
        assert_eq!(
            frame(&declared.to_le_bytes()),
            Framing::Invalid {
                declared: declared as usize
            }
        );
    }
    assert_eq!(
        frame(&(MAX_FRAME as u32).to_le_bytes()),
        Framing::Incomplete
    );
    assert_eq!(frame(&8u32.to_le_bytes()), Framing::Incomplete);
    for len in 0..4 {
        assert_eq!(frame(&[0xff; 3][..len]), Framing::Incomplete);
    }
}

/// A frame with the given type and body, its length set to match.
fn raw(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_header(&mut out, msg_type, HEADER_LEN + body.len());
    out.extend_from_slice(body);
    out
}

#[test]
fn each_decode_error() {
    use DecodeError::*;
    assert_eq!(Message::decode(&[8, 0, 0, 0]), Err(Short { len: 4 }));

    let mut bytes = encoded(&Message::Ack(Ack::default()));
    bytes.push(0);
    assert_eq!(
        Message::decode(&bytes),
        Err(LengthMismatch {
            declared: 24,
            actual: 25
        })
    );

    let mut huge = raw(msg_type::ACK, &[]);
    huge.resize(MAX_FRAME + 1, 0);
    huge[..4].copy_from_slice(&(MAX_FRAME as u32 + 1).to_le_bytes());
    assert_eq!(Message::decode(&huge), Err(TooLong { len: MAX_FRAME + 1 }));

    let mut bytes = encoded(&Message::Ack(Ack::default()));
    bytes[5] = 1;
    assert_eq!(Message::decode(&bytes), Err(BadVersion { version: 1 }));

    for t in [0u8, 0x0C, 0xff] {
        assert_eq!(
            Message::decode(&raw(t, &[0; 16])),
            Err(UnknownType { msg_type: t })
        );
    }

    assert_eq!(
        Message::decode(&raw(msg_type::ACK, &[0; 15])),
        Err(BadLength {
            msg_type: msg_type::ACK,
            expected: 24,
            got: 23
        })
    );
    assert_eq!(
        Message::decode(&raw(msg_type::WELCOME, &[0; 32])),
        Err(BadLength {
            msg_type: msg_type::WELCOME,
            expected: 32,
            got: 40
        })
    );
    assert_eq!(
        Message::decode(&raw(msg_type::HELLO, &MAGIC)),
        Err(BadLength {
            msg_type: msg_type::HELLO,
            expected: 80,
            got: 16
        })
    );
    assert_eq!(
        Message::decode(&raw(msg_type::REFUSE, &[1, 0])),
        Err(BadLength {
            msg_type: msg_type::REFUSE,
            expected: 16,
            got: 10
        })
    );

    let mut bytes = encoded(&Message::Hello(hello()));
    bytes[8] = b'h';
    assert_eq!(Message::decode(&bytes), Err(BadMagic));

    let refuse = |code: u16, text: &[u8]| {
        let mut body = code.to_le_bytes().to_vec();
        body.extend_from_slice(&[0; 6]);
        body.extend_from_slice(text);
        raw(msg_type::REFUSE, &body)
    };
    assert_eq!(
        Message::decode(&refuse(0, b"")),
        Err(UnknownRefuseCode { code: 0 })
    );
    assert_eq!(
        Message::decode(&refuse(9, b"")),
        Err(UnknownRefuseCode { code: 9 })
    );
    assert_eq!(
        Message::decode(&refuse(1, &[b'a'; 513])),
        Err(TextTooLong { len: 513 })
    );
    assert!(Message::decode(&refuse(1, &[b'a'; 512])).is_ok());
    assert_eq!(Message::decode(&refuse(1, &[0xc3])), Err(BadText));

    let records = |first_seq: u64, count: u32, commands: &[hayate_core::Command]| {
        let mut body = first_seq.to_le_bytes().to_vec();
        body.extend_from_slice(&count.to_le_bytes());
        body.extend_from_slice(&[0; 4]);
        for command in commands {
            body.extend_from_slice(command.as_bytes());
        }
        raw(msg_type::RECORDS, &body)
    };
    assert_eq!(Message::decode(&records(1, 0, &[])), Err(ZeroRecords));
    assert_eq!(
        Message::decode(&records(1, 2, &halts(1))),
        Err(BadLength {
            msg_type: msg_type::RECORDS,
            expected: 24 + 256,
            got: 24 + 128
        })
    );
    assert_eq!(
        Message::decode(&records(1, u32::MAX, &halts(1))),
        Err(BadLength {
            msg_type: msg_type::RECORDS,
            expected: 24 + 128 * u32::MAX as usize,
            got: 24 + 128
        })
    );
    assert_eq!(
        Message::decode(&raw(msg_type::RECORDS, &[0; 12])),
        Err(BadLength {
            msg_type: msg_type::RECORDS,
            expected: 24,
            got: 20
        })
    );
    assert_eq!(
        Message::decode(&records(0, 1, &halts(1))),
        Err(BadSequence {
            first_seq: 0,
            count: 1
        })
    );
    assert_eq!(
        Message::decode(&records(u64::MAX, 2, &halts(2))),
        Err(BadSequence {
            first_seq: u64::MAX,
            count: 2
        })
    );
    assert!(Message::decode(&records(u64::MAX, 1, &halts(1))).is_ok());

    let mut bad_version = halts(3);
    let mut bytes = records(1, 3, &bad_version);
    bytes[24 + 128 + 1] = 9;
    assert_eq!(
        Message::decode(&bytes),
        Err(Command {
            index: 1,
            source: CommandDecodeError::Version { version: 9 }
        })
    );
    bad_version[2].kind = 0;
    assert_eq!(
        Message::decode(&records(1, 3, &bad_version)),
        Err(Command {
            index: 2,
            source: CommandDecodeError::Kind { kind: 0 }
        })
    );
}

#[test]
fn header_reserved_bytes_and_padding_are_ignored() {
    let mut bytes = records_frame(1, &halts(1));
    bytes[6] = 0xaa;
    bytes[7] = 0xbb;
    bytes[20] = 0xcc;
    assert!(Message::decode(&bytes).is_ok());
}

#[test]
fn long_refusal_text_is_cut_at_a_character_boundary() {
    // 'é' is two bytes, so 512 bytes fall in the middle of the 257th character.
    let text = "é".repeat(300);
    let bytes = encoded(&Message::Refuse {
        code: RefuseCode::StaleEpoch,
        text: &text,
    });
    let Ok(Message::Refuse { code, text: got }) = Message::decode(&bytes) else {
        panic!("not a refusal");
    };
    assert_eq!(code, RefuseCode::StaleEpoch);
    assert_eq!(got, "é".repeat(256));
    let text = format!("a{}", "é".repeat(300));
    let bytes = encoded(&Message::Refuse {
        code: RefuseCode::StaleEpoch,
        text: &text,
    });
    let Ok(Message::Refuse { text: got, .. }) = Message::decode(&bytes) else {
        panic!("not a refusal");
    };
    assert_eq!(got.len(), 511);
}

fn client_order_id() -> impl Strategy<Value = ClientOrderId> {
    "[A-Za-z0-9]{0,32}".prop_map(|s| ClientOrderId::new(&s).unwrap_or(ClientOrderId::EMPTY))
}

fn order_ref() -> impl Strategy<Value = OrderRef> {
    prop_oneof![
        any::<u64>().prop_map(|id| OrderRef::Id(OrderId(id))),
        client_order_id().prop_map(OrderRef::Client),
        (any::<u64>(), client_order_id()).prop_map(|(id, c)| OrderRef::Both(OrderId(id), c)),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    let symbol = any::<Option<u16>>().prop_map(|s| s.map(SymbolId));
    let shape =
        prop_oneof![
            (
                any::<u32>(),
                any::<u16>(),
                any::<bool>(),
                any::<u64>(),
                any::<u64>(),
                client_order_id(),
                any::<bool>(),
            )
                .prop_map(|(a, s, buy, p, q, id, market)| {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let order = if market {
                        NewOrder::market(AccountId(a), SymbolId(s), side, Qty(q), id)
                    } else {
                        NewOrder::limit(AccountId(a), SymbolId(s), side, Price(p), Qty(q), id)
                            .with_tif(TimeInForce::Ioc)
                            .with_stp(SelfTradePrevention::CancelBoth)
                            .post_only()
                    };
                    Command::new_order(order)
                }),
            (any::<u32>(), order_ref(), client_order_id()).prop_map(|(a, r, id)| Command::cancel(
                AccountId(a),
                r,
                id
            )),
            (
                any::<u32>(),
                order_ref(),
                client_order_id(),
                any::<u64>(),
                any::<u64>()
            )
                .prop_map(|(a, r, id, p, q)| Command::replace(
                    AccountId(a),
                    r,
                    id,
                    Price(p),
                    Qty(q)
                )),
            (any::<u32>(), symbol.clone(), client_order_id())
                .prop_map(|(a, s, id)| Command::mass_cancel(AccountId(a), s, id)),
            (any::<u32>(), order_ref(), client_order_id())
                .prop_map(|(a, r, id)| Command::query_order(AccountId(a), r, id)),
            (any::<u32>(), any::<u16>(), any::<u64>()).prop_map(|(a, s, q)| Command::deposit(
                AccountId(a),
                AssetId(s),
                Amount(q)
            )),
            (any::<u32>(), any::<u16>(), any::<u64>()).prop_map(|(a, s, q)| Command::withdraw(
                AccountId(a),
                AssetId(s),
                Amount(q)
            )),
            symbol.clone().prop_map(Command::halt),
            symbol.prop_map(Command::resume),
            Just(Command::snapshot()),
            any::<u32>().prop_map(|a| Command::cancel_on_disconnect(AccountId(a))),
        ];
    (shape, any::<u64>()).prop_map(|(command, ts)| command.at(ts))
}

fn message_type() -> impl Strategy<Value = u8> {
    msg_type::HELLO..=msg_type::EPOCH_NOTICE
}

proptest! {
    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = frame(&bytes);
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn decode_never_panics_behind_a_valid_header(
        t in message_type(),
        body in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let _ = Message::decode(&raw(t, &body));
    }

    #[test]
    fn decode_never_panics_on_a_records_head_with_random_commands(
        first_seq in any::<u64>(),
        count in 0u32..5,
        commands in proptest::collection::vec(any::<u8>(), 0..700),
    ) {
        let mut body = first_seq.to_le_bytes().to_vec();
        body.extend_from_slice(&count.to_le_bytes());
        body.extend_from_slice(&[0; 4]);
        body.extend_from_slice(&commands);
        let _ = Message::decode(&raw(msg_type::RECORDS, &body));
    }

    #[test]
    fn decode_never_panics_on_a_corrupted_valid_frame(
        which in 0usize..9,
        commands in proptest::collection::vec(command(), 1..4),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = match fixed_messages().get(which) {
            Some(message) => encoded(message),
            None => records_frame(1, &commands),
        };
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = frame(&bytes);
        if let Ok(message) = Message::decode(&bytes) {
            // Whatever decodes must encode again to a frame of the same length.
            prop_assert_eq!(encoded(&message).len(), bytes.len());
        }
    }

    #[test]
    fn records_round_trip_any_valid_commands(
        first_seq in 1u64..=u64::MAX - 64,
        commands in proptest::collection::vec(command(), 1..64),
    ) {
        for command in &commands {
            prop_assert_eq!(Command::from_bytes(command.as_bytes()), Ok(*command));
        }
        let bytes = records_frame(first_seq, &commands);
        let Ok(Message::Records(records)) = Message::decode(&bytes) else {
            return Err(TestCaseError::fail("not records"));
        };
        let decoded: Vec<(u64, Command)> = records.iter().collect();
        let expected: Vec<(u64, Command)> = (first_seq..).zip(commands).collect();
        prop_assert_eq!(decoded, expected);
    }
}
