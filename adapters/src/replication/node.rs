//! The replication side of a running gateway: on a primary, the server its standby connects to;
//! on a standby, the thread that follows the primary and, when asked, promotes this node.
//!
//! A promotion, in order: stop following; wait until the matcher has applied everything the
//! journal holds; journal `Command::epoch(current + 1, next sequence)` (so the new epoch is part of
//! the history every later standby is checked against); let the replicator wait for a standby of
//! its own; take orders; listen for a standby; and tell the old primary, if it can be reached,
//! that a later epoch exists (it steps down). Nothing else publishes on a standby, so the epoch's
//! first sequence is known before it is journaled.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{ReplicationConfig, Role};
use hayate_core::command::Command;
use hayate_core::pipeline::ReplicationMode;
use hayate_core::pipeline::{Monitor, Publisher, ReplicaLink, Wait};

use super::auth::{self, ConnectFailure};
use super::observers::ObserverView;
use super::peer::Peer;
use super::primary::{
    MISSED_HEARTBEATS, ObserverAccess, PrimarySettings, PrimaryState, ReplicationServer,
};
use super::protocol::{Hello, Message, NONCE_LEN, RefuseCode};
use super::role::{NodeRole, Rejoin, RoleState};
use super::standby::{Applier, Followed, FollowerSettings, FollowerStatus, StandbyState, follow};
use crate::secrets::PairSecret;
use crate::tls::PairTls;

/// How long a promotion waits for the matcher to apply what the journal holds.
const PROMOTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the gateway to stop (so it can start again as a standby).
pub type StopGateway = Arc<dyn Fn() + Send + Sync>;

/// What the replication side needs from the gateway.
#[derive(Clone)]
pub struct NodeContext {
    /// `[replication]`.
    pub config: ReplicationConfig,
    /// This node's journal directory (`<data>/journal`).
    pub journal_dir: PathBuf,
    /// Digest of the engine configuration; both nodes must have the same.
    pub config_digest: u64,
    /// The pipeline's replicator link.
    pub link: Arc<ReplicaLink>,
    /// This node's role.
    pub role: Arc<NodeRole>,
    /// The pipeline's counters.
    pub monitor: Monitor,
    /// Stops the gateway.
    pub stop_gateway: StopGateway,
    /// How the replication threads wait when idle (`[pipeline] wait`).
    pub wait: Wait,
}

/// A point-in-time reading for `/status` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationStatus {
    /// `sync` or `async`.
    pub mode: &'static str,
    /// The other node: the standby being served, or the primary followed.
    pub peer: String,
    /// Sequences the other side is behind (primary: not yet acknowledged by the standby;
    /// standby: not yet applied here).
    pub lag: u64,
    /// Whether the link to the other node is up.
    pub connected: bool,
    /// Synchronous replication trading on without its standby.
    pub degraded: bool,
    /// The primary refused this standby for good (configuration, epoch or secret), with its
    /// reason.
    pub refused: Option<String>,
    /// Connections this primary refused because they did not prove the pair's secret (or an
    /// observer, the observers').
    pub unproven: u64,
    /// The observers connected (primary only).
    pub observers: Vec<ObserverView>,
}

/// The running replication side; stops with [`ReplicationNode::stop`] or when dropped.
pub struct ReplicationNode {
    context: NodeContext,
    stop: Arc<AtomicBool>,
    follower: Arc<FollowerStatus>,
    server: Arc<Mutex<Option<ReplicationServer>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for ReplicationNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationNode")
            .field("role", &self.context.role.state())
            .finish_non_exhaustive()
    }
}

impl ReplicationNode {
    /// Starts the side of `context.role`: a primary listens for its standby; a standby follows
    /// its primary with `publisher` (the only one that may publish to its pipeline), its journal
    /// ending at `last_seq`.
    pub fn start(
        context: NodeContext,
        publisher: Publisher,
        last_seq: u64,
    ) -> io::Result<ReplicationNode> {
        let node = ReplicationNode {
            context,
            stop: Arc::new(AtomicBool::new(false)),
            follower: Arc::new(FollowerStatus::default()),
            server: Arc::new(Mutex::new(None)),
            threads: Mutex::new(Vec::new()),
        };
        match node.context.role.state() {
            RoleState::Primary => {
                node.context.link.set_active(true);
                drop(publisher);
                let server = start_server(&node.context)?;
                if let Ok(mut slot) = node.server.lock() {
                    *slot = server;
                }
            }
            RoleState::Standby | RoleState::SteppedDown => {
                node.context.link.set_active(false);
                let standby = Standby {
                    context: node.context.clone(),
                    stop: Arc::clone(&node.stop),
                    follower: Arc::clone(&node.follower),
                    server: Arc::clone(&node.server),
                };
                let applier = Applier::new(publisher, last_seq);
                let thread = std::thread::Builder::new()
                    .name("hayate-repl-standby".into())
                    .spawn(move || standby.run(applier))?;
                if let Ok(mut threads) = node.threads.lock() {
                    threads.push(thread);
                }
            }
        }
        Ok(node)
    }

    /// Where this node listens for its standby (when it is the primary and `listen` is set):
    /// the bound address, so `listen = "127.0.0.1:0"` works.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.server
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(ReplicationServer::addr))
    }

    /// `/status`'s replication part.
    pub fn status(&self) -> ReplicationStatus {
        let context = &self.context;
        let stats = context.monitor.stats();
        let mode = match context.config.mode {
            ReplicationMode::Sync => "sync",
            ReplicationMode::Async => "async",
        };
        let refused = context.role.refused();
        if context.role.state() == RoleState::Primary {
            let (peer, unproven, observers) = self
                .server
                .lock()
                .ok()
                .and_then(|s| {
                    s.as_ref().map(|s| {
                        let observers = s.observers().map(|h| h.observers()).unwrap_or_default();
                        (s.peer(), s.unproven(), observers)
                    })
                })
                .unwrap_or_default();
            ReplicationStatus {
                mode,
                peer: peer.map(|p| p.to_string()).unwrap_or_default(),
                lag: stats.durable_seq.saturating_sub(context.link.acked_seq()),
                connected: context.link.is_connected(),
                degraded: context.config.mode == ReplicationMode::Sync
                    && context.link.is_degraded(),
                refused,
                unproven,
                observers,
            }
        } else {
            let primary_seq = self.follower.primary_seq.load(Ordering::Relaxed);
            ReplicationStatus {
                mode,
                peer: context
                    .config
                    .primary
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                lag: primary_seq.saturating_sub(stats.processed_seq),
                connected: self.follower.connected.load(Ordering::Acquire),
                degraded: false,
                refused,
                unproven: 0,
                observers: Vec::new(),
            }
        }
    }

    /// Stops following or serving and joins the threads (before the pipeline stops: the
    /// standby's thread holds a publisher).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let threads: Vec<_> = self
            .threads
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for thread in threads {
            let _ = thread.join();
        }
        if let Ok(mut server) = self.server.lock() {
            server.take();
        }
    }
}

impl Drop for ReplicationNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the replication server if `[replication] listen` is set.
fn start_server(context: &NodeContext) -> io::Result<Option<ReplicationServer>> {
    let Some(listen) = context.config.listen else {
        return Ok(None);
    };
    let settings = PrimarySettings {
        listen,
        journal_dir: context.journal_dir.clone(),
        heartbeat: Duration::from_millis(context.config.heartbeat_ms),
        config_digest: context.config_digest,
        wait: context.wait,
        secret: context.config.secret.clone(),
        tls: context
            .config
            .tls
            .as_ref()
            .map(|tls| Arc::clone(tls.server())),
        observers: context
            .config
            .observer_secret
            .as_ref()
            .map(|secret| ObserverAccess {
                secret: secret.clone(),
                max: context.config.max_observers,
                monitor: context.monitor.clone(),
            }),
    };
    let state = Arc::new(PrimaryView {
        context: context.clone(),
    });
    let server = ReplicationServer::start(settings, Arc::clone(&context.link), state)?;
    tracing::info!(addr = %server.addr(), "replication: waiting for a standby");
    Ok(Some(server))
}

/// The primary's answers to its standby's handshake.
struct PrimaryView {
    context: NodeContext,
}

impl PrimaryState for PrimaryView {
    fn epochs(&self) -> Vec<(u64, u64)> {
        self.context.role.epochs()
    }

    fn last_seq(&self) -> u64 {
        self.context.monitor.stats().durable_seq
    }

    fn step_down(&self, higher_epoch: u64) {
        let role = &self.context.role;
        if role.step_down(higher_epoch) {
            tracing::warn!(
                epoch = role.epoch(),
                higher_epoch,
                "another node is primary in a later epoch: this node steps down and takes no more orders"
            );
            // With the other node's address it can follow it; without, it stays fenced.
            if self.context.config.primary.is_some() {
                role.request_rejoin(Rejoin::AsStandby);
                (self.context.stop_gateway)();
            }
        }
    }
}

/// The standby's report of itself.
struct StandbyView {
    role: Arc<NodeRole>,
    monitor: Monitor,
}

impl StandbyState for StandbyView {
    fn epoch(&self) -> (u64, u64) {
        self.role.epoch_start()
    }

    fn durable_seq(&self) -> u64 {
        self.monitor.stats().durable_seq
    }

    fn applied_seq(&self) -> u64 {
        self.monitor.stats().processed_seq
    }

    fn record_epoch(&self, epoch: u64, start_seq: u64) {
        self.role.record_epoch(epoch, start_seq);
    }
}

/// The standby's thread.
struct Standby {
    context: NodeContext,
    stop: Arc<AtomicBool>,
    follower: Arc<FollowerStatus>,
    server: Arc<Mutex<Option<ReplicationServer>>>,
}

impl Standby {
    fn run(self, mut applier: Applier) {
        let context = &self.context;
        let Some(primary) = context.config.primary else {
            // Configuration checks require the address for a standby; a node without it can
            // still be promoted.
            self.wait_for_promotion(applier);
            return;
        };
        let heartbeat = Duration::from_millis(context.config.heartbeat_ms);
        let settings = FollowerSettings {
            primary,
            heartbeat,
            config_digest: context.config_digest,
            promote_after: (context.config.auto_promote_after > 0)
                .then(|| heartbeat * context.config.auto_promote_after),
            wait: context.wait,
            secret: context.config.secret.clone(),
            tls: context.config.tls.clone(),
            link: Arc::clone(&context.link),
        };
        let view = StandbyView {
            role: Arc::clone(&context.role),
            monitor: context.monitor.clone(),
        };
        let stop = || self.stop.load(Ordering::Acquire) || context.role.promotion_requested();
        match follow(&settings, &mut applier, &view, &self.follower, &stop) {
            Followed::Stopped => {
                if context.role.promotion_requested() && !self.stop.load(Ordering::Acquire) {
                    self.promote(applier);
                }
            }
            Followed::PrimaryLost => {
                tracing::warn!(
                    missed = context.config.auto_promote_after,
                    "the primary missed its heartbeats: promoting this standby (auto_promote_after)"
                );
                if context.role.request_promotion().is_ok() {
                    self.promote(applier);
                }
            }
            Followed::Truncate { keep_through } => {
                tracing::warn!(
                    keep_through,
                    "this node's journal holds records its primary never had: restarting to drop them"
                );
                context
                    .role
                    .request_rejoin(Rejoin::Truncating(keep_through));
                (context.stop_gateway)();
            }
            Followed::Refused { text } => {
                tracing::error!(reason = %text, "the primary refused this standby; an operator must act");
                context.role.set_refused(text);
                self.wait_for_promotion(applier);
            }
        }
    }

    fn wait_for_promotion(&self, applier: Applier) {
        while !self.stop.load(Ordering::Acquire) {
            if self.context.role.promotion_requested() {
                self.promote(applier);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn promote(&self, applier: Applier) {
        let outcome = self.try_promote(applier);
        match &outcome {
            Ok(text) => tracing::warn!("{text}"),
            Err(why) => tracing::error!("promotion failed: {why}"),
        }
        self.context.role.finish_promotion(outcome);
    }

    fn try_promote(&self, mut applier: Applier) -> Result<String, String> {
        let context = &self.context;
        let started = Instant::now();
        let last = applier.next_seq() - 1;
        let processed = || context.monitor.stats().processed_seq;
        if !wait_until(PROMOTION_TIMEOUT, || processed() >= last) {
            return Err(format!(
                "the matcher did not apply the journal up to {last} within {PROMOTION_TIMEOUT:?} (at {})",
                processed()
            ));
        }
        let seen = self.follower.primary_epoch.load(Ordering::Relaxed);
        let epoch = context.role.epoch().max(seen) + 1;
        let start = last + 1;
        let command = Command::epoch(epoch, start).at(crate::clock::unix_ns());
        applier
            .apply(start, &command)
            .map_err(|e| format!("cannot journal epoch {epoch}: {e}"))?;
        drop(applier);
        if !wait_until(PROMOTION_TIMEOUT, || processed() >= start) {
            return Err(format!(
                "epoch {epoch} was journaled at {start} but not applied within {PROMOTION_TIMEOUT:?}"
            ));
        }
        context.role.record_epoch(epoch, start);
        context.link.start_degraded();
        context.link.set_active(true);
        context.role.become_primary();
        let listening = match start_server(context) {
            Ok(Some(server)) => {
                let addr = server.addr();
                if let Ok(mut slot) = self.server.lock() {
                    *slot = Some(server);
                }
                format!("waiting for a standby on {addr}")
            }
            Ok(None) => "no replication.listen: running without a standby".to_owned(),
            Err(e) => format!("cannot listen for a standby: {e}; running without one"),
        };
        if let Some(old) = context.config.primary {
            let notice = Notice {
                old_primary: old,
                epoch,
                start,
                config_digest: context.config_digest,
                heartbeat: Duration::from_millis(context.config.heartbeat_ms),
                link: Arc::clone(&context.link),
                stop: Arc::clone(&self.stop),
                secret: context.config.secret.clone(),
                tls: context.config.tls.clone(),
            };
            // Best effort and detached: it ends when it is answered, when a standby joins, or
            // when the gateway stops.
            let _ = std::thread::Builder::new()
                .name("hayate-repl-notice".into())
                .spawn(move || notice.run());
        }
        Ok(format!(
            "promoted to primary: epoch {epoch} from sequence {start} in {:.1} ms; {listening}",
            started.elapsed().as_secs_f64() * 1e3
        ))
    }
}

/// Tells the old primary that a later epoch exists, so that a primary cut off by a partition
/// steps down as soon as it can be reached (epoch fencing). The notice is a Hello carrying the
/// new epoch: the old primary's handshake finds it stale and steps down.
struct Notice {
    old_primary: SocketAddr,
    epoch: u64,
    start: u64,
    config_digest: u64,
    heartbeat: Duration,
    link: Arc<ReplicaLink>,
    stop: Arc<AtomicBool>,
    secret: PairSecret,
    tls: Option<PairTls>,
}

impl Notice {
    fn run(self) {
        let patience = self.heartbeat * MISSED_HEARTBEATS;
        while !self.stop.load(Ordering::Acquire) && !self.link.is_connected() {
            match self.tell(patience) {
                Ok(()) => {
                    tracing::info!(old_primary = %self.old_primary, epoch = self.epoch, "the old primary was told of the new epoch");
                    return;
                }
                Err(e) => {
                    tracing::debug!(old_primary = %self.old_primary, error = %e, "old primary not reachable")
                }
            }
            let until = Instant::now() + patience;
            while Instant::now() < until && !self.stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn tell(&self, patience: Duration) -> io::Result<()> {
        let mut peer = Peer::connect(
            self.old_primary,
            patience,
            self.tls.as_ref().map(PairTls::dialer),
        )?;
        let hello = Hello {
            epoch: self.epoch,
            last_seq: self.start,
            last_epoch_start: self.start,
            config_digest: self.config_digest,
            nonce: [0; NONCE_LEN],
        };
        // The old primary believes a later epoch only from a node that proves the pair's secret.
        match auth::connect(&mut peer, &self.secret, hello, patience) {
            Ok(()) => {}
            Err(ConnectFailure::Io(e)) => return Err(e),
            Err(ConnectFailure::Refused { code, text }) => {
                return Err(io::Error::other(format!("refused ({code:?}): {text}")));
            }
            Err(ConnectFailure::Unproven(text)) => return Err(io::Error::other(text)),
        }
        // A stale primary refuses the Hello and steps down; any other answer (busy with its old
        // standby's connection, say) means: try again.
        let answer = peer.wait_frame(patience)?;
        match Message::decode(&answer) {
            Ok(Message::Refuse {
                code: RefuseCode::StaleEpoch,
                ..
            }) => Ok(()),
            Ok(Message::Refuse { code, text }) => {
                Err(io::Error::other(format!("refused ({code:?}): {text}")))
            }
            Ok(_) => Err(io::Error::other("unexpected answer to the epoch notice")),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }
}

/// Polls `done` every millisecond until it is true or `limit` has passed.
fn wait_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// The role a node starts in.
pub fn initial_role(config: Option<&ReplicationConfig>) -> RoleState {
    match config.map(|c| c.role) {
        Some(Role::Standby) => RoleState::Standby,
        _ => RoleState::Primary,
    }
}
