//! The gateway's event loop: one thread, one `mio::Poll`, every client socket (FIX and binary),
//! and the pipeline's output ring.
//!
//! Each pass of the loop takes what the output ring holds and writes each event to the sessions
//! of its account, then flushes every socket written to (once per batch), then handles socket
//! readiness: accept, read, frame, check, publish to the input ring with the receive time
//! stamped. When there is nothing to do for a while it parks: it tells the pipeline, looks at the
//! ring once more, and sleeps in `epoll` until a socket or the matcher wakes it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use hayate_core::command::{Command, CommandKind};
use hayate_core::config::{AuthMode, ExchangeConfig};
use hayate_core::event::EventKind;
use hayate_core::pipeline::{EventReceiver, Output, PublishError, Publisher, Wait};
use hayate_core::units::{AccountId, ClientOrderId, OrderId, SymbolId};

use super::connection::{Conn, ReadOutcome};
use super::limits::{Admission, ConnectionCaps, TokenBucket};
use crate::binary::codec::{self as binary_codec, Framing as BinaryFraming};
use crate::binary::messages::{
    ClientMessage, LogonAck, RejectCode, Report, ServerMessage, SymbolInfo,
};
use crate::fix::codec::{self as fix_codec, Framing as FixFraming};
use crate::fix::orders::{self, RequestIds};
use crate::fix::seq_store::SeqStore;
use crate::fix::session::{FixSession, Inbound, LogonGrant, LogonRequest};
use crate::metrics::{ExchangeState, GatewayMetrics};
use crate::replication::role::NodeRole;

/// Wakes the loop: the matcher published, or someone asked it to stop.
pub const WAKER: Token = Token(0);
const FIX_LISTENER: Token = Token(1);
const BINARY_LISTENER: Token = Token(2);
/// Connection tokens start here.
const FIRST_CONNECTION: usize = 3;

/// How often timers (heartbeats, logon and idle timeouts) are looked at.
const TIMER_TICK: Duration = Duration::from_millis(100);
/// Empty passes (each an `epoll` poll with a zero timeout) before the loop parks, by the
/// configured wait strategy. On shared cores a spinning gateway steals the core the matcher
/// needs (measured here at 10k orders/s over the binary port: p50 order→ack 137 µs spinning 200
/// passes, 70–83 µs parking after 2), so `backoff` parks almost at once and pays one eventfd
/// write per batch in the matcher while parked; dedicated cores spin.
fn spins_before_park(wait: Wait) -> u32 {
    match wait {
        Wait::Backoff => 2,
        Wait::Yield => 10_000,
        Wait::BusySpin => u32::MAX,
    }
}
/// How long a parked loop sleeps at most, so timers still run.
const PARK_TIMEOUT: Duration = Duration::from_millis(100);
/// Bytes queued for a client that does not read, after which it is dropped (a slow consumer must
/// not hold the gateway's memory hostage).
const MAX_PENDING_OUTPUT: usize = 8 << 20;
/// How a binary session is kept alive.
const BINARY_HEARTBEAT: Duration = Duration::from_secs(1);

/// What cancel-on-disconnect does when a session drops (FIX 8013).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelScope {
    /// Nothing.
    None,
    /// The orders this session placed.
    Session,
    /// Every order of the account.
    Account,
}

impl CancelScope {
    fn from_flag(flag: Option<u8>, user_default: bool) -> CancelScope {
        match flag {
            Some(b'S') => CancelScope::Session,
            Some(b'Y') => CancelScope::Account,
            Some(b'N') => CancelScope::None,
            _ if user_default => CancelScope::Account,
            _ => CancelScope::None,
        }
    }
}

/// Who is logged on over a connection.
#[derive(Debug, Clone)]
struct Login {
    account: AccountId,
    admin: bool,
    cancel_on_disconnect: CancelScope,
    /// Orders this session placed that are still open (for cancel-on-disconnect `S`).
    orders: HashSet<OrderId>,
}

#[derive(Debug)]
enum Protocol {
    Fix(Box<FixSession>),
    Binary { last_sent: Instant },
}

#[derive(Debug)]
struct Client {
    conn: Conn,
    protocol: Protocol,
    bucket: TokenBucket,
    login: Option<Login>,
    /// A unique number for this connection, never reused (tokens are).
    id: u64,
    opened: Instant,
    last_received: Instant,
    /// Close once the outbound buffer is flushed.
    closing: bool,
    /// Registered for writable events (the socket pushed back).
    want_write: bool,
    /// Read budget spent: more input may be waiting.
    more_input: bool,
    /// Why it is closing, for the log.
    close_reason: Option<String>,
}

/// The settings the loop needs, taken from the configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The whole configuration (users, symbols, limits).
    pub config: ExchangeConfig,
    /// Where FIX sequence numbers are kept.
    pub sessions_dir: PathBuf,
    /// What this node is in its pair: only a primary takes client logons and orders.
    pub role: Arc<NodeRole>,
}

/// The event loop's state.
pub struct Server {
    settings: ServerSettings,
    poll: Poll,
    fix_listener: TcpListener,
    binary_listener: TcpListener,
    clients: Vec<Option<Client>>,
    free: Vec<usize>,
    next_client_id: u64,
    caps: ConnectionCaps,
    /// Logged-on connections by account (tokens), for routing reports.
    by_account: HashMap<AccountId, Vec<usize>>,
    /// FIX client comp ids with a live session (duplicate logons are refused).
    fix_comp_ids: HashMap<String, usize>,
    /// New orders published, not yet answered: (account, ClOrdID) → (token, client id).
    pending_new: HashMap<(AccountId, ClientOrderId), (usize, u64)>,
    /// Open orders placed by a session still connected: order id → (token, client id).
    owners: HashMap<OrderId, (usize, u64)>,
    /// Admin requests in flight, in publish order: each gets the next admin event.
    pending_admin: VecDeque<(usize, u64)>,
    /// The admin who asked for a promotion under way.
    pending_promote: Option<(usize, u64)>,
    /// Whether this node took orders at the last timer tick (to notice a promotion).
    was_primary: bool,
    halted: HashSet<SymbolId>,
    exchange_halted: bool,
    publisher: Publisher,
    receiver: EventReceiver,
    metrics: Arc<GatewayMetrics>,
    latency: Histogram<u64>,
    latency_published: Instant,
    local_exec_ids: u64,
    boot_ns: u64,
    stop: Arc<AtomicBool>,
    dirty: Vec<usize>,
    output_buf: Vec<Output>,
    scratch: Vec<u8>,
    status_source: Option<Arc<dyn Fn() -> String + Send + Sync>>,
}

/// Handles one framed message from connection `index`.
type MessageHandler = fn(&mut Server, usize, &[u8]);

/// What the front of a receive buffer holds, whatever the protocol.
enum Cut {
    /// A whole message of this many bytes.
    Message(usize),
    /// Not a whole message yet.
    More,
    /// Garbage to skip (FIX: ignored without consuming a sequence number).
    Garbled(usize),
    /// A declared length the gateway will not buffer: close the connection.
    Close(&'static str),
}

impl Cut {
    fn fix(buf: &[u8], max: usize) -> Cut {
        match fix_codec::frame(buf, max) {
            FixFraming::Complete { len } => Cut::Message(len),
            FixFraming::Incomplete => Cut::More,
            FixFraming::Garbled { skip, .. } => Cut::Garbled(skip),
            FixFraming::TooLarge { .. } => {
                Cut::Close("declared BodyLength above the maximum message size")
            }
        }
    }

    fn binary(buf: &[u8], max: usize) -> Cut {
        match binary_codec::frame(buf, max) {
            BinaryFraming::Complete { len } => Cut::Message(len),
            BinaryFraming::Incomplete => Cut::More,
            BinaryFraming::Invalid { .. } => Cut::Close("binary message length out of bounds"),
        }
    }
}

/// Adds a connection to those flushed at the end of the pass, once. (A free function so it
/// can be called while other fields of the server are borrowed.)
fn queue_flush(dirty: &mut Vec<usize>, index: usize) {
    if !dirty.contains(&index) {
        dirty.push(index);
    }
}

/// Nanoseconds since the Unix epoch.
pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Binds a listener with SO_REUSEADDR, so a restarted gateway takes its port back at once.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    // mio's `bind` sets SO_REUSEADDR on Unix.
    TcpListener::bind(addr)
}

impl Server {
    /// Binds the listeners (so a port conflict fails start, not later) and builds the loop.
    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        settings: ServerSettings,
        poll: Poll,
        publisher: Publisher,
        receiver: EventReceiver,
        metrics: Arc<GatewayMetrics>,
        stop: Arc<AtomicBool>,
        halted: (bool, Vec<SymbolId>),
    ) -> io::Result<Server> {
        let gateway = settings.config.gateway();
        let mut fix_listener = bind(gateway.fix_listen)?;
        let mut binary_listener = bind(gateway.binary_listen)?;
        poll.registry()
            .register(&mut fix_listener, FIX_LISTENER, Interest::READABLE)?;
        poll.registry()
            .register(&mut binary_listener, BINARY_LISTENER, Interest::READABLE)?;
        let limits = settings.config.limits();
        let caps = ConnectionCaps::new(limits.max_connections, limits.max_connections_per_address);
        let latency = Histogram::new_with_bounds(1, 60_000_000_000, 3)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let was_primary = settings.role.refusal().is_none();
        let server = Server {
            was_primary,
            settings,
            poll,
            fix_listener,
            binary_listener,
            clients: Vec::new(),
            free: Vec::new(),
            next_client_id: 1,
            caps,
            by_account: HashMap::new(),
            fix_comp_ids: HashMap::new(),
            pending_new: HashMap::new(),
            owners: HashMap::new(),
            pending_admin: VecDeque::new(),
            pending_promote: None,
            halted: halted.1.into_iter().collect(),
            exchange_halted: halted.0,
            publisher,
            receiver,
            metrics,
            latency,
            latency_published: Instant::now(),
            local_exec_ids: 0,
            boot_ns: unix_ns(),
            stop,
            dirty: Vec::new(),
            output_buf: Vec::with_capacity(1024),
            scratch: Vec::with_capacity(256),
            status_source: None,
        };
        server.publish_halts();
        Ok(server)
    }

    /// The addresses actually bound (FIX, binary): useful when the config asked for port 0.
    pub fn local_addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        Ok((
            self.fix_listener.local_addr()?,
            self.binary_listener.local_addr()?,
        ))
    }

    /// Publishes commands the gateway itself decides on at start (cancel-on-disconnect of the
    /// users whose sessions were lost in a crash).
    pub fn publish_startup(&mut self, commands: &[Command]) {
        let now = unix_ns();
        for command in commands {
            let _ = self.publish(command.at(now));
        }
    }

    /// Runs until the stop flag is raised; then logs every session out, flushes, and returns the
    /// receiver (to drain while the pipeline stops) and the publisher (to drop).
    pub fn run(mut self) -> (EventReceiver, Publisher) {
        let mut events = Events::with_capacity(1024);
        let mut idle_passes = 0u32;
        let spins = spins_before_park(self.settings.config.pipeline().wait);
        let mut next_timer = Instant::now() + TIMER_TICK;
        self.metrics.set_state(if self.exchange_halted {
            ExchangeState::Halted
        } else {
            ExchangeState::Running
        });
        while !self.stop.load(Ordering::Acquire) {
            let routed = self.drain_output();
            self.flush_dirty();
            let timeout = if routed > 0 || idle_passes < spins {
                Some(Duration::ZERO)
            } else {
                self.receiver.park();
                if self.drain_output() > 0 {
                    self.receiver.unpark();
                    self.flush_dirty();
                    idle_passes = 0;
                    continue;
                }
                Some(PARK_TIMEOUT.min(next_timer.saturating_duration_since(Instant::now())))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    // Nothing can be served without the poller: stop cleanly, saying why.
                    tracing::error!(error = %e, "poll failed: the gateway stops");
                    break;
                }
            }
            self.receiver.unpark();
            let mut busy = routed > 0;
            for event in events.iter() {
                busy = true;
                match event.token() {
                    WAKER => {}
                    FIX_LISTENER => self.accept(true),
                    BINARY_LISTENER => self.accept(false),
                    Token(t) => {
                        let index = t - FIRST_CONNECTION;
                        if event.is_readable() || event.is_read_closed() {
                            self.on_readable(index);
                        }
                        if event.is_writable() {
                            self.mark_dirty(index);
                        }
                    }
                }
            }
            // Connections that spent their read budget get another turn.
            for index in 0..self.clients.len() {
                if self.clients[index].as_ref().is_some_and(|c| c.more_input) {
                    busy = true;
                    self.on_readable(index);
                }
            }
            let now = Instant::now();
            if now >= next_timer {
                self.on_timers(now);
                next_timer = now + TIMER_TICK;
            }
            idle_passes = if busy {
                0
            } else {
                idle_passes.saturating_add(1)
            };
        }
        self.shutdown();
        (self.receiver, self.publisher)
    }

    // ----- output: events to sessions ---------------------------------------------------------

    /// Routes everything the output ring holds; returns how many events there were.
    fn drain_output(&mut self) -> usize {
        let Server {
            receiver,
            output_buf,
            ..
        } = self;
        let polled = receiver.poll(|out| output_buf.push(*out));
        let batch = std::mem::take(&mut self.output_buf);
        for out in &batch {
            self.route(out);
        }
        let n = batch.len();
        self.output_buf = batch;
        self.output_buf.clear();
        if self.latency_published.elapsed() >= Duration::from_secs(1) {
            self.publish_latency();
        }
        if polled.is_err() {
            // The pipeline stopped under us (a stage failed): stop serving.
            self.stop.store(true, Ordering::Release);
        }
        n
    }

    /// Sends one event to every session of its account (and admin events to the admin who asked).
    fn route(&mut self, out: &Output) {
        let event = &out.event;
        let Some(kind) = event.event_kind() else {
            return;
        };
        match kind {
            EventKind::Deposited
            | EventKind::Withdrawn
            | EventKind::DepositRejected
            | EventKind::WithdrawRejected
            | EventKind::Halted
            | EventKind::Resumed
            | EventKind::HaltRejected
            | EventKind::SnapshotMarked => {
                self.on_admin_event(out, kind);
                return;
            }
            EventKind::EpochRaised => {
                // This node's promotion, or its primary's replicated to it.
                self.settings
                    .role
                    .record_epoch(event.detail[0], event.detail[1]);
                return;
            }
            EventKind::EpochRejected => return,
            EventKind::Rejected => self.metrics.reject(event.reason()),
            _ => {}
        }
        self.track_ownership(out, kind);
        let Some(tokens) = self.by_account.get(&event.account) else {
            return;
        };
        let now_ns = unix_ns();
        if out.index == 0 && out.timestamp_ns > 0 {
            let _ = self
                .latency
                .record(now_ns.saturating_sub(out.timestamp_ns).max(1));
        }
        let engine = self.settings.config.engine_config();
        for &index in tokens {
            let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            // Nothing follows a Logout (ours or theirs) on a closing session.
            if client.closing {
                continue;
            }
            let sent = match &mut client.protocol {
                Protocol::Fix(session) => {
                    let sent = orders::write_report(session, out, engine, now_ns);
                    client.conn.outbound.append(session.outbound());
                    sent
                }
                Protocol::Binary { last_sent } => {
                    *last_sent = Instant::now();
                    let report = Report::new(out.seq, out.timestamp_ns, out.index, event);
                    ServerMessage::Report(report).encode(&mut client.conn.outbound);
                    true
                }
            };
            if sent {
                GatewayMetrics::bump(&self.metrics.reports);
                queue_flush(&mut self.dirty, index);
            }
        }
    }

    /// Keeps (order id → session) for cancel-on-disconnect `S`, from the engine's answers.
    fn track_ownership(&mut self, out: &Output, kind: EventKind) {
        let event = &out.event;
        match kind {
            EventKind::Accepted => {
                let key = (event.account, event.client_order_id);
                if let Some(owner) = self.pending_new.remove(&key) {
                    self.owners.insert(event.order_id, owner);
                    if let Some(login) = self.login_of(owner) {
                        login.orders.insert(event.order_id);
                    }
                }
            }
            EventKind::Rejected => {
                self.pending_new
                    .remove(&(event.account, event.client_order_id));
            }
            EventKind::Fill | EventKind::Canceled if event.leaves_qty.0 == 0 => {
                if let Some(owner) = self.owners.remove(&event.order_id) {
                    if let Some(login) = self.login_of(owner) {
                        login.orders.remove(&event.order_id);
                    }
                }
            }
            _ => {}
        }
    }

    fn login_of(&mut self, (index, id): (usize, u64)) -> Option<&mut Login> {
        self.clients
            .get_mut(index)
            .and_then(Option::as_mut)
            .filter(|c| c.id == id)
            .and_then(|c| c.login.as_mut())
    }

    fn on_admin_event(&mut self, out: &Output, kind: EventKind) {
        let event = &out.event;
        let all = event.flags & hayate_core::event::EVENT_FLAG_ALL_SYMBOLS != 0;
        match kind {
            EventKind::Halted if all => self.exchange_halted = true,
            EventKind::Resumed if all => self.exchange_halted = false,
            EventKind::Halted => {
                self.halted.insert(event.symbol);
            }
            EventKind::Resumed => {
                self.halted.remove(&event.symbol);
            }
            _ => {}
        }
        if matches!(kind, EventKind::Halted | EventKind::Resumed) {
            self.publish_halts();
        }
        let Some(owner) = self.pending_admin.pop_front() else {
            return;
        };
        let ok = matches!(
            kind,
            EventKind::Deposited
                | EventKind::Withdrawn
                | EventKind::Halted
                | EventKind::Resumed
                | EventKind::SnapshotMarked
        );
        let text = if kind == EventKind::SnapshotMarked {
            format!(
                "snapshot of sequence {} queued for the snapshot writer",
                out.seq
            )
        } else {
            event.describe(self.settings.config.engine_config())
        };
        self.send_admin_result(owner, ok, &text);
    }

    fn send_admin_result(&mut self, (index, id): (usize, u64), ok: bool, text: &str) {
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        if client.id != id {
            return;
        }
        ServerMessage::AdminResult {
            ok,
            status: u8::from(!ok),
            text,
        }
        .encode(&mut client.conn.outbound);
        self.mark_dirty(index);
    }

    /// Tells `/status` which symbols are halted and whether the exchange is.
    fn publish_halts(&self) {
        let engine = self.settings.config.engine_config();
        let mut names: Vec<String> = self
            .halted
            .iter()
            .filter_map(|s| engine.symbol(*s).map(|spec| spec.name.clone()))
            .collect();
        names.sort();
        self.metrics.set_halted_symbols(names);
        if self.metrics.state() != ExchangeState::Recovering {
            self.metrics.set_state(if self.exchange_halted {
                ExchangeState::Halted
            } else {
                ExchangeState::Running
            });
        }
    }

    /// The open-connections gauge is the caps' own count, not a second tally.
    fn publish_connections(&self) {
        self.metrics
            .connections
            .store(self.caps.total() as u64, Ordering::Relaxed);
    }

    fn publish_latency(&mut self) {
        let summary = &self.metrics.latency;
        let h = &self.latency;
        summary
            .p50
            .store(h.value_at_quantile(0.5), Ordering::Relaxed);
        summary
            .p99
            .store(h.value_at_quantile(0.99), Ordering::Relaxed);
        summary
            .p999
            .store(h.value_at_quantile(0.999), Ordering::Relaxed);
        summary.max.store(h.max(), Ordering::Relaxed);
        summary.count.store(h.len(), Ordering::Relaxed);
        self.latency_published = Instant::now();
    }

    // ----- input: sockets to commands ---------------------------------------------------------

    fn accept(&mut self, fix: bool) {
        loop {
            let accepted = if fix {
                self.fix_listener.accept()
            } else {
                self.binary_listener.accept()
            };
            let (mut stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Out of descriptors or the like: drop this attempt, keep serving the others.
                Err(_) => return,
            };
            if let Err(why) = self.caps.open(peer.ip()) {
                GatewayMetrics::bump(&self.metrics.connections_refused);
                tracing::debug!(%peer, why, "connection refused");
                drop(stream);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let index = self.free.pop().unwrap_or_else(|| {
                self.clients.push(None);
                self.clients.len() - 1
            });
            let token = Token(index + FIRST_CONNECTION);
            if self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
                .is_err()
            {
                self.caps.close(peer.ip());
                self.free.push(index);
                continue;
            }
            let now = Instant::now();
            let limits = self.settings.config.limits();
            let protocol = if fix {
                Protocol::Fix(Box::new(FixSession::new(
                    &self.settings.config.gateway().comp_id,
                    now,
                )))
            } else {
                Protocol::Binary { last_sent: now }
            };
            let id = self.next_client_id;
            self.next_client_id += 1;
            self.clients[index] = Some(Client {
                conn: Conn::new(
                    stream,
                    peer,
                    self.settings.config.gateway().max_message_size,
                ),
                protocol,
                bucket: TokenBucket::new(limits.messages_per_second, limits.burst, now),
                login: None,
                id,
                opened: now,
                last_received: now,
                closing: false,
                want_write: false,
                more_input: false,
                close_reason: None,
            });
            self.publish_connections();
        }
    }

    fn on_readable(&mut self, index: usize) {
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        if client.closing {
            return;
        }
        let outcome = client.conn.read();
        client.more_input = outcome == ReadOutcome::BudgetSpent;
        self.frame_input(index);
        if outcome == ReadOutcome::Closed {
            self.close(index, "connection closed by peer");
        }
    }

    /// Frames and handles every complete message in a connection's receive buffer, in either
    /// protocol.
    fn frame_input(&mut self, index: usize) {
        let max = self.settings.config.gateway().max_message_size;
        loop {
            let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                return;
            };
            if client.closing {
                return;
            }
            let (cut, handle): (Cut, MessageHandler) = match client.protocol {
                Protocol::Fix(_) => (Cut::fix(client.conn.unread(), max), Server::on_fix_message),
                Protocol::Binary { .. } => (
                    Cut::binary(client.conn.unread(), max),
                    Server::on_binary_message,
                ),
            };
            match cut {
                Cut::More => return,
                Cut::Garbled(skip) => {
                    // Ignored without consuming a sequence number (SPEC §6).
                    GatewayMetrics::bump(&self.metrics.garbled);
                    client.conn.consume(skip.max(1));
                }
                Cut::Close(why) => {
                    // Closed before anything of it is buffered (SPEC §6).
                    self.close(index, why);
                    return;
                }
                Cut::Message(len) => {
                    // Copied out (into a reused buffer) so the handler can borrow the
                    // connection mutably.
                    let mut message = std::mem::take(&mut self.scratch);
                    message.clear();
                    message.extend_from_slice(&client.conn.unread()[..len]);
                    client.conn.consume(len);
                    handle(self, index, &message);
                    self.scratch = message;
                }
            }
        }
    }

    fn on_fix_message(&mut self, index: usize, message: &[u8]) {
        let now = Instant::now();
        let now_ns = unix_ns();
        GatewayMetrics::bump(&self.metrics.messages_in);
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        client.last_received = now;
        let admission = client.bucket.admit(now);
        let Protocol::Fix(session) = &mut client.protocol else {
            return;
        };
        if admission == Admission::Disconnect {
            session.logout("rate limit exceeded: disconnecting", now_ns);
            client.conn.outbound.append(session.outbound());
            GatewayMetrics::bump(&self.metrics.throttle_disconnects);
            self.close_after_flush(index, "rate limit abuse");
            return;
        }
        let inbound = session.on_message(message, now, now_ns);
        match inbound {
            Inbound::Nothing => {}
            Inbound::Close => {
                client.conn.outbound.append(session.outbound());
                let why = session
                    .close_reason()
                    .unwrap_or("session closed")
                    .to_owned();
                self.close_after_flush(index, &why);
                return;
            }
            Inbound::Logon(request) => self.fix_logon(index, &request, now, now_ns),
            Inbound::Application => {
                if admission == Admission::Throttle {
                    GatewayMetrics::bump(&self.metrics.throttled);
                    GatewayMetrics::bump(&self.metrics.business_rejects);
                    let seq = session.last_seq();
                    session.business_reject(
                        seq,
                        0,
                        "Throttled: message rate limit exceeded",
                        now_ns,
                    );
                } else {
                    self.fix_application(index, now_ns);
                }
            }
        }
        self.collect_fix_output(index);
    }

    /// Moves a FIX session's answers to its socket's queue.
    fn collect_fix_output(&mut self, index: usize) {
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let Protocol::Fix(session) = &mut client.protocol else {
            return;
        };
        let wrote = !session.outbound().is_empty();
        if wrote {
            client.conn.outbound.append(session.outbound());
        }
        let closed = session.is_closed() && !client.closing;
        if wrote {
            self.mark_dirty(index);
        }
        if closed {
            self.close_after_flush(index, "session closed");
        }
    }

    fn fix_logon(&mut self, index: usize, request: &LogonRequest, now: Instant, now_ns: u64) {
        let decision = self.authenticate_fix(request);
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let Protocol::Fix(session) = &mut client.protocol else {
            return;
        };
        match decision {
            Err(why) => {
                GatewayMetrics::bump(&self.metrics.logons_refused);
                tracing::warn!(comp_id = %request.sender_comp_id, peer = %client.conn.peer, why, "FIX logon refused");
                session.refuse_logon(&why, now_ns);
            }
            Ok((grant, account, cod)) => {
                session.accept_logon(request, grant, now, now_ns);
                if session.is_active() {
                    client.login = Some(Login {
                        account,
                        admin: false,
                        cancel_on_disconnect: cod,
                        orders: HashSet::new(),
                    });
                    self.fix_comp_ids
                        .insert(request.sender_comp_id.clone(), index);
                    self.by_account.entry(account).or_default().push(index);
                    GatewayMetrics::bump(&self.metrics.fix_sessions);
                    tracing::info!(comp_id = %request.sender_comp_id, peer = %client.conn.peer, account = account.0, next_in = session.next_in(), next_out = session.next_out(), "FIX logon");
                }
            }
        }
    }

    fn authenticate_fix(
        &self,
        request: &LogonRequest,
    ) -> Result<(LogonGrant, AccountId, CancelScope), String> {
        if let Some(why) = self.settings.role.refusal() {
            return Err(why);
        }
        let config = &self.settings.config;
        if request.target_comp_id != config.gateway().comp_id {
            return Err(format!("TargetCompID must be {}", config.gateway().comp_id));
        }
        const BAD: &str = "unknown SenderCompID or bad Username/Password";
        let user = config
            .user_by_comp_id(&request.sender_comp_id)
            .ok_or_else(|| BAD.to_owned())?;
        if user.auth == AuthMode::Password {
            let good = request.username.as_deref() == Some(user.username.as_str())
                && request.password.as_deref() == Some(user.password.as_str());
            if !good {
                return Err(BAD.to_owned());
            }
        }
        if self.fix_comp_ids.contains_key(&request.sender_comp_id) {
            return Err("a session for this SenderCompID is already logged on".to_owned());
        }
        let seqs = SeqStore::open(&self.settings.sessions_dir, &request.sender_comp_id)
            .map_err(|e| format!("sequence store unavailable: {e}"))?;
        let cod = CancelScope::from_flag(request.cancel_on_disconnect, user.cancel_on_disconnect);
        Ok((
            LogonGrant {
                seqs,
                reset_on_logon: user.reset_on_logon,
            },
            user.account,
            cod,
        ))
    }

    fn fix_application(&mut self, index: usize, now_ns: u64) {
        let engine = self.settings.config.engine_config();
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let Some(account) = client.login.as_ref().map(|l| l.account) else {
            return;
        };
        let Protocol::Fix(session) = &mut client.protocol else {
            return;
        };
        match orders::to_command(session.fields(), account, engine) {
            Ok(command) => {
                let client_id = client.id;
                match self.publish_from(index, client_id, command.at(now_ns)) {
                    Ok(()) => {}
                    Err(why) => {
                        if let Some(Client {
                            protocol: Protocol::Fix(session),
                            ..
                        }) = self.clients.get_mut(index).and_then(Option::as_mut)
                        {
                            let seq = session.last_seq();
                            session.business_reject(seq, 0, &why, now_ns);
                            GatewayMetrics::bump(&self.metrics.business_rejects);
                        }
                    }
                }
            }
            Err(refusal) => {
                let ids = RequestIds::of(session.fields());
                self.local_exec_ids += 1;
                let exec_id = format!("L{}-{}", self.boot_ns, self.local_exec_ids);
                orders::write_refusal(session, &refusal, &ids, exec_id.as_bytes(), now_ns);
                let reason = match refusal {
                    orders::Refusal::Order { reason, .. }
                    | orders::Refusal::CancelReplace { reason, .. }
                    | orders::Refusal::MassCancel { reason, .. } => reason,
                };
                self.metrics.reject(reason);
            }
        }
    }

    /// Publishes a client's command, remembering who sent a new order; the error is the text to
    /// answer with when the exchange cannot take it.
    fn publish_from(
        &mut self,
        index: usize,
        client_id: u64,
        command: Command,
    ) -> Result<(), String> {
        self.publish(command)?;
        if command.command_kind() == Some(CommandKind::NewOrder) {
            self.pending_new.insert(
                (command.account, command.client_order_id),
                (index, client_id),
            );
        }
        Ok(())
    }

    /// Publishes to the input ring. A full ring is back-pressure: the loop drains the output ring
    /// (which may be what holds the matcher) and tries again, so the gateway slows down instead of
    /// dropping or deadlocking.
    fn publish(&mut self, command: Command) -> Result<(), String> {
        // A standby's pipeline takes only its primary's records; a node that stepped down takes
        // nothing (epoch fencing). One atomic load on the primary.
        if let Some(why) = self.settings.role.refusal() {
            return Err(why);
        }
        loop {
            match self.publisher.try_publish(&command) {
                Ok(()) => return Ok(()),
                Err(PublishError::Full) => {
                    if self.drain_output() == 0 {
                        std::thread::yield_now();
                    }
                }
                Err(PublishError::Malformed(why)) => return Err(format!("malformed: {why}")),
                Err(PublishError::Stopped(why)) => {
                    return Err(format!("exchange unavailable: {why}"));
                }
            }
        }
    }

    fn binary_reject(&mut self, index: usize, code: RejectCode, ref_msg_type: u8, text: &str) {
        if let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) {
            ServerMessage::Reject {
                code,
                ref_msg_type,
                text,
            }
            .encode(&mut client.conn.outbound);
            GatewayMetrics::bump(&self.metrics.session_rejects);
            self.mark_dirty(index);
        }
    }

    fn on_binary_message(&mut self, index: usize, message: &[u8]) {
        let now = Instant::now();
        let now_ns = unix_ns();
        GatewayMetrics::bump(&self.metrics.messages_in);
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        client.last_received = now;
        let msg_type = message.get(2).copied().unwrap_or(0);
        let admission = client.bucket.admit(now);
        if admission == Admission::Disconnect {
            GatewayMetrics::bump(&self.metrics.throttle_disconnects);
            self.binary_reject(
                index,
                RejectCode::Throttled,
                msg_type,
                "rate limit abuse: disconnecting",
            );
            self.close_after_flush(index, "rate limit abuse");
            return;
        }
        let decoded = match ClientMessage::decode(message) {
            Ok(m) => m,
            Err(e) => {
                self.binary_reject(index, e.reject_code(), msg_type, &e.to_string());
                return;
            }
        };
        let logged_on = client.login.clone();
        match (&decoded, logged_on) {
            (ClientMessage::Logon(logon), None) => self.binary_logon(index, logon),
            (ClientMessage::Logon(_), Some(_)) => {
                self.binary_reject(
                    index,
                    RejectCode::AlreadyLoggedOn,
                    msg_type,
                    "already logged on",
                );
            }
            (ClientMessage::Heartbeat, _) => {}
            (ClientMessage::Logout, _) => self.close_after_flush(index, "logout"),
            (_, None) => {
                self.binary_reject(index, RejectCode::NotLoggedOn, msg_type, "log on first");
                self.close_after_flush(index, "message before logon");
            }
            (_, Some(_)) if admission == Admission::Throttle => {
                GatewayMetrics::bump(&self.metrics.throttled);
                self.binary_reject(
                    index,
                    RejectCode::Throttled,
                    msg_type,
                    "rate limit exceeded",
                );
            }
            (message, Some(login)) => {
                if login.admin {
                    self.binary_admin(index, message, msg_type, now_ns);
                } else {
                    self.binary_order(index, message, msg_type, login.account, now_ns);
                }
            }
        }
    }

    fn binary_logon(&mut self, index: usize, logon: &crate::binary::messages::Logon) {
        let config = &self.settings.config;
        let username = logon.username().unwrap_or_default();
        let password = logon.password().unwrap_or_default();
        let refusal = self.settings.role.refusal();
        // Admins log on to any node: `status` and `promote` are for standbys too.
        let decision = if let Some(admin) = config.admin(username) {
            if admin.password == password {
                Ok((AccountId(0), true, CancelScope::None))
            } else {
                Err("bad username or password".to_owned())
            }
        } else if let Some(why) = refusal {
            Err(why)
        } else if let Some(user) = config.user(username) {
            if user.auth == AuthMode::None || user.password == password {
                let flag = (logon.cancel_on_disconnect != 0).then_some(logon.cancel_on_disconnect);
                // N, S and Y as in FIX 8013; 0 (or anything else) means the user's setting.
                Ok((
                    user.account,
                    false,
                    CancelScope::from_flag(flag, user.cancel_on_disconnect),
                ))
            } else {
                Err("bad username or password".to_owned())
            }
        } else {
            Err("bad username or password".to_owned())
        };
        match decision {
            Err(why) => {
                GatewayMetrics::bump(&self.metrics.logons_refused);
                tracing::warn!(username, why, "binary logon refused");
                self.binary_reject(index, RejectCode::LogonRefused, 0x01, &why);
                self.close_after_flush(index, "logon refused");
            }
            Ok((account, admin, cod)) => {
                let engine = self.settings.config.engine_config();
                let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                    return;
                };
                client.login = Some(Login {
                    account,
                    admin,
                    cancel_on_disconnect: cod,
                    orders: HashSet::new(),
                });
                ServerMessage::LogonAck(LogonAck::new(
                    account,
                    admin,
                    BINARY_HEARTBEAT.as_millis() as u32,
                ))
                .encode(&mut client.conn.outbound);
                for (i, spec) in engine.symbols.iter().enumerate() {
                    if let Some(info) = SymbolInfo::new(
                        SymbolId(i as u16),
                        &spec.name,
                        &spec.tick_size.to_string(),
                        &spec.lot_size.to_string(),
                    ) {
                        ServerMessage::SymbolInfo(info).encode(&mut client.conn.outbound);
                    }
                }
                if !admin {
                    self.by_account.entry(account).or_default().push(index);
                }
                tracing::info!(username, admin, account = account.0, "binary logon");
                GatewayMetrics::bump(&self.metrics.binary_sessions);
                self.mark_dirty(index);
            }
        }
    }

    fn binary_order(
        &mut self,
        index: usize,
        message: &ClientMessage,
        msg_type: u8,
        account: AccountId,
        now_ns: u64,
    ) {
        let engine = self.settings.config.engine_config();
        let command = match crate::binary::orders::to_command(message, account, engine) {
            Ok(command) => command,
            Err(why) => {
                let code = if why.starts_with("not permitted") {
                    RejectCode::NotPermitted
                } else {
                    RejectCode::BadValue
                };
                self.binary_reject(index, code, msg_type, why);
                return;
            }
        };
        let client_id = self.client_id(index);
        if let Err(why) = self.publish_from(index, client_id, command.at(now_ns)) {
            self.binary_reject(index, RejectCode::Unavailable, msg_type, &why);
        }
    }

    fn binary_admin(&mut self, index: usize, message: &ClientMessage, msg_type: u8, now_ns: u64) {
        let engine = self.settings.config.engine_config();
        let command = match crate::binary::orders::admin_command(message, engine) {
            Ok(Some(command)) => command,
            Ok(None) => {
                // Not a journaled command: answered by the gateway now.
                let owner = (index, self.client_id(index));
                if matches!(message, ClientMessage::Status) {
                    let text = self.status_text();
                    self.send_admin_result(owner, true, &text);
                    return;
                }
                if self.settings.config.replication().is_none() {
                    let text = "promote: this node is not part of a replicated pair";
                    self.send_admin_result(owner, false, text);
                    return;
                }
                // The replication thread promotes; the answer goes out when it is done
                // (see `answer_promotion`).
                match self.settings.role.request_promotion() {
                    Ok(()) => self.pending_promote = Some(owner),
                    Err(why) => self.send_admin_result(owner, false, &why),
                }
                return;
            }
            Err(why) => {
                let owner = (index, self.client_id(index));
                self.send_admin_result(owner, false, &why);
                let _ = msg_type;
                return;
            }
        };
        let owner = (index, self.client_id(index));
        match self.publish(command.at(now_ns)) {
            Ok(()) => self.pending_admin.push_back(owner),
            Err(why) => self.send_admin_result(owner, false, &why),
        }
    }

    /// The `/status` JSON, for the admin client's `status`.
    fn status_text(&self) -> String {
        match &self.status_source {
            Some(source) => source(),
            None => format!("{{\"state\":\"{}\"}}", self.metrics.state().name()),
        }
    }

    /// Where `status` answers come from (the same JSON as `/status`).
    pub fn set_status_source(&mut self, source: Arc<dyn Fn() -> String + Send + Sync>) {
        self.status_source = Some(source);
    }

    fn client_id(&self, index: usize) -> u64 {
        self.clients
            .get(index)
            .and_then(Option::as_ref)
            .map_or(0, |c| c.id)
    }

    // ----- timers, writing, closing -------------------------------------------------------------

    fn on_timers(&mut self, now: Instant) {
        self.answer_promotion();
        match self.settings.role.refusal() {
            Some(why) => {
                self.was_primary = false;
                self.log_out_clients(&why);
            }
            None if !self.was_primary => {
                self.was_primary = true;
                self.cancel_lost_sessions();
            }
            None => {}
        }
        let now_ns = unix_ns();
        let limits = self.settings.config.limits();
        let logon_timeout = Duration::from_secs(limits.logon_timeout_s);
        let idle_timeout = Duration::from_secs(limits.idle_timeout_s);
        for index in 0..self.clients.len() {
            let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            if client.closing {
                continue;
            }
            let silent = now.saturating_duration_since(client.last_received);
            let close = match &mut client.protocol {
                Protocol::Fix(session) => {
                    // Without heartbeats (HeartBtInt 0) silence is judged by the idle timeout.
                    if session.is_active()
                        && session.heartbeat().is_zero()
                        && silent >= idle_timeout
                    {
                        session.logout("idle timeout", now_ns);
                    }
                    let verdict = session.on_timer(now, now_ns, logon_timeout);
                    if !session.outbound().is_empty() {
                        client.conn.outbound.append(session.outbound());
                        queue_flush(&mut self.dirty, index);
                    }
                    match verdict {
                        Inbound::Close => Some(
                            session
                                .close_reason()
                                .unwrap_or("session timed out")
                                .to_owned(),
                        ),
                        _ => None,
                    }
                }
                Protocol::Binary { last_sent } => {
                    if client.login.is_none()
                        && now.saturating_duration_since(client.opened) >= logon_timeout
                    {
                        Some("no logon within the logon timeout".to_owned())
                    } else if silent >= idle_timeout {
                        Some("idle timeout".to_owned())
                    } else {
                        if client.login.is_some()
                            && now.saturating_duration_since(*last_sent) >= BINARY_HEARTBEAT
                        {
                            *last_sent = now;
                            ServerMessage::Heartbeat.encode(&mut client.conn.outbound);
                            queue_flush(&mut self.dirty, index);
                        }
                        None
                    }
                }
            };
            if let Some(why) = close {
                self.close_after_flush(index, &why);
            }
        }
    }

    fn mark_dirty(&mut self, index: usize) {
        queue_flush(&mut self.dirty, index);
    }

    /// Writes every queued answer: once per pass, so a batch of events costs one write per socket.
    fn flush_dirty(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for &index in &dirty {
            let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            match client.conn.flush() {
                Ok(true) => {
                    if client.want_write {
                        client.want_write = false;
                        let token = Token(index + FIRST_CONNECTION);
                        let _ = self.poll.registry().reregister(
                            &mut client.conn.stream,
                            token,
                            Interest::READABLE,
                        );
                    }
                    if client.closing {
                        self.close(index, "closed after the last answer");
                    }
                }
                Ok(false) => {
                    if client.conn.pending() > MAX_PENDING_OUTPUT {
                        self.close(index, "slow consumer: too much unread output");
                    } else if !client.want_write {
                        client.want_write = true;
                        let token = Token(index + FIRST_CONNECTION);
                        let _ = self.poll.registry().reregister(
                            &mut client.conn.stream,
                            token,
                            Interest::READABLE | Interest::WRITABLE,
                        );
                    }
                }
                Err(_) => self.close(index, "write failed"),
            }
        }
        let mut dirty = dirty;
        dirty.clear();
        // Closing may have queued more (none today); keep the allocation.
        dirty.append(&mut self.dirty);
        self.dirty = dirty;
    }

    /// Marks a connection to close once its answers are written.
    fn close_after_flush(&mut self, index: usize, why: &str) {
        if let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) {
            client.closing = true;
            client.close_reason.get_or_insert_with(|| why.to_owned());
            self.mark_dirty(index);
        }
    }

    /// Closes a connection now: forgets its session and, if it was logged on with
    /// cancel-on-disconnect, publishes the cancels (journaled commands, SPEC §6).
    fn close(&mut self, index: usize, why: &str) {
        let Some(mut client) = self.clients.get_mut(index).and_then(Option::take) else {
            return;
        };
        let why = client.close_reason.as_deref().unwrap_or(why);
        let peer = client.conn.peer;
        match (&client.protocol, &client.login) {
            (Protocol::Fix(session), Some(_)) => {
                tracing::info!(comp_id = session.client_comp_id(), %peer, why, "FIX session closed");
            }
            (Protocol::Binary { .. }, Some(login)) => {
                tracing::info!(account = login.account.0, %peer, why, "binary session closed");
            }
            _ => tracing::debug!(%peer, why, "connection closed"),
        }
        let _ = client.conn.flush();
        let _ = self.poll.registry().deregister(&mut client.conn.stream);
        self.caps.close(client.conn.peer.ip());
        self.free.push(index);
        self.publish_connections();
        if let Protocol::Fix(session) = &client.protocol {
            if self.fix_comp_ids.get(session.client_comp_id()) == Some(&index) {
                self.fix_comp_ids.remove(session.client_comp_id());
            }
        }
        let Some(login) = client.login else {
            return;
        };
        match client.protocol {
            Protocol::Fix(_) => GatewayMetrics::drop_one(&self.metrics.fix_sessions),
            Protocol::Binary { .. } => GatewayMetrics::drop_one(&self.metrics.binary_sessions),
        }
        if let Some(tokens) = self.by_account.get_mut(&login.account) {
            tokens.retain(|&t| t != index);
            if tokens.is_empty() {
                self.by_account.remove(&login.account);
            }
        }
        self.pending_new.retain(|_, owner| owner.1 != client.id);
        for order in &login.orders {
            self.owners.remove(order);
        }
        let now = unix_ns();
        match login.cancel_on_disconnect {
            CancelScope::None => {}
            CancelScope::Account => {
                let _ = self.publish(Command::cancel_on_disconnect(login.account).at(now));
            }
            CancelScope::Session => {
                let mut orders: Vec<OrderId> = login.orders.into_iter().collect();
                orders.sort_unstable_by_key(|o| o.0);
                for order in orders {
                    let command = Command::cancel_on_disconnect_order(login.account, order);
                    let _ = self.publish(command.at(now));
                }
            }
        }
    }

    /// Logs every FIX session out and closes every connection.
    /// This node was just promoted: every session of the old primary was lost with it, so users
    /// with cancel-on-disconnect get their orders cancelled, as on recovery (SPEC §8).
    fn cancel_lost_sessions(&mut self) {
        let commands: Vec<Command> = self
            .settings
            .config
            .users()
            .iter()
            .filter(|u| u.cancel_on_disconnect)
            .map(|u| Command::cancel_on_disconnect(u.account))
            .collect();
        self.publish_startup(&commands);
    }

    /// Tells the admin who asked for a promotion how it went, once it is over.
    fn answer_promotion(&mut self) {
        if self.pending_promote.is_none() {
            return;
        }
        if let Some(outcome) = self.settings.role.take_promotion_outcome() {
            if let Some(owner) = self.pending_promote.take() {
                let (ok, text) = match outcome {
                    Ok(text) => (true, text),
                    Err(text) => (false, text),
                };
                self.send_admin_result(owner, ok, &text);
            }
        }
    }

    /// Logs out every client session (not admins): this node no longer takes orders.
    fn log_out_clients(&mut self, why: &str) {
        let now_ns = unix_ns();
        for index in 0..self.clients.len() {
            let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            if client.closing || client.login.as_ref().is_none_or(|l| l.admin) {
                continue;
            }
            match &mut client.protocol {
                Protocol::Fix(session) => {
                    session.logout(why, now_ns);
                    client.conn.outbound.append(session.outbound());
                }
                Protocol::Binary { .. } => {
                    ServerMessage::Reject {
                        code: RejectCode::Unavailable,
                        ref_msg_type: 0,
                        text: why,
                    }
                    .encode(&mut client.conn.outbound);
                }
            }
            tracing::warn!(peer = %client.conn.peer, why, "session logged out");
            self.close_after_flush(index, "node no longer primary");
        }
    }

    fn shutdown(&mut self) {
        self.metrics.set_state(ExchangeState::Stopping);
        // A node stopping because it stepped down says so (it restarts as a standby).
        let why = self
            .settings
            .role
            .refusal()
            .unwrap_or_else(|| "gateway shutting down".to_owned());
        let now_ns = unix_ns();
        for index in 0..self.clients.len() {
            if let Some(Client {
                protocol: Protocol::Fix(session),
                conn,
                ..
            }) = self.clients.get_mut(index).and_then(Option::as_mut)
            {
                session.logout(&why, now_ns);
                conn.outbound.append(session.outbound());
            }
            if let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) {
                // Best effort: a client that does not read gets what its socket takes.
                let _ = client.conn.flush();
                // Sessions lost at shutdown are treated as on recovery: cancel-on-disconnect
                // applies, as journaled commands, before the pipeline stops.
            }
            self.close(index, "gateway shutting down");
        }
        self.drain_output();
    }
}
