//! A replicated pair as real processes on 127.0.0.1 (issue 6): the example gateway as primary
//! and standby, killed with SIGKILL, promoted with the admin client, partitioned through a proxy
//! this test controls. Every wait is bounded; processes are killed and temp dirs removed when a
//! test ends, passed or failed.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hayate::adapters::fix::codec::FieldList;
use hayate_testkit::certificate::{self, tls_section};
use hayate_testkit::example::{cpu_seconds, example_binary, run_admin};
use hayate_testkit::gateway::{CAROL, FixClient, field};
use hayate_testkit::process::Spawned;

/// Convergence and promotion bounds: generous, the machine is shared.
const LONG: Duration = Duration::from_secs(30);

/// The tests start two or three processes each: one at a time keeps two cores honest.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ports handed out so far (never twice in one test run).
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port free now, below Linux's ephemeral range (32768–60999): a node's ports stay reserved
/// for seconds before it binds them (a standby's replication port until its promotion), and an
/// ephemeral port could meanwhile be taken by any outgoing connection.
fn free_addr() -> SocketAddr {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for i in 0..10_000u32 {
        let port = 20_000 + ((seed.wrapping_add(i.wrapping_mul(7_919))) % 12_000) as u16;
        if handed_out.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            handed_out.insert(port);
            return listener.local_addr().expect("its address");
        }
    }
    panic!("no free port between 20000 and 32000");
}

/// One node's addresses, fixed for its whole life so clients and its peer find it again.
#[derive(Clone, Copy)]
struct Ports {
    fix: SocketAddr,
    binary: SocketAddr,
    http: SocketAddr,
    replication: SocketAddr,
}

impl Ports {
    fn new() -> Ports {
        Ports {
            fix: free_addr(),
            binary: free_addr(),
            http: free_addr(),
            replication: free_addr(),
        }
    }
}

/// The demo exchange plus CAROL, journaling under `dir`, in a pair with the node whose
/// replication port is `peer`. `replication` adds keys to `[replication]`.
fn node_config(
    dir: &Path,
    ports: &Ports,
    role: &str,
    peer: SocketAddr,
    replication: &str,
) -> String {
    let demo = hayate::config::DEMO_TOML
        .replace("127.0.0.1:9878", &ports.fix.to_string())
        .replace("127.0.0.1:9000", &ports.binary.to_string())
        .replace("127.0.0.1:8080", &ports.http.to_string())
        .replace("127.0.0.1:8081", "127.0.0.1:0")
        .replace(
            "dir = \"data\"",
            &format!("dir = {:?}", dir.join("data").display().to_string()),
        )
        .replace("fsync = \"always\"", "fsync = \"never\"")
        // The disk guard at 128 MiB: a test machine's disk may hold less than the default GiB.
        .replace("min_free_mb = 1024", "min_free_mb = 128");
    format!(
        "{demo}\n{CAROL}\n[replication]\nsecret = \"failover-test-pair-secret\"\nrole = \"{role}\"\nlisten = \"{}\"\nprimary = \"{peer}\"\n\
         mode = \"sync\"\nheartbeat_ms = 50\n{replication}\n",
        ports.replication
    )
}

/// A running example gateway.
struct Node {
    name: &'static str,
    process: Spawned,
    ports: Ports,
}

impl Node {
    /// Starts the gateway with `text` (written to `dir/gateway.toml`) and `args`, and waits for
    /// the line that says it serves.
    fn start(name: &'static str, dir: &Path, ports: Ports, text: &str, args: &[&str]) -> Node {
        std::fs::create_dir_all(dir).expect("node dir");
        let path = dir.join("gateway.toml");
        std::fs::write(&path, text).expect("write config");
        let mut command = Process::new(example_binary("gateway"));
        command.arg("--config").arg(&path).args(args);
        let node = Node {
            name,
            process: Spawned::spawn(name, command, "FAILOVER_LOGS"),
            ports,
        };
        node.wait_line("hayate: FIX 4.4 on", LONG);
        node
    }

    /// The next line of its output that starts with `prefix` (bounded).
    fn wait_line(&self, prefix: &str, limit: Duration) -> String {
        self.process.wait_line(prefix, limit)
    }

    fn status(&self) -> String {
        http_get(self.ports.http, "/status").unwrap_or_default()
    }

    /// Waits (bounded) until its `/status` satisfies `ok`; returns that status.
    fn wait_status(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LONG;
        loop {
            let status = self.status();
            if ok(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {what} not reached within {LONG:?}; last /status: {status}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM; returns the (durable sequence, digest) its clean stop reports.
    fn terminate(mut self) -> (u64, String) {
        self.process.sigterm();
        let line = self.wait_line("stopped: durable sequence", LONG);
        let rest = line
            .strip_prefix("stopped: durable sequence ")
            .expect("prefix");
        let seq = rest
            .split(',')
            .next()
            .and_then(|s| s.trim().parse().ok())
            .expect("a sequence");
        let digest = rest
            .split("digest ")
            .nth(1)
            .and_then(|d| d.split(',').next())
            .expect("a digest")
            .to_owned();
        let status = self.wait_exit();
        assert!(status.success(), "{} exits 0 after SIGTERM", self.name);
        (seq, digest)
    }

    /// Its exit status (bounded wait).
    fn wait_exit(&mut self) -> ExitStatus {
        self.process.wait_exit(LONG)
    }

    fn sigkill(self) {
        self.process.sigkill();
    }
}

/// A plain HTTP/1.0 GET; the body.
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// The text after `"key":` in a JSON object (the first occurrence), up to `,` or `}`.
fn json<'a>(text: &'a str, key: &str) -> &'a str {
    let pattern = format!("\"{key}\":");
    text.find(&pattern)
        .map(|at| {
            let rest = &text[at + pattern.len()..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            rest[..end].trim_matches('"')
        })
        .unwrap_or("")
}

fn json_u64(text: &str, key: &str) -> u64 {
    json(text, key).parse().unwrap_or(0)
}

/// Runs the admin example against `binary`; (succeeded, what it printed).
fn admin(binary: SocketAddr, command: &str) -> (bool, String) {
    run_admin(
        &binary.to_string(),
        "admin",
        "change-me",
        &["--timeout", "20", command],
    )
}

/// A FIX message as text, `|` for SOH.
fn show(m: &FieldList) -> String {
    String::from_utf8_lossy(m.as_bytes()).replace('\u{1}', "|")
}

fn logged_on(addr: SocketAddr, comp_id: &str, user: &str, password: &str) -> FixClient {
    let mut client = FixClient::connect(addr, comp_id);
    let reply = client.logon(user, password, &[]);
    assert_eq!(
        field(&reply, 35),
        "A",
        "{comp_id} logs on: {}",
        show(&reply)
    );
    client
}

/// A resting buy of 0.01 BTC, a different price for each `i`.
fn buy(client: &mut FixClient, id: &str, i: u64) {
    client.new_order(id, "1", "0.01", &(4_900_000 - i * 100).to_string());
}

/// Carol and alice logged on at `fix`, carol's 40 bids (c0..c39) resting and acknowledged:
/// alice's sells take them.
fn carols_bids(fix: SocketAddr) -> (FixClient, FixClient) {
    let mut carol = logged_on(fix, "CAROL", "carol", "pw-carol");
    let alice = logged_on(fix, "ALICE", "alice", "change-me");
    let mut acked = BTreeSet::new();
    for i in 0..40 {
        buy(&mut carol, &format!("c{i}"), i);
    }
    read_acks(&mut carol, &mut acked, 40);
    (carol, alice)
}

/// Reads reports until `n` more acknowledgements (New) arrived; adds their ClOrdIDs to `acked`.
fn read_acks(client: &mut FixClient, acked: &mut BTreeSet<String>, n: usize) {
    let target = acked.len() + n;
    while acked.len() < target {
        let report = client.recv_type("8");
        match field(&report, 150) {
            "0" => {
                acked.insert(field(&report, 11).to_owned());
            }
            "8" => panic!("order rejected: {}", show(&report)),
            _ => {}
        }
    }
}

/// Every order in `acked` is open on the node behind `client` (OrderStatusRequest → New).
fn assert_all_open(client: &mut FixClient, acked: &BTreeSet<String>) {
    for id in acked {
        client.send("H", &[(11, id), (55, "BTC-JPY"), (54, "1")]);
        let status = client.recv_type("8");
        assert_eq!(
            (field(&status, 11), field(&status, 39)),
            (id.as_str(), "0"),
            "acknowledged order {id} is on the new primary: {}",
            show(&status)
        );
    }
}

fn connected(status: &str) -> bool {
    json(status, "connected") == "true"
}

/// A pair: A primary, B standby, both with `extra` after `[replication]`'s keys (more keys, or
/// more sections); with `partitionable`, B
/// reaches A (and A's replication port) only through a proxy the test can cut.
fn start_pair(dir: &Path, extra: &str, partitionable: bool) -> (Node, Node, Option<Proxy>) {
    let (pa, pb) = (Ports::new(), Ports::new());
    let proxy = partitionable.then(|| Proxy::start(pa.replication));
    let b_follows = proxy.as_ref().map_or(pa.replication, |p| p.addr);
    let a_text = node_config(&dir.join("a"), &pa, "primary", pb.replication, extra);
    let b_text = node_config(&dir.join("b"), &pb, "standby", b_follows, extra);
    let a = Node::start("A", &dir.join("a"), pa, &a_text, &[]);
    let b = Node::start("B", &dir.join("b"), pb, &b_text, &[]);
    b.wait_status("B following A", connected);
    a.wait_status("A serving B", connected);
    (a, b, proxy)
}

#[test]
fn an_idle_pair_costs_almost_no_cpu() {
    // The replication threads sleep in epoll until records, acks or a heartbeat (50 ms here)
    // come, like the pipeline stages and the event loops: with no session and no order a
    // connected pair should use (nearly) no CPU. The bound is generous (5% of a core for the
    // two processes) for a shared CI machine; the README has the measured figure.
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, _) = start_pair(dir.path(), "", false);
    std::thread::sleep(Duration::from_secs(1));
    let pids = [a.process.id(), b.process.id()];
    let before: f64 = pids.iter().map(|&pid| cpu_seconds(pid)).sum();
    let window = Duration::from_secs(5);
    std::thread::sleep(window);
    let used = pids.iter().map(|&pid| cpu_seconds(pid)).sum::<f64>() - before;
    let share = used / window.as_secs_f64();
    eprintln!(
        "idle pair: {used:.3} CPU-seconds in {window:?} ({:.2}% of a core)",
        share * 100.0
    );
    assert!(connected(&b.status()), "the standby still follows");
    assert!(
        share < 0.05,
        "an idle pair used {:.1}% of a core",
        share * 100.0
    );
}

/// Stops both nodes cleanly (`first` first) and checks they ended in the same state at the same
/// sequence.
fn assert_same_state(first: Node, second: Node) {
    // Clients have just left: the primary may still journal their cancel-on-disconnect, and the
    // standby needs a moment to have it. Stop only once both agree twice, 200 ms apart.
    let sequence = |node: &Node| json_u64(&node.status(), "sequence");
    let deadline = Instant::now() + LONG;
    loop {
        let now = (sequence(&first), sequence(&second));
        if now.0 == now.1 {
            std::thread::sleep(Duration::from_millis(200));
            if (sequence(&first), sequence(&second)) == now {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the nodes did not settle at one sequence: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let one = first.terminate();
    let other = second.terminate();
    assert_eq!(one, other, "same digest at the same sequence");
}

fn config_path(dir: &Path, node: &str) -> PathBuf {
    dir.join(node).join("gateway.toml")
}

/// Restarts a node from the config file it ran with, plus `args`.
fn restart(name: &'static str, dir: &Path, node: &str, ports: Ports, args: &[&str]) -> Node {
    let text = std::fs::read_to_string(config_path(dir, node)).expect("config");
    Node::start(name, &dir.join(node), ports, &text, args)
}

#[test]
fn a_standby_refuses_orders_and_holds_the_primarys_state() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, _) = start_pair(dir.path(), "", false);
    let status = b.status();
    assert_eq!(json(&status, "role"), "standby", "{status}");
    assert_eq!(json(&status, "state"), "standby", "{status}");
    assert_eq!(json(&status, "mode"), "sync", "{status}");
    assert_eq!(
        json(&status, "peer"),
        a.ports.replication.to_string(),
        "{status}"
    );
    // FIX Logon on a standby: a Logout saying why.
    let mut refused = FixClient::connect(b.ports.fix, "CAROL");
    let reply = refused.logon("carol", "pw-carol", &[]);
    assert_eq!(field(&reply, 35), "5", "{}", show(&reply));
    assert!(field(&reply, 58).contains("standby"), "{}", show(&reply));
    // Admin commands that would journal something are refused too; status is answered.
    let (ok, text) = admin(b.ports.binary, "snapshot");
    assert!(!ok && text.contains("standby"), "{text}");
    let (ok, text) = admin(b.ports.binary, "status");
    assert!(ok && text.contains("\"role\":\"standby\""), "{text}");

    let (carol, mut alice) = carols_bids(a.ports.fix);
    // Trades too: alice sells into carol's best bids.
    alice.new_order("s1", "2", "0.03", "4800000");
    let fill = alice.recv_type("8");
    assert!(matches!(field(&fill, 150), "0" | "F"), "{}", show(&fill));
    let primary = a.wait_status("A's journal", |s| json_u64(s, "sequence") > 40);
    let seq = json_u64(&primary, "sequence");
    b.wait_status("B at A's sequence", |s| json_u64(s, "sequence") == seq);
    // Market data (BEHAVIOUR.md §9): the standby's builder holds the primary's books, tapes and
    // sequences, so its /book and /trades are the primary's, byte for byte.
    for path in ["/book/BTC-JPY?depth=0", "/trades/BTC-JPY?limit=100"] {
        let primary = http_get(a.ports.http, path).unwrap_or_default();
        assert!(
            primary.contains("\"sequence\":") || primary.contains("trade_id"),
            "{primary}"
        );
        let deadline = Instant::now() + LONG;
        loop {
            let standby = http_get(b.ports.http, path).unwrap_or_default();
            if standby == primary {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: standby {standby} != primary {primary}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    drop((carol, alice, refused));
    assert_same_state(b, a);
}

#[test]
fn sigkill_the_primary_promote_the_standby_and_no_acknowledged_order_is_lost() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, _) = start_pair(dir.path(), "", false);
    let mut carol = logged_on(a.ports.fix, "CAROL", "carol", "pw-carol");
    let mut acked = BTreeSet::new();
    for i in 0..30 {
        buy(&mut carol, &format!("c{i}"), i);
    }
    read_acks(&mut carol, &mut acked, 30);
    // Synchronous and not degraded: every acknowledgement from here on waited for B.
    let status = a.status();
    assert_eq!(json(&status, "degraded"), "false", "{status}");
    // Mid-stream: 60 more sent at once, the primary killed after 10 more acknowledgements.
    for i in 30..90 {
        buy(&mut carol, &format!("c{i}"), i);
    }
    read_acks(&mut carol, &mut acked, 10);
    let a_ports = a.ports;
    a.sigkill();
    // Whatever the client read before the connection died was acknowledged to it.
    while let Some(report) = carol.try_recv() {
        if field(&report, 35) == "8" && field(&report, 150) == "0" {
            acked.insert(field(&report, 11).to_owned());
        }
    }

    let started = Instant::now();
    let (ok, text) = admin(b.ports.binary, "promote");
    assert!(ok, "promote succeeds: {text}");
    assert!(text.contains("epoch 2"), "{text}");
    let status = b.wait_status("B primary", |s| json(s, "role") == "primary");
    assert_eq!(json_u64(&status, "epoch"), 2, "{status}");
    eprintln!("promotion answered in {:?}", started.elapsed());
    // Market data goes on from the standby's own builder: the next update is the next sequence.
    let book = |http| http_get(http, "/book/BTC-JPY?depth=0").unwrap_or_default();
    // (Read once it is settled: the feed's thread follows the gateway's loop by a moment.)
    let mut before = json_u64(&book(b.ports.http), "sequence");
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let again = json_u64(&book(b.ports.http), "sequence");
        if again == before {
            break;
        }
        before = again;
    }

    // The clients reconnect to the new primary: every order they saw acknowledged is there.
    let mut carol = logged_on(b.ports.fix, "CAROL", "carol", "pw-carol");
    assert_all_open(&mut carol, &acked);
    // …and trading goes on.
    let mut alice = logged_on(b.ports.fix, "ALICE", "alice", "change-me");
    alice.new_order("after", "2", "0.01", "4800000");
    let mut report = alice.recv_type("8");
    if field(&report, 150) == "0" {
        report = alice.recv_type("8");
    }
    assert_eq!(
        field(&report, 150),
        "F",
        "alice's sell fills carol's best bid: {}",
        show(&report)
    );
    let deadline = Instant::now() + LONG;
    let mut after = json_u64(&book(b.ports.http), "sequence");
    while after == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        after = json_u64(&book(b.ports.http), "sequence");
    }
    assert_eq!(
        after,
        before + 1,
        "one trade, one update, no gap after the promotion"
    );

    // The old primary rejoins as a standby: it drops what it journaled but B never had, and
    // converges to B.
    let a = restart("A", dir.path(), "a", a_ports, &["--role", "standby"]);
    let primary = b.status();
    let seq = json_u64(&primary, "sequence");
    // (`epoch` follows the events the node has routed, a moment behind its journal.)
    a.wait_status("A following B at B's sequence, in epoch 2", |s| {
        json(s, "role") == "standby"
            && connected(s)
            && json_u64(s, "sequence") == seq
            && json_u64(s, "epoch") == 2
    });
    drop((carol, alice));
    assert_same_state(a, b);
}

#[test]
fn a_killed_standby_catches_up_and_the_primary_trades_on_degraded_meanwhile() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, _) = start_pair(dir.path(), "", false);
    let mut carol = logged_on(a.ports.fix, "CAROL", "carol", "pw-carol");
    let mut acked = BTreeSet::new();
    for i in 0..20 {
        buy(&mut carol, &format!("c{i}"), i);
    }
    read_acks(&mut carol, &mut acked, 20);
    let b_ports = b.ports;
    b.sigkill();
    // on_standby_loss = degrade (the default): trading goes on, the alarm is up.
    for i in 20..60 {
        buy(&mut carol, &format!("c{i}"), i);
    }
    read_acks(&mut carol, &mut acked, 40);
    let status = a.wait_status("A degraded", |s| json(s, "degraded") == "true");
    assert_eq!(json(&status, "connected"), "false", "{status}");
    let metrics = http_get(a.ports.http, "/metrics").unwrap_or_default();
    assert!(
        metrics.contains("hayate_replication_degraded 1"),
        "{metrics}"
    );

    let b = restart("B", dir.path(), "b", b_ports, &[]);
    let seq = json_u64(&a.status(), "sequence");
    b.wait_status("B caught up", |s| {
        connected(s) && json_u64(s, "sequence") >= seq
    });
    a.wait_status("A holding B's acknowledgement of everything", |s| {
        connected(s) && json_u64(s, "lag") == 0
    });
    // The next order is held for B again, and clears the alarm.
    buy(&mut carol, "c60", 60);
    read_acks(&mut carol, &mut acked, 1);
    a.wait_status("A no longer degraded", |s| json(s, "degraded") == "false");
    let seq = json_u64(&a.status(), "sequence");
    b.wait_status("B at A's sequence", |s| json_u64(s, "sequence") == seq);
    drop(carol);
    assert_same_state(b, a);
}

/// A TCP relay the test can cut and heal: a network partition between two nodes.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let proxy = Proxy {
            addr: listener.local_addr().expect("proxy addr"),
            cut: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            live: Arc::new(Mutex::new(Vec::new())),
        };
        let (cut, stop, live) = (
            Arc::clone(&proxy.cut),
            Arc::clone(&proxy.stop),
            Arc::clone(&proxy.live),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let Ok((inbound, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                if cut.load(Ordering::Acquire) {
                    continue; // dropped: nothing gets through a partition
                }
                let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_secs(1))
                else {
                    continue;
                };
                let _ = inbound.set_nonblocking(false);
                let pipes = [
                    (inbound.try_clone(), outbound.try_clone()),
                    (outbound.try_clone(), inbound.try_clone()),
                ];
                if let Ok(mut live) = live.lock() {
                    live.push(inbound);
                    live.push(outbound);
                }
                for pipe in pipes {
                    if let (Ok(mut from), Ok(mut to)) = pipe {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(Shutdown::Both);
                        });
                    }
                }
            }
        });
        proxy
    }

    /// Partition: every connection through the proxy dies, new ones are dropped.
    fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        if let Ok(mut live) = self.live.lock() {
            for stream in live.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.cut();
    }
}

/// Epoch fencing: a primary cut off from its standby (on_standby_loss = degrade trades on, as
/// documented) learns of the promotion as soon as the partition heals, logs its sessions out,
/// refuses orders, drops what it accepted alone and rejoins as the new primary's standby.
///
/// The pair's link goes over TLS here (`[tls] replication = true`, one self-signed certificate
/// both nodes present and trust): the standby's connection, the new primary's notice of its epoch
/// through the proxy, and the old primary's return as a standby all go through TLS.
#[test]
fn a_partitioned_old_primary_steps_down_when_it_learns_of_the_new_epoch() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate::self_signed(dir.path());
    let tls = format!(
        "{}ca_file = {:?}\n",
        tls_section(&cert, &key, &["replication"]),
        cert.display().to_string()
    );
    // B reaches A (and A's replication port) only through the proxy.
    let (a, b, proxy) = start_pair(dir.path(), &tls, true);
    let proxy = proxy.expect("a proxy");
    let mut carol = logged_on(a.ports.fix, "CAROL", "carol", "pw-carol");
    let mut acked = BTreeSet::new();
    for i in 0..10 {
        buy(&mut carol, &format!("c{i}"), i);
    }
    read_acks(&mut carol, &mut acked, 10);
    let seq = json_u64(&a.status(), "sequence");
    b.wait_status("B at A's sequence", |s| json_u64(s, "sequence") == seq);

    proxy.cut();
    let (ok, text) = admin(b.ports.binary, "promote");
    assert!(ok, "promote succeeds: {text}");
    // Still cut off, A trades on degraded: the cost of `degrade`, documented.
    buy(&mut carol, "alone", 99);
    let report = carol.recv_type("8");
    assert_eq!(field(&report, 150), "0", "{}", show(&report));

    proxy.heal();
    // B's notice of epoch 2 reaches A: A logs carol out and refuses her.
    let logout = carol.recv_type("5");
    assert!(
        field(&logout, 58).contains("stepped down"),
        "{}",
        show(&logout)
    );
    a.wait_line("hayate: FIX 4.4 on", LONG); // rejoined as a standby
    let primary = b.status();
    let seq = json_u64(&primary, "sequence");
    a.wait_status("A following B", |s| {
        json(s, "role") == "standby" && json_u64(s, "epoch") == 2 && json_u64(s, "sequence") == seq
    });
    let mut again = FixClient::connect(a.ports.fix, "CAROL");
    let reply = again.logon("carol", "pw-carol", &[]);
    assert_eq!(field(&reply, 35), "5", "{}", show(&reply));
    // What A accepted alone is gone; what B had is kept.
    let mut carol = logged_on(b.ports.fix, "CAROL", "carol", "pw-carol");
    assert_all_open(&mut carol, &acked);
    carol.send("H", &[(11, "alone"), (55, "BTC-JPY"), (54, "1")]);
    let status = carol.recv_type("8");
    assert_eq!(field(&status, 39), "8", "{}", show(&status));
    drop((carol, again));
    assert_same_state(a, b);
}

/// With on_standby_loss = halt a partitioned primary cannot acknowledge anything: the order
/// waits for the standby's acknowledgement, none comes, the node stops (fail-stop) — so the
/// promoted standby is the only primary.
#[test]
fn with_halt_a_partitioned_primary_acknowledges_nothing_and_stops() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = "on_standby_loss = \"halt\"\nack_timeout_ms = 3000\n";
    let (a, b, proxy) = start_pair(dir.path(), extra, true);
    let proxy = proxy.expect("a proxy");
    let mut carol = logged_on(a.ports.fix, "CAROL", "carol", "pw-carol");
    let mut acked = BTreeSet::new();
    buy(&mut carol, "before", 1);
    read_acks(&mut carol, &mut acked, 1);

    proxy.cut();
    let (ok, text) = admin(b.ports.binary, "promote");
    assert!(ok, "promote succeeds: {text}");
    buy(&mut carol, "after", 2);
    // No acknowledgement: the connection ends without one.
    while let Some(report) = carol.try_recv() {
        assert!(
            !(field(&report, 35) == "8" && field(&report, 11) == "after"),
            "the partitioned primary acknowledged an order: {}",
            show(&report)
        );
    }
    let mut a = a;
    let status = a.wait_exit();
    assert!(!status.success(), "a halted primary exits with an error");
    let mut carol = logged_on(b.ports.fix, "CAROL", "carol", "pw-carol");
    assert_all_open(&mut carol, &acked);
    drop(carol);
    let _ = b.terminate();
}

/// Optional automatic promotion (off by default): with `auto_promote_after`, a standby that hears
/// nothing from its primary for that many heartbeats promotes itself. The configuration only
/// allows it with sync + halt and a silence longer than `ack_timeout_ms`, so the old primary has
/// halted by then.
#[test]
fn a_standby_promotes_itself_after_the_configured_missed_heartbeats() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = "on_standby_loss = \"halt\"\nack_timeout_ms = 1000\nauto_promote_after = 30\n";
    let (a, b, _) = start_pair(dir.path(), extra, false);
    let mut carol = logged_on(a.ports.fix, "CAROL", "carol", "pw-carol");
    let mut acked = BTreeSet::new();
    for i in 0..10 {
        buy(&mut carol, &format!("c{i}"), i);
    }
    read_acks(&mut carol, &mut acked, 10);
    let killed = Instant::now();
    a.sigkill();
    let status = b.wait_status("B promoted itself", |s| json(s, "role") == "primary");
    let after = killed.elapsed();
    assert_eq!(json_u64(&status, "epoch"), 2, "{status}");
    // 30 heartbeats of 50 ms of silence (the last heard up to a heartbeat before the kill).
    assert!(
        after >= Duration::from_millis(1450),
        "promoted after {after:?}"
    );
    eprintln!("promoted itself {after:?} after the primary died");
    let mut carol = logged_on(b.ports.fix, "CAROL", "carol", "pw-carol");
    assert_all_open(&mut carol, &acked);
    drop(carol);
    let _ = b.terminate();
}

/// Incident notices are journaled: the standby holds the primary's, and after the primary dies
/// and the standby is promoted, its status page shows the same incidents and maintenance and
/// takes their updates (issue 15).
#[test]
fn notices_reach_the_standby_and_survive_a_failover() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, _) = start_pair(dir.path(), "", false);
    let notice = |node: &Node, args: &[&str]| {
        let (ok, text) = run_admin(
            &node.ports.binary.to_string(),
            "admin",
            "change-me",
            &[&["--timeout", "20"], args].concat(),
        );
        assert!(ok, "{args:?}: {text}");
        text
    };
    let opened = notice(
        &a,
        &[
            "notice",
            "open",
            "Matching delayed",
            "--severity",
            "major",
            "--body",
            "We are looking into slow acknowledgements.",
            "--component",
            "matching",
            "fix",
        ],
    );
    let id: String = opened
        .trim()
        .strip_prefix("notice ")
        .and_then(|rest| rest.strip_suffix(" recorded"))
        .unwrap_or_else(|| panic!("the answer names the notice: {opened}"))
        .to_owned();
    notice(&a, &["notice", "update", &id, "A fix is being deployed."]);
    notice(
        &a,
        &[
            "maintenance",
            "2099-01-01T00:00:00Z",
            "2099-01-01T02:00:00Z",
            "Database upgrade",
        ],
    );
    let shown = |status: &str| {
        status.contains("\"title\":\"Matching delayed\"")
            && status.contains("A fix is being deployed.")
            && status.contains("Database upgrade")
    };
    a.wait_status("A shows the notices", shown);
    b.wait_status("B holds A's notices", shown);
    a.sigkill();
    let (ok, text) = admin(b.ports.binary, "promote");
    assert!(ok, "promote succeeds: {text}");
    let status = b.wait_status("B promoted", |s| json(s, "role") == "primary");
    assert!(
        shown(&status),
        "the promoted standby shows the notices: {status}"
    );
    notice(&b, &["notice", "resolve", &id, "Back to normal."]);
    let status = b.wait_status("B resolved it", |s| s.contains("\"status\":\"resolved\""));
    assert!(status.contains("Database upgrade"), "{status}");
}

/// A bridge observing the pair (issue 16) follows a failover: it lists both nodes; the primary is
/// SIGKILLed mid-trading and the standby promoted; the bridge reconnects to the new primary (the
/// only node serving observers now) and goes on from where it stood. Its trades stream then holds
/// every trade of the new primary's journal exactly once: an observer is sent only what the
/// matcher processed, which in sync mode the standby had.
#[test]
fn a_bridge_follows_the_promoted_standby_and_publishes_every_trade_once() {
    use hayate::adapters::bridge::Applier;
    use hayate_testkit::nats::{NatsReader, NatsServer, nats_server_or_skip};
    if nats_server_or_skip("a bridge across a failover").is_none() {
        return;
    }
    let _serial = serial();
    let nats = NatsServer::start().expect("nats-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "failover-test-observers-secret";
    let (a, b, _) = start_pair(
        dir.path(),
        &format!("observer_secret = \"{secret}\""),
        false,
    );
    let metrics = free_addr();
    let bridge_toml = dir.path().join("bridge.toml");
    std::fs::write(
        &bridge_toml,
        format!(
            "[bridge]\nname = \"failover-bridge\"\nexchange = {:?}\nnodes = [\"{}\", \"{}\"]\n\
             observer_secret = \"{secret}\"\ndata_dir = {:?}\nmetrics = \"{metrics}\"\n\
             heartbeat_ms = 50\nretry_ms = 100\n\n[nats]\nurl = \"{}\"\n",
            config_path(dir.path(), "a").display().to_string(),
            a.ports.replication,
            b.ports.replication,
            dir.path().join("bridge-data").display().to_string(),
            nats.url()
        ),
    )
    .expect("write the bridge's configuration");
    let mut command = Process::new(example_binary("bridge"));
    command.arg("--config").arg(&bridge_toml);
    let bridge = Spawned::spawn("the bridge", command, "FAILOVER_LOGS");
    // Carol's bids rest; alice's sells take them: a trade each.
    let (carol, mut alice) = carols_bids(a.ports.fix);
    for i in 0..20 {
        alice.new_order(&format!("a{i}"), "2", "0.01", "4850000");
    }
    // Some of alice's sells are in flight when the primary dies.
    std::thread::sleep(Duration::from_millis(20));
    a.sigkill();
    let (ok, text) = admin(b.ports.binary, "promote");
    assert!(ok, "promote succeeds: {text}");
    b.wait_status("B primary", |s| json(s, "role") == "primary");
    let mut alice = logged_on(b.ports.fix, "ALICE", "alice", "change-me");
    for i in 20..30 {
        alice.new_order(&format!("a{i}"), "2", "0.01", "4850000");
    }
    let mut fills = 0;
    while fills < 10 {
        if field(&alice.recv_type("8"), 150) == "F" {
            fills += 1;
        }
    }
    // NATS holds everything the new primary processed (the sink's cursor, committed after the
    // acks, not merely what the bridge applied).
    let target = json_u64(&b.status(), "sequence");
    let deadline = Instant::now() + LONG;
    loop {
        let written = http_get(metrics, "/metrics")
            .and_then(|m| {
                m.lines().find_map(|l| {
                    l.strip_prefix("hayate_bridge_sink_cursor{sink=\"nats\"} ")?
                        .parse()
                        .ok()
                })
            })
            .unwrap_or(0u64);
        if written >= target {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bridge wrote through {written}, not {target}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    bridge.sigkill();
    drop((carol, alice));
    b.terminate();
    // The new primary's journal, applied as the bridge applies it, up to the bridge's cursor.
    let reader = NatsReader::connect(&[nats.url()]).expect("NATS");
    let cursor: u64 = serde_json::from_slice::<serde_json::Value>(
        &reader
            .kv_get("hayate_bridge", "cursor")
            .expect("the cursor reads")
            .expect("a cursor"),
    )
    .expect("cursor JSON")["seq"]
        .as_u64()
        .expect("its sequence");
    assert!(cursor >= target, "cursor {cursor} < {target}");
    let config =
        hayate::ExchangeConfig::load(&config_path(dir.path(), "b")).expect("B's configuration");
    let journal = hayate::journal::JournalReader::open(dir.path().join("b/data/journal"))
        .expect("B's journal");
    let mut applier = Applier::new(config.engine_config(), 100);
    let mut expected = Vec::new();
    for record in journal.records_from(1) {
        let record = record.expect("a record");
        if record.seq > cursor {
            break;
        }
        let command = hayate::Command::from_bytes(record.payload).expect("a command");
        for trade in applier.apply(record.seq, &command).trades {
            expected.push(serde_json::to_string(&trade).expect("JSON"));
        }
    }
    let stored: Vec<String> = reader
        .read_stream("HAYATE_TRADES")
        .expect("trades")
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert!(expected.len() >= 10, "trades on both sides of the failover");
    assert_eq!(
        stored, expected,
        "every trade of the new primary, once, in order"
    );
}
