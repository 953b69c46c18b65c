//! The FIX 4.4 session layer against the session test cases of FIX 4.4 Volume 2 (BEHAVIOUR.md §6): logon
//! checks, heartbeats and test requests, sequence numbers (too low, too high, PossDup), resend
//! requests answered by gap fill, sequence resets, rejects with SessionRejectReason and RefTagID,
//! and logout. Pure: no sockets, the session is driven message by message.

use std::time::{Duration, Instant};

use hayate::adapters::fix::codec::{Encoder, FieldList, Framing, frame};
use hayate::adapters::fix::message_store::MessageStore;
use hayate::adapters::fix::seq_store::SeqStore;
use hayate::adapters::fix::session::{FixSession, Inbound, LogonGrant, LogonRequest};

const US: &str = "HAYATE";
const THEM: &str = "ALICE";
const NOW_NS: u64 = 1_790_000_000_000_000_000;

/// A client message: header by the encoder, then `fields`.
fn msg(msg_type: &str, seq: u64, fields: &[(u32, &str)]) -> Vec<u8> {
    msg_at(msg_type, seq, NOW_NS, fields)
}

fn msg_at(msg_type: &str, seq: u64, sending_ns: u64, fields: &[(u32, &str)]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.start(
        msg_type.as_bytes(),
        THEM.as_bytes(),
        US.as_bytes(),
        seq,
        sending_ns,
    );
    for (tag, value) in fields {
        e.field(*tag, value.as_bytes());
    }
    e.finish().to_vec()
}

/// Splits what the session wrote into parsed messages.
fn replies(session: &mut FixSession) -> Vec<FieldList> {
    let bytes = std::mem::take(session.outbound());
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match frame(&bytes[at..], 1 << 20) {
            Framing::Complete { len } => {
                let mut fields = FieldList::new();
                fields
                    .parse(&bytes[at..at + len])
                    .expect("we write valid FIX");
                out.push(fields);
                at += len;
            }
            other => panic!("the session wrote a bad frame: {other:?}"),
        }
    }
    out
}

fn get(m: &FieldList, tag: u32) -> &str {
    m.get_str(tag).unwrap_or("")
}

struct Rig {
    session: FixSession,
    dir: tempfile::TempDir,
    t0: Instant,
}

impl Rig {
    fn new() -> Rig {
        let t0 = Instant::now();
        Rig {
            session: FixSession::new(US, t0),
            dir: tempfile::tempdir().expect("tempdir"),
            t0,
        }
    }

    fn send(&mut self, message: &[u8]) -> Inbound {
        self.session.on_message(message, self.t0, NOW_NS)
    }

    /// Logs on with `seq`, the store holding (next_in, next_out) first.
    fn logon_with(
        &mut self,
        seq: u64,
        stored: (u64, u64),
        extra: &[(u32, &str)],
    ) -> Vec<FieldList> {
        let mut fields = vec![(98, "0"), (108, "30")];
        fields.extend_from_slice(extra);
        let inbound = self.send(&msg("A", seq, &fields));
        let Inbound::Logon(request) = inbound else {
            panic!("expected a logon, got {inbound:?}");
        };
        let mut seqs = SeqStore::open(self.dir.path(), THEM).expect("store");
        seqs.set(stored.0, stored.1);
        let store = MessageStore::open(self.dir.path(), THEM, 1 << 16).expect("message store");
        let grant = LogonGrant {
            seqs,
            reset_on_logon: false,
            store: Some(store),
        };
        self.session.accept_logon(&request, grant, self.t0, NOW_NS);
        replies(&mut self.session)
    }

    fn logon(&mut self) -> Vec<FieldList> {
        self.logon_with(1, (1, 1), &[])
    }
}

#[test]
fn logon_is_answered_with_a_logon_repeating_heartbtint() {
    let mut rig = Rig::new();
    let out = rig.logon();
    assert_eq!(out.len(), 1);
    assert_eq!(get(&out[0], 35), "A");
    assert_eq!(get(&out[0], 108), "30");
    assert_eq!(get(&out[0], 34), "1");
    assert_eq!(get(&out[0], 49), US);
    assert_eq!(get(&out[0], 56), THEM);
    assert!(
        get(&out[0], 52).contains('.'),
        "SendingTime carries milliseconds"
    );
    assert!(rig.session.is_active());
    assert_eq!(rig.session.next_in(), 2);
}

#[test]
fn logon_request_carries_credentials_and_cancel_on_disconnect() {
    let mut rig = Rig::new();
    let inbound = rig.send(&msg(
        "A",
        1,
        &[
            (98, "0"),
            (108, "5"),
            (141, "Y"),
            (553, "alice"),
            (554, "pw"),
            (8013, "S"),
        ],
    ));
    let Inbound::Logon(request) = inbound else {
        panic!("expected a logon");
    };
    assert_eq!(
        request,
        LogonRequest {
            sender_comp_id: THEM.into(),
            target_comp_id: US.into(),
            username: Some("alice".into()),
            password: Some("pw".into()),
            heartbeat_s: 5,
            reset_seq_num: true,
            msg_seq_num: 1,
            cancel_on_disconnect: Some(b'S'),
        }
    );
}

#[test]
fn first_message_not_a_logon_disconnects_without_an_answer() {
    let mut rig = Rig::new();
    assert_eq!(rig.send(&msg("0", 1, &[])), Inbound::Close);
    assert!(replies(&mut rig.session).is_empty());
}

#[test]
fn refused_logon_disconnects_without_a_word() {
    // FIX 4.4 Volume 2 test cases 1B-1D, and QuickFIX: no Logout to a Logon that is refused.
    let mut rig = Rig::new();
    let Inbound::Logon(_) = rig.send(&msg("A", 1, &[(98, "0"), (108, "30")])) else {
        panic!("expected a logon");
    };
    assert_eq!(
        rig.session.refuse_logon("bad password", NOW_NS),
        Inbound::Close
    );
    assert!(replies(&mut rig.session).is_empty());
    assert_eq!(rig.session.close_reason(), Some("bad password"));
}

#[test]
fn a_node_that_takes_no_sessions_says_why_in_a_logout() {
    let mut rig = Rig::new();
    let Inbound::Logon(_) = rig.send(&msg("A", 1, &[(98, "0"), (108, "30")])) else {
        panic!("expected a logon");
    };
    assert_eq!(
        rig.session
            .refuse_logon_with_reason("this node is a standby", NOW_NS),
        Inbound::Close
    );
    let out = replies(&mut rig.session);
    assert_eq!(get(&out[0], 35), "5");
    assert_eq!(get(&out[0], 58), "this node is a standby");
}

#[test]
fn logon_with_sendingtime_off_by_more_than_two_minutes_is_refused() {
    let mut rig = Rig::new();
    let late = NOW_NS - 121_000_000_000;
    assert_eq!(
        rig.send(&msg_at("A", 1, late, &[(98, "0"), (108, "30")])),
        Inbound::Close
    );
    assert!(replies(&mut rig.session).is_empty());
}

#[test]
fn logon_with_msgseqnum_too_low_is_logged_out() {
    let mut rig = Rig::new();
    let out = rig.logon_with(3, (5, 9), &[]);
    assert_eq!(get(&out[0], 35), "5");
    assert!(get(&out[0], 58).contains("MsgSeqNum too low"));
    assert!(rig.session.is_closed());
}

#[test]
fn logon_with_msgseqnum_too_high_is_accepted_then_a_resend_is_requested() {
    let mut rig = Rig::new();
    let out = rig.logon_with(7, (5, 9), &[]);
    assert_eq!(get(&out[0], 35), "A");
    assert_eq!(get(&out[0], 34), "9", "our numbers continue");
    assert_eq!(get(&out[1], 35), "2");
    assert_eq!((get(&out[1], 7), get(&out[1], 16)), ("5", "0"));
}

#[test]
fn reset_seq_num_flag_resets_both_sides() {
    let mut rig = Rig::new();
    let out = rig.logon_with(1, (40, 50), &[(141, "Y")]);
    assert_eq!(get(&out[0], 34), "1");
    assert_eq!(get(&out[0], 141), "Y");
    assert_eq!(rig.session.next_in(), 2);
}

#[test]
fn sequence_numbers_persist_in_the_store() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("1", 2, &[(112, "hi")]));
    let store = SeqStore::open(rig.dir.path(), THEM).expect("store");
    assert_eq!((store.next_in(), store.next_out()), (3, 3));
}

#[test]
fn test_request_is_answered_with_a_heartbeat_carrying_its_id() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("1", 2, &[(112, "PING-7")]));
    let out = replies(&mut rig.session);
    assert_eq!(get(&out[0], 35), "0");
    assert_eq!(get(&out[0], 112), "PING-7");
}

#[test]
fn resend_request_is_answered_with_a_gap_fill_to_our_next_number() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("1", 2, &[(112, "a")]));
    rig.send(&msg("1", 3, &[(112, "b")]));
    replies(&mut rig.session);
    rig.send(&msg("2", 4, &[(7, "1"), (16, "0")]));
    let out = replies(&mut rig.session);
    assert_eq!(get(&out[0], 35), "4");
    assert_eq!(get(&out[0], 123), "Y");
    assert_eq!(get(&out[0], 34), "1");
    assert_eq!(get(&out[0], 36), "4");
    assert_eq!(get(&out[0], 43), "Y");
    assert!(
        !get(&out[0], 122).is_empty(),
        "PossDup carries OrigSendingTime"
    );
}

#[test]
fn msgseqnum_too_high_asks_for_a_resend_once_and_a_gap_fill_closes_the_gap() {
    let mut rig = Rig::new();
    rig.logon();
    assert_eq!(rig.send(&msg("0", 5, &[])), Inbound::Nothing);
    assert_eq!(rig.send(&msg("0", 6, &[])), Inbound::Nothing);
    let out = replies(&mut rig.session);
    assert_eq!(out.len(), 1, "one ResendRequest per gap");
    assert_eq!((get(&out[0], 35), get(&out[0], 7)), ("2", "2"));
    // The client fills 2..=6 with a gap fill at 2.
    rig.send(&msg("4", 2, &[(43, "Y"), (123, "Y"), (36, "7")]));
    assert_eq!(rig.session.next_in(), 7);
    assert!(replies(&mut rig.session).is_empty());
}

#[test]
fn msgseqnum_too_low_without_possdup_is_logged_out() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("0", 2, &[]));
    assert_eq!(rig.send(&msg("0", 2, &[])), Inbound::Close);
    let out = replies(&mut rig.session);
    assert_eq!(get(&out[0], 35), "5");
    assert!(get(&out[0], 58).contains("expecting 3 but received 2"));
}

#[test]
fn possdup_below_the_expected_number_is_ignored() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("0", 2, &[]));
    let sent = "20260101-00:00:00.000";
    let dup = msg("0", 2, &[(43, "Y"), (122, sent)]);
    assert_eq!(rig.send(&dup), Inbound::Nothing);
    assert!(replies(&mut rig.session).is_empty());
    assert_eq!(rig.session.next_in(), 3);
}

#[test]
fn possdup_without_origsendingtime_is_rejected_naming_tag_122() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("0", 2, &[(43, "Y")]));
    let out = replies(&mut rig.session);
    assert_eq!(get(&out[0], 35), "3");
    assert_eq!((get(&out[0], 373), get(&out[0], 371)), ("1", "122"));
    assert_eq!(get(&out[0], 45), "2");
}

#[test]
fn origsendingtime_after_sendingtime_is_rejected_and_logged_out() {
    let mut rig = Rig::new();
    rig.logon();
    let later = "20990101-00:00:00.000";
    assert_eq!(
        rig.send(&msg("0", 2, &[(43, "Y"), (122, later)])),
        Inbound::Close
    );
    let out = replies(&mut rig.session);
    assert_eq!((get(&out[0], 35), get(&out[0], 373)), ("3", "10"));
    assert_eq!(get(&out[1], 35), "5");
}

#[test]
fn sendingtime_accuracy_problem_is_rejected_then_logged_out() {
    let mut rig = Rig::new();
    rig.logon();
    let stale = NOW_NS - 300_000_000_000;
    assert_eq!(rig.send(&msg_at("0", 2, stale, &[])), Inbound::Close);
    let out = replies(&mut rig.session);
    assert_eq!(
        (get(&out[0], 35), get(&out[0], 373), get(&out[0], 371)),
        ("3", "10", "52")
    );
    assert_eq!(get(&out[1], 35), "5");
}

#[test]
fn wrong_compid_is_rejected_then_logged_out() {
    let mut rig = Rig::new();
    rig.logon();
    let mut e = Encoder::new();
    e.start(b"0", b"MALLORY", US.as_bytes(), 2, NOW_NS);
    let message = e.finish().to_vec();
    assert_eq!(rig.send(&message), Inbound::Close);
    let out = replies(&mut rig.session);
    assert_eq!((get(&out[0], 35), get(&out[0], 373)), ("3", "9"));
    assert_eq!(get(&out[1], 35), "5");
}

#[test]
fn wrong_beginstring_is_logged_out() {
    let mut rig = Rig::new();
    rig.logon();
    let good = msg("0", 2, &[]);
    // Re-frame the same body under FIX.4.2 with a correct checksum.
    let body_start = good.iter().position(|&b| b == 1).expect("soh") + 1;
    let rest = &good[body_start..];
    let body_len_end = rest.iter().position(|&b| b == 1).expect("soh") + 1;
    let body = &rest[body_len_end..rest.len() - 7];
    let mut m = format!("8=FIX.4.2\x019={}\x01", body.len()).into_bytes();
    m.extend_from_slice(body);
    let sum: u32 = m.iter().map(|&b| u32::from(b)).sum();
    m.extend_from_slice(format!("10={:03}\x01", sum % 256).as_bytes());
    assert_eq!(rig.send(&m), Inbound::Close);
    assert_eq!(get(&replies(&mut rig.session)[0], 35), "5");
}

#[test]
fn invalid_msgtype_is_rejected_with_reason_11() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("ZZ", 2, &[]));
    let out = replies(&mut rig.session);
    assert_eq!((get(&out[0], 35), get(&out[0], 373)), ("3", "11"));
    assert_eq!(
        rig.session.next_in(),
        3,
        "a rejected message consumes its number"
    );
}

#[test]
fn unsupported_msgtype_gets_a_business_message_reject() {
    let mut rig = Rig::new();
    rig.logon();
    // QuoteRequest: FIX 4.4 defines it, an exchange without RFQs does not take it.
    rig.send(&msg("R", 2, &[(131, "q1")]));
    let out = replies(&mut rig.session);
    assert_eq!((get(&out[0], 35), get(&out[0], 380)), ("j", "3"));
    assert_eq!((get(&out[0], 45), get(&out[0], 372)), ("2", "R"));
}

#[test]
fn required_tag_missing_is_rejected_naming_the_tag() {
    let mut rig = Rig::new();
    rig.logon();
    // NewOrderSingle without Side (54).
    rig.send(&msg(
        "D",
        2,
        &[
            (11, "o1"),
            (55, "BTC-JPY"),
            (60, "20260101-00:00:00"),
            (40, "2"),
            (38, "1"),
            (44, "5000000"),
        ],
    ));
    let out = replies(&mut rig.session);
    assert_eq!(
        (get(&out[0], 35), get(&out[0], 373), get(&out[0], 371)),
        ("3", "1", "54")
    );
}

#[test]
fn a_valid_order_message_is_handed_to_the_gateway() {
    let mut rig = Rig::new();
    rig.logon();
    let inbound = rig.send(&msg(
        "D",
        2,
        &[
            (11, "o1"),
            (55, "BTC-JPY"),
            (54, "1"),
            (60, "20260101-00:00:00"),
            (40, "2"),
            (38, "1"),
            (44, "5000000"),
        ],
    ));
    assert_eq!(inbound, Inbound::Application);
    assert_eq!(rig.session.fields().get_str(11), Some("o1"));
}

#[test]
fn sequence_reset_in_reset_mode_sets_the_next_number_whatever_its_own() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("4", 99, &[(36, "20")]));
    assert_eq!(rig.session.next_in(), 20);
    // Backwards is refused with value-incorrect on NewSeqNo.
    rig.send(&msg("4", 20, &[(36, "5")]));
    let out = replies(&mut rig.session);
    assert_eq!(
        (get(&out[0], 35), get(&out[0], 373), get(&out[0], 371)),
        ("3", "5", "36")
    );
    assert_eq!(rig.session.next_in(), 20);
}

#[test]
fn logout_is_answered_and_the_session_closes() {
    let mut rig = Rig::new();
    rig.logon();
    assert_eq!(rig.send(&msg("5", 2, &[])), Inbound::Close);
    assert_eq!(get(&replies(&mut rig.session)[0], 35), "5");
}

#[test]
fn silence_brings_a_heartbeat_then_a_test_request_then_a_disconnect() {
    let mut rig = Rig::new();
    rig.logon_with(1, (1, 1), &[]);
    let t0 = rig.t0;
    // 30 s heartbeat: at 31 s we owe a heartbeat; at 37 s (30 + 20%) the client is silent.
    rig.session.on_timer(
        t0 + Duration::from_secs(31),
        NOW_NS,
        Duration::from_secs(10),
    );
    let out = replies(&mut rig.session);
    assert_eq!(get(&out[0], 35), "0");
    rig.session.on_timer(
        t0 + Duration::from_secs(37),
        NOW_NS,
        Duration::from_secs(10),
    );
    let out = replies(&mut rig.session);
    assert_eq!(
        get(&out[0], 35),
        "1",
        "a TestRequest when the client falls silent"
    );
    assert_eq!(get(&out[0], 112), "TEST");
    // No heartbeat while the TestRequest is out, though one would be due.
    rig.session.on_timer(
        t0 + Duration::from_secs(70),
        NOW_NS,
        Duration::from_secs(10),
    );
    assert!(replies(&mut rig.session).is_empty());
    // Unanswered: the connection is lost; a Logout would go unanswered too.
    let verdict = rig.session.on_timer(
        t0 + Duration::from_secs(74),
        NOW_NS,
        Duration::from_secs(10),
    );
    assert_eq!(verdict, Inbound::Close);
    assert!(replies(&mut rig.session).is_empty());
}

#[test]
fn no_logon_within_the_logon_timeout_closes() {
    let mut rig = Rig::new();
    let verdict = rig.session.on_timer(
        rig.t0 + Duration::from_secs(11),
        NOW_NS,
        Duration::from_secs(10),
    );
    assert_eq!(verdict, Inbound::Close);
}

#[test]
fn reset_on_logon_starts_both_sides_at_one_without_the_flag() {
    let mut rig = Rig::new();
    let Inbound::Logon(request) = rig.send(&msg("A", 1, &[(98, "0"), (108, "30")])) else {
        panic!("expected a logon");
    };
    let mut seqs = SeqStore::open(rig.dir.path(), THEM).expect("store");
    seqs.set(40, 50);
    let grant = LogonGrant {
        seqs,
        reset_on_logon: true,
        store: None,
    };
    rig.session.accept_logon(&request, grant, rig.t0, NOW_NS);
    let out = replies(&mut rig.session);
    assert_eq!((get(&out[0], 35), get(&out[0], 34)), ("A", "1"));
    assert_eq!(rig.session.next_in(), 2);
}

#[test]
fn messages_ahead_of_a_gap_wait_for_it_and_are_then_handled_in_order() {
    let mut rig = Rig::new();
    rig.logon();
    // 3 and 4 arrive before 2: one ResendRequest, nothing handled yet.
    assert_eq!(rig.send(&msg("1", 3, &[(112, "three")])), Inbound::Nothing);
    assert_eq!(rig.send(&msg("1", 4, &[(112, "four")])), Inbound::Nothing);
    let out = replies(&mut rig.session);
    assert_eq!(out.len(), 1);
    assert_eq!((get(&out[0], 35), get(&out[0], 7)), ("2", "2"));
    // 2 fills the gap; the queued 3 and 4 follow as if they had just arrived.
    assert_eq!(rig.send(&msg("1", 2, &[(112, "two")])), Inbound::Nothing);
    while let Some(inbound) = rig.session.next_queued(rig.t0, NOW_NS) {
        assert_eq!(inbound, Inbound::Nothing);
    }
    let ids: Vec<String> = replies(&mut rig.session)
        .iter()
        .map(|m| get(m, 112).to_owned())
        .collect();
    assert_eq!(ids, ["two", "three", "four"]);
    assert_eq!(rig.session.next_in(), 5);
    // A resent copy of what was queued is now a duplicate.
    let dup = msg(
        "1",
        3,
        &[(43, "Y"), (122, "20260101-00:00:00"), (112, "three")],
    );
    assert_eq!(rig.send(&dup), Inbound::Nothing);
    assert!(replies(&mut rig.session).is_empty());
}

#[test]
fn a_queued_application_message_comes_out_as_application() {
    let mut rig = Rig::new();
    rig.logon();
    let order = [
        (11, "o1"),
        (55, "BTC-JPY"),
        (54, "1"),
        (60, "20260101-00:00:00"),
        (38, "1"),
        (40, "2"),
        (44, "1"),
    ];
    assert_eq!(rig.send(&msg("D", 3, &order)), Inbound::Nothing);
    replies(&mut rig.session);
    assert_eq!(rig.send(&msg("0", 2, &[])), Inbound::Nothing);
    assert_eq!(
        rig.session.next_queued(rig.t0, NOW_NS),
        Some(Inbound::Application)
    );
    assert_eq!(get(rig.session.fields(), 11), "o1");
    assert_eq!(rig.session.next_queued(rig.t0, NOW_NS), None);
}

#[test]
fn a_logon_with_reset_seq_num_flag_mid_session_restarts_both_sides() {
    let mut rig = Rig::new();
    rig.logon();
    for seq in 2..=9 {
        rig.send(&msg("0", seq, &[]));
    }
    rig.send(&msg("1", 10, &[(112, "before")]));
    assert_eq!(get(&replies(&mut rig.session)[0], 34), "2");
    let out = {
        rig.send(&msg("A", 1, &[(98, "0"), (108, "30"), (141, "Y")]));
        replies(&mut rig.session)
    };
    assert_eq!(out.len(), 1);
    assert_eq!(
        (get(&out[0], 35), get(&out[0], 34), get(&out[0], 141)),
        ("A", "1", "Y")
    );
    assert!(rig.session.is_active());
    assert_eq!((rig.session.next_in(), rig.session.next_out()), (2, 2));
    rig.send(&msg("1", 2, &[(112, "after")]));
    assert_eq!(get(&replies(&mut rig.session)[0], 34), "2");
}

#[test]
fn the_logon_reply_carries_reset_seq_num_flag_only_when_the_client_sent_it() {
    for (client_flag, configured_reset) in [(false, false), (false, true), (true, false)] {
        let mut rig = Rig::new();
        let mut fields = vec![(98, "0"), (108, "30")];
        if client_flag {
            fields.push((141, "Y"));
        }
        let Inbound::Logon(request) = rig.send(&msg("A", 1, &fields)) else {
            panic!("a logon");
        };
        let seqs = SeqStore::open(rig.dir.path(), THEM).expect("store");
        let grant = LogonGrant {
            seqs,
            reset_on_logon: configured_reset,
            store: None,
        };
        rig.session.accept_logon(&request, grant, rig.t0, NOW_NS);
        let out = replies(&mut rig.session);
        let expected = if client_flag { "Y" } else { "" };
        assert_eq!(
            get(&out[0], 141),
            expected,
            "client {client_flag}, config {configured_reset}"
        );
    }
}

#[test]
fn a_resend_request_gets_stored_application_messages_back_and_gap_fills_the_rest() {
    let mut rig = Rig::new();
    rig.logon(); // our 1: Logon
    rig.session.send(b"8", NOW_NS, |e| e.field(17, b"e1")); // 2
    rig.send(&msg("1", 2, &[(112, "hb")])); // our 3: Heartbeat
    rig.session.send(b"8", NOW_NS, |e| e.field(17, b"e2")); // 4
    rig.session.send(b"j", NOW_NS, |e| e.field(58, b"no")); // 5
    let originals = replies(&mut rig.session);
    let later = NOW_NS + 5_000_000_000;
    rig.session
        .on_message(&msg("2", 3, &[(7, "1"), (16, "0")]), rig.t0, later);
    let out = replies(&mut rig.session);
    let summary: Vec<(String, String, String)> = out
        .iter()
        .map(|m| (get(m, 35).into(), get(m, 34).into(), get(m, 36).into()))
        .collect();
    let row = |t: &str, s: &str, n: &str| (t.to_owned(), s.to_owned(), n.to_owned());
    assert_eq!(
        summary,
        [
            row("4", "1", "2"),
            row("8", "2", ""),
            row("4", "3", "4"),
            row("8", "4", ""),
            row("j", "5", ""),
        ]
    );
    for m in &out {
        assert_eq!(get(m, 43), "Y");
        assert!(!get(m, 122).is_empty());
    }
    // A resent message is the original with PossDupFlag, OrigSendingTime = its SendingTime.
    let original = originals.iter().find(|m| get(m, 17) == "e1").expect("e1");
    assert_eq!(get(&out[1], 122), get(original, 52));
    assert_ne!(get(&out[1], 52), get(original, 52));
    assert_eq!(get(&out[1], 17), "e1");
    // A bounded range: only what was asked.
    rig.session
        .on_message(&msg("2", 4, &[(7, "4"), (16, "4")]), rig.t0, later);
    let out = replies(&mut rig.session);
    assert_eq!(out.len(), 1);
    assert_eq!((get(&out[0], 35), get(&out[0], 17)), ("8", "e2"));
}

#[test]
fn a_reject_answers_a_routed_message_by_the_reverse_route() {
    let mut rig = Rig::new();
    rig.logon();
    rig.send(&msg("0", 2, &[(115, "JCD"), (116, "CS"), (999, "x")]));
    let out = replies(&mut rig.session);
    assert_eq!(get(&out[0], 35), "3");
    assert_eq!((get(&out[0], 128), get(&out[0], 129)), ("JCD", "CS"));
    assert_eq!((get(&out[0], 115), get(&out[0], 116)), ("", ""));
    rig.send(&msg("0", 3, &[(128, "JCD"), (145, "CHI"), (999, "x")]));
    let out = replies(&mut rig.session);
    assert_eq!((get(&out[0], 115), get(&out[0], 144)), ("JCD", "CHI"));
}

#[test]
fn invalid_tag_numbers_are_named_as_written() {
    let mut rig = Rig::new();
    rig.logon();
    for (seq, tag) in [(2u64, "0"), (3, "-1")] {
        let mut bytes = msg("0", seq, &[]);
        // Insert the bad field before the CheckSum and re-frame.
        let body_end = bytes.len() - 7;
        let mut text = String::from_utf8(bytes[..body_end].to_vec()).expect("ascii");
        text.push_str(&format!("{tag}=HI\u{1}"));
        let body_start = text.find("35=").expect("35");
        let head = format!("8=FIX.4.4\u{1}9={}\u{1}", text.len() - body_start);
        let whole = format!("{head}{}", &text[body_start..]);
        let sum = whole.bytes().map(u32::from).sum::<u32>() % 256;
        bytes = format!("{whole}10={sum:03}\u{1}").into_bytes();
        rig.send(&bytes);
        let out = replies(&mut rig.session);
        assert_eq!(
            (get(&out[0], 35), get(&out[0], 373), get(&out[0], 371)),
            ("3", "0", tag),
            "tag {tag}"
        );
    }
    assert_eq!(rig.session.next_in(), 4);
}

#[test]
fn a_message_whose_third_field_is_not_msg_type_is_garbled() {
    let mut e = Encoder::new();
    e.start(b"0", b"ALICE", b"HAYATE", 2, NOW_NS);
    let good = e.finish().to_vec();
    let text = String::from_utf8(good).expect("ascii");
    // 8, 9, then 34 before 35: same length, so only the order is wrong.
    let swapped = text.replacen(
        "35=0\u{1}49=ALICE\u{1}56=HAYATE\u{1}34=2\u{1}",
        "34=2\u{1}35=0\u{1}49=ALICE\u{1}56=HAYATE\u{1}",
        1,
    );
    assert_ne!(swapped, text);
    let body_start = swapped.find("34=").expect("34");
    let end = swapped.find("10=").expect("10");
    let sum = swapped[..end].bytes().map(u32::from).sum::<u32>() % 256;
    let fixed = format!("{}10={sum:03}\u{1}", &swapped[..end]);
    assert!(body_start > 0);
    assert!(matches!(
        frame(fixed.as_bytes(), 4096),
        Framing::Garbled { .. }
    ));
}
