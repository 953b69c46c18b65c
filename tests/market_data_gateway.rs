//! Market data through a running gateway on 127.0.0.1 (BEHAVIOUR.md §9): a FIX session's
//! MarketDataRequest to its snapshot, incrementals, trades, halts and unsubscribe, every refusal
//! reason; `/book` and `/trades` over HTTP; the WebSocket feed with a real client crate; and a
//! hostile crowd of WebSocket connections that leaves order entry and the honest subscriber
//! unharmed.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hayate::adapters::binary::messages::{ClientMessage, HaltTarget};
use hayate::adapters::fix::codec::FieldList;
use hayate::adapters::gateway::Gateway;
use hayate_testkit::gateway::*;

fn logged_on(addr: SocketAddr, comp: &str, user: &str, pw: &str) -> FixClient {
    let mut client = FixClient::connect(addr, comp);
    let reply = client.logon(user, pw, &[]);
    assert_eq!(field(&reply, 35), "A", "logon of {user}");
    client
}

fn gateway(dir: &std::path::Path) -> Gateway {
    start(config(dir, None, CAROL))
}

/// The entries of a W or X: each a map of tag → value, in message order. A new entry starts at
/// the group's first tag (269 in W, 279 in X).
fn entries(message: &FieldList, first_tag: u32) -> Vec<BTreeMap<u32, String>> {
    let mut out: Vec<BTreeMap<u32, String>> = Vec::new();
    let mut inside = false;
    for (tag, value) in message.iter() {
        if tag == 268 {
            inside = true;
            continue;
        }
        if !inside || tag == 10 {
            continue;
        }
        if tag == first_tag {
            out.push(BTreeMap::new());
        }
        if let Some(entry) = out.last_mut() {
            entry.insert(tag, String::from_utf8_lossy(value).into_owned());
        }
    }
    out
}

/// The next market-data message of `msg_type`, which must pass the FIX 4.4 data dictionary.
fn md(client: &mut FixClient, msg_type: &str) -> FieldList {
    let message = client.recv_type(msg_type);
    if let Err(violation) = hayate::adapters::fix::dictionary::validate(&message) {
        panic!("the gateway sent an invalid {msg_type} ({violation}): {message:?}");
    }
    message
}

/// Proves nothing else is queued for `client`: a TestRequest's Heartbeat is the next message.
fn assert_nothing_pending(client: &mut FixClient, what: &str) {
    client.send("1", &[(112, "probe")]);
    loop {
        let next = client.try_recv().expect("the probe's Heartbeat");
        match (field(&next, 35), field(&next, 112)) {
            ("0", "probe") => return,
            ("0", "") => continue, // a plain heartbeat
            _ => panic!("{what}: got {next:?}"),
        }
    }
}

#[test]
fn a_fix_subscriber_gets_the_snapshot_then_one_incremental_per_command_and_the_halts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = gateway(dir.path());
    let addr = gateway.addrs().fix;
    let mut watcher = logged_on(addr, "ALICE", "alice", "change-me");
    let mut bob = logged_on(addr, "BOB", "bob", "change-me");
    let mut carol = logged_on(addr, "CAROL", "carol", "pw-carol");

    bob.new_order("b1", "1", "0.5", "4990000");
    assert_eq!(field(&bob.recv_type("8"), 150), "0");

    subscribe_btc_jpy(&mut watcher, "md-1", "1", "0");
    let snapshot = md(&mut watcher, "W");
    assert_eq!(
        (field(&snapshot, 262), field(&snapshot, 55)),
        ("md-1", "BTC-JPY")
    );
    let levels = entries(&snapshot, 269);
    assert_eq!(levels.len(), 1, "{snapshot:?}");
    assert_eq!(levels[0][&269], "0");
    assert_eq!(levels[0][&270], "4990000");
    assert_eq!(levels[0][&271], "0.5");
    assert_eq!(levels[0][&346], "1");

    // A resting offer: one X with one new level.
    carol.new_order("s1", "2", "0.25", "5010000");
    assert_eq!(field(&carol.recv_type("8"), 150), "0");
    let x = md(&mut watcher, "X");
    assert_eq!(field(&x, 262), "md-1");
    let new_offer = entries(&x, 279);
    assert_eq!(new_offer.len(), 1, "{x:?}");
    let e = &new_offer[0];
    assert_eq!(
        (e[&279].as_str(), e[&269].as_str(), e[&270].as_str()),
        ("0", "1", "5010000")
    );
    assert_eq!((e[&271].as_str(), e[&346].as_str()), ("0.25", "1"));

    // A taker that sweeps the offer: one X carrying the trade and the emptied level.
    bob.new_order("b2", "1", "0.25", "5010000");
    assert_eq!(field(&bob.recv_type("8"), 150), "0");
    let x = md(&mut watcher, "X");
    let changes = entries(&x, 279);
    let trade = changes
        .iter()
        .find(|e| e[&269] == "2")
        .expect("the trade is in the same X");
    assert_eq!(
        (
            trade[&279].as_str(),
            trade[&270].as_str(),
            trade[&271].as_str()
        ),
        ("0", "5010000", "0.25")
    );
    assert!(
        trade.contains_key(&273),
        "MDEntryTime on a trade: {trade:?}"
    );
    let gone = changes
        .iter()
        .find(|e| e[&269] == "1")
        .expect("the offer's level is deleted in the same X");
    assert_eq!((gone[&279].as_str(), gone[&270].as_str()), ("2", "5010000"));
    assert_eq!(changes.len(), 2, "{x:?}");
    assert_eq!(
        field(&carol.recv_type("8"), 150),
        "F",
        "carol's offer was taken"
    );

    // Halt and resume reach the subscriber as SecurityStatus.
    let mut ops = admin(gateway.addrs().binary);
    admin_do(
        &mut ops,
        ClientMessage::Halt(HaltTarget::new("BTC-JPY").expect("name")),
    );
    let f = md(&mut watcher, "f");
    assert_eq!((field(&f, 55), field(&f, 326)), ("BTC-JPY", "2"));
    admin_do(
        &mut ops,
        ClientMessage::Resume(HaltTarget::new("all").expect("name")),
    );
    admin_do(
        &mut ops,
        ClientMessage::Resume(HaltTarget::new("BTC-JPY").expect("name")),
    );
    let f = md(&mut watcher, "f");
    assert_eq!((field(&f, 55), field(&f, 326)), ("BTC-JPY", "3"));

    // An order that changes nothing public (an IOC that does not trade) sends nothing.
    carol.send(
        "D",
        &[
            (11, "ioc"),
            (55, "BTC-JPY"),
            (54, "2"),
            (60, "20260101-00:00:00.000"),
            (38, "0.1"),
            (40, "2"),
            (44, "5200000"),
            (59, "3"),
        ],
    );
    assert_eq!(field(&carol.recv_type("8"), 150), "0");
    assert_eq!(field(&carol.recv_type("8"), 150), "4");
    assert_nothing_pending(&mut watcher, "an IOC that changed nothing");

    // Unsubscribe: no more incrementals.
    watcher.send(
        "V",
        &[
            (262, "md-1"),
            (263, "2"),
            (264, "0"),
            (267, "1"),
            (269, "0"),
            (146, "1"),
            (55, "BTC-JPY"),
        ],
    );
    carol.new_order("s2", "2", "0.1", "5020000");
    assert_eq!(field(&carol.recv_type("8"), 150), "0");
    assert_nothing_pending(&mut watcher, "after unsubscribing");
    assert!(
        gateway
            .metrics()
            .md_updates
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 4
    );
    gateway.stop().expect("stop");
}

#[test]
fn a_depth_one_subscriber_sees_a_level_pushed_out_as_delete_and_the_new_best_as_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = gateway(dir.path());
    let addr = gateway.addrs().fix;
    let mut watcher = logged_on(addr, "ALICE", "alice", "change-me");
    let mut carol = logged_on(addr, "CAROL", "carol", "pw-carol");
    carol.new_order("b1", "1", "0.5", "4990000");
    assert_eq!(field(&carol.recv_type("8"), 150), "0");
    subscribe_btc_jpy(&mut watcher, "top", "1", "1");
    let snapshot = md(&mut watcher, "W");
    assert_eq!(entries(&snapshot, 269).len(), 1);

    carol.new_order("b2", "1", "0.1", "4995000");
    assert_eq!(field(&carol.recv_type("8"), 150), "0");
    let x = md(&mut watcher, "X");
    let changes = entries(&x, 279);
    let actions: Vec<(&str, &str)> = changes
        .iter()
        .map(|e| (e[&279].as_str(), e[&270].as_str()))
        .collect();
    assert_eq!(actions, [("2", "4990000"), ("0", "4995000")], "{x:?}");

    // A level below the view changes nothing the subscriber sees.
    carol.new_order("b3", "1", "0.1", "4980000");
    assert_eq!(field(&carol.recv_type("8"), 150), "0");
    assert_nothing_pending(&mut watcher, "a change below the depth");
    gateway.stop().expect("stop");
}

#[test]
fn every_refusal_is_a_market_data_request_reject_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = gateway(dir.path());
    let mut client = logged_on(gateway.addrs().fix, "ALICE", "alice", "change-me");

    let reject = |client: &mut FixClient, fields: &[(u32, &str)]| -> (String, String) {
        client.send("V", fields);
        let y = client.recv();
        assert_eq!(field(&y, 35), "Y", "{y:?}");
        hayate::adapters::fix::dictionary::validate(&y).expect("a valid Y");
        assert!(!field(&y, 58).is_empty(), "Text says why: {y:?}");
        (field(&y, 262).to_owned(), field(&y, 281).to_owned())
    };
    let base = |id: &'static str, symbol: &'static str| {
        vec![
            (262, id),
            (263, "1"),
            (264, "0"),
            (267, "1"),
            (269, "0"),
            (146, "1"),
            (55, symbol),
        ]
    };
    assert_eq!(
        reject(&mut client, &base("r0", "ETH-JPY")),
        ("r0".into(), "0".into())
    );
    subscribe_btc_jpy(&mut client, "dup", "1", "0");
    assert_eq!(field(&client.recv_type("W"), 262), "dup");
    assert_eq!(
        reject(&mut client, &base("dup", "BTC-JPY")),
        ("dup".into(), "1".into())
    );
    // MDUpdateType 2 is not a FIX 4.4 value: a session Reject, not a request reject (every
    // value FIX 4.4 defines, 0 and 1, is supported, so reason 6 cannot occur).
    let mut fields = base("r6", "BTC-JPY");
    fields.insert(3, (265, "2"));
    client.send("V", &fields);
    let session_reject = client.recv();
    assert_eq!(
        (
            field(&session_reject, 35),
            field(&session_reject, 373),
            field(&session_reject, 371)
        ),
        ("3", "5", "265")
    );
    let mut fields = base("r7", "BTC-JPY");
    fields.insert(3, (266, "N"));
    assert_eq!(reject(&mut client, &fields).1, "7");
    let mut fields = base("r8", "BTC-JPY");
    fields[4] = (269, "4");
    assert_eq!(reject(&mut client, &fields).1, "8");
    let mut fields = base("r5", "BTC-JPY");
    fields[2] = (264, "1000000");
    assert_eq!(reject(&mut client, &fields).1, "5");
    // The session is still fine.
    assert_nothing_pending(&mut client, "after the refusals");
    assert!(
        gateway
            .metrics()
            .md_requests_refused
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 5
    );
    gateway.stop().expect("stop");
}

#[test]
fn book_and_trades_over_http_show_the_public_state_and_refuse_bad_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = gateway(dir.path());
    let addr = gateway.addrs().fix;
    let mut bob = logged_on(addr, "BOB", "bob", "change-me");
    let mut carol = logged_on(addr, "CAROL", "carol", "pw-carol");
    carol.new_order("b1", "1", "0.5", "4990000");
    carol.new_order("b2", "1", "0.25", "4980000");
    carol.new_order("s1", "2", "1", "5010000");
    for _ in 0..3 {
        assert_eq!(field(&carol.recv_type("8"), 150), "0");
    }
    bob.new_order("x", "2", "0.1", "4990000");
    assert_eq!(field(&bob.recv_type("8"), 150), "0");
    assert_eq!(field(&bob.recv_type("8"), 150), "F");
    let http = gateway.addrs().http;
    let get = |path: &str| hayate::adapters::http::get(http, path, WAIT).expect("HTTP answers");
    // The feed's thread may be a moment behind the FIX answers: wait for the trade.
    let deadline = Instant::now() + WAIT;
    let (code, trades) = loop {
        let (code, body) = get("/trades/BTC-JPY?limit=5");
        if body.contains("\"trade_id\":1") || Instant::now() > deadline {
            break (code, body);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(code, 200, "{trades}");
    assert!(trades.contains("\"price\":\"4990000\""), "{trades}");
    assert!(trades.contains("\"size\":\"0.1\""), "{trades}");
    assert!(!trades.contains("account"), "no accounts in public data");
    let (code, book) = get("/book/BTC-JPY?depth=1");
    assert_eq!(code, 200, "{book}");
    assert!(book.contains("\"product_id\":\"BTC-JPY\""), "{book}");
    assert!(book.contains("4990000"), "best bid: {book}");
    assert!(!book.contains("4980000"), "depth 1 shows one level: {book}");
    assert!(book.contains("\"0.4\""), "0.5 less the 0.1 traded: {book}");
    let (code, full) = get("/book/BTC-JPY?depth=0");
    assert_eq!(code, 200);
    assert!(
        full.contains("4980000"),
        "depth 0 is the whole book: {full}"
    );
    assert_eq!(get("/book/NOPE-JPY").0, 404);
    assert_eq!(get("/book/BTC-JPY?depth=abc").0, 400);
    assert_eq!(get("/trades/BTC-JPY?limit=-1").0, 400);
    gateway.stop().expect("stop");
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

fn ws_connect(addr: SocketAddr) -> Ws {
    let (mut ws, _) = tungstenite::connect(format!("ws://{addr}")).expect("WebSocket handshake");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = ws.get_mut() {
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
    }
    ws
}

/// The next text message as JSON.
fn ws_next(ws: &mut Ws) -> serde_json::Value {
    loop {
        match ws.read().expect("a message") {
            tungstenite::Message::Text(text) => {
                return serde_json::from_str(text.as_str()).expect("valid JSON");
            }
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next message of `kind`, skipping others.
fn ws_next_of(ws: &mut Ws, kind: &str) -> serde_json::Value {
    loop {
        let message = ws_next(ws);
        if message["type"] == kind {
            return message;
        }
    }
}

#[test]
fn the_websocket_feed_matches_the_book_and_survives_a_hostile_crowd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = format!(
        "{CAROL}\n[market_data]\nws_listen = \"127.0.0.1:0\"\nmax_connections = 2000\nmax_connections_per_address = 2000\nmax_queued_bytes = 65536\n"
    );
    let text = hayate::config::DEMO_TOML
        .replace("127.0.0.1:9878", "127.0.0.1:0")
        .replace("127.0.0.1:9000", "127.0.0.1:0")
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace(
            "dir = \"data\"",
            &format!("dir = {:?}", dir.path().display().to_string()),
        )
        .replace("fsync = \"always\"", "fsync = \"never\"")
        // The disk guard at 128 MiB: a test machine's disk may hold less than the default GiB.
        .replace("min_free_mb = 1024", "min_free_mb = 128");
    // The demo's own [market_data] section is replaced by the test's.
    let start_md = text.find("[market_data]").expect("demo has [market_data]");
    let end_md = start_md + text[start_md..].find("\n\n").expect("section end");
    let text = format!("{}{}\n{extra}", &text[..start_md], &text[end_md..])
        .replace(
            "messages_per_second = 100 ",
            "messages_per_second = 100000 ",
        )
        .replace("burst = 200 ", "burst = 100000 ");
    let config = hayate::ExchangeConfig::from_toml_str(&text, "test.toml").expect("valid");
    let gateway = start(config);
    let ws_addr = gateway.addrs().ws.expect("the feed listens");
    let fix = gateway.addrs().fix;
    let mut carol = logged_on(fix, "CAROL", "carol", "pw-carol");
    carol.new_order("b0", "1", "0.5", "4990000");
    assert_eq!(field(&carol.recv_type("8"), 150), "0");

    // The honest subscriber: subscriptions, then the snapshot, ticker and status.
    let mut good = ws_connect(ws_addr);
    good.send(tungstenite::Message::text(
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2","matches","ticker","status"]}"#,
    ))
    .expect("subscribe");
    let subscriptions = ws_next_of(&mut good, "subscriptions");
    assert_eq!(subscriptions["channels"].as_array().map(Vec::len), Some(4));
    let snapshot = ws_next_of(&mut good, "snapshot");
    assert_eq!(snapshot["product_id"], "BTC-JPY");
    assert_eq!(snapshot["bids"][0][0], "4990000");
    assert_eq!(snapshot["bids"][0][1], "0.5");
    let mut sequence = snapshot["sequence"].as_u64().expect("a sequence");
    let mut bids: BTreeMap<String, String> = BTreeMap::new();
    bids.insert("4990000".into(), "0.5".into());

    // Malformed and unknown requests get an error; the connection stays usable.
    for bad in [
        "not json",
        r#"{"type":"subscribe","product_ids":["NOPE-JPY"],"channels":["level2"]}"#,
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["gossip"]}"#,
        r#"{"type":"dance"}"#,
    ] {
        let mut probe = ws_connect(ws_addr);
        probe.send(tungstenite::Message::text(bad)).expect("send");
        assert_eq!(ws_next(&mut probe)["type"], "error", "answer to {bad}");
        probe
            .send(tungstenite::Message::text(
                r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["status"]}"#,
            ))
            .expect("send");
        assert_eq!(ws_next(&mut probe)["type"], "subscriptions", "after {bad}");
    }

    // The crowd: a thousand idle connections, garbage, an oversized frame, and a subscriber
    // that never reads.
    let idle: Vec<Ws> = (0..1000).map(|_| ws_connect(ws_addr)).collect();
    let mut oversized = ws_connect(ws_addr);
    let _ = oversized.send(tungstenite::Message::text("x".repeat(64 * 1024)));
    let closed = match oversized.read() {
        Ok(tungstenite::Message::Close(_)) | Err(_) => true,
        Ok(_) => matches!(
            oversized.read(),
            Ok(tungstenite::Message::Close(_)) | Err(_)
        ),
    };
    assert!(closed, "an oversized frame closes the connection");
    let mut garbage = TcpStream::connect(ws_addr).expect("connect");
    std::io::Write::write_all(&mut garbage, b"\x00\xffGET nonsense\r\n\r\n").expect("send");
    let mut sleeper = ws_connect(ws_addr);
    sleeper
        .send(tungstenite::Message::text(
            r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2","matches","ticker","status"]}"#,
        ))
        .expect("subscribe");

    // The honest trader keeps being answered promptly, and the honest subscriber sees every
    // update, in order, without a gap.
    let mut slowest_ack = Duration::ZERO;
    for i in 0..300u32 {
        let price = (4_980_000 - (i % 50) * 100).to_string();
        let sent = Instant::now();
        carol.new_order(&format!("o{i}"), "1", "0.01", &price);
        assert_eq!(field(&carol.recv_type("8"), 150), "0");
        slowest_ack = slowest_ack.max(sent.elapsed());
    }
    assert!(
        slowest_ack < Duration::from_secs(1),
        "order→ack stayed bounded under the crowd: {slowest_ack:?}"
    );
    let mut updates = 0;
    while updates < 300 {
        let message = ws_next(&mut good);
        if message["type"] != "l2update" {
            continue;
        }
        let next = message["sequence"].as_u64().expect("sequence");
        assert_eq!(
            next,
            sequence + 1,
            "no gap in the honest subscriber's stream"
        );
        sequence = next;
        for change in message["changes"].as_array().expect("changes") {
            let price = change[1].as_str().expect("price").to_owned();
            let size = change[2].as_str().expect("size").to_owned();
            assert_eq!(change[0], "buy");
            if size == "0" {
                bids.remove(&price);
            } else {
                bids.insert(price, size);
            }
        }
        updates += 1;
    }
    // The subscriber's view equals the book.
    let (code, book) =
        hayate::adapters::http::get(gateway.addrs().http, "/book/BTC-JPY?depth=0", WAIT)
            .expect("HTTP");
    assert_eq!(code, 200);
    let book: serde_json::Value = serde_json::from_str(&book).expect("JSON");
    let from_http: BTreeMap<String, String> = book["bids"]
        .as_array()
        .expect("bids")
        .iter()
        .map(|l| {
            (
                l[0].as_str().unwrap_or("").to_owned(),
                l[1].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(from_http, bids);
    assert_eq!(book["sequence"].as_u64(), Some(sequence));

    // The sleeper was dropped, not waited for; the crowd is still connected and nothing broke.
    // The kernel's socket buffers (megabytes on loopback) fill before the feed's queue does, so
    // on a busy machine this takes longer than the other waits: the loop ends as soon as it is.
    let deadline = Instant::now() + 6 * WAIT;
    while gateway.feed_metrics().slow_disconnects() == 0 && Instant::now() < deadline {
        carol.new_order("pad", "1", "0.01", "4900000");
        let _ = carol.recv_type("8");
        carol.send(
            "F",
            &[
                (41, "pad"),
                (11, "pad-x"),
                (55, "BTC-JPY"),
                (54, "1"),
                (60, "20260101-00:00:00.000"),
            ],
        );
        let _ = carol.recv_type("8");
    }
    assert!(
        gateway.feed_metrics().slow_disconnects() >= 1,
        "the subscriber that never reads is dropped"
    );
    drop(idle);
    drop(sleeper);
    gateway.stop().expect("stop");
}

#[test]
fn an_exchange_wide_halt_reaches_the_subscriber_of_every_symbol() {
    // One command, two symbols' updates: both reach the subscriber (a later update of the same
    // command must not displace an earlier one).
    let dir = tempfile::tempdir().expect("tempdir");
    let eth = r#"
[[assets]]
name = "ETH"
decimals = 8

[[symbols]]
name = "ETH-JPY"
base = "ETH"
quote = "JPY"
tick_size = "1"
lot_size = "0.001"
"#;
    let gateway = start(config(dir.path(), None, &format!("{CAROL}\n{eth}")));
    let mut watcher = logged_on(gateway.addrs().fix, "ALICE", "alice", "change-me");
    watcher.send(
        "V",
        &[
            (262, "both"),
            (263, "1"),
            (264, "0"),
            (267, "2"),
            (269, "0"),
            (269, "1"),
            (146, "2"),
            (55, "BTC-JPY"),
            (55, "ETH-JPY"),
        ],
    );
    let first = md(&mut watcher, "W");
    let second = md(&mut watcher, "W");
    assert_eq!(
        (field(&first, 55), field(&second, 55)),
        ("BTC-JPY", "ETH-JPY")
    );
    let mut ops = admin(gateway.addrs().binary);
    for (command, status) in [("halt", "2"), ("resume", "3")] {
        let target = HaltTarget::new("all").expect("name");
        let message = if command == "halt" {
            ClientMessage::Halt(target)
        } else {
            ClientMessage::Resume(target)
        };
        admin_do(&mut ops, message);
        let mut symbols: Vec<String> = (0..2)
            .map(|_| {
                let f = md(&mut watcher, "f");
                assert_eq!(field(&f, 326), status, "{command}");
                field(&f, 55).to_owned()
            })
            .collect();
        symbols.sort();
        assert_eq!(symbols, ["BTC-JPY", "ETH-JPY"], "{command}");
    }
    gateway.stop().expect("stop");
}
