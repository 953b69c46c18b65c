//! The gateway's event loop: one thread, one `mio::Poll`, every client socket (FIX and binary),
//! and the pipeline's output ring. This file owns the sockets, readiness and timers; the rooms
//! beside it own the rest: `router` (who receives which event), `fix_port` and `binary_port`
//! (each protocol's logon and message mapping), `credentials` (the logon guard and password
//! checks, hashed ones on the verifier's thread), `admin` (operator commands and roles),
//! `client` (what the loop knows of one connection).
//!
//! Each pass of the loop takes what the output ring holds and writes each event to the sessions
//! of its account, then flushes every socket written to (once per batch), then handles socket
//! readiness: accept, read, frame, check, publish to the input ring with the receive time
//! stamped. When there is nothing to do for a while it parks: it tells the pipeline, looks at the
//! ring once more, and sleeps in `epoll` until a socket or the matcher wakes it.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::config::ExchangeConfig;
use hayate_core::command::{Command, CommandKind};
use hayate_core::pipeline::{EventReceiver, Output, PublishError, Publisher, Wait};
use hayate_core::units::{AccountId, ClientOrderId, OrderId, SymbolId};

mod admin;
mod binary_port;
mod client;
mod credentials;
mod fix_port;
mod market_data;
mod router;

pub use market_data::{MarketDataHub, MarketSnapshots};

use client::{CancelScope, Client, Protocol};

use super::connection::{Conn, ReadOutcome};
use crate::binary::codec::{self as binary_codec, Framing as BinaryFraming};
use crate::binary::messages::{RejectCode, ServerMessage};
use crate::clock::unix_ns;
use crate::disk_guard::DiskGuard;
use crate::fix::codec::{self as fix_codec, Framing as FixFraming};
use crate::fix::session::{FixSession, Inbound};
use crate::limits::{ConnectionCaps, TokenBucket};
use crate::logon::guard::{LogonGuard, LogonPolicy};
use crate::logon::verifier::Verifier;
use crate::metrics::{ExchangeState, GatewayMetrics};
use crate::notices::NoticeBoard;
use crate::replication::role::NodeRole;
use crate::secrets::{Password, hash_password};

/// Wakes the loop: the matcher published, or someone asked it to stop.
pub const WAKER: Token = Token(0);
const FIX_LISTENER: Token = Token(1);
const BINARY_LISTENER: Token = Token(2);
const ADMIN_LISTENER: Token = Token(3);
/// Connection tokens start here.
const FIRST_CONNECTION: usize = 4;

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Port {
    Fix,
    Binary,
    /// `admin_listen`: the binary protocol, admins only.
    Admin,
}

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
pub(crate) const BINARY_HEARTBEAT: Duration = Duration::from_secs(1);

/// The settings the loop needs, taken from the configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The whole configuration (users, symbols, limits).
    pub config: ExchangeConfig,
    /// Where FIX sequence numbers are kept.
    pub sessions_dir: PathBuf,
    /// What this node is in its pair: only a primary takes client logons and orders.
    pub role: Arc<NodeRole>,
    /// The disk guard's verdict: while it is tripped, new orders and replaces are refused
    /// `DISK_FULL` here (BEHAVIOUR.md §10).
    pub disk: Arc<DiskGuard>,
    /// The notices read from the journal: an update or resolve must name an open incident.
    pub notices: Arc<Mutex<NoticeBoard>>,
}

/// What a stopped loop hands back to the shutdown.
pub struct Stopped {
    /// The output ring's consumer, to drain while the pipeline stops.
    pub receiver: EventReceiver,
    /// The loop's publisher, to drop (the pipeline stops once every publisher is gone).
    pub publisher: Publisher,
    /// Market data, fed the drained events, then finished.
    pub market_data: MarketDataHub,
}

/// The event loop's state.
pub struct Server {
    settings: ServerSettings,
    poll: Poll,
    fix_listener: TcpListener,
    binary_listener: TcpListener,
    admin_listener: Option<TcpListener>,
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
    /// Incidents open as of the events routed so far (the notice board's thread reads the
    /// journal a moment later): an update or resolve must name one, and an admin told "notice
    /// N recorded" may update N at once.
    open_incidents: HashSet<u64>,
    /// The admin who asked for a promotion under way.
    pending_promote: Option<(usize, u64)>,
    /// Whether this node took orders at the last timer tick (to notice a promotion).
    was_primary: bool,
    halted: HashSet<SymbolId>,
    exchange_halted: bool,
    /// Blocked accounts, for `/status` (the engine enforces the block).
    blocked: BTreeSet<AccountId>,
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
    market_data: MarketDataHub,
    logon_guard: LogonGuard,
    verifier: Verifier,
    /// A hash of a random password, checked for logons naming no login when any configured
    /// password is hashed (see `credentials`).
    decoy: Option<Password>,
}

/// A hash of 32 random bytes if any user or admin has a hashed password (else `None`: clear-text
/// checks take the same time whether the login exists or not).
fn decoy_password(config: &ExchangeConfig) -> io::Result<Option<Password>> {
    let hashed = config.users().iter().any(|u| u.password.is_hashed())
        || config.admins().iter().any(|a| a.password.is_hashed());
    if !hashed {
        return Ok(None);
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let phc = hash_password(&format!("{random:02x?}")).map_err(io::Error::other)?;
    Password::parse(&phc).map(Some).map_err(io::Error::other)
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
        market_data: MarketDataHub,
        waker: Arc<Waker>,
    ) -> io::Result<Server> {
        let gateway = settings.config.gateway();
        let mut fix_listener = bind(gateway.fix_listen)?;
        let mut binary_listener = bind(gateway.binary_listen)?;
        poll.registry()
            .register(&mut fix_listener, FIX_LISTENER, Interest::READABLE)?;
        poll.registry()
            .register(&mut binary_listener, BINARY_LISTENER, Interest::READABLE)?;
        let admin_listener = match gateway.admin_listen {
            Some(addr) => {
                let mut listener = bind(addr)?;
                poll.registry()
                    .register(&mut listener, ADMIN_LISTENER, Interest::READABLE)?;
                Some(listener)
            }
            None => None,
        };
        let verifier = Verifier::start(move || {
            let _ = waker.wake();
        })?;
        let limits = settings.config.limits();
        let caps = ConnectionCaps::new(limits.max_connections, limits.max_connections_per_address);
        let latency = Histogram::new_with_bounds(1, 60_000_000_000, 3)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let was_primary = settings.role.refusal().is_none();
        let logon_guard = LogonGuard::new(LogonPolicy::from_limits(settings.config.limits()));
        let decoy = decoy_password(&settings.config)?;
        let open_incidents = settings
            .notices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .incidents
            .iter()
            .filter(|i| i.resolved_ns.is_none())
            .map(|i| i.id)
            .collect();
        let server = Server {
            was_primary,
            settings,
            poll,
            fix_listener,
            binary_listener,
            admin_listener,
            logon_guard,
            verifier,
            decoy,
            clients: Vec::new(),
            free: Vec::new(),
            next_client_id: 1,
            caps,
            by_account: HashMap::new(),
            fix_comp_ids: HashMap::new(),
            pending_new: HashMap::new(),
            owners: HashMap::new(),
            pending_admin: VecDeque::new(),
            open_incidents,
            pending_promote: None,
            halted: halted.1.into_iter().collect(),
            exchange_halted: halted.0,
            blocked: BTreeSet::new(),
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
            market_data,
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

    /// Where admins log on, if `admin_listen` is set (the bound address).
    pub fn admin_addr(&self) -> io::Result<Option<SocketAddr>> {
        self.admin_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()
    }

    /// The accounts blocked in the recovered state, for `/status` until the next block or
    /// unblock event updates it.
    pub fn set_blocked_accounts(&mut self, accounts: &[AccountId]) {
        self.blocked = accounts.iter().copied().collect();
        self.publish_blocks();
    }

    /// Publishes commands the gateway itself decides on at start (cancel-on-disconnect of the
    /// users whose sessions were lost in a crash).
    pub fn publish_startup(&mut self, commands: &[Command]) {
        let now = unix_ns();
        for command in commands {
            let _ = self.publish(command.at(now));
        }
    }

    /// Runs until the stop flag is raised; then logs every session out, flushes, and returns what
    /// the shutdown needs: the receiver (to drain while the pipeline stops, into the market-data
    /// hub, which then writes its last snapshot) and the publisher (to drop).
    pub fn run(mut self) -> Stopped {
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
                    FIX_LISTENER => self.accept(Port::Fix),
                    BINARY_LISTENER => self.accept(Port::Binary),
                    ADMIN_LISTENER => self.accept(Port::Admin),
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
            // Logons whose hashed passwords were checked meanwhile (the verifier woke us).
            busy |= self.take_verdicts();
            // Connections that spent their read budget get another turn.
            for index in 0..self.clients.len() {
                if self.clients[index]
                    .as_ref()
                    .is_some_and(|c| c.more_input && c.pending_logon.is_none())
                {
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
        Stopped {
            receiver: self.receiver,
            publisher: self.publisher,
            market_data: self.market_data,
        }
    }

    // ----- input: sockets to commands ---------------------------------------------------------

    fn accept(&mut self, port: Port) {
        loop {
            let accepted = match (port, &self.admin_listener) {
                (Port::Fix, _) => self.fix_listener.accept(),
                (Port::Binary, _) => self.binary_listener.accept(),
                (Port::Admin, Some(listener)) => listener.accept(),
                (Port::Admin, None) => return,
            };
            let (stream, peer) = match accepted {
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
            let tls = self.settings.config.tls();
            // The admin port speaks the binary protocol, and its TLS setting.
            let tls = match port {
                Port::Fix => tls.fix_server(),
                Port::Binary | Port::Admin => tls.binary_server(),
            };
            let max = self.settings.config.gateway().max_message_size;
            let mut conn = match Conn::new(stream, peer, max, tls.as_ref()) {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "no TLS session for a new connection");
                    self.caps.close(peer.ip());
                    continue;
                }
            };
            let index = self.free.pop().unwrap_or_else(|| {
                self.clients.push(None);
                self.clients.len() - 1
            });
            let token = Token(index + FIRST_CONNECTION);
            if self
                .poll
                .registry()
                .register(&mut conn.stream, token, Interest::READABLE)
                .is_err()
            {
                self.caps.close(peer.ip());
                self.free.push(index);
                continue;
            }
            let now = Instant::now();
            let limits = self.settings.config.limits();
            let protocol = if port == Port::Fix {
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
                conn,
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
                admin_port: port == Port::Admin,
                pending_logon: None,
            });
            self.publish_connections();
        }
    }

    fn on_readable(&mut self, index: usize) {
        let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        // A logon being verified: its input stays in the socket (bounded by the kernel's
        // buffer, not ours) until the verdict, which reads it.
        if client.closing || client.pending_logon.is_some() {
            return;
        }
        let outcome = client.conn.read();
        client.more_input = outcome == ReadOutcome::BudgetSpent;
        if client.conn.wants_write() {
            // TLS answered the handshake (or a key update): it goes out with this pass's flush.
            queue_flush(&mut self.dirty, index);
        }
        if let ReadOutcome::TlsFailed(e) = &outcome {
            GatewayMetrics::bump(&self.metrics.tls_failures);
            tracing::warn!(peer = %client.conn.peer, error = %e, "TLS failed: connection closed");
            self.close(index, "TLS failed");
            return;
        }
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
            if client.closing || client.pending_logon.is_some() {
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
                    // Ignored without consuming a sequence number (BEHAVIOUR.md §6) on a
                    // session; before a Logon there is no session to keep, and a client that
                    // cannot frame its Logon is disconnected (as QuickFIX does).
                    GatewayMetrics::bump(&self.metrics.garbled);
                    client.conn.consume(skip.max(1));
                    if let Protocol::Fix(session) = &client.protocol
                        && !session.is_active()
                    {
                        self.close(index, "garbled message before the Logon");
                        return;
                    }
                }
                Cut::Close(why) => {
                    // Closed before anything of it is buffered (BEHAVIOUR.md §6).
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
    /// cancel-on-disconnect, publishes the cancels (journaled commands, BEHAVIOUR.md §6).
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
        client.conn.finish();
        let _ = self.poll.registry().deregister(&mut client.conn.stream);
        self.caps.close(client.conn.peer.ip());
        self.free.push(index);
        self.publish_connections();
        if let Protocol::Fix(session) = &client.protocol {
            if self.fix_comp_ids.get(session.client_comp_id()) == Some(&index) {
                self.fix_comp_ids.remove(session.client_comp_id());
            }
            self.market_data.drop_session((index, client.id));
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
    /// with cancel-on-disconnect get their orders cancelled, as on recovery (BEHAVIOUR.md §8).
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

    /// Logs out every client session (not admins): this node no longer takes orders.
    fn log_out_clients(&mut self, why: &str) {
        let now_ns = unix_ns();
        for index in 0..self.clients.len() {
            let Some(client) = self.clients.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            if client.closing || client.login.as_ref().is_none_or(|l| l.admin.is_some()) {
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
