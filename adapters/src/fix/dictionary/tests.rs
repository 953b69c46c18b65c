use super::*;
use crate::fix::codec::{Encoder, Framing, frame};
use proptest::prelude::*;

const HEAD: &str = "49=CLIENT|56=HAYATE|34=2|52=20240229-12:00:00.000|";
const ORDER: &str = "11=ord-1|55=ACME|54=1|60=20240229-12:00:00.001|40=2|44=101.25|38=100|";

/// A correctly framed message: 8 and 9 added, '|' standing for SOH,
/// checksum computed.
fn wire(fields: &str) -> Vec<u8> {
    let body = fields.replace('|', "\x01");
    let mut msg = format!("8=FIX.4.4\x019={}\x01{}", body.len(), body).into_bytes();
    let sum = msg.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    msg.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    msg
}

fn check(fields: &str) -> Result<(), Violation> {
    let mut list = FieldList::new();
    list.parse(&wire(fields)).map_err(|e| {
        let tag = e.ref_tag.and_then(|t| u32::try_from(t).ok()).unwrap_or(0);
        violation(e.reason, tag, e.text)
    })?;
    validate(&list)
}

fn order(extra: &str) -> Result<(), Violation> {
    check(&format!("35=D|{HEAD}{ORDER}{extra}"))
}

#[track_caller]
fn assert_violation(result: Result<(), Violation>, reason: SessionRejectReason, ref_tag: u32) {
    match result {
        Err(v) => {
            assert_eq!((v.reason, v.ref_tag), (reason, ref_tag), "{v}");
            assert_eq!(v.reason.code(), reason as u32);
        }
        Ok(()) => panic!("expected {reason:?} on {ref_tag}, got Ok"),
    }
}

use SessionRejectReason as R;

#[test]
fn valid_messages_of_every_supported_type_pass() {
    let cases = [
        format!("35=0|{HEAD}"),
        format!("35=0|{HEAD}112=ping|"),
        format!("35=1|{HEAD}112=ping|"),
        format!("35=2|{HEAD}7=1|16=0|"),
        format!("35=3|{HEAD}45=1|371=44|372=D|373=5|58=bad price|"),
        format!("35=4|{HEAD}123=Y|36=10|"),
        format!("35=5|{HEAD}58=bye|"),
        format!("35=A|{HEAD}98=0|108=30|141=Y|8013=Y|384=2|372=D|385=R|372=F|"),
        format!("35=D|{HEAD}{ORDER}"),
        format!(
            "35=D|{HEAD}{ORDER}59=0|18=M 6|7928=O|1=ACC|21=1|453=2|448=TRADER1|447=D|452=11|802=1|523=X|803=2|448=FIRM|447=D|452=1|"
        ),
        format!("35=F|{HEAD}41=ord-1|11=ord-2|55=ACME|54=1|60=20240229-12:00:01|38=100|"),
        format!(
            "35=G|{HEAD}41=ord-1|11=ord-3|55=ACME|54=1|60=20240229-12:00:01|40=2|44=101.5|38=50|"
        ),
        format!("35=H|{HEAD}37=42|11=ord-1|55=ACME|54=1|"),
        format!("35=q|{HEAD}11=mc-1|530=7|60=20240229-12:00:01|"),
        format!(
            "35=D|97=N|{HEAD}43=Y|122=20240229-11:00:00|627=1|628=H|629=20240229-11:00:00|{ORDER}93=1|89=X|"
        ),
    ];
    for case in cases {
        assert_eq!(check(&case), Ok(()), "{case}");
    }
}

#[test]
fn msg_type_must_be_the_third_field() {
    assert_violation(
        check("49=CLIENT|35=0|56=HAYATE|34=2|52=20240229-12:00:00|"),
        R::TagSpecifiedOutOfRequiredOrder,
        35,
    );
}

#[test]
fn header_tag_after_body_tag_is_out_of_order() {
    assert_violation(
        check(&format!(
            "35=D|49=CLIENT|56=HAYATE|34=2|{ORDER}52=20240229-12:00:00|"
        )),
        R::TagSpecifiedOutOfRequiredOrder,
        52,
    );
}

#[test]
fn trailer_tag_before_body_tag_is_out_of_order() {
    assert_violation(
        order("93=1|89=X|58=late|"),
        R::TagSpecifiedOutOfRequiredOrder,
        58,
    );
    assert_violation(order("89=X|93=1|"), R::TagSpecifiedOutOfRequiredOrder, 93);
}

#[test]
fn undefined_tag_is_named() {
    assert_violation(order("957=1|"), R::InvalidTagNumber, 957);
    assert_violation(order("5001=1|"), R::InvalidTagNumber, 5001);
    assert_eq!(
        order("8013=N|"),
        Err(violation(
            R::TagNotDefinedForMessageType,
            8013,
            "tag not defined for this message type",
        ))
    );
}

#[test]
fn tag_not_defined_for_message_type_is_named() {
    assert_violation(order("112=x|"), R::TagNotDefinedForMessageType, 112);
    assert_violation(
        check(&format!("35=0|{HEAD}11=x|")),
        R::TagNotDefinedForMessageType,
        11,
    );
}

#[test]
fn tag_appearing_twice_is_a_duplicate() {
    assert_violation(order("44=101|"), R::TagAppearsMoreThanOnce, 44);
    assert_violation(
        check(&format!("35=0|{HEAD}49=AGAIN|")),
        R::TagAppearsMoreThanOnce,
        49,
    );
}

#[test]
fn tag_repeated_within_a_group_instance_is_a_duplicate() {
    assert_violation(
        order("453=1|448=A|447=D|447=D|"),
        R::TagAppearsMoreThanOnce,
        447,
    );
    // Across instances it is expected.
    assert_eq!(order("453=2|448=A|447=D|448=B|447=D|"), Ok(()));
}

#[test]
fn incorrect_data_format_names_the_tag() {
    for (extra, tag) in [
        ("59=0|110=ten|", 110),
        ("126=2024-02-29|", 126),
        ("432=20230229|", 432),
        ("121=y|", 121),
        ("21=12|", 21),
        ("423=1.5|", 423),
    ] {
        assert_violation(order(extra), R::IncorrectDataFormat, tag);
    }
    assert_violation(
        check(&format!("35=2|{HEAD}7=-1|16=0|")),
        R::IncorrectDataFormat,
        7,
    );
    assert_violation(
        check("35=0|49=C|56=S|34=2|52=20230229-00:00:00|"),
        R::IncorrectDataFormat,
        52,
    );
    assert_eq!(order("423=-1|432=20240229|"), Ok(()));
}

#[test]
fn value_out_of_range_is_incorrect() {
    for (extra, tag) in [
        ("59=8|", 59),
        ("21=4|", 21),
        ("7928=X|", 7928),
        ("18=1  2|", 18),
        ("18=g|", 18),
        ("18=AB|", 18),
    ] {
        assert_violation(order(extra), R::ValueIsIncorrect, tag);
    }
    assert_violation(
        check(&format!(
            "35=D|{HEAD}11=x|55=X|54=Z|60=20240229-12:00:00|40=2|"
        )),
        R::ValueIsIncorrect,
        54,
    );
    assert_violation(
        check(&format!(
            "35=D|{HEAD}11=x|55=X|54=1|60=20240229-12:00:00|40=N|"
        )),
        R::ValueIsIncorrect,
        40,
    );
    assert_violation(
        check(&format!("35=A|{HEAD}98=7|108=30|")),
        R::ValueIsIncorrect,
        98,
    );
    assert_violation(
        check(&format!("35=A|{HEAD}98=0|108=30|8013=X|")),
        R::ValueIsIncorrect,
        8013,
    );
    assert_violation(
        check(&format!("35=q|{HEAD}11=x|530=8|60=20240229-12:00:00|")),
        R::ValueIsIncorrect,
        530,
    );
    assert_eq!(order("18=0 A f|7928=B|"), Ok(()));
}

#[test]
fn group_count_mismatch_names_the_count_tag() {
    assert_violation(
        order("453=2|448=A|447=D|"),
        R::IncorrectNumInGroupCount,
        453,
    );
    assert_violation(
        order("453=1|448=A|448=B|"),
        R::IncorrectNumInGroupCount,
        453,
    );
    assert_violation(order("453=0|448=A|"), R::IncorrectNumInGroupCount, 453);
    assert_violation(order("453=1|"), R::IncorrectNumInGroupCount, 453);
    assert_violation(
        order("453=1|448=A|802=2|523=x|"),
        R::IncorrectNumInGroupCount,
        802,
    );
    assert_eq!(order("453=0|"), Ok(()));
}

#[test]
fn group_instance_without_its_first_field_is_out_of_order() {
    assert_violation(
        order("453=1|447=D|448=A|"),
        R::RepeatingGroupFieldsOutOfOrder,
        447,
    );
    assert_violation(
        order("453=2|448=A|447=D|447=D|"),
        R::TagAppearsMoreThanOnce,
        447,
    );
    assert_violation(
        order("453=2|448=A|452=1|447=D|"),
        R::RepeatingGroupFieldsOutOfOrder,
        447,
    );
}

#[test]
fn group_field_outside_its_group_is_out_of_order() {
    assert_violation(order("448=A|"), R::RepeatingGroupFieldsOutOfOrder, 448);
    assert_violation(
        order("453=1|448=A|58=x|447=D|"),
        R::RepeatingGroupFieldsOutOfOrder,
        447,
    );
}

#[test]
fn required_tag_missing_names_the_tag() {
    assert_violation(
        check(&format!(
            "35=D|{HEAD}55=ACME|54=1|60=20240229-12:00:00|40=2|"
        )),
        R::RequiredTagMissing,
        11,
    );
    assert_violation(
        check("35=0|49=C|56=S|52=20240229-12:00:00|"),
        R::RequiredTagMissing,
        34,
    );
    assert_violation(check(&format!("35=1|{HEAD}")), R::RequiredTagMissing, 112);
}

#[test]
fn first_violation_in_rule_order_wins() {
    // Undefined beats not-allowed beats duplicate beats format.
    assert_violation(
        order("112=x|44=1|38=x|999999=1|"),
        R::InvalidTagNumber,
        999_999,
    );
    assert_violation(
        order("112=x|44=1|38=x|"),
        R::TagNotDefinedForMessageType,
        112,
    );
    assert_violation(order("59=x|44=1|"), R::TagAppearsMoreThanOnce, 44);
    assert_violation(order("59=xx|54=Z|"), R::TagAppearsMoreThanOnce, 54);
    assert_violation(
        check(&format!("35=D|{HEAD}11=x|55=X|54=Z|60=bad|40=2|")),
        R::IncorrectDataFormat,
        60,
    );
}

#[test]
fn classify_sorts_msg_types() {
    for t in ["0", "1", "2", "3", "4", "5", "A"] {
        assert_eq!(classify(t.as_bytes()), MsgClass::Session, "{t}");
    }
    for t in ["D", "F", "G", "H", "q", "V"] {
        assert_eq!(classify(t.as_bytes()), MsgClass::Application, "{t}");
    }
    for t in [
        "6", "8", "9", "B", "E", "J", "R", "W", "X", "Y", "Z", "a", "f", "j", "z", "AA", "AZ",
        "BA", "BH",
    ] {
        assert_eq!(classify(t.as_bytes()), MsgClass::Unsupported, "{t}");
    }
    for t in [
        "", "I", "O", "U", "BI", "CA", "AAA", "Aa", "00", " D", "d\x01",
    ] {
        assert_eq!(classify(t.as_bytes()), MsgClass::Invalid, "{t:?}");
    }
}

#[test]
fn tables_are_consistent() {
    for def in MESSAGES {
        // Market data we only send is defined so tests can hold it to the dictionary.
        let outbound_only = matches!(def.msg_type, b"W" | b"X" | b"Y" | b"f");
        assert!(
            outbound_only
                || matches!(
                    classify(def.msg_type),
                    MsgClass::Session | MsgClass::Application
                )
        );
        let mut seen = HEADER_TAGS;
        for tag in TRAILER.iter().map(Item::tag) {
            assert!(seen.insert(tag));
        }
        fn walk(items: &[Item], seen: &mut TagSet, msg_type: &[u8]) {
            for item in items {
                assert!(is_defined(item.tag()), "{}", item.tag());
                assert!(
                    seen.insert(item.tag()),
                    "tag {} listed twice for {:?}",
                    item.tag(),
                    msg_type
                );
                if let Item::Group { group, .. } = item {
                    assert_eq!(format(group.count_tag), Format::UnsignedInt);
                    walk(group.items, seen, msg_type);
                }
            }
        }
        for block in def.blocks {
            walk(block, &mut seen, def.msg_type);
        }
    }
    for tag in [628, 629, 630] {
        assert!(HEADER_TAGS.contains(tag) && !HEADER_TOP_LEVEL.contains(tag));
    }
}

fn valid_order_bytes() -> Vec<u8> {
    let mut enc = Encoder::new();
    enc.start(b"D", b"CLIENT", b"HAYATE", 2, 1_709_251_199_999_000_000);
    enc.field(11, b"ord-1");
    enc.field(55, b"ACME");
    enc.field_char(54, b'1');
    enc.field_timestamp(60, 1_709_251_199_999_000_000);
    enc.field_char(40, b'2');
    enc.field_decimal(44, 10125, 2);
    enc.field_u64(38, 100);
    enc.field_u64(453, 1);
    enc.field(448, b"T1");
    enc.field_char(447, b'D');
    enc.field_u64(452, 11);
    enc.finish().to_vec()
}

#[test]
fn encoded_order_validates() {
    let msg = valid_order_bytes();
    assert_eq!(frame(&msg, 4096), Framing::Complete { len: msg.len() });
    let mut list = FieldList::new();
    list.parse(&msg).unwrap();
    assert_eq!(validate(&list), Ok(()));
}

fn pipeline(bytes: &[u8]) {
    let mut list = FieldList::new();
    if let Framing::Complete { len } = frame(bytes, 4096)
        && list.parse(bytes.get(..len).unwrap_or_default()).is_ok()
    {
        let _ = classify(list.msg_type().unwrap_or_default());
        let _ = validate(&list);
    }
    // Also straight on the bytes, framing or not.
    if list.parse(bytes).is_ok() {
        let _ = validate(&list);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        pipeline(&bytes);
    }

    #[test]
    fn mutated_orders_never_panic(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut msg = valid_order_bytes();
        let i = index.index(msg.len());
        msg[i] = byte;
        pipeline(&msg);
    }

    #[test]
    fn shuffled_fields_never_panic(
        fields in proptest::collection::vec(
            (prop::sample::select(vec![
                8u32, 9, 35, 49, 56, 34, 52, 11, 55, 54, 60, 40, 44, 38, 453, 448, 447, 452,
                802, 523, 803, 627, 628, 10, 93, 89, 18, 7928, 8013, 384, 372,
            ]), "[0-9A-Z]{1,3}"),
            0..30,
        ),
        msg_type in prop::sample::select(vec!["0", "1", "2", "3", "4", "5", "A", "D", "F", "G", "H", "q"]),
    ) {
        let mut text = format!("35={msg_type}|");
        for (tag, value) in &fields {
            text.push_str(&format!("{tag}={value}|"));
        }
        let mut list = FieldList::new();
        if list.parse(&wire(&text)).is_ok() {
            let _ = validate(&list);
        }
    }
}
