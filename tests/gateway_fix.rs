//! The gateway over real sockets on 127.0.0.1 (issue: the example gateway): FIX logon, orders to
//! fills for two users, cancel/replace/status/mass cancel, ownership, cancel-on-disconnect,
//! restart with sequence numbers and orders kept, rate limits, and hostile input answered as FIX
//! prescribes while the gateway keeps serving.

use hayate_testkit::gateway::*;

fn logged_on(addr: std::net::SocketAddr, comp: &str, user: &str, pw: &str) -> FixClient {
    let mut client = FixClient::connect(addr, comp);
    let reply = client.logon(user, pw, &[]);
    assert_eq!(field(&reply, 35), "A", "logon of {user}");
    client
}

#[test]
fn logon_with_the_right_password_is_accepted_and_a_wrong_one_is_disconnected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addr = gateway.addrs().fix;

    let mut good = FixClient::connect(addr, "ALICE");
    let reply = good.logon("alice", "change-me", &[]);
    assert_eq!((field(&reply, 35), field(&reply, 108)), ("A", "30"));

    // A refused Logon is answered by a disconnect, no Logout (BEHAVIOUR.md §6, FIX 4.4
    // Volume 2 test cases 1B-1D).
    let refused = |comp_id: &str, username: &str, password: &str| {
        let mut client = FixClient::connect(addr, comp_id);
        client.send(
            "A",
            &[(98, "0"), (108, "30"), (553, username), (554, password)],
        );
        assert!(
            client.try_recv().is_none(),
            "{comp_id}/{username}: a refused Logon gets no answer"
        );
    };
    refused("BOB", "bob", "wrong");
    // A comp id that is not the user's is refused like a wrong password (BEHAVIOUR.md §8).
    refused("ALICE2", "alice", "change-me");
    // A second logon of a live session is refused; the first keeps working.
    refused("ALICE", "alice", "change-me");
    good.send("1", &[(112, "still-here")]);
    assert_eq!(field(&good.recv_type("0"), 112), "still-here");
    gateway.stop().expect("stop");
}

#[test]
fn an_order_is_acknowledged_and_fills_against_another_users_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addr = gateway.addrs().fix;
    let mut alice = logged_on(addr, "ALICE", "alice", "change-me");
    let mut bob = logged_on(addr, "BOB", "bob", "change-me");

    alice.new_order("buy-1", "1", "0.5", "5000000");
    let ack = alice.recv_type("8");
    assert_eq!((field(&ack, 150), field(&ack, 39)), ("0", "0"));
    assert_eq!(
        (field(&ack, 11), field(&ack, 55), field(&ack, 54)),
        ("buy-1", "BTC-JPY", "1")
    );
    assert_eq!(
        (field(&ack, 38), field(&ack, 44), field(&ack, 151)),
        ("0.5", "5000000", "0.5")
    );
    let order_id = field(&ack, 37).to_owned();

    bob.new_order("sell-1", "2", "0.2", "5000000");
    let bob_ack = bob.recv_type("8");
    assert_eq!(field(&bob_ack, 150), "0");
    let bob_fill = bob.recv_type("8");
    assert_eq!((field(&bob_fill, 150), field(&bob_fill, 39)), ("F", "2"));
    assert_eq!(
        (field(&bob_fill, 32), field(&bob_fill, 31)),
        ("0.2", "5000000")
    );

    let fill = alice.recv_type("8");
    assert_eq!((field(&fill, 150), field(&fill, 39)), ("F", "1"));
    assert_eq!(field(&fill, 37), order_id);
    assert_eq!(
        (field(&fill, 32), field(&fill, 14), field(&fill, 151)),
        ("0.2", "0.2", "0.3")
    );
    assert_eq!(field(&fill, 6), "5000000");
    assert_ne!(field(&fill, 17), field(&ack, 17), "ExecIDs never repeat");
    gateway.stop().expect("stop");
}

#[test]
fn cancel_replace_status_and_mass_cancel_work_and_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let mut alice = logged_on(gateway.addrs().fix, "ALICE", "alice", "change-me");
    let t = "20260101-00:00:00.000";

    alice.new_order("a1", "1", "1", "4900000");
    assert_eq!(field(&alice.recv_type("8"), 150), "0");
    // Replace: new price and quantity, new ClOrdID.
    alice.send(
        "G",
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
    );
    let replaced = alice.recv_type("8");
    assert_eq!(
        (
            field(&replaced, 150),
            field(&replaced, 11),
            field(&replaced, 41)
        ),
        ("5", "a2", "a1")
    );
    assert_eq!(
        (field(&replaced, 38), field(&replaced, 44)),
        ("2", "4950000")
    );
    // Status, by the current ClOrdID.
    alice.send("H", &[(11, "a2"), (55, "BTC-JPY"), (54, "1")]);
    let status = alice.recv_type("8");
    assert_eq!(
        (field(&status, 150), field(&status, 39), field(&status, 151)),
        ("I", "0", "2")
    );
    // Cancel.
    alice.send(
        "F",
        &[(41, "a2"), (11, "c1"), (55, "BTC-JPY"), (54, "1"), (60, t)],
    );
    let canceled = alice.recv_type("8");
    assert_eq!(
        (
            field(&canceled, 150),
            field(&canceled, 39),
            field(&canceled, 41)
        ),
        ("4", "4", "a2")
    );
    // Cancel of an ended order: OrderCancelReject, CxlRejReason 1.
    alice.send(
        "F",
        &[(41, "a2"), (11, "c2"), (55, "BTC-JPY"), (54, "1"), (60, t)],
    );
    let reject = alice.recv_type("9");
    assert_eq!(
        (field(&reject, 102), field(&reject, 434), field(&reject, 58)),
        ("1", "1", "UNKNOWN_ORDER")
    );
    // Mass cancel of two open orders.
    alice.new_order("m1", "1", "1", "4900000");
    alice.new_order("m2", "1", "1", "4900001");
    alice.recv_type("8");
    alice.recv_type("8");
    alice.send("q", &[(11, "mc"), (530, "7"), (60, t)]);
    assert_eq!(field(&alice.recv_type("8"), 150), "4");
    assert_eq!(field(&alice.recv_type("8"), 150), "4");
    let report = alice.recv_type("r");
    assert_eq!(
        (
            field(&report, 530),
            field(&report, 531),
            field(&report, 533)
        ),
        ("7", "7", "2")
    );
    gateway.stop().expect("stop");
}

#[test]
fn one_user_cannot_cancel_or_see_another_users_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addr = gateway.addrs().fix;
    let mut alice = logged_on(addr, "ALICE", "alice", "change-me");
    let mut bob = logged_on(addr, "BOB", "bob", "change-me");
    let t = "20260101-00:00:00.000";
    alice.new_order("mine", "1", "1", "4900000");
    let ack = alice.recv_type("8");
    let order_id = field(&ack, 37).to_owned();

    bob.send(
        "F",
        &[
            (41, "mine"),
            (37, &order_id),
            (11, "steal"),
            (55, "BTC-JPY"),
            (54, "1"),
            (60, t),
        ],
    );
    let reject = bob.recv_type("9");
    assert_eq!(field(&reject, 58), "UNKNOWN_ORDER");
    bob.send(
        "H",
        &[(11, "mine"), (37, &order_id), (55, "BTC-JPY"), (54, "1")],
    );
    let status = bob.recv_type("8");
    assert_eq!(field(&status, 39), "8", "bob sees no such order");
    // An Account that is not the session's is refused UNKNOWN_ACCOUNT (BEHAVIOUR.md §8).
    bob.send(
        "D",
        &[
            (1, "1"),
            (11, "x"),
            (55, "BTC-JPY"),
            (54, "2"),
            (60, t),
            (38, "1"),
            (40, "2"),
            (44, "5000000"),
        ],
    );
    let refused = bob.recv_type("8");
    assert_eq!((field(&refused, 150), field(&refused, 103)), ("8", "15"));
    assert!(field(&refused, 58).starts_with("UNKNOWN_ACCOUNT"));

    alice.send("H", &[(11, "mine"), (55, "BTC-JPY"), (54, "1")]);
    assert_eq!(
        field(&alice.recv_type("8"), 39),
        "0",
        "alice's order is untouched"
    );
    gateway.stop().expect("stop");
}

#[test]
fn cancel_on_disconnect_cancels_the_sessions_orders_as_journaled_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, CAROL));
    let addr = gateway.addrs().fix;
    // Carol has no cancel-on-disconnect by default but asks for it at logon (8013 = S).
    let mut carol = FixClient::connect(addr, "CAROL");
    assert_eq!(
        field(&carol.logon("carol", "pw-carol", &[(8013, "S")]), 35),
        "A"
    );
    carol.new_order("c1", "1", "1", "4900000");
    assert_eq!(field(&carol.recv_type("8"), 150), "0");
    drop(carol);

    // Alice (cancel_on_disconnect = true) keeps hers only while connected.
    let mut alice = logged_on(addr, "ALICE", "alice", "change-me");
    alice.new_order("a1", "1", "1", "4900000");
    assert_eq!(field(&alice.recv_type("8"), 150), "0");
    alice.send("5", &[]);
    assert!(alice.closed());

    let mut carol = FixClient::connect(addr, "CAROL");
    carol.next_seq = 3;
    assert_eq!(field(&carol.logon("carol", "pw-carol", &[]), 35), "A");
    carol.send("H", &[(11, "c1"), (55, "BTC-JPY"), (54, "1")]);
    let status = carol.recv_type("8");
    assert_eq!(
        field(&status, 39),
        "8",
        "carol's order was cancelled when she dropped"
    );
    let stopped = gateway.stop().expect("stop");
    // The cancels are in the journal: replaying it shows both orders cancelled on disconnect.
    let replayed = hayate::recovery::replay(
        config(dir.path(), None, CAROL).engine_config(),
        &dir.path().join("journal"),
        hayate::recovery::ReplayOptions {
            snapshot_dir: None,
            to_seq: None,
        },
        |_, _, _| {},
        |_| {},
    )
    .expect("replay");
    assert_eq!(replayed.0.digest(), stopped.digest);
    assert!(replayed.0.open_orders(hayate::AccountId(1)).is_empty());
    assert!(replayed.0.open_orders(hayate::AccountId(3)).is_empty());
}

#[test]
fn a_restart_keeps_sequence_numbers_and_orders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, CAROL));
    let mut carol = logged_on(gateway.addrs().fix, "CAROL", "carol", "pw-carol");
    carol.new_order("keep", "1", "1", "4900000");
    let ack = carol.recv_type("8");
    let our_last = field(&ack, 34).parse::<u64>().expect("seq");
    let next_seq = carol.next_seq;
    drop(carol);
    gateway.stop().expect("stop");

    let gateway = start(config(dir.path(), None, CAROL));
    let mut carol = FixClient::connect(gateway.addrs().fix, "CAROL");
    carol.next_seq = next_seq;
    let reply = carol.logon("carol", "pw-carol", &[]);
    assert_eq!(
        field(&reply, 35),
        "A",
        "the gateway expects our next number"
    );
    assert_eq!(field(&reply, 34).parse::<u64>().expect("seq"), our_last + 1);
    carol.send("H", &[(11, "keep"), (55, "BTC-JPY"), (54, "1")]);
    let status = carol.recv_type("8");
    assert_eq!(
        (field(&status, 150), field(&status, 39)),
        ("I", "0"),
        "the order survived"
    );
    // A client that starts again at 1 without ResetSeqNumFlag is too low: logged out.
    drop(carol);
    let mut stale = FixClient::connect(gateway.addrs().fix, "CAROL");
    let reply = stale.logon("carol", "pw-carol", &[]);
    assert_eq!(field(&reply, 35), "5");
    assert!(field(&reply, 58).contains("MsgSeqNum too low"));
    // With ResetSeqNumFlag both sides start over.
    let mut reset = FixClient::connect(gateway.addrs().fix, "CAROL");
    let reply = reset.logon("carol", "pw-carol", &[(141, "Y")]);
    assert_eq!(
        (field(&reply, 35), field(&reply, 34), field(&reply, 141)),
        ("A", "1", "Y")
    );
    gateway.stop().expect("stop");
}

#[test]
fn the_rate_limit_throttles_a_flooding_session_and_an_honest_one_keeps_trading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = "[limits]\nmessages_per_second = 20\nburst = 20";
    let gateway = start(config(dir.path(), Some(limits), ""));
    let addr = gateway.addrs().fix;
    let mut flood = logged_on(addr, "ALICE", "alice", "change-me");
    let mut honest = logged_on(addr, "BOB", "bob", "change-me");
    let mut burst = Vec::new();
    for i in 0..60 {
        burst.extend(flood.encode(
            "D",
            &[
                (11, &format!("f{i}")),
                (55, "BTC-JPY"),
                (54, "1"),
                (60, "20260101-00:00:00.000"),
                (38, "0.0001"),
                (40, "2"),
                (44, "4000000"),
            ],
        ));
    }
    flood.send_raw(&burst);
    let mut throttled = 0;
    let mut acked = 0;
    while throttled + acked < 60 {
        let m = flood.recv();
        match field(&m, 35) {
            "j" if field(&m, 58).contains("Throttled") => throttled += 1,
            "8" => acked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(throttled >= 30, "only {throttled} of 60 throttled");
    honest.new_order("b1", "2", "0.0001", "5400000");
    assert_eq!(
        field(&honest.recv_type("8"), 150),
        "0",
        "the honest session trades on"
    );
    let (code, metrics) =
        hayate::adapters::http::get(gateway.addrs().http, "/metrics", WAIT).expect("metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains(&format!("hayate_throttled_total {throttled}")),
        "{metrics}"
    );
    gateway.stop().expect("stop");
}

#[test]
fn hostile_input_gets_the_fix_answer_and_the_gateway_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addr = gateway.addrs().fix;
    let mut alice = logged_on(addr, "ALICE", "alice", "change-me");

    // Garbage bytes and a bad checksum: ignored, no sequence number consumed.
    alice.send_raw(b"this is not FIX at all\x01\x01\x01");
    let mut bad = alice.encode("1", &[(112, "bad-checksum")]);
    let n = bad.len();
    bad[n - 2] = if bad[n - 2] == b'0' { b'1' } else { b'0' };
    alice.send_raw(&bad);
    alice.next_seq -= 1; // the garbled message did not count
    alice.send("1", &[(112, "after-garbage")]);
    let hb = alice.recv_type("0");
    assert_eq!(field(&hb, 112), "after-garbage");

    // Missing required tag: Reject with the tag.
    alice.send(
        "D",
        &[
            (11, "x"),
            (55, "BTC-JPY"),
            (60, "20260101-00:00:00"),
            (38, "1"),
            (40, "2"),
            (44, "1"),
        ],
    );
    let reject = alice.recv();
    assert_eq!(
        (field(&reject, 35), field(&reject, 373), field(&reject, 371)),
        ("3", "1", "54")
    );
    // Unsupported message type: BusinessMessageReject.
    alice.send("R", &[(131, "quote-please")]);
    assert_eq!(field(&alice.recv(), 35), "j");
    // A MarketDataRequest without its groups: a session Reject naming the missing group.
    alice.send("V", &[(262, "md"), (263, "0"), (264, "1")]);
    let reject = alice.recv();
    assert_eq!((field(&reject, 35), field(&reject, 373)), ("3", "1"));
    // Unknown symbol: rejected by the gateway, never journaled.
    alice.send(
        "D",
        &[
            (11, "y"),
            (55, "DOGE-JPY"),
            (54, "1"),
            (60, "20260101-00:00:00"),
            (38, "1"),
            (40, "2"),
            (44, "1"),
        ],
    );
    let refused = alice.recv_type("8");
    assert_eq!((field(&refused, 39), field(&refused, 103)), ("8", "1"));

    // A huge BodyLength closes that connection before anything is buffered.
    for declared in ["99999999", "5000"] {
        let mut huge = FixClient::connect(addr, "BOB");
        huge.send_raw(format!("8=FIX.4.4\x019={declared}\x0135=A\x01").as_bytes());
        let started = std::time::Instant::now();
        assert!(huge.closed());
        // At once, not at the logon timeout (10 s).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{declared}"
        );
    }

    // Everyone else is still served.
    let mut bob = logged_on(addr, "BOB", "bob", "change-me");
    bob.send("1", &[(112, "ok")]);
    assert_eq!(field(&bob.recv_type("0"), 112), "ok");
    alice.send("1", &[(112, "ok too")]);
    assert_eq!(field(&alice.recv_type("0"), 112), "ok too");
    let journaled = gateway.monitor().stats().published;
    gateway.stop().expect("stop");
    assert_eq!(
        journaled,
        deposits(),
        "nothing but the deposits reached the journal"
    );
}

fn deposits() -> u64 {
    hayate::ExchangeConfig::demo().initial_deposits().len() as u64
}

#[test]
fn a_session_without_heartbeats_is_dropped_after_the_idle_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), Some("[limits]\nidle_timeout_s = 1"), ""));
    let mut alice = FixClient::connect(gateway.addrs().fix, "ALICE");
    alice.send(
        "A",
        &[(98, "0"), (108, "0"), (553, "alice"), (554, "change-me")],
    );
    assert_eq!(field(&alice.recv(), 35), "A");
    let started = std::time::Instant::now();
    let logout = alice.recv_type("5");
    assert_eq!(field(&logout, 58), "idle timeout");
    assert!(alice.closed());
    assert!(started.elapsed() < WAIT);
    gateway.stop().expect("stop");
}

/// `auth = "none"` (conformance rigs): the comp id alone logs on, no Username/Password.
#[test]
fn a_user_with_auth_none_logs_on_without_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rig = r#"
[[users]]
username = "rig"
password = "unused"
comp_id = "RIG"
account = 9
auth = "none"
"#;
    let gateway = start(config(dir.path(), None, rig));
    let mut client = FixClient::connect(gateway.addrs().fix, "RIG");
    client.send("A", &[(98, "0"), (108, "30")]);
    assert_eq!(field(&client.recv(), 35), "A");
    gateway.stop().expect("stop");
}

#[test]
fn refusals_name_the_first_fault_in_the_engines_order_whoever_spots_it() {
    // BEHAVIOUR.md §3: HALTED before INVALID_PRICE and INVALID_QTY; a replace's UNKNOWN_ORDER
    // before anything about its price. The gateway cannot express an off-tick price or a bad
    // lot in ticks and lots, so it hands the engine a zero and lets the engine's order decide.
    use hayate::adapters::binary::messages::{ClientMessage, HaltTarget};
    let extra = r#"
[[symbols]]
name = "ETH-JPY"
base = "BTC"
quote = "JPY"
tick_size = "1"
lot_size = "0.001"
min_qty = "0.001"
max_qty = "1000"
maker_fee_bps = 0
taker_fee_bps = 10
band_bps = 0
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, extra));
    let addrs = gateway.addrs();
    let mut alice = logged_on(addrs.fix, "ALICE", "alice", "change-me");
    let t = "20260101-00:00:00.000";
    let text_of = |m: &hayate::adapters::fix::codec::FieldList| field(m, 58).to_owned();

    alice.new_order("live", "1", "1", "4900000");
    assert_eq!(field(&alice.recv_type("8"), 150), "0");
    let mut operator = admin(addrs.binary);
    admin_do(
        &mut operator,
        ClientMessage::Halt(HaltTarget::new("BTC-JPY").expect("name")),
    );
    for (id, qty, price) in [("h1", "1", "4900000.5"), ("h2", "0.00001", "4900000")] {
        alice.new_order(id, "1", qty, price);
        let refused = alice.recv_type("8");
        assert_eq!(field(&refused, 150), "8");
        assert!(text_of(&refused).contains("HALTED"), "{id}: {refused:?}");
    }
    // A replace while halted, with an off-tick price: HALTED, not INVALID_PRICE.
    let replace = |id: &str, orig: &str, symbol: &str, price: &str| {
        vec![
            (41, orig.to_owned()),
            (11, id.to_owned()),
            (55, symbol.to_owned()),
            (54, "1".to_owned()),
            (60, t.to_owned()),
            (38, "1".to_owned()),
            (40, "2".to_owned()),
            (44, price.to_owned()),
        ]
    };
    let send = |client: &mut FixClient, fields: Vec<(u32, String)>| {
        let fields: Vec<(u32, &str)> = fields.iter().map(|(t, v)| (*t, v.as_str())).collect();
        client.send("G", &fields);
    };
    send(&mut alice, replace("r1", "live", "BTC-JPY", "4900000.5"));
    let refused = alice.recv_type("9");
    assert!(text_of(&refused).contains("HALTED"), "{refused:?}");
    admin_do(
        &mut operator,
        ClientMessage::Resume(HaltTarget::new("BTC-JPY").expect("name")),
    );
    // Not halted: the price's own fault.
    alice.new_order("p1", "1", "1", "4900000.5");
    let refused = alice.recv_type("8");
    assert!(text_of(&refused).contains("INVALID_PRICE"), "{refused:?}");
    // A replace of an order that does not exist, with an off-tick price: UNKNOWN_ORDER.
    send(&mut alice, replace("r2", "nothing", "BTC-JPY", "4900000.5"));
    let refused = alice.recv_type("9");
    assert_eq!(field(&refused, 102), "1");
    assert!(text_of(&refused).contains("UNKNOWN_ORDER"), "{refused:?}");
    // A replace naming another symbol than the order's, or one we do not list: no such order.
    for symbol in ["ETH-JPY", "NOPE-JPY"] {
        send(&mut alice, replace("r3", "live", symbol, "4900001"));
        let refused = alice.recv_type("9");
        assert!(
            text_of(&refused).contains("UNKNOWN_ORDER"),
            "{symbol}: {refused:?}"
        );
    }
    // The order is untouched and replaces in its own symbol work.
    send(&mut alice, replace("r4", "live", "BTC-JPY", "4900001"));
    let replaced = alice.recv_type("8");
    assert_eq!(
        (field(&replaced, 150), field(&replaced, 44)),
        ("5", "4900001")
    );
    gateway.stop().expect("stop");
}
