//! Alerts without Prometheus (`[alerts] webhook`, issue 15): a test HTTP server in this process
//! receives the gateway's JSON alerts for a disk-guard trip and for a standby lost and back; and
//! a webhook that accepts connections and never answers does not slow order entry (order → ack
//! measured with and without it, while alerts keep firing). Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hayate::adapters::binary::messages::{ClientMessage, HaltTarget};
use hayate::adapters::gateway::Gateway;
use hayate_testkit::gateway::*;
use serde_json::Value;

/// Reads one HTTP request (headers, then `Content-Length` bytes of body); `None` if the peer
/// closed or stalled first.
fn read_request(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&request).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|l| l.trim().parse().ok())?;
            if request.len() >= end + 4 + length {
                return Some(text[end + 4..].to_owned());
            }
        }
    }
}

/// A webhook receiver answering 200 to every POST, handing each body on.
fn receiver() -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            if let Some(body) = read_request(&mut stream) {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                if tx.send(body).is_err() {
                    return;
                }
            }
        }
    });
    (addr, rx)
}

/// A webhook that accepts every connection and never answers (nor closes).
fn hanging_webhook() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            held.push(stream);
        }
    });
    addr
}

/// The next alert named `name` in `state`, skipping others; fails after [`WAIT`] times two.
fn wait_alert(alerts: &mpsc::Receiver<String>, name: &str, state: &str) -> Value {
    let deadline = Instant::now() + 2 * WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let body = alerts
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {name} {state} alert came"));
        let alert: Value = serde_json::from_str(&body).expect("the body is JSON");
        if alert["alert"] == name && alert["state"] == state {
            return alert;
        }
    }
}

fn alerts_section(webhook: SocketAddr, extra: &str) -> String {
    format!("[alerts]\nwebhook = \"http://{webhook}/hooks/hayate\"\n{extra}\n")
}

#[test]
fn a_disk_guard_tripped_at_start_is_posted_to_the_webhook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (webhook, alerts) = receiver();
    // A threshold above what the disk has free: the guard trips at the first probe.
    let free_mb = hayate::adapters::disk_guard::free_bytes(dir.path()).expect("statvfs") >> 20;
    let text = config_toml(dir.path(), None, &alerts_section(webhook, "")).replace(
        "min_free_mb = 128",
        &format!("min_free_mb = {}", free_mb + 1024),
    );
    let config = hayate::ExchangeConfig::from_toml_str(&text, "alerts.toml").expect("valid");
    let gateway = start(config);
    assert!(gateway.disk_guard().is_tripped());
    let alert = wait_alert(&alerts, "disk_guard", "firing");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(
        alert["node"],
        format!("HAYATE@{}", gateway.addrs().http).as_str()
    );
    let summary = alert["summary"].as_str().expect("a summary");
    assert!(summary.starts_with("disk guard tripped"), "{summary}");
    let time = alert["time"].as_str().expect("a time");
    assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
    assert_eq!(
        alert["details"]["min_free_bytes"].as_u64(),
        Some((free_mb + 1024) << 20)
    );
    assert!(
        alert["details"]["free_bytes"]
            .as_u64()
            .is_some_and(|f| f > 0)
    );
    // Counted once the webhook's answer is read.
    let deadline = Instant::now() + WAIT;
    while gateway.alert_counters().sent.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the delivery was not counted");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (_, metrics) =
        hayate::adapters::http::get(gateway.addrs().http, "/metrics", WAIT).expect("/metrics");
    assert!(
        metrics.contains("\nhayate_alerts_sent_total 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("\nhayate_alerts_dropped_total 0\n"));
    gateway.stop().expect("stops");
}

const PAIR_SECRET: &str = "alert-webhook-test-pair-secret";

#[test]
fn a_standby_lost_and_back_is_posted_to_the_webhook() {
    let (webhook, alerts) = receiver();
    let primary_dir = tempfile::tempdir().expect("tempdir");
    let standby_dir = tempfile::tempdir().expect("tempdir");
    let pair = |role: &str, address: &str| {
        format!(
            "[replication]\nsecret = \"{PAIR_SECRET}\"\nrole = \"{role}\"\n{address}\n\
             mode = \"sync\"\nheartbeat_ms = 50\nack_timeout_ms = 200\n"
        )
    };
    let primary = start(config(
        primary_dir.path(),
        None,
        &format!(
            "{}{}",
            pair("primary", "listen = \"127.0.0.1:0\""),
            alerts_section(webhook, "")
        ),
    ));
    // No standby yet: the primary says so at once.
    let lost = wait_alert(&alerts, "replication", "firing");
    assert_eq!(lost["details"]["role"], "primary");
    assert_eq!(lost["details"]["connected"], false);
    let listen = primary.replication_addr().expect("the primary listens");
    let standby = start(config(
        standby_dir.path(),
        None,
        &pair("standby", &format!("primary = \"{listen}\"")),
    ));
    let deadline = Instant::now() + WAIT;
    while !primary.replication_status().is_some_and(|s| s.connected) {
        assert!(Instant::now() < deadline, "the standby did not connect");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Synchronous replication stays degraded until the standby acknowledges a batch: on an
    // idle exchange, the next order's.
    let mut alice = FixClient::connect(primary.addrs().fix, "ALICE");
    assert_eq!(field(&alice.logon("alice", "change-me", &[]), 35), "A");
    alice.new_order("after-reconnect", "2", "0.0001", "5100000");
    assert_eq!(field(&alice.recv_type("8"), 39), "0");
    let back = wait_alert(&alerts, "replication", "resolved");
    assert_eq!(
        back["summary"],
        "standby back: the pair is replicating again"
    );
    assert_eq!(back["details"]["connected"], true);

    let stopped = Instant::now();
    standby.stop().expect("the standby stops");
    let lost = wait_alert(&alerts, "replication", "firing");
    println!(
        "standby stopped → replication alert received in {} ms: {lost}",
        stopped.elapsed().as_millis()
    );
    assert_eq!(lost["severity"], "critical");
    let summary = lost["summary"].as_str().expect("a summary");
    assert!(summary.starts_with("standby lost"), "{summary}");
    primary.stop().expect("the primary stops");
}

/// A second symbol to halt and resume while BTC-JPY trades: each halt and resume is an alert.
const TOGGLED: &str = r#"
[[symbols]]
name = "XBT-JPY"
base = "BTC"
quote = "JPY"
tick_size = "1"
lot_size = "0.0001"
min_qty = "0.0001"
max_qty = "1000"
band_bps = 1000
reference_price = "5000000"
"#;

/// No rate limit in the way of the orders.
const LIMITS: &str = "[limits]\nmessages_per_second = 1000000\nburst = 1000000";

/// Order → ack round trips over FIX (microseconds, sorted): `orders` resting sells one after
/// the other, 10 ms apart, while an admin halts and resumes XBT-JPY every 250 ms (longer than
/// the watcher's 200 ms, so each is seen and alerted).
fn round_trips(gateway: &Gateway, orders: usize) -> Vec<u64> {
    let addrs = gateway.addrs();
    let toggling = Arc::new(AtomicBool::new(true));
    let toggler = {
        let toggling = Arc::clone(&toggling);
        let mut operator = admin(addrs.binary);
        std::thread::spawn(move || {
            let target = || HaltTarget::new("XBT-JPY").expect("name");
            let mut toggles = 0u32;
            while toggling.load(Ordering::Relaxed) {
                admin_do(&mut operator, ClientMessage::Halt(target()));
                std::thread::sleep(Duration::from_millis(250));
                admin_do(&mut operator, ClientMessage::Resume(target()));
                std::thread::sleep(Duration::from_millis(250));
                toggles += 2;
            }
            toggles
        })
    };
    let mut alice = FixClient::connect(addrs.fix, "ALICE");
    assert_eq!(field(&alice.logon("alice", "change-me", &[]), 35), "A");
    let warm_up = 20;
    let mut trips = Vec::with_capacity(orders);
    for i in 0..warm_up + orders {
        let id = format!("o{i}");
        let sent = Instant::now();
        alice.new_order(&id, "2", "0.0001", "5100000");
        let ack = alice.recv_type("8");
        let took = sent.elapsed();
        assert_eq!(field(&ack, 39), "0", "{id}: {ack:?}");
        if i >= warm_up {
            trips.push(took.as_micros() as u64);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    toggling.store(false, Ordering::Relaxed);
    let toggles = toggler.join().expect("the toggler ends");
    assert!(toggles >= 10, "only {toggles} halts and resumes");
    trips.sort_unstable();
    trips
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[test]
fn a_webhook_that_hangs_does_not_slow_order_entry() {
    const ORDERS: usize = 500;
    let measure = |alerts: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        let extra = format!("{TOGGLED}\n{alerts}");
        let gateway = start(config(dir.path(), Some(LIMITS), &extra));
        let trips = round_trips(&gateway, ORDERS);
        (gateway, trips, dir)
    };

    let (gateway, baseline, _dir) = measure("");
    gateway.stop().expect("stops");

    let hanging = hanging_webhook();
    let timeout_ms = 1000;
    let (gateway, hung, _dir) = measure(&alerts_section(
        hanging,
        &format!("timeout_ms = {timeout_ms}\nretries = 1\nqueue = 4"),
    ));
    let counters = gateway.alert_counters();
    let (sent, failed, dropped) = (
        counters.sent.load(Ordering::Relaxed),
        counters.failed.load(Ordering::Relaxed),
        counters.dropped.load(Ordering::Relaxed),
    );
    // The webhook held every alert, the queue overflowed: alerts fired all along.
    assert_eq!(sent, 0);
    assert!(dropped > 0, "no alert was dropped (failed {failed})");
    let stopping = Instant::now();
    gateway.stop().expect("stops");
    let stop_took = stopping.elapsed();

    let figures = |trips: &[u64]| (percentile(trips, 0.5), percentile(trips, 0.99));
    let (base_p50, base_p99) = figures(&baseline);
    let (hung_p50, hung_p99) = figures(&hung);
    println!(
        "order→ack over FIX, {ORDERS} orders one at a time, XBT-JPY halted and resumed every \
         250 ms: no webhook p50 {base_p50} µs p99 {base_p99} µs; hanging webhook p50 {hung_p50} µs \
         p99 {hung_p99} µs (alerts failed {failed}, dropped {dropped}); stop took {} ms",
        stop_took.as_millis()
    );
    // Nothing waits on the webhook: the median stays within a generous factor of the baseline
    // (the machine is shared; this is not a benchmark).
    assert!(
        hung_p50 <= 3 * base_p50 + 500,
        "the hanging webhook slowed order entry: p50 {hung_p50} µs against {base_p50} µs"
    );
    // Its stop waits for one delivery attempt at most.
    assert!(
        stop_took < Duration::from_millis(timeout_ms + 5_000),
        "the stop took {stop_took:?}"
    );
}
