use super::*;
use proptest::prelude::*;

/// Wraps a body written with '|' for SOH into a correctly framed
/// message.
fn wire(body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let mut msg = format!("8=FIX.4.4\x019={}\x01{}", body.len(), body).into_bytes();
    let sum = checksum(&msg);
    msg.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    msg
}

const BODY: &str = "35=0|49=CLIENT|56=HAYATE|34=7|52=20240229-12:34:56.789|";

#[test]
fn complete_message_frames_with_its_length() {
    let msg = wire(BODY);
    assert_eq!(frame(&msg, 4096), Framing::Complete { len: msg.len() });
}

#[test]
fn every_split_is_incomplete_until_the_last_byte() {
    let msg = wire(BODY);
    for cut in 0..msg.len() {
        assert_eq!(frame(&msg[..cut], 4096), Framing::Incomplete, "cut {cut}");
    }
    assert_eq!(frame(&msg, 4096), Framing::Complete { len: msg.len() });
}

#[test]
fn back_to_back_messages_frame_one_at_a_time() {
    let first = wire(BODY);
    let second = wire("35=1|49=C|56=S|34=8|52=20240229-12:34:57|112=X|");
    let buf = [first.clone(), second.clone()].concat();
    assert_eq!(frame(&buf, 4096), Framing::Complete { len: first.len() });
    assert_eq!(
        frame(&buf[first.len()..], 4096),
        Framing::Complete { len: second.len() }
    );
}

#[test]
fn bad_checksum_skips_to_the_next_message() {
    let mut first = wire(BODY);
    let n = first.len();
    first[n - 2] = if first[n - 2] == b'0' { b'1' } else { b'0' };
    let second = wire(BODY);
    let buf = [first.clone(), second].concat();
    match frame(&buf, 4096) {
        Framing::Garbled { skip, .. } => assert_eq!(skip, first.len()),
        other => panic!("expected Garbled, got {other:?}"),
    }
}

#[test]
fn wrong_body_length_is_garbled() {
    let msg = wire(BODY);
    let text = String::from_utf8(msg).unwrap();
    let wrong = text.replacen(
        &format!("9={}", BODY.len()),
        &format!("9={}", BODY.len() - 1),
        1,
    );
    assert!(matches!(
        frame(wrong.as_bytes(), 4096),
        Framing::Garbled { .. }
    ));
}

#[test]
fn oversized_body_length_is_too_large_before_the_body_arrives() {
    assert_eq!(
        frame(b"8=FIX.4.4\x019=5000\x01", 4096),
        Framing::TooLarge { declared: 5000 }
    );
    // Still Incomplete while the length itself may grow.
    assert_eq!(frame(b"8=FIX.4.4\x019=5000", 4096), Framing::Incomplete);
}

#[test]
fn bad_body_length_is_garbled() {
    for bad in [
        &b"8=FIX.4.4\x019=12a\x01"[..],
        b"8=FIX.4.4\x019=\x01",
        b"8=FIX.4.4\x019=-5\x01",
        b"8=FIX.4.4\x019= 5\x01",
    ] {
        assert!(
            matches!(frame(bad, usize::MAX), Framing::Garbled { .. }),
            "{bad:?}"
        );
    }
}

/// Eight digits or more cannot be a message we take, whatever the maximum: too large, so the
/// connection closes at once instead of waiting for the body.
#[test]
fn a_body_length_of_eight_digits_is_too_large() {
    assert_eq!(
        frame(b"8=FIX.4.4\x019=12345678", usize::MAX),
        Framing::TooLarge {
            declared: usize::MAX
        }
    );
}

#[test]
fn junk_before_the_message_is_skipped() {
    let msg = wire(BODY);
    let buf = [b"garbage".as_slice(), &msg].concat();
    assert!(matches!(
        frame(&buf, 4096),
        Framing::Garbled { skip: 7, .. }
    ));
    assert_eq!(frame(&buf[7..], 4096), Framing::Complete { len: msg.len() });
}

#[test]
fn junk_keeps_a_trailing_partial_message_start() {
    assert!(matches!(
        frame(b"xyz8=FI", 4096),
        Framing::Garbled { skip: 3, .. }
    ));
    assert!(matches!(
        frame(b"x", 4096),
        Framing::Garbled { skip: 1, .. }
    ));
    assert_eq!(frame(b"8", 4096), Framing::Incomplete);
    assert_eq!(frame(b"", 4096), Framing::Incomplete);
}

#[test]
fn fields_out_of_place_are_garbled() {
    assert!(matches!(
        frame(b"9=5\x018=FIX.4.4\x01", 4096),
        Framing::Garbled { .. }
    ));
    assert!(matches!(
        frame(b"8=FIX.4.4\x0135=0\x01", 4096),
        Framing::Garbled { .. }
    ));
    assert!(matches!(
        frame(b"8=\x019=5\x01", 4096),
        Framing::Garbled { .. }
    ));
}

#[test]
fn endless_begin_string_is_garbled_not_incomplete_forever() {
    let mut buf = b"8=".to_vec();
    buf.extend(std::iter::repeat_n(b'A', 100));
    assert!(matches!(frame(&buf, 4096), Framing::Garbled { .. }));
    assert_eq!(frame(&buf[..20], 4096), Framing::Incomplete);
}

#[test]
fn parse_splits_fields_in_order() {
    let msg = wire("35=D|49=C|34=12|58=a=b|");
    let mut fields = FieldList::new();
    fields.parse(&msg).unwrap();
    assert_eq!(fields.len(), 7);
    assert!(!fields.is_empty());
    assert_eq!(fields.field_at(0), Some((8, &b"FIX.4.4"[..])));
    assert_eq!(fields.msg_type(), Some(&b"D"[..]));
    assert_eq!(fields.msg_seq_num(), Some(12));
    assert_eq!(fields.get(58), Some(&b"a=b"[..]));
    assert_eq!(fields.get_str(49), Some("C"));
    assert_eq!(fields.get(999), None);
    assert_eq!(fields.field_at(7), None);
    assert_eq!(fields.as_bytes(), &msg[..]);
    let tags: Vec<u32> = fields.iter().map(|(t, _)| t).collect();
    assert_eq!(tags, [8, 9, 35, 49, 34, 58, 10]);
}

#[test]
fn parse_reuses_the_list() {
    let mut fields = FieldList::new();
    fields.parse(&wire("35=D|58=long text here|")).unwrap();
    fields.parse(&wire("35=0|")).unwrap();
    assert_eq!(fields.len(), 4);
    assert_eq!(fields.get(58), None);
}

#[test]
fn parse_errors_map_to_reject_reasons() {
    let mut fields = FieldList::new();
    let err = fields.parse(b"8=FIX.4.4\x01x5=1\x01").unwrap_err();
    assert_eq!(err.reason, SessionRejectReason::InvalidTagNumber);
    assert_eq!(err.ref_tag, None);
    let err = fields.parse(b"8=FIX.4.4\x010=1\x01").unwrap_err();
    assert_eq!(err.reason, SessionRejectReason::InvalidTagNumber);
    assert_eq!(err.ref_tag, Some(0));
    let err = fields.parse(b"8=FIX.4.4\x01-1=1\x01").unwrap_err();
    assert_eq!(err.ref_tag, Some(-1));
    let err = fields.parse(b"8=FIX.4.4\x01=1\x01").unwrap_err();
    assert_eq!(err.reason, SessionRejectReason::InvalidTagNumber);
    let err = fields.parse(b"8=FIX.4.4\x0144\x01").unwrap_err();
    assert_eq!(err.reason, SessionRejectReason::InvalidTagNumber);
    assert_eq!(err.text, "field without '='");
    let err = fields.parse(b"8=FIX.4.4\x0199999999999=1\x01").unwrap_err();
    assert_eq!(err.reason, SessionRejectReason::InvalidTagNumber);
    let err = fields.parse(b"8=FIX.4.4\x0144=\x01").unwrap_err();
    assert_eq!(err.reason, SessionRejectReason::TagSpecifiedWithoutAValue);
    assert_eq!(err.ref_tag, Some(44));
    // Fields before the error remain readable.
    assert_eq!(fields.get(8), Some(&b"FIX.4.4"[..]));
}

#[test]
fn msg_seq_num_rejects_non_numbers() {
    let mut fields = FieldList::new();
    fields.parse(&wire("35=0|34=-1|")).unwrap();
    assert_eq!(fields.msg_seq_num(), None);
    fields
        .parse(&wire("35=0|34=99999999999999999999|"))
        .unwrap();
    assert_eq!(fields.msg_seq_num(), None);
}

#[test]
fn reject_reason_codes_match_fix() {
    assert_eq!(SessionRejectReason::InvalidTagNumber.code(), 0);
    assert_eq!(SessionRejectReason::InvalidMsgType.code(), 11);
    assert_eq!(SessionRejectReason::TagAppearsMoreThanOnce.code(), 13);
    assert_eq!(SessionRejectReason::IncorrectNumInGroupCount.code(), 16);
    assert_eq!(SessionRejectReason::Other.code(), 99);
}

fn formatted(ns: u64) -> String {
    let mut out = [0u8; 21];
    format_utc_timestamp(ns, &mut out);
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn timestamp_formats_the_epoch_and_a_leap_day() {
    assert_eq!(formatted(0), "19700101-00:00:00.000");
    // 2024-02-29T23:59:59.999999999Z
    let leap = 1_709_251_199_999_999_999;
    assert_eq!(formatted(leap), "20240229-23:59:59.999");
    assert_eq!(
        formatted(1_709_251_200_000_000_000),
        "20240301-00:00:00.000"
    );
    assert_eq!(formatted(951_782_400_000_000_000), "20000229-00:00:00.000");
}

#[test]
fn timestamp_parses_with_and_without_fractions() {
    assert_eq!(parse_utc_timestamp(b"19700101-00:00:00"), Some(0));
    assert_eq!(parse_utc_timestamp(b"19700101-00:00:00.000"), Some(0));
    assert_eq!(
        parse_utc_timestamp(b"20240229-23:59:59.999"),
        Some(1_709_251_199_999_000_000)
    );
    assert_eq!(
        parse_utc_timestamp(b"20240229-23:59:59.999999"),
        Some(1_709_251_199_999_999_000)
    );
    assert_eq!(
        parse_utc_timestamp(b"20240229-23:59:59.999999999"),
        Some(1_709_251_199_999_999_999)
    );
    assert_eq!(
        parse_utc_timestamp(b"19700101-00:00:00.5"),
        Some(500_000_000)
    );
    // A leap second is accepted.
    assert_eq!(
        parse_utc_timestamp(b"19700101-00:00:60"),
        Some(60_000_000_000)
    );
}

#[test]
fn timestamp_rejects_invalid_dates_and_shapes() {
    for bad in [
        &b"20230229-00:00:00"[..],
        b"21000229-00:00:00",
        b"20240431-00:00:00",
        b"20241301-00:00:00",
        b"20240001-00:00:00",
        b"20240100-00:00:00",
        b"20240101-24:00:00",
        b"20240101-00:60:00",
        b"20240101-00:00:61",
        b"20240101-00:00:00.",
        b"20240101-00:00:00.1234567890",
        b"20240101-00:00:00.12a",
        b"20240101 00:00:00",
        b"2024010-00:00:00",
        b"19691231-23:59:59",
        b"99991231-23:59:59",
        b"+0240101-00:00:00",
        b"",
    ] {
        assert_eq!(
            parse_utc_timestamp(bad),
            None,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(parse_utc_timestamp(b"20000229-00:00:00").is_some());
}

#[test]
fn decimal_parses_fix_floats_only() {
    let d = |s: &str| parse_decimal(s.as_bytes()).map(|d| d.to_string());
    assert_eq!(d("123.45").as_deref(), Some("123.45"));
    assert_eq!(d("-0.5").as_deref(), Some("-0.5"));
    assert_eq!(d("5").as_deref(), Some("5"));
    assert_eq!(d("5.").as_deref(), Some("5"));
    assert_eq!(d(".5").as_deref(), Some("0.5"));
    assert_eq!(d("1.50").as_deref(), Some("1.5"));
    assert_eq!(d("0000012").as_deref(), Some("12"));
    assert_eq!(
        d("1234567890123456789012345678").as_deref(),
        Some("1234567890123456789012345678")
    );
    assert_eq!(
        d("0.0000000000000000000000000001").as_deref(),
        Some("0.0000000000000000000000000001")
    );
    for bad in [
        "",
        "-",
        ".",
        "-.",
        "+1",
        "1e5",
        "1.2.3",
        " 1",
        "1 ",
        "--1",
        "1-",
        "12345678901234567890123456789",
        "0.00000000000000000000000000001",
    ] {
        assert_eq!(d(bad), None, "{bad:?}");
    }
}

fn encoded_decimal(mantissa: i128, scale: u32) -> String {
    let mut enc = Encoder::new();
    enc.start(b"0", b"S", b"T", 1, 0);
    enc.field_decimal(44, mantissa, scale);
    let msg = enc.finish().to_vec();
    let mut fields = FieldList::new();
    fields.parse(&msg).unwrap();
    fields.get_str(44).unwrap().to_owned()
}

#[test]
fn decimal_formatting_trims_and_pads() {
    assert_eq!(encoded_decimal(12345, 2), "123.45");
    assert_eq!(encoded_decimal(500, 2), "5");
    assert_eq!(encoded_decimal(-5, 1), "-0.5");
    assert_eq!(encoded_decimal(0, 3), "0");
    assert_eq!(encoded_decimal(0, 0), "0");
    assert_eq!(encoded_decimal(7, 0), "7");
    assert_eq!(encoded_decimal(1200, 0), "1200");
    assert_eq!(encoded_decimal(5, 4), "0.0005");
    assert_eq!(encoded_decimal(-1050, 3), "-1.05");
    assert_eq!(encoded_decimal(i128::MIN, 0), i128::MIN.to_string());
}

#[test]
fn encoder_round_trips_through_frame_and_parse() {
    let mut enc = Encoder::default();
    enc.start(b"8", b"HAYATE", b"CLIENT", 42, 1_709_251_199_999_999_999);
    enc.field(11, b"order-1");
    enc.field_u64(38, 100);
    enc.field_i64(1000, -7);
    enc.field_char(54, b'1');
    enc.field_timestamp(60, 0);
    enc.field_decimal(44, 10125, 2);
    let msg = enc.finish().to_vec();
    assert_eq!(frame(&msg, 4096), Framing::Complete { len: msg.len() });
    let mut fields = FieldList::new();
    fields.parse(&msg).unwrap();
    let got: Vec<(u32, Vec<u8>)> = fields.iter().map(|(t, v)| (t, v.to_vec())).collect();
    let want: Vec<(u32, &[u8])> = vec![
        (35, b"8"),
        (49, b"HAYATE"),
        (56, b"CLIENT"),
        (34, b"42"),
        (52, b"20240229-23:59:59.999"),
        (11, b"order-1"),
        (38, b"100"),
        (1000, b"-7"),
        (54, b"1"),
        (60, b"19700101-00:00:00.000"),
        (44, b"101.25"),
    ];
    assert_eq!(got[0], (8, b"FIX.4.4".to_vec()));
    assert_eq!(got[1].0, 9);
    assert_eq!(got.len(), want.len() + 3);
    for ((tag, value), (want_tag, want_value)) in got.iter().skip(2).zip(&want) {
        assert_eq!(*tag, *want_tag);
        assert_eq!(value.as_slice(), *want_value);
    }
    assert_eq!(got.last().map(|f| f.0), Some(10));
}

#[test]
fn encoder_reuse_starts_afresh() {
    let mut enc = Encoder::new();
    enc.start(b"D", b"A", b"B", 1, 0);
    enc.field(58, b"first");
    let _ = enc.finish();
    enc.start(b"0", b"A", b"B", 2, 0);
    let msg = enc.finish().to_vec();
    let mut fields = FieldList::new();
    fields.parse(&msg).unwrap();
    assert_eq!(fields.get(58), None);
    assert_eq!(fields.msg_seq_num(), Some(2));
}

proptest! {
    #[test]
    fn frame_and_parse_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        max in 0usize..1000,
    ) {
        let framing = frame(&bytes, max);
        if let Framing::Garbled { skip, .. } = framing {
            prop_assert!(skip >= 1 && skip <= bytes.len());
        }
        if let Framing::Complete { len } = framing {
            prop_assert!(len <= bytes.len());
        }
        let mut fields = FieldList::new();
        let _ = fields.parse(&bytes);
        let _ = fields.msg_seq_num();
        let _ = parse_utc_timestamp(&bytes);
        let _ = parse_decimal(&bytes);
    }

    #[test]
    fn prefixed_garbage_frames_somewhere(
        bytes in proptest::collection::vec(
            prop_oneof![Just(b'8'), Just(b'='), Just(b'9'), Just(1u8), Just(b'1'), Just(b'0'), any::<u8>()],
            0..200,
        ),
    ) {
        let framing = frame(&[b"8=FIX.4.4\x01".as_slice(), &bytes].concat(), 4096);
        if let Framing::Garbled { skip, .. } = framing {
            prop_assert!(skip >= 1);
        }
    }

    #[test]
    fn timestamps_round_trip_at_millisecond_precision(ns in 0u64..=u64::MAX) {
        let mut out = [0u8; 21];
        format_utc_timestamp(ns, &mut out);
        prop_assert_eq!(parse_utc_timestamp(&out), Some(ns / 1_000_000 * 1_000_000));
    }

    #[test]
    fn decimals_round_trip(mantissa in -(10i128.pow(27))..10i128.pow(27), scale in 0u32..=28) {
        let text = encoded_decimal(mantissa, scale);
        let parsed = parse_decimal(text.as_bytes());
        let expected = Decimal::from_i128_with_scale(mantissa, scale).normalize();
        prop_assert_eq!(parsed.map(|d| d.normalize()), Some(expected));
    }

    #[test]
    fn encoded_messages_frame_and_parse_back(
        msg_type in "[0-9A-Za-z]{1,2}",
        sender in "[A-Z]{1,12}",
        seq in any::<u64>(),
        time in any::<u64>(),
        fields in proptest::collection::vec((1u32..100_000, "[ -~]{1,20}"), 0..20),
        numbers in proptest::collection::vec((1u32..100_000, any::<i64>()), 0..5),
    ) {
        let mut enc = Encoder::new();
        enc.start(msg_type.as_bytes(), sender.as_bytes(), b"HAYATE", seq, time);
        for (tag, value) in &fields {
            enc.field(*tag, value.as_bytes());
        }
        for (tag, value) in &numbers {
            enc.field_i64(*tag, *value);
        }
        let msg = enc.finish().to_vec();
        prop_assert_eq!(frame(&msg, msg.len()), Framing::Complete { len: msg.len() });
        let mut list = FieldList::new();
        prop_assert!(list.parse(&msg).is_ok());
        prop_assert_eq!(list.msg_type(), Some(msg_type.as_bytes()));
        prop_assert_eq!(list.msg_seq_num(), Some(seq));
        let body: Vec<(u32, Vec<u8>)> = list.iter().skip(7).take(fields.len() + numbers.len())
            .map(|(t, v)| (t, v.to_vec())).collect();
        let want: Vec<(u32, Vec<u8>)> = fields.iter()
            .map(|(t, v)| (*t, v.as_bytes().to_vec()))
            .chain(numbers.iter().map(|(t, v)| (*t, v.to_string().into_bytes())))
            .collect();
        prop_assert_eq!(body, want);
    }
}
