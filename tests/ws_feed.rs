//! The WebSocket market-data feed alone (BEHAVIOUR.md §9), over real sockets with a real client: a
//! `Feed` fed the output events of an `Engine` as the matcher publishes them (seq, timestamp,
//! index, last), its messages checked field by field — subscriptions, snapshot, l2update, match
//! (the maker's side), ticker, status, unsubscribe — and its defences: bad requests answered with
//! an error on a connection that stays usable, oversized frames, the subscription cap, the
//! per-address cap, handshake and idle timeouts, a subscriber that never reads (dropped and
//! counted while another sees every update without a gap), a feed that falls behind (reset), a
//! hostile crowd, and `/book` and `/trades` through `Feed::query`. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hayate::adapters::market_data::{Feed, FeedMetrics};
use hayate::config::MarketDataConfig;
use hayate::market_data::MarketData;
use hayate::pipeline::Output;
use hayate::*;
use rust_decimal::Decimal;
use serde_json::Value;
use tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);
/// 2025-12-05T09:11:15.123456Z, the first command's time; each next command is 1 µs later.
const T0: u64 = 1_764_925_875_123_456_000;
const BTC: SymbolId = SymbolId(0);
const ALL_CHANNELS: &str = r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2","matches","ticker","status"]}"#;

fn engine_config() -> EngineConfig {
    let asset = |name: &str, decimals| AssetSpec {
        name: name.into(),
        decimals,
    };
    let symbol = |name: &str, base| SymbolSpec {
        name: name.into(),
        base: AssetId(base),
        quote: AssetId(2),
        tick_size: Decimal::ONE,
        lot_size: Decimal::new(1, 4),
        unit_notional: 1,
        lot_base_minor: 10_000,
        min_qty: Qty(1),
        max_qty: Qty(1_000_000),
        maker_fee_bps: 0,
        taker_fee_bps: 0,
        band_bps: 0,
        reference_price: None,
        max_notional: SymbolSpec::NO_NOTIONAL_LIMIT,
        breaker: None,
    };
    EngineConfig {
        assets: vec![asset("BTC", 8), asset("ETH", 8), asset("JPY", 4)],
        symbols: vec![symbol("BTC-JPY", 0), symbol("ETH-JPY", 1)],
        accounts: vec![AccountId(1), AccountId(2)],
        max_open_orders: 1_000_000,
        order_capacity: 1 << 16,
        level_capacity: 1024,
    }
}

/// The matcher and the gateway's builder: every command's events wrapped as the matcher
/// publishes them, and applied to the builder the gateway would hand over at a reset.
struct Exchange {
    engine: Engine,
    market: MarketData,
    seq: u64,
    events: Vec<Event>,
}

impl Exchange {
    fn new() -> Exchange {
        Exchange::with_config(engine_config())
    }

    fn with_config(config: EngineConfig) -> Exchange {
        let mut exchange = Exchange {
            engine: Engine::new(config.clone()),
            market: MarketData::new(&config),
            seq: 0,
            events: Vec::new(),
        };
        for account in [1, 2] {
            for asset in 0..3 {
                exchange.run(Command::deposit(
                    AccountId(account),
                    AssetId(asset),
                    Amount(1_000_000_000_000),
                ));
            }
        }
        exchange
    }

    fn run(&mut self, cmd: Command) -> Vec<Output> {
        self.seq += 1;
        let timestamp_ns = T0 + self.seq * 1_000;
        self.events.clear();
        self.engine.process(&cmd.at(timestamp_ns), &mut self.events);
        let count = self.events.len();
        let outs: Vec<Output> = self
            .events
            .iter()
            .enumerate()
            .map(|(index, event)| Output {
                seq: self.seq,
                timestamp_ns,
                index: index as u32,
                last: index + 1 == count,
                event: *event,
            })
            .collect();
        for out in &outs {
            self.market.on_output(out, |_, _| {});
        }
        outs
    }

    /// A GTC limit order of account `account` for `lots` ten-thousandths at `price` yen.
    fn limit(&mut self, account: u32, side: Side, price: u64, lots: u64) -> Vec<Output> {
        let id = ClientOrderId::new(&format!("o{}", self.seq)).expect("short id");
        self.run(Command::new_order(NewOrder::limit(
            AccountId(account),
            BTC,
            side,
            Price(price),
            Qty(lots),
            id,
        )))
    }

    /// Cancels the newest order of `account`.
    fn cancel_newest(&mut self, account: u32) -> Vec<Output> {
        let newest = OrderId(self.engine.next_order_id().0 - 1);
        self.run(Command::cancel(
            AccountId(account),
            OrderRef::Id(newest),
            ClientOrderId::EMPTY,
        ))
    }
}

fn md_config() -> MarketDataConfig {
    MarketDataConfig {
        ws_listen: Some("127.0.0.1:0".parse().expect("address")),
        messages_per_second: 1000,
        burst: 1000,
        ..MarketDataConfig::default()
    }
}

fn start(config: &MarketDataConfig, exchange: &Exchange) -> (Feed, Arc<FeedMetrics>, SocketAddr) {
    let metrics = Arc::new(FeedMetrics::default());
    let feed = Feed::start(
        config,
        engine_config(),
        exchange.market.clone(),
        Arc::clone(&metrics),
    )
    .expect("feed starts");
    let addr = feed.ws_addr().expect("the feed listens");
    (feed, metrics, addr)
}

/// Hands a command's events to the feed as the gateway's loop does: push each, flush the batch.
fn deliver(feed: &mut Feed, outs: &[Output]) {
    for out in outs {
        assert!(feed.push(out), "the queue has room");
    }
    feed.flush();
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

fn connect(addr: SocketAddr) -> Ws {
    let (mut ws, _) = tungstenite::connect(format!("ws://{addr}")).expect("WebSocket handshake");
    set_timeout(&mut ws, WAIT);
    ws
}

fn set_timeout(ws: &mut Ws, timeout: Duration) {
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = ws.get_mut() {
        stream.set_read_timeout(Some(timeout)).expect("timeout");
    }
}

fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).expect("send");
}

/// The next text message as JSON (within `WAIT`, or the test fails).
fn next(ws: &mut Ws) -> Value {
    loop {
        match ws.read().expect("a message within the wait") {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next message, which must be of `kind`.
fn expect(ws: &mut Ws, kind: &str) -> Value {
    let message = next(ws);
    assert_eq!(message["type"], kind, "expected a {kind}: {message}");
    message
}

/// Nothing arrives for `quiet`.
fn assert_silent(ws: &mut Ws, quiet: Duration) {
    set_timeout(ws, quiet);
    match ws.read() {
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("expected silence, got {other:?}"),
    }
    set_timeout(ws, WAIT);
}

/// Whether the server closes the connection within `WAIT` (text before the close is skipped).
fn closed_by_server(ws: &mut Ws) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Close(_)) => return true,
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
    false
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn is_rfc3339_micros(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    text.len() == 27
        && text.ends_with('Z')
        && text.as_bytes()[10] == b'T'
        && text.as_bytes()[19] == b'.'
        && text.starts_with("2025-12-05T09:11:15.")
}

#[test]
fn a_subscriber_gets_snapshot_ticker_status_then_updates_matches_and_halts() {
    let mut exchange = Exchange::new();
    exchange.limit(1, Side::Buy, 1000, 5000);
    let (mut feed, metrics, addr) = start(&md_config(), &exchange);
    let mut ws = connect(addr);
    send(&mut ws, ALL_CHANNELS);

    let subscriptions = expect(&mut ws, "subscriptions");
    let channels = subscriptions["channels"].as_array().expect("channels");
    let names: Vec<&str> = channels.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["level2", "matches", "ticker", "status"]);
    for channel in channels {
        assert_eq!(channel["product_ids"], serde_json::json!(["BTC-JPY"]));
    }
    let snapshot = expect(&mut ws, "snapshot");
    assert_eq!(snapshot["product_id"], "BTC-JPY");
    assert_eq!(snapshot["sequence"], 1);
    assert_eq!(snapshot["bids"], serde_json::json!([["1000", "0.5"]]));
    assert_eq!(snapshot["asks"], serde_json::json!([]));
    let ticker = expect(&mut ws, "ticker");
    assert_eq!(ticker["sequence"], 1);
    assert_eq!(ticker["best_bid"], "1000");
    assert_eq!(ticker["best_bid_size"], "0.5");
    assert_eq!(ticker["best_ask"], Value::Null);
    assert_eq!(ticker["price"], Value::Null);
    let status = expect(&mut ws, "status");
    assert_eq!(
        (status["status"].as_str(), status["sequence"].as_u64()),
        (Some("open"), Some(1))
    );
    assert_eq!(get(&metrics.subscriptions), 4);

    // An offer rests: its level, then the ticker.
    let outs = exchange.limit(2, Side::Sell, 1010, 2000);
    deliver(&mut feed, &outs);
    let l2 = expect(&mut ws, "l2update");
    assert_eq!(l2["sequence"], 2);
    assert_eq!(l2["changes"], serde_json::json!([["sell", "1010", "0.2"]]));
    assert!(is_rfc3339_micros(&l2["time"]), "time: {}", l2["time"]);
    let ticker = expect(&mut ws, "ticker");
    assert_eq!(
        (
            ticker["best_ask"].as_str(),
            ticker["best_ask_size"].as_str()
        ),
        (Some("1010"), Some("0.2"))
    );
    assert_eq!(ticker["sequence"], 2);

    // A buyer takes part of it: the level change, the match (the maker sold), the ticker.
    let outs = exchange.limit(1, Side::Buy, 1010, 500);
    deliver(&mut feed, &outs);
    let l2 = expect(&mut ws, "l2update");
    assert_eq!(l2["sequence"], 3);
    assert_eq!(l2["changes"], serde_json::json!([["sell", "1010", "0.15"]]));
    let trade = expect(&mut ws, "match");
    assert_eq!(trade["sequence"], 3);
    assert_eq!(trade["product_id"], "BTC-JPY");
    assert_eq!(trade["side"], "sell", "the maker's side: {trade}");
    assert_eq!(
        (trade["price"].as_str(), trade["size"].as_str()),
        (Some("1010"), Some("0.05"))
    );
    assert!(trade["trade_id"].is_u64());
    assert!(is_rfc3339_micros(&trade["time"]));
    let ticker = expect(&mut ws, "ticker");
    assert_eq!(
        (ticker["price"].as_str(), ticker["last_size"].as_str()),
        (Some("1010"), Some("0.05"))
    );
    assert_eq!(ticker["best_ask_size"], "0.15");

    // Halt and resume: status messages, each with the next sequence — and on level2 an
    // l2update without changes, so that channel alone has every sequence number.
    deliver(&mut feed, &exchange.run(Command::halt(Some(BTC))));
    let empty = expect(&mut ws, "l2update");
    assert_eq!(
        (
            empty["sequence"].as_u64(),
            empty["changes"].as_array().map(Vec::len)
        ),
        (Some(4), Some(0))
    );
    let halted = expect(&mut ws, "status");
    assert_eq!(
        (halted["status"].as_str(), halted["sequence"].as_u64()),
        (Some("halted"), Some(4))
    );
    assert!(is_rfc3339_micros(&halted["time"]));
    deliver(&mut feed, &exchange.run(Command::resume(Some(BTC))));
    assert_eq!(expect(&mut ws, "l2update")["sequence"].as_u64(), Some(5));
    let open = expect(&mut ws, "status");
    assert_eq!(
        (open["status"].as_str(), open["sequence"].as_u64()),
        (Some("open"), Some(5))
    );

    // Unsubscribing level2 and matches leaves ticker and status.
    send(
        &mut ws,
        r#"{"type":"unsubscribe","product_ids":["BTC-JPY"],"channels":["level2","matches"]}"#,
    );
    let subscriptions = expect(&mut ws, "subscriptions");
    assert_eq!(
        subscriptions["channels"],
        serde_json::json!([{"name":"ticker","product_ids":["BTC-JPY"]},{"name":"status","product_ids":["BTC-JPY"]}])
    );
    deliver(&mut feed, &exchange.limit(1, Side::Buy, 1005, 100));
    let ticker = expect(&mut ws, "ticker");
    assert_eq!(
        (ticker["best_bid"].as_str(), ticker["sequence"].as_u64()),
        (Some("1005"), Some(6))
    );
    // A change that leaves the ticker alone sends nothing to this subscriber.
    deliver(&mut feed, &exchange.limit(1, Side::Buy, 990, 100));
    assert_silent(&mut ws, Duration::from_millis(300));

    // Unsubscribing everything: nothing more, whatever happens.
    send(
        &mut ws,
        r#"{"type":"unsubscribe","channels":[{"name":"ticker","product_ids":["BTC-JPY"]},{"name":"status","product_ids":["BTC-JPY"]}]}"#,
    );
    assert_eq!(
        expect(&mut ws, "subscriptions")["channels"],
        serde_json::json!([])
    );
    assert_eq!(get(&metrics.subscriptions), 0);
    deliver(&mut feed, &exchange.limit(1, Side::Buy, 1008, 100));
    deliver(&mut feed, &exchange.run(Command::halt(Some(BTC))));
    assert_silent(&mut ws, Duration::from_millis(300));
    assert!(get(&metrics.updates) >= 8, "the feed applied every update");
    feed.stop();
}

#[test]
fn an_update_is_encoded_once_per_channel_whatever_the_number_of_subscribers() {
    let mut exchange = Exchange::new();
    let (mut feed, metrics, addr) = start(&md_config(), &exchange);
    let mut subscribers: Vec<Ws> = (0..5).map(|_| connect(addr)).collect();
    for ws in &mut subscribers {
        send(
            ws,
            r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2"]}"#,
        );
        expect(ws, "subscriptions");
        expect(ws, "snapshot");
    }
    let (encodes, bytes) = (get(&metrics.encodes), get(&metrics.encoded_bytes));
    deliver(&mut feed, &exchange.limit(1, Side::Buy, 1000, 100));
    let mut texts = Vec::new();
    for ws in &mut subscribers {
        texts.push(expect(ws, "l2update").to_string());
    }
    assert!(
        texts.windows(2).all(|w| w[0] == w[1]),
        "the same bytes for all: {texts:?}"
    );
    assert_eq!(
        get(&metrics.encodes),
        encodes + 1,
        "one l2update encode for five subscribers"
    );
    assert!(get(&metrics.encoded_bytes) > bytes);
    feed.stop();
}

#[test]
fn bad_requests_get_an_error_and_the_connection_stays_usable() {
    let exchange = Exchange::new();
    let (feed, metrics, addr) = start(&md_config(), &exchange);
    let mut ws = connect(addr);
    for (bad, why) in [
        ("not json", "malformed JSON"),
        (r#"{"type":"dance"}"#, "unknown message type"),
        (
            r#"{"type":"subscribe","product_ids":["NOPE-JPY"],"channels":["level2"]}"#,
            "unknown product",
        ),
        (
            r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["gossip"]}"#,
            "unknown channel",
        ),
        (
            r#"{"type":"subscribe","product_ids":"BTC-JPY","channels":["level2"]}"#,
            "must be a list",
        ),
        (
            r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":[7]}"#,
            "names or objects",
        ),
        (r#"[1,2,3]"#, "type"),
        (
            r#"{"type":"subscribe","product_ids":["\u0000\"<x>"],"channels":["level2"]}"#,
            "unknown product",
        ),
    ] {
        send(&mut ws, bad);
        let error = expect(&mut ws, "error");
        let message = error["message"].as_str().expect("a message");
        assert!(message.contains(why), "{bad}: {message}");
    }
    ws.send(Message::binary(vec![0xff, 0x00])).expect("send");
    expect(&mut ws, "error");
    assert_eq!(get(&metrics.malformed), 9);
    send(
        &mut ws,
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["status"]}"#,
    );
    expect(&mut ws, "subscriptions");
    assert_eq!(expect(&mut ws, "status")["status"], "open");
    feed.stop();
}

#[test]
fn an_oversized_frame_closes_the_connection() {
    let exchange = Exchange::new();
    let config = MarketDataConfig {
        max_message_size: 1024,
        ..md_config()
    };
    let (feed, metrics, addr) = start(&config, &exchange);
    let mut ws = connect(addr);
    // Just under the limit is still a message (answered: it is not JSON).
    send(&mut ws, &"x".repeat(1000));
    expect(&mut ws, "error");
    let _ = ws.send(Message::text("x".repeat(8 * 1024)));
    assert!(
        closed_by_server(&mut ws),
        "an oversized frame closes the connection"
    );
    wait_for("the connection to be counted closed", || {
        get(&metrics.connections) == 0
    });
    feed.stop();
}

#[test]
fn subscriptions_past_the_cap_are_refused_with_an_error() {
    let exchange = Exchange::new();
    let config = MarketDataConfig {
        max_subscriptions: 3,
        ..md_config()
    };
    let (feed, metrics, addr) = start(&config, &exchange);
    let mut ws = connect(addr);
    send(&mut ws, ALL_CHANNELS);
    let error = expect(&mut ws, "error");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("too many subscriptions")),
        "{error}"
    );
    assert_eq!(
        get(&metrics.subscriptions),
        0,
        "a refused request subscribes to nothing"
    );
    send(
        &mut ws,
        r#"{"type":"subscribe","product_ids":["BTC-JPY","ETH-JPY"],"channels":["status"]}"#,
    );
    expect(&mut ws, "subscriptions");
    for product in ["BTC-JPY", "ETH-JPY"] {
        assert_eq!(expect(&mut ws, "status")["product_id"], product);
    }
    // Repeating a subscription does not count twice.
    send(
        &mut ws,
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["status","ticker"]}"#,
    );
    assert_eq!(
        expect(&mut ws, "subscriptions")["channels"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    expect(&mut ws, "ticker");
    send(
        &mut ws,
        r#"{"type":"subscribe","product_ids":["ETH-JPY"],"channels":["ticker"]}"#,
    );
    expect(&mut ws, "error");
    assert_eq!(get(&metrics.subscriptions), 3);
    feed.stop();
}

#[test]
fn the_per_address_cap_refuses_extra_connections() {
    let exchange = Exchange::new();
    let config = MarketDataConfig {
        max_connections_per_address: 2,
        ..md_config()
    };
    let (feed, metrics, addr) = start(&config, &exchange);
    let first = connect(addr);
    let mut second = connect(addr);
    assert!(
        tungstenite::connect(format!("ws://{addr}")).is_err(),
        "a third is refused"
    );
    assert_eq!(get(&metrics.refused), 1);
    assert_eq!(get(&metrics.connections), 2);
    // The two still work; once one leaves there is room again.
    send(
        &mut second,
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["status"]}"#,
    );
    expect(&mut second, "subscriptions");
    drop(first);
    wait_for("the closed connection to free its place", || {
        get(&metrics.connections) == 1
    });
    let _third = connect(addr);
    feed.stop();
}

#[test]
fn handshakes_and_subscriptions_that_never_come_time_out() {
    let exchange = Exchange::new();
    let config = MarketDataConfig {
        handshake_timeout_s: 1,
        idle_timeout_s: 1,
        ..md_config()
    };
    let (feed, metrics, addr) = start(&config, &exchange);
    let mut silent = TcpStream::connect(addr).expect("connect");
    silent.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut idle = connect(addr);
    let mut busy = connect(addr);
    send(
        &mut busy,
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["status"]}"#,
    );
    expect(&mut busy, "subscriptions");
    let started = Instant::now();
    let mut buf = [0u8; 64];
    assert!(
        matches!(silent.read(&mut buf), Ok(0) | Err(_)),
        "no handshake: closed"
    );
    assert!(closed_by_server(&mut idle), "no subscription: closed");
    assert!(started.elapsed() < Duration::from_secs(5));
    wait_for("the subscribed connection alone", || {
        get(&metrics.connections) == 1
    });
    expect(&mut busy, "status");
    assert_silent(&mut busy, Duration::from_millis(200));
    feed.stop();
}

/// Reads l2updates until `target` (set by the test once it knows it), checking that each is the
/// sequence after the last; returns how many it read. It polls with short reads so it sees the
/// target even when the last update came before it was set.
fn read_every_update(mut ws: Ws, first: u64, seen: Arc<AtomicU64>, target: Arc<AtomicU64>) -> u64 {
    set_timeout(&mut ws, Duration::from_millis(50));
    let mut last = first;
    let mut count = 0;
    let mut quiet_since = Instant::now();
    while last < target.load(Ordering::SeqCst) {
        let message = match ws.read() {
            Ok(Message::Text(text)) => text,
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                assert!(
                    quiet_since.elapsed() < WAIT,
                    "the reader waited in vain after {last}"
                );
                continue;
            }
            Err(e) => panic!("the reader lost its connection after {last}: {e}"),
        };
        quiet_since = Instant::now();
        let message: Value = serde_json::from_str(message.as_str()).expect("JSON");
        if message["type"] != "l2update" {
            continue;
        }
        let sequence = message["sequence"].as_u64().expect("sequence");
        assert_eq!(sequence, last + 1, "no gap in the reader's stream");
        last = sequence;
        count += 1;
        seen.store(last, Ordering::SeqCst);
    }
    count
}

#[test]
fn a_subscriber_that_never_reads_is_dropped_while_another_sees_every_update() {
    let mut exchange = Exchange::new();
    let config = MarketDataConfig {
        max_queued_bytes: 256 * 1024,
        ..md_config()
    };
    let (mut feed, metrics, addr) = start(&config, &exchange);
    let mut sleeper = connect(addr);
    send(&mut sleeper, ALL_CHANNELS);
    let mut reader = connect(addr);
    send(&mut reader, ALL_CHANNELS);
    expect(&mut reader, "subscriptions");
    let first = expect(&mut reader, "snapshot")["sequence"]
        .as_u64()
        .expect("sequence");
    let seen = Arc::new(AtomicU64::new(first));
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let reading = {
        let (seen, target) = (Arc::clone(&seen), Arc::clone(&target));
        std::thread::spawn(move || read_every_update(reader, first, seen, target))
    };

    // Each command moves the best bid: an l2update and a ticker, ~400 bytes to each subscriber.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut commands = 0u64;
    while get(&metrics.slow_disconnects) == 0 {
        assert!(Instant::now() < deadline, "the sleeper was never dropped");
        for i in 0..100u64 {
            let outs = if i % 2 == 0 {
                exchange.limit(1, Side::Buy, 2000 + (commands % 50), 1)
            } else {
                exchange.cancel_newest(1)
            };
            deliver(&mut feed, &outs);
            commands += 1;
        }
        // The reader keeps up before the next batch, so only the sleeper can overflow.
        let sequence = exchange.market.sequence(BTC);
        wait_for("the reader to keep up", || {
            seen.load(Ordering::SeqCst) >= sequence
        });
    }
    target.store(exchange.market.sequence(BTC), Ordering::SeqCst);
    let read = reading
        .join()
        .expect("the reader saw every update in order");
    assert_eq!(read, commands, "one l2update per command");
    assert_eq!(get(&metrics.slow_disconnects), 1, "only the sleeper");
    assert!(
        closed_by_server(&mut sleeper),
        "the sleeper finds its connection closed"
    );
    // The reader's connection went with its thread: none is left.
    wait_for("the sleeper's place to be freed", || {
        get(&metrics.connections) == 0
    });
    feed.stop();
}

#[test]
fn a_feed_that_falls_behind_is_reset_and_its_subscribers_resubscribe() {
    let mut exchange = Exchange::new();
    let (mut feed, metrics, addr) = start(&md_config(), &exchange);
    let mut ws = connect(addr);
    send(
        &mut ws,
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["status"]}"#,
    );
    expect(&mut ws, "subscriptions");
    expect(&mut ws, "status");

    // Bursts far larger than the feed's queue, pushed as fast as possible, until it overflows.
    let mut rounds = 0;
    while !feed.needs_reset() {
        rounds += 1;
        assert!(rounds <= 20, "the queue never overflowed");
        let mut burst = Vec::with_capacity(200_000);
        for i in 0..50_000u64 {
            burst.extend(exchange.limit(1, Side::Buy, 3000 + i % 100, 1));
            burst.extend(exchange.cancel_newest(1));
        }
        for out in &burst {
            if !feed.push(out) {
                break;
            }
        }
        feed.flush();
    }
    assert!(
        !feed.push(&exchange.limit(1, Side::Buy, 2500, 7)[0]),
        "nothing queues once behind"
    );
    let deadline = Instant::now() + WAIT;
    while !feed.push_reset(&exchange.market) {
        assert!(Instant::now() < deadline, "the queue never drained");
        std::thread::sleep(Duration::from_millis(1));
    }
    feed.flush();
    assert!(!feed.needs_reset());
    let error = expect(&mut ws, "error");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("resubscribe")),
        "{error}"
    );
    assert!(closed_by_server(&mut ws), "a reset subscriber is closed");
    wait_for("the reset to be counted", || get(&metrics.resets) == 1);

    // After it, the feed is the gateway's builder again: snapshot and /book agree with it.
    let mut again = connect(addr);
    send(
        &mut again,
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2"]}"#,
    );
    expect(&mut again, "subscriptions");
    let snapshot = expect(&mut again, "snapshot");
    let sequence = exchange.market.sequence(BTC);
    assert_eq!(snapshot["sequence"].as_u64(), Some(sequence));
    assert_eq!(snapshot["bids"], serde_json::json!([["2500", "0.0007"]]));
    deliver(&mut feed, &exchange.cancel_newest(1));
    let l2 = expect(&mut again, "l2update");
    assert_eq!(l2["sequence"].as_u64(), Some(sequence + 1));
    assert_eq!(l2["changes"], serde_json::json!([["buy", "2500", "0"]]));
    feed.stop();
}

#[test]
fn book_and_trades_pages_come_from_the_feeds_builder() {
    let mut exchange = Exchange::new();
    let (mut feed, _metrics, _addr) = start(&md_config(), &exchange);
    for (side, price, lots) in [
        (Side::Buy, 1000, 5000),
        (Side::Buy, 1000, 2500),
        (Side::Buy, 990, 100),
        (Side::Sell, 1020, 3000),
        (Side::Sell, 1030, 100),
    ] {
        let account = if side == Side::Buy { 1 } else { 2 };
        deliver(&mut feed, &exchange.limit(account, side, price, lots));
    }
    deliver(&mut feed, &exchange.limit(1, Side::Buy, 1020, 1000));
    deliver(&mut feed, &exchange.limit(2, Side::Sell, 1000, 2000));
    let sequence = exchange.market.sequence(BTC);
    let query = |path: &str| -> (u16, Value) {
        let (code, body) = feed.query(path).expect("a market-data path");
        (code, serde_json::from_str(&body).expect("JSON"))
    };
    // The feed applies events on its own thread: wait until it has this one.
    wait_for("the feed to apply the last command", || {
        query("/book/BTC-JPY").1["sequence"].as_u64() == Some(sequence)
    });
    let (code, book) = query("/book/BTC-JPY?depth=0");
    assert_eq!(code, 200);
    assert_eq!(book["product_id"], "BTC-JPY");
    assert_eq!(
        book["bids"],
        serde_json::json!([["1000", "0.55", 2], ["990", "0.01", 1]])
    );
    assert_eq!(
        book["asks"],
        serde_json::json!([["1020", "0.2", 1], ["1030", "0.01", 1]])
    );
    let (_, top) = query("/book/BTC-JPY?depth=1");
    assert_eq!(top["bids"], serde_json::json!([["1000", "0.55", 2]]));
    assert_eq!(top["asks"], serde_json::json!([["1020", "0.2", 1]]));

    let (code, trades) = query("/trades/BTC-JPY");
    assert_eq!(code, 200);
    let trades = trades.as_array().expect("a list");
    assert_eq!(trades.len(), 2);
    // Newest first: the sell that hit the bid (the maker bought), then the buy that lifted 1020.
    assert_eq!(
        (
            trades[0]["side"].as_str(),
            trades[0]["price"].as_str(),
            trades[0]["size"].as_str()
        ),
        (Some("buy"), Some("1000"), Some("0.2"))
    );
    assert_eq!(
        (
            trades[1]["side"].as_str(),
            trades[1]["price"].as_str(),
            trades[1]["size"].as_str()
        ),
        (Some("sell"), Some("1020"), Some("0.1"))
    );
    assert!(trades[0]["trade_id"].as_u64() > trades[1]["trade_id"].as_u64());
    assert!(is_rfc3339_micros(&trades[0]["time"]));
    assert_eq!(
        query("/trades/BTC-JPY?limit=1").1.as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(query("/trades/ETH-JPY").1, serde_json::json!([]));
    assert_eq!(query("/book/ETH-JPY").1["sequence"], 0);

    assert_eq!(query("/book/NOPE-JPY").0, 404);
    assert_eq!(query("/trades/NOPE-JPY").1["message"], "unknown product");
    assert_eq!(query("/book/BTC-JPY?depth=abc").0, 400);
    assert_eq!(query("/trades/BTC-JPY?limit=-1").0, 400);
    assert!(feed.query("/status").is_none(), "not a market-data path");
    feed.stop();
}

#[test]
fn a_hostile_crowd_does_not_stop_the_good_subscriber() {
    let mut exchange = Exchange::new();
    let config = MarketDataConfig {
        max_connections: 2000,
        max_connections_per_address: 2000,
        messages_per_second: 5,
        burst: 10,
        ..md_config()
    };
    let (mut feed, metrics, addr) = start(&config, &exchange);
    let mut good = connect(addr);
    send(
        &mut good,
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2","matches"]}"#,
    );
    expect(&mut good, "subscriptions");
    let mut sequence = expect(&mut good, "snapshot")["sequence"]
        .as_u64()
        .expect("sequence");

    let idle: Vec<Ws> = (0..1000).map(|_| connect(addr)).collect();
    assert_eq!(get(&metrics.connections), 1001);
    // Garbage before the handshake, frames that break the protocol, floods of nonsense.
    let mut junk: Vec<TcpStream> = (0..20)
        .map(|n| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            let _ = stream.write_all(&[0x00, 0xff, b'G', n as u8, b'\r', b'\n', b'\r', b'\n']);
            stream
        })
        .collect();
    let mut breakers: Vec<Ws> = (0..10u8)
        .map(|n| {
            let mut ws = connect(addr);
            // An unmasked frame with a reserved opcode: a client must mask, and 0x3 means nothing.
            let _ = ws.get_mut().write_all(&[0x83, 0x02, n, n]);
            ws
        })
        .collect();
    let mut flooders: Vec<Ws> = (0..10).map(|_| connect(addr)).collect();
    let mut trader = 0u64;
    for round in 0..50u64 {
        // 200 messages each: past the burst, then past the strikes that close the connection.
        for flooder in &mut flooders {
            for _ in 0..4 {
                let _ = flooder.send(Message::text(format!(
                    "{{\"type\":\"subscribe\",\"product_ids\":[{round}"
                )));
            }
        }
        for _ in 0..10 {
            let side = if trader % 3 == 0 {
                Side::Sell
            } else {
                Side::Buy
            };
            let account = if side == Side::Buy { 1 } else { 2 };
            deliver(
                &mut feed,
                &exchange.limit(account, side, 1000 + trader % 7, 10),
            );
            trader += 1;
        }
    }
    // The good subscriber saw every update, in order.
    let last = exchange.market.sequence(BTC);
    while sequence < last {
        let message = next(&mut good);
        if message["type"] != "l2update" {
            assert_eq!(message["type"], "match", "{message}");
            continue;
        }
        let next_sequence = message["sequence"].as_u64().expect("sequence");
        assert_eq!(next_sequence, sequence + 1, "no gap under the crowd");
        sequence = next_sequence;
    }
    // Breakers and flooders are closed, the junk is refused, the idle crowd is still there.
    for ws in breakers.iter_mut().chain(flooders.iter_mut()) {
        assert!(
            closed_by_server(ws),
            "a protocol breaker or a flooder is closed"
        );
    }
    for stream in &mut junk {
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut buf = [0u8; 256];
        let answer = stream.read(&mut buf);
        assert!(
            matches!(answer, Ok(0) | Err(_)) || buf.starts_with(b"HTTP/1.1 4"),
            "junk gets no WebSocket: {answer:?}"
        );
    }
    wait_for("only the idle crowd and the good subscriber", || {
        get(&metrics.connections) == 1001
    });
    assert!(
        get(&metrics.malformed) >= 10,
        "the floods were answered before the close"
    );
    let (code, _) = feed.query("/book/BTC-JPY").expect("answered");
    assert_eq!(code, 200, "the feed's thread is alive");
    drop(idle);
    wait_for("the crowd to leave", || get(&metrics.connections) == 1);
    feed.stop();
}

#[test]
fn a_flood_that_arrives_in_one_piece_is_read_to_the_end() {
    // Readiness is edge-triggered and one pass reads a bounded share of a connection: what is
    // left must still be read, or a flood written at once would sit unread below the strikes.
    let exchange = Exchange::new();
    let config = MarketDataConfig {
        messages_per_second: 5,
        burst: 10,
        ..md_config()
    };
    let (feed, metrics, addr) = start(&config, &exchange);
    let mut flooder = connect(addr);
    for _ in 0..300 {
        // Queued, not yet written: the 300 frames leave in one write at the flush.
        flooder
            .write(Message::text(r#"{"type":"ping"}"#))
            .expect("queued");
    }
    flooder.flush().expect("sent at once");
    assert!(closed_by_server(&mut flooder), "the flooder is closed");
    wait_for("the flooder to be gone", || get(&metrics.connections) == 0);
    feed.stop();
}

/// BEHAVIOUR.md §10 with §9: a circuit breaker's halt and its timed resume reach the market-data
/// builder as status changes, as an operator's do. BTC-JPY has no reference price, so its first
/// trade (1000) anchors it: bounds [900, 1100] at 1000 bps; commands are 1 µs apart and the halt
/// lasts 3 µs.
#[test]
fn a_circuit_breakers_halt_and_timed_resume_change_the_status() {
    use hayate::market_data::TradingStatus;
    let mut config = engine_config();
    config.symbols[0].breaker = Some(BreakerSpec {
        bps: 1000,
        window_ns: 1_000_000,
        halt_ns: 3_000,
    });
    let mut exchange = Exchange::with_config(config);
    exchange.limit(2, Side::Sell, 1000, 1);
    exchange.limit(2, Side::Sell, 2000, 1);
    exchange.limit(1, Side::Buy, 1000, 1);
    assert_eq!(exchange.market.status(BTC), TradingStatus::Open);
    let outs = exchange.limit(1, Side::Buy, 2000, 1);
    let last = outs.last().expect("events").event;
    assert_eq!(
        (last.event_kind(), last.reason()),
        (Some(EventKind::Halted), Reason::CircuitBreaker)
    );
    assert_eq!(exchange.market.status(BTC), TradingStatus::Halted);
    let halted_at = exchange.market.sequence(BTC);
    // Two commands later (2 µs) it still holds; the third (3 µs) resumes it first.
    exchange.limit(1, Side::Buy, 900, 1);
    exchange.limit(1, Side::Buy, 900, 1);
    assert_eq!(exchange.market.status(BTC), TradingStatus::Halted);
    let outs = exchange.limit(1, Side::Buy, 900, 1);
    assert_eq!(
        (outs[0].event.event_kind(), outs[0].event.reason()),
        (Some(EventKind::Resumed), Reason::CircuitBreaker)
    );
    assert_eq!(exchange.market.status(BTC), TradingStatus::Open);
    assert!(exchange.market.sequence(BTC) > halted_at);
}
