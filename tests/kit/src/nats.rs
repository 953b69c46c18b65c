//! NATS servers of a test's own (`nats-server` from Debian's package: `-js -sd DIR` on a free
//! loopback port), a three-server JetStream cluster, and a small blocking client to read what a
//! bridge published (streams, KV entries) and to tamper with its cursor.
//!
//! Where `nats-server` is missing, [`nats_server_or_skip`] says so and the test returns early,
//! unless `CI` is set: then it fails, so CI never goes green without having run the tests.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The `nats-server` binary: on `PATH`, or Debian's `/usr/sbin/nats-server` (`/usr/sbin` is not
/// on every user's `PATH`).
pub fn nats_server_binary() -> Option<PathBuf> {
    for candidate in ["nats-server", "/usr/sbin/nats-server"] {
        let usable = Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if usable {
            return Some(PathBuf::from(candidate));
        }
    }
    None
}

/// `nats-server`, or `None` (and a message naming `test`) where it is not installed outside CI.
///
/// # Panics
///
/// When it is missing and the environment variable `CI` is set.
pub fn nats_server_or_skip(test: &str) -> Option<PathBuf> {
    let found = nats_server_binary();
    if found.is_none() {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        assert!(
            !ci,
            "nats-server is not installed and CI is set: install Debian's nats-server package"
        );
        eprintln!(
            "SKIPPED {test}: nats-server is not installed (apt-get install nats-server); with CI \
             set this would fail"
        );
    }
    found
}

/// A listener on a free TCP port of 127.0.0.1: its port is free once it is dropped (another
/// process could take it in between, which on a test machine does not happen in practice).
fn free_listener() -> Result<TcpListener, String> {
    TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))
}

/// Waits until `port` accepts connections.
fn wait_listening(port: u16, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        sleep(Duration::from_millis(20));
    }
    Err(format!(
        "nats-server did not listen on {port} within {within:?}"
    ))
}

/// One `GET /healthz` on the monitoring port: `Ok` on a 200, else the answer's first line.
fn healthz(port: u16) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    let status = answer.lines().next().unwrap_or("").to_string();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{status} {}", answer.lines().last().unwrap_or("")))
    }
}

/// How one server of ours is started.
#[derive(Debug)]
struct Spec {
    binary: PathBuf,
    name: String,
    port: u16,
    /// Its HTTP monitoring port (`/healthz`).
    monitor: u16,
    store: PathBuf,
    log: PathBuf,
    /// Cluster name, this server's route port and every server's route port.
    cluster: Option<(String, u16, Vec<u16>)>,
}

impl Spec {
    fn spawn(&self) -> Result<Child, String> {
        let mut command = Command::new(&self.binary);
        command
            .arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-m")
            .arg(self.monitor.to_string())
            .arg("-n")
            .arg(&self.name)
            .arg("-js")
            .arg("-sd")
            .arg(&self.store)
            .arg("-l")
            .arg(&self.log);
        if let Some((cluster, route_port, routes)) = &self.cluster {
            let routes: Vec<String> = routes
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect();
            command
                .arg("--cluster_name")
                .arg(cluster)
                .arg("--cluster")
                .arg(format!("nats://127.0.0.1:{route_port}"))
                .arg("--routes")
                .arg(routes.join(","));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        wait_listening(self.port, Duration::from_secs(10))?;
        Ok(child)
    }
}

/// Stops `child` with `signal` and reaps it.
fn stop(child: &mut Option<Child>, signal: i32) {
    if let Some(mut process) = child.take() {
        // SAFETY: kill(2) on a child of ours that has not been reaped yet.
        unsafe {
            libc::kill(process.id() as libc::pid_t, signal);
        }
        let _ = process.wait();
    }
}

/// One `nats-server` with JetStream on a free loopback port and a store in a temporary
/// directory. Stopped (SIGKILL) when dropped.
#[derive(Debug)]
pub struct NatsServer {
    spec: Spec,
    child: Option<Child>,
    _dir: TempDir,
}

impl NatsServer {
    /// Starts one (see [`nats_server_or_skip`] for where it is missing).
    pub fn start() -> Result<NatsServer, String> {
        let binary = nats_server_binary().ok_or("nats-server is not installed")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // Both ports chosen while both are held, so they differ.
        let (client, monitor) = (free_listener()?, free_listener()?);
        let port_of = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
        let (port, monitor_port) = (port_of(&client)?, port_of(&monitor)?);
        drop((client, monitor));
        let spec = Spec {
            binary,
            name: "hayate-test".to_string(),
            port,
            monitor: monitor_port,
            store: dir.path().join("store"),
            log: dir.path().join("nats.log"),
            cluster: None,
        };
        let child = spec.spawn()?;
        Ok(NatsServer {
            spec,
            child: Some(child),
            _dir: dir,
        })
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.spec.port)
    }

    /// The server's log file.
    pub fn log(&self) -> &Path {
        &self.spec.log
    }

    /// Kills it (SIGKILL: no flush, no goodbye).
    pub fn kill(&mut self) {
        stop(&mut self.child, libc::SIGKILL);
    }

    /// Starts it again on the same port and store (killing it first if it runs).
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.child = Some(self.spec.spawn()?);
        Ok(())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JetStream cluster of servers on loopback (cluster `hayate-test`, servers `n0`, `n1` …),
/// each with its own store. Stopped when dropped.
#[derive(Debug)]
pub struct NatsCluster {
    specs: Vec<Spec>,
    children: Vec<Option<Child>>,
    _dir: TempDir,
}

impl NatsCluster {
    /// Starts `size` servers routed to each other.
    pub fn start(size: usize) -> Result<NatsCluster, String> {
        let binary = nats_server_binary().ok_or("nats-server is not installed")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut route_ports = Vec::with_capacity(size);
        let mut client_ports = Vec::with_capacity(size);
        let mut monitor_ports = Vec::with_capacity(size);
        // Hold every listener until all ports are chosen, so no two servers get the same one.
        let mut held = Vec::with_capacity(size * 3);
        for _ in 0..size {
            for ports in [&mut client_ports, &mut route_ports, &mut monitor_ports] {
                let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
                ports.push(listener.local_addr().map_err(|e| e.to_string())?.port());
                held.push(listener);
            }
        }
        drop(held);
        let specs: Vec<Spec> = (0..size)
            .map(|i| Spec {
                binary: binary.clone(),
                name: format!("n{i}"),
                port: client_ports[i],
                monitor: monitor_ports[i],
                store: dir.path().join(format!("store-n{i}")),
                log: dir.path().join(format!("n{i}.log")),
                cluster: Some((
                    "hayate-test".to_string(),
                    route_ports[i],
                    route_ports.clone(),
                )),
            })
            .collect();
        let mut children = Vec::with_capacity(size);
        for spec in &specs {
            children.push(Some(spec.spawn()?));
        }
        Ok(NatsCluster {
            specs,
            children,
            _dir: dir,
        })
    }

    /// Every server's `nats://127.0.0.1:<port>`.
    pub fn urls(&self) -> Vec<String> {
        self.specs
            .iter()
            .map(|s| format!("nats://127.0.0.1:{}", s.port))
            .collect()
    }

    /// Server `i`'s name (`n<i>`), as stream leaders are reported.
    pub fn name(&self, i: usize) -> &str {
        &self.specs[i].name
    }

    /// Server `i`'s log file.
    pub fn log(&self, i: usize) -> &Path {
        &self.specs[i].log
    }

    /// Kills server `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        stop(&mut self.children[i], libc::SIGKILL);
    }

    /// Starts server `i` again on its port and store.
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        self.kill(i);
        self.children[i] = Some(self.specs[i].spawn()?);
        Ok(())
    }

    /// Waits until server `i` answers `/healthz` with 200: it has caught up with the JetStream
    /// meta group and with every stream it holds a replica of. An operator restarting servers one
    /// at a time waits for this before taking the next one down; without it a second kill can
    /// leave a stream without a quorum.
    pub fn wait_healthy(&self, i: usize, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            match healthz(self.specs[i].monitor) {
                Ok(()) => return Ok(()),
                Err(answer) => last = answer,
            }
            sleep(Duration::from_millis(100));
        }
        Err(format!(
            "{} not healthy within {within:?}: {last}",
            self.specs[i].name
        ))
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

/// One message read back from a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its stream sequence.
    pub stream_seq: u64,
    /// Its subject.
    pub subject: String,
    /// Its `Nats-Msg-Id`.
    pub msg_id: String,
    /// Its `Hayate-Seq`.
    pub seq: Option<u64>,
    /// Its `Hayate-Md-Seq`.
    pub md_seq: Option<u64>,
    /// Its payload as text.
    pub text: String,
}

/// How long [`NatsReader`] retries a request: a cluster that has just created a stream or lost
/// a server times requests out until it has elected the stream's leader again.
const SETTLE: Duration = Duration::from_secs(30);

/// A blocking JetStream client for tests: reads streams and KV entries, writes KV entries.
/// Every request is retried until it succeeds or 30 seconds have passed.
#[derive(Debug)]
pub struct NatsReader {
    runtime: tokio::runtime::Runtime,
    js: async_nats::jetstream::Context,
}

impl NatsReader {
    /// Connects to `servers`.
    pub fn connect(servers: &[String]) -> Result<NatsReader, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = runtime
            .block_on(async_nats::connect(servers.to_vec()))
            .map_err(|e| format!("connect {servers:?}: {e}"))?;
        // The context spawns its ack handler: inside the runtime.
        let js = runtime.block_on(async { async_nats::jetstream::new(client) });
        Ok(NatsReader { runtime, js })
    }

    /// Runs `request` until it succeeds, or returns its last error once [`SETTLE`] has passed.
    fn retried<T, F, Fut>(&self, mut request: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let deadline = Instant::now() + SETTLE;
        loop {
            match self.runtime.block_on(request()) {
                Err(error) if Instant::now() < deadline => {
                    eprintln!("NATS request failed, retried: {error}");
                    sleep(Duration::from_millis(250));
                }
                done => return done,
            }
        }
    }

    /// Every message of `stream`, in stream order (one direct request per message).
    pub fn read_stream(&self, stream: &str) -> Result<Vec<StoredMessage>, String> {
        let js = &self.js;
        self.retried(|| async move {
            let mut handle = js
                .get_stream(stream)
                .await
                .map_err(|e| format!("{stream}: {e}"))?;
            let state = handle
                .info()
                .await
                .map_err(|e| format!("{stream}: {e}"))?
                .state
                .clone();
            let mut out = Vec::with_capacity(state.messages as usize);
            if state.messages == 0 {
                return Ok(out);
            }
            for seq in state.first_sequence..=state.last_sequence {
                let message = handle
                    .get_raw_message(seq)
                    .await
                    .map_err(|e| format!("{stream} message {seq}: {e}"))?;
                // By name, not `HeaderMap::get`: async-nats looks its own standard names
                // (Nats-Msg-Id) up differently from how it stores a parsed header.
                let header = |name: &str| {
                    message
                        .headers
                        .iter()
                        .find(|(k, _)| AsRef::<str>::as_ref(*k).eq_ignore_ascii_case(name))
                        .and_then(|(_, v)| v.first())
                        .map(|v| v.as_str().to_string())
                };
                out.push(StoredMessage {
                    stream_seq: message.sequence,
                    subject: message.subject.to_string(),
                    msg_id: header("Nats-Msg-Id").unwrap_or_default(),
                    seq: header("Hayate-Seq").and_then(|v| v.parse().ok()),
                    md_seq: header("Hayate-Md-Seq").and_then(|v| v.parse().ok()),
                    text: String::from_utf8_lossy(&message.payload).into_owned(),
                });
            }
            Ok(out)
        })
    }

    /// The floor a JetStream sink is measured against in the same run: one message per entry of
    /// `payloads` published to a stream of its own (`FLOOR`, subjects `floor.>`, file storage,
    /// one replica, as the sink's), with no headers and at most `in_flight` awaiting their ack;
    /// returns the time until the last ack.
    pub fn publish_floor(
        &self,
        payloads: &[Vec<u8>],
        in_flight: usize,
    ) -> Result<Duration, String> {
        use std::collections::VecDeque;
        let js = &self.js;
        self.runtime.block_on(async move {
            js.get_or_create_stream(async_nats::jetstream::stream::Config {
                name: "FLOOR".to_string(),
                subjects: vec!["floor.>".to_string()],
                ..Default::default()
            })
            .await
            .map_err(|e| format!("FLOOR: {e}"))?;
            let started = Instant::now();
            let mut pending = VecDeque::with_capacity(in_flight);
            for (n, payload) in payloads.iter().enumerate() {
                if pending.len() >= in_flight.max(1) {
                    let ack: async_nats::jetstream::context::PublishAckFuture =
                        pending.pop_front().ok_or("no ack pending")?;
                    ack.await.map_err(|e| format!("ack: {e}"))?;
                }
                let ack = js
                    .publish(format!("floor.{}", n % 16), payload.clone().into())
                    .await
                    .map_err(|e| format!("publish: {e}"))?;
                pending.push_back(ack);
            }
            while let Some(ack) = pending.pop_front() {
                ack.await.map_err(|e| format!("ack: {e}"))?;
            }
            Ok(started.elapsed())
        })
    }

    /// `stream`'s leader (a server name), once it has one.
    pub fn stream_leader(&self, stream: &str) -> Result<String, String> {
        let js = &self.js;
        self.retried(|| async move {
            let mut handle = js
                .get_stream(stream)
                .await
                .map_err(|e| format!("{stream}: {e}"))?;
            let info = handle.info().await.map_err(|e| format!("{stream}: {e}"))?;
            info.cluster
                .as_ref()
                .and_then(|c| c.leader.clone())
                .ok_or_else(|| format!("{stream} has no leader yet"))
        })
    }

    /// The value of `key` in `bucket` (`None`: no such key, or deleted).
    pub fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        let js = &self.js;
        self.retried(|| async move {
            let store = js
                .get_key_value(bucket)
                .await
                .map_err(|e| format!("{bucket}: {e}"))?;
            let value = store
                .get(key)
                .await
                .map_err(|e| format!("{bucket}/{key}: {e}"))?;
            Ok(value.map(|v| v.to_vec()))
        })
    }

    /// Every key of `bucket`.
    pub fn kv_keys(&self, bucket: &str) -> Result<Vec<String>, String> {
        use futures_util::StreamExt;
        let js = &self.js;
        self.retried(|| async move {
            let store = js
                .get_key_value(bucket)
                .await
                .map_err(|e| format!("{bucket}: {e}"))?;
            let mut keys = store.keys().await.map_err(|e| format!("{bucket}: {e}"))?;
            let mut out = Vec::new();
            while let Some(key) = keys.next().await {
                out.push(key.map_err(|e| format!("{bucket}: {e}"))?);
            }
            Ok(out)
        })
    }

    /// Puts `value` at `key` in `bucket` (a test rewinding a bridge's cursor).
    pub fn kv_put(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), String> {
        let js = &self.js;
        self.retried(|| {
            let value = value.clone();
            async move {
                let store = js
                    .get_key_value(bucket)
                    .await
                    .map_err(|e| format!("{bucket}: {e}"))?;
                store
                    .put(key, value.into())
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{bucket}/{key}: {e}"))
            }
        })
    }
}
