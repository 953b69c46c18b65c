//! TLS on the gateway's listeners (`[tls]`), over real sockets on 127.0.0.1 with a self-signed
//! certificate made for each test: a FIX session and a binary session trade through TLS (rustls
//! clients, and Python's `ssl` module — OpenSSL — for an independent FIX logon), a plain client
//! on a TLS port is refused cleanly and counted while TLS clients go on, and bad certificate or
//! key files stop the configuration naming the file and the key.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hayate::adapters::binary::client::BinaryClient;
use hayate::adapters::binary::messages::{
    CancelOnDisconnect, ClientMessage, Logon, NewOrder, ServerMessage,
};
use hayate::adapters::http::{get, get_with};
use hayate::adapters::tls::rustls::ClientConfig;
use hayate::adapters::tls::{MaybeTls, client_config};
use hayate::{ClientOrderId, EventKind, ExchangeConfig, OrderType, Price, Qty, Side, SymbolId};
use hayate::{TimeInForce, config::ConfigError};
use hayate_testkit::example::example_binary;
use hayate_testkit::gateway::*;

/// A self-signed certificate for `localhost` and 127.0.0.1, written to `dir` as PEM:
/// (certificate file, key file).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a self-signed certificate");
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    std::fs::write(&cert, made.cert.pem()).expect("write the certificate");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("write the key");
    (cert, key)
}

/// `[tls]` with these files and these listeners on.
fn tls_section(cert: &Path, key: &Path, listeners: &[&str]) -> String {
    let mut text = format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    for listener in listeners {
        text.push_str(&format!("{listener} = true\n"));
    }
    text
}

/// A gateway with TLS on the FIX and binary ports, and a client configuration trusting it.
struct TlsGateway {
    gateway: hayate::adapters::gateway::Gateway,
    client: Arc<ClientConfig>,
    cert: PathBuf,
    _dir: tempfile::TempDir,
}

fn start_tls(listeners: &[&str]) -> TlsGateway {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate(dir.path());
    let config = config(dir.path(), None, &tls_section(&cert, &key, listeners));
    let gateway = start(config);
    let client = client_config(&cert).expect("the test certificate is trusted");
    TlsGateway {
        gateway,
        client,
        cert,
        _dir: dir,
    }
}

fn binary_logon(client: &mut BinaryClient, user: &str) {
    let logon = Logon::new(user, "change-me", CancelOnDisconnect::Configured).expect("short");
    client.send(&ClientMessage::Logon(logon)).expect("send");
    match ServerMessage::decode(&client.recv().expect("logon answer")).expect("decode") {
        ServerMessage::LogonAck(_) => {}
        other => panic!("logon of {user} refused: {other:?}"),
    }
}

/// The event kinds of the next `n` reports, skipping heartbeats and symbol info.
fn binary_reports(client: &mut BinaryClient, n: usize) -> Vec<Option<EventKind>> {
    let mut kinds = Vec::new();
    while kinds.len() < n {
        let bytes = client.recv().expect("a report");
        if let Ok(ServerMessage::Report(r)) = ServerMessage::decode(&bytes) {
            kinds.push(r.event().event_kind());
        }
    }
    kinds
}

fn sell(id: &str, price: u64, lots: u64) -> ClientMessage {
    ClientMessage::NewOrder(NewOrder::new(
        ClientOrderId::new(id).expect("short id"),
        SymbolId(0),
        Side::Sell,
        OrderType::Limit,
        TimeInForce::Gtc,
        Price(price),
        Qty(lots),
    ))
}

#[test]
fn a_fix_session_and_a_binary_session_trade_over_tls() {
    let tls = start_tls(&["fix", "binary"]);
    let addrs = tls.gateway.addrs();
    let mut alice = FixClient::connect_tls(addrs.fix, "ALICE", &tls.client, "localhost");
    let logon = alice.logon("alice", "change-me", &[]);
    assert_eq!(field(&logon, 35), "A", "FIX logon over TLS");
    let mut bob = BinaryClient::connect_tls(addrs.binary, WAIT, &tls.client, "127.0.0.1")
        .expect("binary TLS connection");
    binary_logon(&mut bob, "bob");

    alice.new_order("buy-1", "1", "0.5", "5000000");
    let ack = alice.recv_type("8");
    assert_eq!((field(&ack, 150), field(&ack, 39)), ("0", "0"));
    // 2,000 lots of 0.0001 BTC: 0.2 BTC against alice's 0.5.
    bob.send(&sell("sell-1", 5_000_000, 2_000)).expect("send");
    assert_eq!(
        binary_reports(&mut bob, 2),
        [Some(EventKind::Accepted), Some(EventKind::Fill)]
    );
    let fill = alice.recv_type("8");
    assert_eq!(
        (field(&fill, 150), field(&fill, 39), field(&fill, 32)),
        ("F", "1", "0.2")
    );
    assert_eq!(
        tls.gateway.metrics().tls_failures.load(Ordering::Relaxed),
        0
    );
    tls.gateway.stop().expect("stop");
}

/// Reads until the server closes the connection; true if it did within the wait (what it sent
/// before closing, e.g. a TLS alert, is ignored).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn a_plain_client_on_a_tls_port_is_refused_cleanly_and_counted() {
    let tls = start_tls(&["fix", "binary"]);
    let addrs = tls.gateway.addrs();
    // A TLS session is open before, and must live through, the plain clients' refusals.
    let mut alice = FixClient::connect_tls(addrs.fix, "ALICE", &tls.client, "localhost");
    assert_eq!(field(&alice.logon("alice", "change-me", &[]), 35), "A");

    let mut plain_fix = FixClient::connect(addrs.fix, "BOB");
    let logon = plain_fix.encode(
        "A",
        &[(98, "0"), (108, "30"), (553, "bob"), (554, "change-me")],
    );
    let mut raw = TcpStream::connect(addrs.fix).expect("connect");
    raw.write_all(&logon).expect("send");
    assert!(
        closed_by_server(&mut raw),
        "a plain FIX logon on a TLS port is closed"
    );

    let mut raw = TcpStream::connect(addrs.binary).expect("connect");
    let mut bytes = Vec::new();
    let bob = Logon::new("bob", "change-me", CancelOnDisconnect::Configured).expect("short");
    ClientMessage::Logon(bob).encode(&mut bytes);
    raw.write_all(&bytes).expect("send");
    assert!(
        closed_by_server(&mut raw),
        "a plain binary logon on a TLS port is closed"
    );
    assert_eq!(
        tls.gateway.metrics().tls_failures.load(Ordering::Relaxed),
        2
    );

    // A client that does not trust the certificate gives up in the handshake; counted too.
    let stranger = client_config(&write_other_certificate()).expect("another CA");
    let refused = BinaryClient::connect_tls(addrs.binary, WAIT, &stranger, "localhost");
    assert!(
        refused.is_err(),
        "a certificate the client does not trust is refused"
    );

    // The gateway serves TLS clients on: the open session and a new one.
    alice.new_order("after", "1", "0.1", "4900000");
    assert_eq!(field(&alice.recv_type("8"), 150), "0");
    let mut bob = BinaryClient::connect_tls(addrs.binary, WAIT, &tls.client, "localhost")
        .expect("a TLS client after the refusals");
    binary_logon(&mut bob, "bob");
    let deadline = std::time::Instant::now() + WAIT;
    while tls.gateway.metrics().tls_failures.load(Ordering::Relaxed) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the failed handshake is counted"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = plain_fix;
    tls.gateway.stop().expect("stop");
}

/// A certificate file that has nothing to do with the gateway's.
fn write_other_certificate() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hayate-tls-other-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    certificate(&dir).0
}

/// Python's `ssl` (OpenSSL) logs on to the FIX port: an implementation that shares no code with
/// rustls verifies the certificate, completes the handshake and gets the Logon answer.
const PYTHON_FIX_LOGON: &str = r#"
import socket, ssl, sys, datetime
port, cafile = int(sys.argv[1]), sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
body = "35=A\x0149=ALICE\x0156=HAYATE\x0134=1\x0152=" + now + "\x0198=0\x01108=30\x01553=alice\x01554=change-me\x01"
head = "8=FIX.4.4\x019=" + str(len(body)) + "\x01"
checksum = sum((head + body).encode()) % 256
message = (head + body + "10=%03d\x01" % checksum).encode()
context = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(message)
        answer = b""
        while b"\x0110=" not in answer:
            chunk = tls.recv(4096)
            if not chunk:
                break
            answer += chunk
        print(tls.version(), answer.decode().replace("\x01", "|"))
"#;

#[test]
fn openssl_through_python_logs_on_to_the_fix_port() {
    let tls = start_tls(&["fix"]);
    let port = tls.gateway.addrs().fix.port().to_string();
    let output = Process::new("python3")
        .args(["-c", PYTHON_FIX_LOGON, &port])
        .arg(&tls.cert)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("TLSv1.3 "), "{stdout}");
    assert!(stdout.contains("|35=A|"), "a Logon answer: {stdout}");
    tls.gateway.stop().expect("stop");
}

#[test]
fn plain_tcp_stays_the_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate(dir.path());
    // The files alone turn nothing on.
    let gateway = start(config(dir.path(), None, &tls_section(&cert, &key, &[])));
    let mut alice = FixClient::connect(gateway.addrs().fix, "ALICE");
    assert_eq!(field(&alice.logon("alice", "change-me", &[]), 35), "A");
    gateway.stop().expect("stop");
}

#[test]
fn https_serves_the_status_pages_and_wss_the_feed() {
    let tls = start_tls(&["http", "ws"]);
    let addrs = tls.gateway.addrs();
    let https = Some((&tls.client, "localhost"));
    let (code, status) = get_with(addrs.http, "/status", WAIT, https).expect("HTTPS /status");
    assert_eq!(code, 200);
    assert!(status.contains("\"state\""), "{status}");
    // Plain HTTP on the HTTPS port gets no page, and is counted.
    assert!(!matches!(get(addrs.http, "/status", WAIT), Ok((200, _))));
    let (_, metrics) = get_with(addrs.http, "/metrics", WAIT, https).expect("HTTPS /metrics");
    assert!(
        metrics.contains("\nhayate_tls_handshake_failures_total 1\n"),
        "{metrics}"
    );

    let ws_addr = addrs.ws.expect("the feed listens");
    let stream = MaybeTls::connect(ws_addr, WAIT, Some((&tls.client, "localhost"))).expect("TLS");
    let (mut ws, _) = tungstenite::client(format!("wss://localhost:{}/", ws_addr.port()), stream)
        .expect("WebSocket handshake over TLS");
    ws.send(tungstenite::Message::text(
        r#"{"type":"subscribe","product_ids":["BTC-JPY"],"channels":["level2"]}"#,
    ))
    .expect("subscribe");
    let mut seen = String::new();
    while !seen.contains("\"subscriptions\"") {
        seen = ws
            .read()
            .expect("a feed message")
            .to_text()
            .expect("text")
            .to_owned();
    }
    // A plain WebSocket client on the WSS port is refused, and counted.
    assert!(tungstenite::connect(format!("ws://{ws_addr}")).is_err());
    let deadline = std::time::Instant::now() + WAIT;
    while tls
        .gateway
        .feed_metrics()
        .tls_failures
        .load(Ordering::Relaxed)
        < 1
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the WSS refusal is counted"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    tls.gateway.stop().expect("stop");
}

#[test]
fn the_admin_client_connects_over_tls() {
    let tls = start_tls(&["binary"]);
    let addr = format!("localhost:{}", tls.gateway.addrs().binary.port());
    let admin = |extra: &[&str]| {
        let output = Process::new(example_binary("admin"))
            .args([
                "--addr",
                &addr,
                "--user",
                "admin",
                "--password",
                "change-me",
            ])
            .args(extra)
            .args(["deposit", "2", "JPY", "1000"])
            .output()
            .expect("run the admin client");
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    };
    let cert = tls.cert.display().to_string();
    let (ok, text) = admin(&["--tls", "--ca", &cert]);
    assert!(ok, "over TLS: {text}");
    // Without --tls the gateway refuses the plain connection; the client says it failed.
    let (ok, text) = admin(&[]);
    assert!(!ok, "a plain admin client on a TLS port: {text}");
    tls.gateway.stop().expect("stop");
}

// ----- configuration ----------------------------------------------------------------------------

fn load(dir: &Path, tls: &str) -> Result<ExchangeConfig, ConfigError> {
    ExchangeConfig::from_toml_str(&config_toml(dir, None, tls), "test.toml")
}

fn error(dir: &Path, tls: &str) -> String {
    load(dir, tls)
        .expect_err("the configuration is refused")
        .to_string()
}

#[test]
fn a_missing_certificate_file_is_named_with_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, key) = certificate(dir.path());
    let missing = dir.path().join("nope.crt");
    let message = error(dir.path(), &tls_section(&missing, &key, &["fix"]));
    assert!(
        message.starts_with("test.toml: tls.cert_file: cannot read"),
        "{message}"
    );
    assert!(message.contains("nope.crt"), "{message}");
}

#[test]
fn a_missing_or_unreadable_key_file_is_named_with_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, _) = certificate(dir.path());
    let message = error(
        dir.path(),
        &tls_section(&cert, &dir.path().join("nope.key"), &[]),
    );
    assert!(
        message.starts_with("test.toml: tls.key_file: cannot read"),
        "{message}"
    );
    assert!(message.contains("nope.key"), "{message}");
    // A directory cannot be read as a file either.
    let message = error(dir.path(), &tls_section(&cert, dir.path(), &["binary"]));
    assert!(
        message.starts_with("test.toml: tls.key_file: cannot read"),
        "{message}"
    );
}

#[test]
fn a_garbage_certificate_file_is_named_with_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate(dir.path());
    std::fs::write(&cert, "not a certificate\n").expect("write");
    let message = error(dir.path(), &tls_section(&cert, &key, &["fix"]));
    assert!(
        message.starts_with("test.toml: tls.cert_file: "),
        "{message}"
    );
    assert!(
        message.contains("server.crt: no certificate in it"),
        "{message}"
    );
    // A PEM block whose contents are not a certificate.
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let message = error(dir.path(), &tls_section(&cert, &key, &["fix"]));
    assert!(
        message.starts_with("test.toml: tls.cert_file: "),
        "{message}"
    );
    assert!(message.contains("server.crt"), "{message}");
}

#[test]
fn a_garbage_key_file_or_a_key_of_another_certificate_is_named_with_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = certificate(dir.path());
    std::fs::write(&key, "garbage").expect("write");
    let message = error(dir.path(), &tls_section(&cert, &key, &["fix"]));
    assert!(
        message.starts_with("test.toml: tls.key_file: "),
        "{message}"
    );
    assert!(
        message.contains("server.key: no usable private key"),
        "{message}"
    );

    let other = tempfile::tempdir().expect("tempdir");
    let (_, other_key) = certificate(other.path());
    let message = error(dir.path(), &tls_section(&cert, &other_key, &["fix"]));
    assert!(
        message.starts_with("test.toml: tls.key_file: "),
        "{message}"
    );
    assert!(message.contains("must be the private key of"), "{message}");
}

#[test]
fn a_listener_with_tls_on_needs_the_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let message = error(dir.path(), "[tls]\nhttp = true\n");
    assert_eq!(
        message,
        "test.toml: tls.cert_file: is required with tls.http = true (and key_file)"
    );
    let message = error(dir.path(), "[tls]\ncert_file = \"a.crt\"\n");
    assert_eq!(
        message,
        "test.toml: tls.key_file: is required with cert_file"
    );
}
