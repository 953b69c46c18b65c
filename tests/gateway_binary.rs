//! The binary port over real sockets on 127.0.0.1: logon, an order to its report, refusals named
//! by field, the rate limit, a bad length closing the connection, and the admin client's commands
//! (each a journaled command), with `/status` reporting halts and blocked accounts.

use std::net::SocketAddr;

use hayate::adapters::binary::client::BinaryClient;
use hayate::adapters::binary::messages::{
    CancelOnDisconnect, ClientMessage, Logon, NewOrder, RejectCode, ServerMessage,
};
use hayate::{
    AccountId, ClientOrderId, EventKind, OrderType, Price, Qty, Reason, Side, SymbolId, TimeInForce,
};
use hayate_testkit::example::{admin_binary, run_admin};
use hayate_testkit::gateway::*;

fn logged_on(addr: SocketAddr, user: &str, password: &str) -> BinaryClient {
    let mut client = BinaryClient::connect(addr, WAIT).expect("connect");
    let logon = Logon::new(user, password, CancelOnDisconnect::Configured).expect("short");
    client.send(&ClientMessage::Logon(logon)).expect("send");
    let ack = client.recv().expect("logon answer");
    match ServerMessage::decode(&ack).expect("decode") {
        ServerMessage::LogonAck(_) => {}
        other => panic!("logon of {user} refused: {other:?}"),
    }
    // One SymbolInfo per symbol follows.
    let info = client.recv().expect("symbol info");
    match ServerMessage::decode(&info).expect("decode") {
        ServerMessage::SymbolInfo(info) => assert_eq!(info.name(), Some("BTC-JPY")),
        other => panic!("expected SymbolInfo, got {other:?}"),
    }
    client
}

fn order(id: &str, side: Side, price: u64, lots: u64) -> ClientMessage {
    ClientMessage::NewOrder(NewOrder::new(
        ClientOrderId::new(id).expect("short id"),
        SymbolId(0),
        side,
        OrderType::Limit,
        TimeInForce::Gtc,
        Price(price),
        Qty(lots),
    ))
}

/// The next message that is not a heartbeat, decoded into an owned form the test can inspect.
fn next(client: &mut BinaryClient) -> Vec<u8> {
    loop {
        let bytes = client.recv().expect("a message");
        if !matches!(ServerMessage::decode(&bytes), Ok(ServerMessage::Heartbeat)) {
            return bytes;
        }
    }
}

#[test]
fn an_order_gets_its_reports_and_bad_fields_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addr = gateway.addrs().binary;
    let mut alice = logged_on(addr, "alice", "change-me");
    let mut bob = logged_on(addr, "bob", "change-me");

    alice
        .send(&order("b1", Side::Buy, 5_000_000, 3))
        .expect("send");
    let bytes = next(&mut alice);
    let ServerMessage::Report(report) = ServerMessage::decode(&bytes).expect("decode") else {
        panic!("expected a report");
    };
    let accepted = report.event();
    assert_eq!(accepted.event_kind(), Some(EventKind::Accepted));
    assert_eq!(accepted.account, AccountId(1));
    assert_eq!(accepted.client_order_id.as_bytes(), b"b1");

    bob.send(&order("s1", Side::Sell, 5_000_000, 2))
        .expect("send");
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let bytes = next(&mut bob);
        if let Ok(ServerMessage::Report(r)) = ServerMessage::decode(&bytes) {
            kinds.push(r.event().event_kind());
        }
    }
    assert_eq!(kinds, [Some(EventKind::Accepted), Some(EventKind::Fill)]);
    let bytes = next(&mut alice);
    let ServerMessage::Report(fill) = ServerMessage::decode(&bytes).expect("decode") else {
        panic!("expected alice's fill");
    };
    assert_eq!(fill.event().event_kind(), Some(EventKind::Fill));
    assert_eq!(fill.event().fill().last_qty, Qty(2));

    // A side byte out of range is refused by the gateway, naming the field.
    let mut bad = order("bad", Side::Buy, 5_000_000, 1);
    if let ClientMessage::NewOrder(o) = &mut bad {
        o.side = 9;
    }
    alice.send(&bad).expect("send");
    match ServerMessage::decode(&next(&mut alice)).expect("decode") {
        ServerMessage::Reject { code, text, .. } => {
            assert_eq!(code, RejectCode::BadValue);
            assert!(text.contains("side"), "{text}");
        }
        other => panic!("expected a reject, got {other:?}"),
    }
    // A trader may not send admin messages.
    alice.send(&ClientMessage::Snapshot).expect("send");
    match ServerMessage::decode(&next(&mut alice)).expect("decode") {
        ServerMessage::Reject { code, .. } => assert_eq!(code, RejectCode::NotPermitted),
        other => panic!("expected a reject, got {other:?}"),
    }
    // The engine's own refusals come back as Reports with the reason.
    alice.send(&order("far", Side::Buy, 1, 1)).expect("send");
    let ServerMessage::Report(rejected) = ServerMessage::decode(&next(&mut alice)).expect("decode")
    else {
        panic!("expected a report");
    };
    assert_eq!(rejected.event().reason(), Reason::PriceBand);
    gateway.stop().expect("stop");
}

#[test]
fn bad_logon_bad_length_and_throttling_are_answered_and_others_keep_trading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = "[limits]\nmessages_per_second = 10\nburst = 10";
    let gateway = start(config(dir.path(), Some(limits), ""));
    let addr = gateway.addrs().binary;

    let mut wrong = BinaryClient::connect(addr, WAIT).expect("connect");
    let logon = Logon::new("alice", "nope", CancelOnDisconnect::Configured).expect("short");
    wrong.send(&ClientMessage::Logon(logon)).expect("send");
    match ServerMessage::decode(&wrong.recv().expect("answer")).expect("decode") {
        ServerMessage::Reject { code, .. } => assert_eq!(code, RejectCode::LogonRefused),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(wrong.recv().is_err(), "the connection is closed");

    // A declared length above the maximum closes the connection at once.
    let mut huge = BinaryClient::connect(addr, WAIT).expect("connect");
    huge.send_raw(&[0xff, 0xff, 0x10, 0x01]).expect("send");
    assert!(huge.recv().is_err());

    let mut flood = logged_on(addr, "alice", "change-me");
    for i in 0..40 {
        flood
            .send(&order(&format!("f{i}"), Side::Buy, 4_600_000, 1))
            .expect("send");
    }
    let mut throttled = 0;
    let mut reported = 0;
    while throttled + reported < 40 {
        match ServerMessage::decode(&next(&mut flood)).expect("decode") {
            ServerMessage::Reject {
                code: RejectCode::Throttled,
                ..
            } => throttled += 1,
            ServerMessage::Report(r) if r.index == 0 => reported += 1,
            _ => {}
        }
    }
    assert!(throttled >= 20, "only {throttled} throttled");
    let mut bob = logged_on(addr, "bob", "change-me");
    bob.send(&order("ok", Side::Sell, 5_400_000, 1))
        .expect("send");
    let ServerMessage::Report(r) = ServerMessage::decode(&next(&mut bob)).expect("decode") else {
        panic!("bob is served");
    };
    assert_eq!(r.event().event_kind(), Some(EventKind::Accepted));
    gateway.stop().expect("stop");
}

/// The admin client as `admin` with `password`.
fn admin(addr: SocketAddr, password: &str, args: &[&str]) -> (bool, String) {
    run_admin(&addr.to_string(), "admin", password, args)
}

#[test]
fn the_admin_client_deposits_halts_resumes_snapshots_and_reports_status() {
    admin_binary(); // built before any session can idle through its build
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addrs = gateway.addrs();
    let before = gateway.monitor().stats().published;

    let (ok, text) = admin(
        addrs.binary,
        "change-me",
        &["deposit", "2", "JPY", "1234.5"],
    );
    assert!(ok, "{text}");
    assert!(text.contains("deposit"), "{text}");
    let (ok, text) = admin(addrs.binary, "change-me", &["halt", "BTC-JPY"]);
    assert!(ok, "{text}");
    let (_, status) = hayate::adapters::http::get(addrs.http, "/status", WAIT).expect("status");
    assert!(
        status.contains("\"halted_symbols\":[\"BTC-JPY\"]"),
        "{status}"
    );
    let (ok, status) = admin(addrs.binary, "change-me", &["status"]);
    assert!(
        ok && status.contains("\"halted_symbols\":[\"BTC-JPY\"]"),
        "{status}"
    );

    // A trader's order on the halted symbol is refused HALTED.
    let mut alice = logged_on(addrs.binary, "alice", "change-me");
    alice
        .send(&order("h", Side::Buy, 5_000_000, 1))
        .expect("send");
    let ServerMessage::Report(r) = ServerMessage::decode(&next(&mut alice)).expect("decode") else {
        panic!("expected a report");
    };
    assert_eq!(r.event().reason(), Reason::Halted);

    let (ok, text) = admin(addrs.binary, "change-me", &["resume", "all"]);
    assert!(ok, "{text}");
    let (ok, text) = admin(addrs.binary, "change-me", &["resume", "BTC-JPY"]);
    assert!(ok, "{text}");
    let (ok, text) = admin(addrs.binary, "change-me", &["snapshot"]);
    assert!(ok && text.contains("snapshot of sequence"), "{text}");

    // Refusals exit non-zero with a one-line reason.
    let (ok, text) = admin(addrs.binary, "change-me", &["withdraw", "2", "JPY", "1e99"]);
    assert!(!ok && text.contains("amount"), "{text}");
    let (ok, text) = admin(addrs.binary, "change-me", &["halt", "DOGE-JPY"]);
    assert!(!ok && text.contains("unknown symbol"), "{text}");
    let (ok, text) = admin(addrs.binary, "wrong", &["status"]);
    assert!(!ok && text.contains("logon refused"), "{text}");

    // deposit, halt, resume all, resume, snapshot and alice's order: journaled commands.
    let after = gateway.monitor().stats().published;
    assert_eq!(after - before, 6);
    let (_, status) = hayate::adapters::http::get(addrs.http, "/status", WAIT).expect("status");
    assert!(status.contains("\"halted_symbols\":[]"), "{status}");
    assert!(status.contains("\"state\":\"running\""), "{status}");
    gateway.stop().expect("stop");
}

/// The next Report's event, skipping heartbeats.
fn next_event(client: &mut BinaryClient) -> hayate::Event {
    match ServerMessage::decode(&next(client)).expect("decode") {
        ServerMessage::Report(r) => r.event(),
        other => panic!("expected a report, got {other:?}"),
    }
}

/// BEHAVIOUR.md §10's kill switch end to end: `admin block 1` cancels alice's open orders (both
/// sessions hear of each, reason ACCOUNT_BLOCKED), her FIX and binary sessions stay connected and
/// every order or replace gets ACCOUNT_BLOCKED (FIX OrdRejReason / CxlRejReason 99 with the code in
/// Text), `/status` lists the block; `admin unblock 1` lets her trade again.
#[test]
fn the_admin_client_blocks_an_account_whose_sessions_stay_connected_and_unblocks_it() {
    admin_binary(); // built before any session can idle through its build
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = start(config(dir.path(), None, ""));
    let addrs = gateway.addrs();
    let mut fix = FixClient::connect(addrs.fix, "ALICE");
    assert_eq!(field(&fix.logon("alice", "change-me", &[]), 35), "A");
    let mut bin = logged_on(addrs.binary, "alice", "change-me");

    // One open order from each session; every session of the account hears of both.
    fix.new_order("f1", "1", "0.001", "4990000");
    assert_eq!(field(&fix.recv_type("8"), 150), "0");
    assert_eq!(next_event(&mut bin).event_kind(), Some(EventKind::Accepted));
    bin.send(&order("b1", Side::Sell, 5_010_000, 10))
        .expect("send");
    assert_eq!(next_event(&mut bin).event_kind(), Some(EventKind::Accepted));
    assert_eq!(field(&fix.recv_type("8"), 11), "b1");

    let (ok, text) = admin(addrs.binary, "change-me", &["block", "1"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("account blocked acct 1: 2 orders canceled"),
        "{text}"
    );
    for id in ["f1", "b1"] {
        let er = fix.recv_type("8");
        assert_eq!(
            (
                field(&er, 150),
                field(&er, 39),
                field(&er, 11),
                field(&er, 58)
            ),
            ("4", "4", id, "ACCOUNT_BLOCKED")
        );
        let e = next_event(&mut bin);
        assert_eq!(e.event_kind(), Some(EventKind::Canceled));
        assert_eq!(e.reason(), Reason::AccountBlocked);
        assert_eq!(e.client_order_id.as_bytes(), id.as_bytes());
    }
    let (_, status) = hayate::adapters::http::get(addrs.http, "/status", WAIT).expect("status");
    assert!(status.contains("\"blocked_accounts\":[1]"), "{status}");
    let (ok, status) = admin(addrs.binary, "change-me", &["status"]);
    assert!(
        ok && status.contains("\"blocked_accounts\":[1]"),
        "{status}"
    );

    // While blocked: a FIX order and replace, and a binary order, all refused with the reason,
    // and both sessions are still there to be told.
    fix.new_order("f2", "1", "0.001", "4990000");
    let er = fix.recv_type("8");
    assert_eq!(
        (field(&er, 150), field(&er, 103), field(&er, 58)),
        ("8", "99", "ACCOUNT_BLOCKED")
    );
    assert_eq!(next_event(&mut bin).reason(), Reason::AccountBlocked);
    fix.send(
        "G",
        &[
            (11, "f1-2"),
            (41, "f1"),
            (55, "BTC-JPY"),
            (54, "1"),
            (60, "20260101-00:00:00.000"),
            (38, "0.002"),
            (40, "2"),
            (44, "4990000"),
        ],
    );
    let reject = fix.recv_type("9");
    assert_eq!(
        (field(&reject, 102), field(&reject, 58)),
        ("99", "ACCOUNT_BLOCKED")
    );
    let e = next_event(&mut bin);
    assert_eq!(
        (e.event_kind(), e.reason()),
        (Some(EventKind::ReplaceRejected), Reason::AccountBlocked)
    );
    bin.send(&order("b2", Side::Sell, 5_010_000, 1))
        .expect("send");
    let e = next_event(&mut bin);
    assert_eq!(
        (e.event_kind(), e.reason()),
        (Some(EventKind::Rejected), Reason::AccountBlocked)
    );
    let er = fix.recv_type("8");
    assert_eq!((field(&er, 11), field(&er, 58)), ("b2", "ACCOUNT_BLOCKED"));
    let (_, metrics) = hayate::adapters::http::get(addrs.http, "/metrics", WAIT).expect("metrics");
    assert!(
        metrics.contains("hayate_rejects_total{reason=\"ACCOUNT_BLOCKED\"} 2"),
        "{metrics}"
    );

    let (ok, text) = admin(addrs.binary, "change-me", &["unblock", "1"]);
    assert!(ok && text.contains("account unblocked acct 1"), "{text}");
    let (_, status) = hayate::adapters::http::get(addrs.http, "/status", WAIT).expect("status");
    assert!(status.contains("\"blocked_accounts\":[]"), "{status}");
    fix.new_order("f3", "1", "0.001", "4990000");
    assert_eq!(field(&fix.recv_type("8"), 150), "0");
    assert_eq!(next_event(&mut bin).event_kind(), Some(EventKind::Accepted));
    bin.send(&order("b3", Side::Sell, 5_010_000, 1))
        .expect("send");
    assert_eq!(next_event(&mut bin).event_kind(), Some(EventKind::Accepted));
    // A block of an account that does not exist is refused, with the reason.
    let (ok, text) = admin(addrs.binary, "change-me", &["block", "99"]);
    assert!(!ok && text.contains("UNKNOWN_ACCOUNT"), "{text}");
    gateway.stop().expect("stop");
}

#[test]
fn connection_caps_and_the_logon_timeout_close_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = "[limits]\nmax_connections_per_address = 2\nlogon_timeout_s = 1";
    let gateway = start(config(dir.path(), Some(limits), ""));
    let addr = gateway.addrs().binary;
    let mut first = BinaryClient::connect(addr, WAIT).expect("connect");
    let _second = logged_on(addr, "bob", "change-me");
    // The third from the same address is closed at accept.
    let mut third = BinaryClient::connect(addr, WAIT).expect("tcp connect");
    assert!(third.recv().is_err(), "over the per-address cap");
    // The first never logged on: closed after the logon timeout (bounded by WAIT).
    let started = std::time::Instant::now();
    assert!(first.recv().is_err());
    assert!(started.elapsed() < WAIT);
    let (_, metrics) =
        hayate::adapters::http::get(gateway.addrs().http, "/metrics", WAIT).expect("metrics");
    assert!(
        metrics.contains("hayate_connections_refused_total 1"),
        "{metrics}"
    );
    gateway.stop().expect("stop");
}

#[test]
fn sustained_abuse_of_the_rate_limit_disconnects_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = "[limits]\nmessages_per_second = 10\nburst = 10";
    let gateway = start(config(dir.path(), Some(limits), ""));
    let mut flood = logged_on(gateway.addrs().binary, "alice", "change-me");
    let mut burst = Vec::new();
    for i in 0..300 {
        order(&format!("f{i}"), Side::Buy, 4_600_000, 1).encode(&mut burst);
    }
    flood.send_raw(&burst).expect("send");
    let mut disconnected = false;
    for _ in 0..1000 {
        match flood.recv() {
            Ok(_) => {}
            Err(_) => {
                disconnected = true;
                break;
            }
        }
    }
    assert!(disconnected, "the abusive session is dropped");
    let (_, metrics) =
        hayate::adapters::http::get(gateway.addrs().http, "/metrics", WAIT).expect("metrics");
    assert!(
        metrics.contains("hayate_throttle_disconnects_total 1"),
        "{metrics}"
    );
    gateway.stop().expect("stop");
}

/// BEHAVIOUR.md §10's circuit breaker end to end: with BTC-JPY's breaker at 10 bps around the
/// reference 5 000 000 (bounds [4 995 000, 5 005 000]), bob's buy takes alice's ask at 5 004 000,
/// stops before her ask at 5 010 000, and its remainder is cancelled CIRCUIT_BREAKER; `/status`
/// lists the symbol as halted, orders are refused HALTED, and `admin resume BTC-JPY` — answered
/// with its own result, not the breaker's halt — reopens it.
#[test]
fn a_tripped_breaker_halts_the_symbol_until_an_operator_resumes_it() {
    admin_binary(); // built before any session can idle through its build
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config_toml(dir.path(), None, "").replace(
        "# breaker_bps = 500\n# breaker_window_s = 300\n# breaker_halt_s = 120",
        "breaker_bps = 10\nbreaker_window_s = 300\nbreaker_halt_s = 3600",
    );
    let config = hayate::ExchangeConfig::from_toml_str(&text, "test.toml").expect("valid");
    assert!(config.engine_config().symbols[0].breaker.is_some());
    let gateway = start(config);
    let addrs = gateway.addrs();
    let mut alice = logged_on(addrs.binary, "alice", "change-me");
    let mut bob = logged_on(addrs.binary, "bob", "change-me");
    for (id, price) in [("a1", 5_004_000), ("a2", 5_010_000)] {
        alice.send(&order(id, Side::Sell, price, 1)).expect("send");
        assert_eq!(
            next_event(&mut alice).event_kind(),
            Some(EventKind::Accepted)
        );
    }
    bob.send(&order("b1", Side::Buy, 5_010_000, 2))
        .expect("send");
    let mut got = Vec::new();
    loop {
        let e = next_event(&mut bob);
        got.push((e.event_kind().expect("kind"), e.reason()));
        if e.event_kind() == Some(EventKind::Canceled) {
            assert_eq!(e.cum_qty, Qty(1));
            break;
        }
    }
    assert_eq!(
        got,
        [
            (EventKind::Accepted, Reason::None),
            (EventKind::Fill, Reason::None),
            (EventKind::Canceled, Reason::CircuitBreaker)
        ]
    );
    let (_, status) = hayate::adapters::http::get(addrs.http, "/status", WAIT).expect("status");
    assert!(
        status.contains("\"halted_symbols\":[\"BTC-JPY\"]"),
        "{status}"
    );
    bob.send(&order("b2", Side::Buy, 5_000_000, 1))
        .expect("send");
    assert_eq!(next_event(&mut bob).reason(), Reason::Halted);

    let (ok, text) = admin(addrs.binary, "change-me", &["resume", "BTC-JPY"]);
    assert!(ok && text.contains("resumed BTC-JPY"), "{text}");
    let (_, status) = hayate::adapters::http::get(addrs.http, "/status", WAIT).expect("status");
    assert!(status.contains("\"halted_symbols\":[]"), "{status}");
    bob.send(&order("b3", Side::Buy, 5_000_000, 1))
        .expect("send");
    assert_eq!(next_event(&mut bob).event_kind(), Some(EventKind::Accepted));
    gateway.stop().expect("stop");
}
