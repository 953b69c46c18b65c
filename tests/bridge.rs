//! The bridge end to end (issue 16), every part a real process or server: the example gateway
//! (the primary, serving observers), the bridge example as an observer writing to a NATS
//! JetStream server of the test's own, and the md_edge example serving the WebSocket feed from
//! JetStream. Orders go in over FIX while the bridge is SIGKILLed twenty times; afterwards every
//! stream holds exactly what the bridge's applier makes of the gateway's journal (no gap, no
//! duplicate), and the edge's WebSocket messages equal the gateway's own feed.
//!
//! The bridge also writes PostgreSQL; its trades table equals, row by row, the replay tool's CSV
//! of the same journal. Mid-stream, NATS is restarted and PostgreSQL stopped for a while.
//!
//! Without nats-server (Debian's `nats-server`) or PostgreSQL's server binaries the test says so
//! and passes, unless `CI` is set.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};

use hayate::adapters::bridge::{Applied, Applier};
use hayate::journal::JournalReader;
use hayate::{Command, ExchangeConfig};
use hayate_testkit::example::example_binary;
use hayate_testkit::gateway::{FixClient, field};
use hayate_testkit::nats::{NatsReader, NatsServer, nats_server_or_skip};
use hayate_testkit::postgres::{Postgres, trades_as_csv};
use hayate_testkit::process::Spawned;

const LONG: Duration = Duration::from_secs(60);
const OBSERVER_SECRET: &str = "observers-secret-0123456789abcdef";

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// The example's binary, built once per test run (`example_binary` runs cargo each time: a
/// second or more per call, and the bridge is started twenty-one times).
fn binary(example: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(name, _)| name == example) {
        return path.clone();
    }
    let path = example_binary(example);
    built.push((example.to_string(), path.clone()));
    path
}

/// `example` with `args`, run in `dir` (its standard error shown with BRIDGE_LOGS set).
fn start(example: &str, args: &[&str], dir: &Path) -> Spawned {
    let mut command = Process::new(binary(example));
    command.args(args).current_dir(dir);
    Spawned::spawn(example, command, "BRIDGE_LOGS")
}

/// The gateway's configuration: the demo exchange on free ports, order-entry limits raised for
/// the test's pace, a primary with no standby (async) serving observers.
fn gateway_config(
    dir: &Path,
    fix: SocketAddr,
    ws: SocketAddr,
    http: SocketAddr,
    repl: SocketAddr,
) -> String {
    let demo = hayate::config::DEMO_TOML
        .replace("127.0.0.1:9878", &fix.to_string())
        .replace("127.0.0.1:9000", &free_addr().to_string())
        .replace("127.0.0.1:8080", &http.to_string())
        .replace("127.0.0.1:8081", &ws.to_string())
        .replace(
            "dir = \"data\"",
            &format!("dir = {:?}", dir.join("data").display().to_string()),
        )
        .replace("fsync = \"always\"", "fsync = \"never\"")
        .replace("min_free_mb = 1024", "min_free_mb = 128")
        .replace(
            "messages_per_second = 100 ",
            "messages_per_second = 100000 ",
        )
        .replace("burst = 200 ", "burst = 100000 ");
    format!(
        "{demo}\n[replication]\nrole = \"primary\"\nlisten = \"{repl}\"\nmode = \"async\"\n\
         secret = \"bridge-test-pair-secret-0123\"\nobserver_secret = \"{OBSERVER_SECRET}\"\n\
         heartbeat_ms = 50\n"
    )
}

fn logged_on(addr: SocketAddr, comp: &str, user: &str) -> FixClient {
    let mut client = FixClient::connect(addr, comp);
    let logon = client.logon(user, "change-me", &[]);
    assert_eq!(field(&logon, 35), "A", "logon of {user}");
    client
}

/// Alice and bob trade `n` pairs: a resting sell, then a buy that takes it (a trade per pair),
/// every fifth pair at a new price level, waiting for each execution report.
fn trade(alice: &mut FixClient, bob: &mut FixClient, from: u64, n: u64) {
    for i in from..from + n {
        let price = (5_000_000 + (i % 7) * 100).to_string();
        bob.new_order(&format!("s{i}"), "2", "0.01", &price);
        let report = bob.recv_type("8");
        assert_eq!(field(&report, 39), "0", "the sell rests: {report:?}");
        alice.new_order(&format!("b{i}"), "1", "0.01", &price);
        // New, then the fill, for the buyer; the fill for the seller.
        until_filled(alice);
        until_filled(bob);
    }
}

/// Reads execution reports until one says the order is filled.
fn until_filled(client: &mut FixClient) {
    for _ in 0..4 {
        let report = client.recv_type("8");
        if field(&report, 39) == "2" {
            return;
        }
        assert_eq!(field(&report, 39), "0", "new or filled: {report:?}");
    }
    panic!("no fill");
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

fn ws_subscribe(addr: SocketAddr) -> Ws {
    let (mut ws, _) = tungstenite::connect(format!("ws://{addr}")).expect("WebSocket handshake");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = ws.get_mut() {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
    }
    ws.send(tungstenite::Message::text(
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2","matches","ticker","status"]}"#,
    ))
    .expect("subscribe");
    ws
}

/// Every text message `ws` has received until it has been quiet for `quiet`.
fn drain(ws: &mut Ws, into: &mut Vec<serde_json::Value>, quiet: Duration) {
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        match ws.read() {
            Ok(tungstenite::Message::Text(text)) => {
                into.push(serde_json::from_str(&text).expect("JSON"));
                last = Instant::now();
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("WebSocket: {e}"),
        }
    }
}

/// The highest market-data sequence among `messages` (snapshots and updates).
fn last_sequence(messages: &[serde_json::Value]) -> u64 {
    messages
        .iter()
        .filter_map(|m| m["sequence"].as_u64())
        .max()
        .unwrap_or(0)
}

/// The sequence of the level-2 snapshot among `messages`.
fn snapshot_sequence(messages: &[serde_json::Value]) -> Option<u64> {
    messages
        .iter()
        .find(|m| m["type"] == "snapshot")
        .and_then(|m| m["sequence"].as_u64())
}

/// What the market-data messages of a subscription say, without what depends on when it
/// subscribed: the snapshot, then every update, trade, ticker and status message in order.
fn feed_view(messages: &[serde_json::Value]) -> Vec<String> {
    let start = messages
        .iter()
        .position(|m| m["type"] == "snapshot")
        .expect("a snapshot");
    let first_update = messages
        .iter()
        .position(|m| m["type"] == "l2update")
        .unwrap_or(messages.len());
    messages[start..]
        .iter()
        .enumerate()
        // The ticker and status sent on subscribing carry the time of subscribing: skipped.
        .filter(|(i, m)| {
            let kind = m["type"].as_str().unwrap_or("");
            kind == "snapshot" || kind == "l2update" || kind == "match" || start + i > first_update
        })
        .map(|(_, m)| m.to_string())
        .collect()
}

/// `got == want`, or a failure naming the first difference (the lists are long).
fn assert_same(got: &[String], want: &[String], what: &str) {
    if let Some(at) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "{what}: {} messages, the core's {}; first difference at {at}:\n  got  {:?}\n  want {:?}",
            got.len(),
            want.len(),
            got.get(at),
            want.get(at)
        );
    }
}

/// The bridge's `/metrics` sample `name` (with labels as written), if present.
fn metric(addr: SocketAddr, name: &str) -> Option<u64> {
    let (_, body) = hayate::adapters::http::get(addr, "/metrics", Duration::from_secs(2)).ok()?;
    body.lines()
        .find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|v| v as u64)
}

fn write_bridge_config(
    dir: &Path,
    exchange: &Path,
    repl: SocketAddr,
    (nats, postgres): (&str, &str),
    metrics: SocketAddr,
) -> PathBuf {
    let path = dir.join("bridge.toml");
    std::fs::write(
        &path,
        format!(
            "[bridge]\nname = \"bridge-e2e\"\nexchange = {:?}\nnodes = [\"{repl}\"]\n\
             observer_secret = \"{OBSERVER_SECRET}\"\ndata_dir = {:?}\nmetrics = \"{metrics}\"\n\
             batch = 200\nsnapshot_every = 150\nmd_snapshot_every = 25\nmd_state_every = 50\n\
             heartbeat_ms = 50\nretry_ms = 200\n\n[nats]\nurl = \"{nats}\"\n\n\
             [postgres]\nurl = \"{postgres}\"\n",
            exchange.display().to_string(),
            dir.join("bridge-data").display().to_string(),
        ),
    )
    .expect("write the bridge's configuration");
    path
}

/// Every command of the journal under `data`, applied as the bridge applies them.
fn applied(config: &ExchangeConfig, data: &Path) -> Vec<Applied> {
    let reader = JournalReader::open(data.join("journal")).expect("the journal");
    let mut applier = Applier::new(config.engine_config(), 25).with_market_state_every(50);
    reader
        .records_from(1)
        .map(|record| {
            let record = record.expect("a record");
            let command = Command::from_bytes(record.payload).expect("a command");
            applier.apply(record.seq, &command)
        })
        .collect()
}

#[test]
fn twenty_sigkills_of_the_bridge_lose_and_duplicate_nothing_and_the_edge_is_the_cores_feed() {
    if nats_server_or_skip("the bridge end to end").is_none() {
        return;
    }
    let Some(mut postgres) = Postgres::or_skip("the bridge end to end") else {
        return;
    };
    let mut nats = NatsServer::start().expect("nats-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let (fix, ws, http, repl) = (free_addr(), free_addr(), free_addr(), free_addr());
    let exchange = dir.path().join("gateway.toml");
    std::fs::write(&exchange, gateway_config(dir.path(), fix, ws, http, repl)).expect("write");
    let gateway = start(
        "gateway",
        &["--config", exchange.to_str().expect("utf-8 path")],
        dir.path(),
    );
    gateway.wait_line("hayate: FIX 4.4 on", LONG);
    let metrics = free_addr();
    let bridge_config = write_bridge_config(
        dir.path(),
        &exchange,
        repl,
        (&nats.url(), &postgres.url()),
        metrics,
    );
    let bridge_args = ["--config", bridge_config.to_str().expect("utf-8 path")];
    let mut bridge = start("bridge", &bridge_args, dir.path());
    bridge.wait_line("bridge: observing", LONG);

    let mut alice = logged_on(fix, "ALICE", "alice");
    let mut bob = logged_on(fix, "BOB", "bob");
    trade(&mut alice, &mut bob, 0, 60);

    // The edge starts from the state the bridge put (every 50 commands).
    let edge_ws = free_addr();
    let edge = start(
        "md_edge",
        &[
            "--exchange",
            exchange.to_str().expect("utf-8 path"),
            "--nats",
            &nats.url(),
            "--listen",
            &edge_ws.to_string(),
        ],
        dir.path(),
    );
    edge.wait_line("md_edge: market data on", LONG);
    // Subscribe to both once the edge has caught up (the market is idle now): their snapshots
    // are then at the same sequence.
    let (mut core_feed, mut edge_feed, mut core_msgs, mut edge_msgs) = {
        let deadline = Instant::now() + LONG;
        loop {
            let (mut core, mut edge) = (ws_subscribe(ws), ws_subscribe(edge_ws));
            let (mut a, mut b) = (Vec::new(), Vec::new());
            drain(&mut core, &mut a, Duration::from_millis(300));
            drain(&mut edge, &mut b, Duration::from_millis(300));
            if snapshot_sequence(&a) == snapshot_sequence(&b) && snapshot_sequence(&a) > Some(0) {
                break (core, edge, a, b);
            }
            assert!(Instant::now() < deadline, "the edge never caught up");
        }
    };

    // Trading goes on in a thread while the bridge is killed twenty times.
    let trader = std::thread::spawn(move || {
        trade(&mut alice, &mut bob, 60, 300);
        (alice, bob)
    });
    let mut kills = 0;
    let mut rng = hayate_testkit::rng::Rng::new(7);
    while kills < 20 {
        std::thread::sleep(Duration::from_millis(100 + rng.below(250)));
        bridge.sigkill();
        kills += 1;
        match kills {
            // NATS restarted while the bridge is down and comes back.
            7 => {
                nats.kill();
                bridge = start("bridge", &bridge_args, dir.path());
                std::thread::sleep(Duration::from_millis(500));
                nats.restart().expect("nats-server again");
            }
            // PostgreSQL stopped for a while under a running bridge.
            14 => {
                bridge = start("bridge", &bridge_args, dir.path());
                bridge.wait_line("bridge: observing", LONG);
                postgres.stop().expect("stop PostgreSQL");
                std::thread::sleep(Duration::from_millis(1500));
                postgres.start_again().expect("PostgreSQL again");
                continue;
            }
            _ => bridge = start("bridge", &bridge_args, dir.path()),
        }
        bridge.wait_line("bridge: observing", LONG);
    }
    let (_alice, _bob) = trader.join().expect("the trader");

    // The bridge catches up with everything the gateway processed.
    let deadline = Instant::now() + LONG;
    loop {
        let lag = metric(metrics, "hayate_bridge_lag_sequences");
        let applied_seq = metric(metrics, "hayate_bridge_applied_seq").unwrap_or(0);
        if lag == Some(0) && applied_seq > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bridge never caught up (lag {lag:?})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drain(&mut core_feed, &mut core_msgs, Duration::from_millis(500));
    let core_last = last_sequence(&core_msgs);
    let deadline = Instant::now() + LONG;
    while last_sequence(&edge_msgs) < core_last {
        assert!(Instant::now() < deadline, "the edge's feed never caught up");
        drain(&mut edge_feed, &mut edge_msgs, Duration::from_millis(300));
    }
    assert_same(
        &feed_view(&edge_msgs),
        &feed_view(&core_msgs),
        "the edge's WebSocket feed",
    );

    bridge.terminate(LONG);
    edge.terminate(LONG);
    gateway.terminate(LONG);

    // Every stream holds exactly what the applier makes of the gateway's journal.
    let config = ExchangeConfig::load(&exchange).expect("the gateway's configuration");
    let reader = NatsReader::connect(&[nats.url()]).expect("NATS");
    // What the bridge wrote: up to its cursor (the sessions' logouts and the gateway's stop
    // journal a few commands after the bridge stopped; none of them trades).
    let cursor: serde_json::Value = serde_json::from_slice(
        &reader
            .kv_get("hayate_bridge", "cursor")
            .expect("the cursor reads")
            .expect("a cursor"),
    )
    .expect("cursor JSON");
    let cursor = cursor["seq"].as_u64().expect("the cursor's sequence");
    let all = applied(&config, &dir.path().join("data"));
    assert!(
        all.iter()
            .filter(|a| a.seq > cursor)
            .all(|a| a.trades.is_empty()),
        "every trade was before the bridge's cursor {cursor}"
    );
    let expected: Vec<Applied> = all.into_iter().filter(|a| a.seq <= cursor).collect();
    let trades = reader.read_stream("HAYATE_TRADES").expect("trades");
    let expected_trades: Vec<String> = expected
        .iter()
        .flat_map(|a| &a.trades)
        .map(|t| serde_json::to_string(t).expect("JSON"))
        .collect();
    assert!(expected_trades.len() >= 360, "every pair traded");
    assert_eq!(
        trades.iter().map(|m| m.text.clone()).collect::<Vec<_>>(),
        expected_trades,
        "every trade once, in order"
    );
    let md = reader.read_stream("HAYATE_MD").expect("market data");
    let expected_md: Vec<&str> = expected
        .iter()
        .flat_map(|a| &a.market)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        md.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        expected_md,
        "every market-data message once, in order"
    );
    let dropcopy = reader.read_stream("HAYATE_DROPCOPY").expect("drop copy");
    let mut per_account: HashMap<u32, Vec<String>> = HashMap::new();
    for event in expected.iter().flat_map(|a| &a.order_events) {
        per_account
            .entry(event.account)
            .or_default()
            .push(serde_json::to_string(event).expect("JSON"));
    }
    for (account, events) in &per_account {
        let subject = format!("hayate.dropcopy.{account}");
        let stored: Vec<String> = dropcopy
            .iter()
            .filter(|m| m.subject == subject)
            .map(|m| m.text.clone())
            .collect();
        assert_eq!(
            &stored, events,
            "account {account}'s drop copy, every event once"
        );
    }
    // PostgreSQL: the trades table is the replay tool's CSV of the same journal, row by row.
    let csv_path = dir.path().join("trades.csv");
    let status = Process::new(binary("replay"))
        .args(["--quiet", "--data"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&exchange)
        .args(["trades", "--to", &cursor.to_string(), "--out"])
        .arg(&csv_path)
        .status()
        .expect("run the replay tool");
    assert!(status.success(), "replay trades: {status}");
    let csv = std::fs::read_to_string(&csv_path).expect("the CSV");
    let csv: Vec<String> = csv.lines().map(str::to_string).collect();
    assert_same(
        &trades_as_csv(
            &mut postgres::Client::connect(&postgres.url(), postgres::NoTls).expect("PostgreSQL"),
        ),
        &csv,
        "the trades table against the replay tool's CSV",
    );
    let ids: std::collections::HashSet<_> = md.iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(ids.len(), md.len(), "no message id twice");
    eprintln!(
        "{} commands, {} trades, {} market-data messages, {} drop-copy events through 20 SIGKILLs",
        expected.len(),
        trades.len(),
        md.len(),
        dropcopy.len()
    );
}
