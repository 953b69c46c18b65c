//! Shared by the socket tests: a gateway on 127.0.0.1 with ephemeral ports and a temporary data
//! directory, and a small blocking FIX client. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hayate::ExchangeConfig;
use hayate::adapters::binary::client::BinaryClient;
use hayate::adapters::binary::messages::{CancelOnDisconnect, ClientMessage, Logon, ServerMessage};
use hayate::adapters::fix::codec::{Encoder, FieldList, Framing, frame};
use hayate::adapters::gateway::Gateway;
use hayate::adapters::tls::MaybeTls;
use hayate::adapters::tls::rustls::ClientConfig;

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The demo exchange on ephemeral ports, journaling into `dir`, with `extra` TOML appended
/// (more users, tighter limits…). `limits` replaces the `[limits]` section when given.
pub fn config(dir: &Path, limits: Option<&str>, extra: &str) -> ExchangeConfig {
    let text = config_toml(dir, limits, extra);
    ExchangeConfig::from_toml_str(&text, "test.toml").expect("test config is valid")
}

/// The text of [`config`], for tests that edit it further.
pub fn config_toml(dir: &Path, limits: Option<&str>, extra: &str) -> String {
    let demo = hayate::config::DEMO_TOML
        .replace("127.0.0.1:9878", "127.0.0.1:0")
        .replace("127.0.0.1:9000", "127.0.0.1:0")
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:8081", "127.0.0.1:0")
        .replace(
            "dir = \"data\"",
            &format!("dir = {:?}", dir.display().to_string()),
        )
        .replace("fsync = \"always\"", "fsync = \"never\"")
        // The disk guard at 128 MiB: a test machine's disk may hold less than the default GiB.
        .replace("min_free_mb = 1024", "min_free_mb = 128");
    let demo = match limits {
        Some(limits) => {
            let start = demo.find("[limits]").expect("demo has [limits]");
            let end = start + demo[start..].find("\n\n").expect("section end");
            format!("{}{}{}", &demo[..start], limits, &demo[end..])
        }
        None => demo,
    };
    format!("{demo}\n{extra}")
}

/// A user without cancel-on-disconnect, funded with both assets.
pub const CAROL: &str = r#"
[[users]]
username = "carol"
password = "pw-carol"
comp_id = "CAROL"
account = 3
cancel_on_disconnect = false

[[deposits]]
account = 3
asset = "JPY"
amount = "100000000"
[[deposits]]
account = 3
asset = "BTC"
amount = "10"
"#;

/// Starts a gateway, failing the test if it does not start.
pub fn start(config: ExchangeConfig) -> Gateway {
    Gateway::start(config).expect("the gateway starts")
}

/// Now, in nanoseconds since the Unix epoch (the FIX header's SendingTime).
pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A blocking FIX 4.4 initiator, enough to drive the acceptor in tests.
pub struct FixClient {
    /// The connection (plain or TLS).
    pub stream: MaybeTls<TcpStream>,
    /// Our SenderCompID.
    pub comp_id: String,
    /// The MsgSeqNum of the next message we send.
    pub next_seq: u64,
    inbound: Vec<u8>,
    encoder: Encoder,
}

impl FixClient {
    /// Connects to `addr` as `comp_id`, with read timeouts of [`WAIT`].
    pub fn connect(addr: SocketAddr, comp_id: &str) -> FixClient {
        FixClient::connect_with(addr, comp_id, None)
    }

    /// Connects through TLS, verifying the gateway's certificate for `server_name`.
    pub fn connect_tls(
        addr: SocketAddr,
        comp_id: &str,
        config: &Arc<ClientConfig>,
        server_name: &str,
    ) -> FixClient {
        FixClient::connect_with(addr, comp_id, Some((config, server_name)))
    }

    fn connect_with(
        addr: SocketAddr,
        comp_id: &str,
        tls: Option<(&Arc<ClientConfig>, &str)>,
    ) -> FixClient {
        let stream = MaybeTls::connect(addr, WAIT, tls).expect("connect");
        FixClient {
            stream,
            comp_id: comp_id.to_owned(),
            next_seq: 1,
            inbound: Vec::new(),
            encoder: Encoder::new(),
        }
    }

    /// Encodes a message with our next sequence number.
    pub fn encode(&mut self, msg_type: &str, fields: &[(u32, &str)]) -> Vec<u8> {
        self.encoder.start(
            msg_type.as_bytes(),
            self.comp_id.as_bytes(),
            b"HAYATE",
            self.next_seq,
            unix_ns(),
        );
        for (tag, value) in fields {
            self.encoder.field(*tag, value.as_bytes());
        }
        self.next_seq += 1;
        self.encoder.finish().to_vec()
    }

    /// Encodes and sends a message.
    pub fn send(&mut self, msg_type: &str, fields: &[(u32, &str)]) {
        let bytes = self.encode(msg_type, fields);
        self.send_raw(&bytes);
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
        self.stream.flush().expect("send");
    }

    /// The next message, or `None` when the server closed the connection (or the wait ran out).
    pub fn try_recv(&mut self) -> Option<FieldList> {
        let deadline = Instant::now() + WAIT;
        loop {
            match frame(&self.inbound, 1 << 20) {
                Framing::Complete { len } => {
                    let mut fields = FieldList::new();
                    fields
                        .parse(&self.inbound[..len])
                        .expect("the server writes valid FIX");
                    self.inbound.drain(..len);
                    return Some(fields);
                }
                Framing::Incomplete => {}
                other => panic!("the server wrote a bad frame: {other:?}"),
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.inbound.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next message that is not a Heartbeat.
    pub fn recv(&mut self) -> FieldList {
        loop {
            let m = self.try_recv().expect("a message from the gateway");
            if m.msg_type() != Some(b"0".as_slice()) {
                return m;
            }
        }
    }

    /// The next message of type `msg_type`, skipping others.
    pub fn recv_type(&mut self, msg_type: &str) -> FieldList {
        loop {
            let m = self.try_recv().expect("a message from the gateway");
            if m.msg_type() == Some(msg_type.as_bytes()) {
                return m;
            }
        }
    }

    /// True once the server has closed the connection.
    pub fn closed(&mut self) -> bool {
        loop {
            match self.try_recv() {
                None => return true,
                Some(_) => continue,
            }
        }
    }

    /// Sends a Logon with these credentials (and `extra` fields) and returns the answer.
    pub fn logon(&mut self, username: &str, password: &str, extra: &[(u32, &str)]) -> FieldList {
        let mut fields = vec![(98, "0"), (108, "30"), (553, username), (554, password)];
        fields.extend_from_slice(extra);
        self.send("A", &fields);
        self.recv()
    }

    /// Sends a NewOrderSingle: a limit order on BTC-JPY.
    pub fn new_order(&mut self, id: &str, side: &str, qty: &str, price: &str) {
        self.send(
            "D",
            &[
                (11, id),
                (55, "BTC-JPY"),
                (54, side),
                (60, "20260101-00:00:00.000"),
                (38, qty),
                (40, "2"),
                (44, price),
            ],
        );
    }
}

/// A field's text, or `""` when the message lacks it.
pub fn field(m: &FieldList, tag: u32) -> &str {
    m.get_str(tag).unwrap_or("")
}

/// The demo admin, logged on over the binary port.
pub fn admin(addr: SocketAddr) -> BinaryClient {
    let mut client = BinaryClient::connect(addr, WAIT).expect("connect");
    let logon = Logon::new("admin", "change-me", CancelOnDisconnect::Configured).expect("short");
    client.send(&ClientMessage::Logon(logon)).expect("send");
    let ack = client.recv().expect("logon answer");
    assert!(matches!(
        ServerMessage::decode(&ack),
        Ok(ServerMessage::LogonAck(_))
    ));
    client
}

/// Sends an admin command and waits for its result.
pub fn admin_do(client: &mut BinaryClient, message: ClientMessage) {
    client.send(&message).expect("send");
    loop {
        let bytes = client.recv().expect("an answer");
        match ServerMessage::decode(&bytes).expect("decode") {
            ServerMessage::AdminResult { ok, text, .. } => {
                assert!(ok, "admin command refused: {text}");
                return;
            }
            _ => continue,
        }
    }
}

/// A MarketDataRequest (V) for BTC-JPY's bids, offers and trades: SubscriptionRequestType
/// `kind` (0 snapshot, 1 snapshot + updates, 2 unsubscribe), MarketDepth `depth`, incremental
/// updates.
pub fn subscribe_btc_jpy(client: &mut FixClient, id: &str, kind: &str, depth: &str) {
    client.send(
        "V",
        &[
            (262, id),
            (263, kind),
            (264, depth),
            (265, "1"),
            (267, "3"),
            (269, "0"),
            (269, "1"),
            (269, "2"),
            (146, "1"),
            (55, "BTC-JPY"),
        ],
    );
}
