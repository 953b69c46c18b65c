//! The primary's side: accepts its standby, agrees where it resumes (`super::handshake`),
//! streams the journal to it through a tailer — catch-up and live are the same loop, so there is
//! no switch-over to get wrong — and reports the standby's acknowledgements to the replicator
//! stage through the [`ReplicaLink`].

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hayate_core::pipeline::{Monitor, ReplicaLink, Wait};
use hayate_journal::Tailer;

use super::handshake::{Resume, resume_point};
use super::observers::{ObserverHub, ObserverSettings};
use super::peer::{Idle, LISTENER, PEER, Peer};
use super::protocol::{Ack, Heartbeat, MAX_RECORDS, Message, RefuseCode, Truncate, Welcome};
use crate::secrets::PairSecret;

/// How long a handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a server with no standby looks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(100);
/// Heartbeats a peer may miss before it is taken for gone.
pub const MISSED_HEARTBEATS: u32 = 5;

/// What the primary needs to know about itself, read when a standby connects.
pub trait PrimaryState: Send + Sync {
    /// The epoch history after epoch 1, as (epoch, first sequence).
    fn epochs(&self) -> Vec<(u64, u64)>;
    /// The last sequence in the journal.
    fn last_seq(&self) -> u64;
    /// Called when a standby shows a higher epoch: this node is stale and must stop taking
    /// orders.
    fn step_down(&self, higher_epoch: u64);
}

/// Settings of the replication server.
#[derive(Debug, Clone)]
pub struct PrimarySettings {
    /// Where the standby connects.
    pub listen: SocketAddr,
    /// The primary's journal directory.
    pub journal_dir: PathBuf,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Digest of the engine configuration; a standby with another is refused.
    pub config_digest: u64,
    /// How the streaming loop waits when idle (`[pipeline] wait`).
    pub wait: Wait,
    /// The pair's secret: a standby proves it before anything else happens.
    pub secret: PairSecret,
    /// TLS on the link (`[tls] replication`): the certificate this primary presents.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Read-only followers on the same port (`super::observers`); `None`: none are served.
    pub observers: Option<ObserverAccess>,
}

/// Who may observe, and how many at once.
#[derive(Debug, Clone)]
pub struct ObserverAccess {
    /// The observers' secret (`[replication] observer_secret`), another than the pair's.
    pub secret: PairSecret,
    /// At most this many at once (`[replication] max_observers`).
    pub max: usize,
    /// This node's pipeline: observers are sent what its matcher has processed.
    pub monitor: Monitor,
}

/// The running server; stops when dropped.
pub struct ReplicationServer {
    addr: SocketAddr,
    observers: Option<Arc<ObserverHub>>,
    peer: Arc<Mutex<Option<SocketAddr>>>,
    unproven: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ReplicationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ReplicationServer {
    /// Binds `settings.listen` and serves one standby at a time.
    pub fn start(
        settings: PrimarySettings,
        link: Arc<ReplicaLink>,
        state: Arc<dyn PrimaryState>,
    ) -> io::Result<ReplicationServer> {
        let listener = TcpListener::bind(settings.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let observers = match &settings.observers {
            Some(access) => Some(Arc::new(ObserverHub::start(
                ObserverSettings {
                    journal_dir: settings.journal_dir.clone(),
                    heartbeat: settings.heartbeat,
                    config_digest: settings.config_digest,
                    secret: Some(access.secret.clone()),
                    max: access.max,
                    tls: settings.tls.clone(),
                },
                access.monitor.clone(),
                Arc::clone(&state),
            )?)),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let peer = Arc::new(Mutex::new(None));
        let unproven = Arc::new(AtomicU64::new(0));
        let thread = {
            let stop = Arc::clone(&stop);
            let server = Served {
                current: Arc::clone(&peer),
                unproven: Arc::clone(&unproven),
                observers: observers.clone(),
            };
            std::thread::Builder::new()
                .name("hayate-repl-primary".into())
                .spawn(move || serve(&listener, &settings, &link, &*state, &stop, &server))?
        };
        Ok(ReplicationServer {
            addr,
            observers,
            peer,
            unproven,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The standby being served, if one is connected.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer.lock().ok().and_then(|p| *p)
    }

    /// Connections refused because they did not prove the pair's secret (or, for an observer,
    /// the observers').
    pub fn unproven(&self) -> u64 {
        self.unproven.load(Ordering::Relaxed) + self.observers.as_ref().map_or(0, |h| h.unproven())
    }

    /// The observers' hub, when observers are served.
    pub fn observers(&self) -> Option<&ObserverHub> {
        self.observers.as_deref()
    }
}

/// What the serving thread reports to the server's handle.
struct Served {
    /// The standby being served.
    current: Arc<Mutex<Option<SocketAddr>>>,
    /// Connections that did not prove the secret.
    unproven: Arc<AtomicU64>,
    /// Where observers go.
    observers: Option<Arc<ObserverHub>>,
}

impl Drop for ReplicationServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: &TcpListener,
    settings: &PrimarySettings,
    link: &Arc<ReplicaLink>,
    state: &dyn PrimaryState,
    stop: &AtomicBool,
    served: &Served,
) {
    let set_current = |peer| {
        if let Ok(mut slot) = served.current.lock() {
            *slot = peer;
        }
    };
    // Sleeps in `epoll` between standbys too: woken by a connection, or to look at `stop`.
    let mut idle = match Idle::new(settings.wait, Arc::clone(link)) {
        Ok(idle) => idle,
        Err(e) => {
            tracing::error!(error = %e, "replication server: cannot create its poller");
            return;
        }
    };
    if let Err(e) = idle.watch(listener, LISTENER) {
        tracing::error!(error = %e, "replication server: cannot watch its listener");
        return;
    }
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, peer)) => {
                set_current(Some(peer));
                match stand_by(stream, listener, settings, state, stop, &mut idle, served) {
                    Ok(Ended::Unproven) => {
                        served.unproven.fetch_add(1, Ordering::Relaxed);
                        let what = if settings.tls.is_some() {
                            "complete TLS and prove the pair's secret"
                        } else {
                            "prove the pair's secret"
                        };
                        tracing::warn!(%peer, "refused a replication connection that did not {what}");
                    }
                    Ok(Ended::Done | Ended::Observer) => {}
                    Err(e) => tracing::warn!(%peer, error = %e, "standby connection ended"),
                }
                link.set_connected(false);
                set_current(None);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                idle.wait_for_sockets(STOP_CHECK);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting a standby failed");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// How a connection ended without an I/O error.
enum Ended {
    /// Served until it closed, or refused for its position or configuration.
    Done,
    /// It did not prove the pair's secret: refused before anything was sent.
    Unproven,
    /// It was an observer, handed to the observers' hub.
    Observer,
}

/// One standby, from handshake to disconnect. Nothing but the Challenge is sent, and nothing
/// it says is acted on (not even a later epoch), before it has proved the pair's secret.
fn stand_by(
    stream: TcpStream,
    listener: &TcpListener,
    settings: &PrimarySettings,
    state: &dyn PrimaryState,
    stop: &AtomicBool,
    idle: &mut Idle,
    served: &Served,
) -> io::Result<Ended> {
    let addr = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    // A peer that does not complete TLS fails its first read below: refused and counted like
    // any other that does not prove the secret.
    let mut peer = Peer::accept(stream, settings.tls.as_ref())?;
    let link = idle.link();
    // Anything short of a Hello (or an observer's) and a good Proof — silence, garbage, another
    // message, a wrong or replayed proof — ends here, counted, with nothing sent but the
    // Challenge.
    let first = next_message(&mut peer, |m| match m {
        Message::Hello(hello) => Some(Ok(hello)),
        Message::ObserverHello(hello) => Some(Err(hello)),
        _ => None,
    });
    let hello = match first {
        Some(Ok(hello)) => hello,
        Some(Err(observer)) => {
            match &served.observers {
                Some(hub) => hub.admit(peer, observer, addr),
                None => {
                    let _ = refuse(
                        &mut peer,
                        RefuseCode::ObserversFull,
                        "this primary serves no observers ([replication] observer_secret is not \
                         set)",
                    );
                }
            }
            return Ok(Ended::Observer);
        }
        None => {
            let _ = refuse(&mut peer, RefuseCode::BadHandshake, "expected Hello");
            return Ok(Ended::Unproven);
        }
    };
    let challenge = settings.secret.challenge(&hello)?;
    peer.send(&Message::Challenge(challenge));
    peer.flush_all(HANDSHAKE_TIMEOUT)?;
    let proved = next_message(&mut peer, |m| match m {
        Message::Proof(proof) => Some(proof),
        _ => None,
    })
    .is_some_and(|proof| settings.secret.standby_proved(&hello, &challenge, &proof));
    if !proved {
        let _ = refuse(
            &mut peer,
            RefuseCode::BadProof,
            "no proof of the pair's secret",
        );
        return Ok(Ended::Unproven);
    }
    if hello.config_digest != settings.config_digest {
        refuse(
            &mut peer,
            RefuseCode::ConfigMismatch,
            "the standby's engine configuration differs from the primary's",
        )?;
        return Ok(Ended::Done);
    }
    let epochs = state.epochs();
    let epoch = epochs.last().map_or(1, |e| e.0);
    let last_seq = state.last_seq();
    let from = match resume_point(&epochs, last_seq, hello.epoch, hello.last_seq) {
        Resume::StaleEpoch => {
            refuse(
                &mut peer,
                RefuseCode::StaleEpoch,
                "the standby has seen a later epoch",
            )?;
            state.step_down(hello.epoch);
            return Ok(Ended::Done);
        }
        Resume::TruncateAfter(keep_through) => {
            peer.send(&Message::Truncate(Truncate {
                keep_through,
                epoch,
            }));
            peer.flush_all(HANDSHAKE_TIMEOUT)?;
            return Ok(Ended::Done);
        }
        Resume::From(from) => from,
    };
    peer.send(&Message::Welcome(Welcome {
        epoch,
        resume_from: from,
        primary_last_seq: last_seq,
    }));
    peer.flush_all(HANDSHAKE_TIMEOUT)?;
    tracing::info!(from, epoch, "standby connected");
    link.set_connected(true);
    idle.watch(peer.stream(), PEER)?;
    stream_journal(
        &mut peer,
        listener,
        settings,
        state,
        stop,
        idle,
        from,
        epoch,
        served.observers.as_deref(),
    )?;
    Ok(Ended::Done)
}

/// The next handshake message, if it comes in time, decodes and is the one `pick` wants.
fn next_message<T>(peer: &mut Peer, pick: impl Fn(Message<'_>) -> Option<T>) -> Option<T> {
    let bytes = peer.wait_frame(HANDSHAKE_TIMEOUT).ok()?;
    Message::decode(&bytes).ok().and_then(pick)
}

fn refuse(peer: &mut Peer, code: RefuseCode, text: &str) -> io::Result<()> {
    peer.send(&Message::Refuse { code, text });
    peer.flush_all(HANDSHAKE_TIMEOUT)
}

/// Sends every record from `from` on as the journal grows; takes acknowledgements and
/// heartbeats; refuses a second standby meanwhile.
#[allow(clippy::too_many_arguments)]
fn stream_journal(
    peer: &mut Peer,
    listener: &TcpListener,
    settings: &PrimarySettings,
    state: &dyn PrimaryState,
    stop: &AtomicBool,
    idle: &mut Idle,
    from: u64,
    epoch: u64,
    observers: Option<&ObserverHub>,
) -> io::Result<()> {
    let link = Arc::clone(idle.link());
    let mut tailer = Tailer::open(&settings.journal_dir, from).map_err(io::Error::other)?;
    let mut next_seq = from;
    let mut last_heard = Instant::now();
    let mut last_sent = Instant::now();
    let mut last_accept = Instant::now();
    let gone_after = settings.heartbeat * MISSED_HEARTBEATS;
    while !stop.load(Ordering::Acquire) {
        let mut busy = false;
        // New records: one frame per poll, bounded so acknowledgements keep flowing.
        if peer.pending() < super::protocol::MAX_FRAME {
            let sent = peer.send_records(&mut tailer, next_seq, MAX_RECORDS as usize)?;
            if sent > 0 {
                next_seq += u64::from(sent);
                busy = true;
            }
        }
        // Acknowledgements, heartbeats, notices.
        let filled = peer.fill()?;
        if filled {
            last_heard = Instant::now();
            busy = true;
        }
        let mut stale = None;
        peer.frames(|message| -> io::Result<()> {
            match message {
                Message::Ack(Ack { durable_seq, .. }) => link.acknowledge(durable_seq),
                Message::Heartbeat(Heartbeat { epoch: theirs, .. })
                | Message::EpochNotice(super::protocol::EpochNotice { epoch: theirs, .. })
                    if theirs > epoch =>
                {
                    stale = Some(theirs);
                }
                _ => {}
            }
            Ok(())
        })?;
        if let Some(higher) = stale {
            state.step_down(higher);
            return Ok(());
        }
        if last_sent.elapsed() >= settings.heartbeat {
            peer.send(&Message::Heartbeat(Heartbeat {
                epoch,
                seq: state.last_seq(),
                sent_ns: 0,
            }));
            last_sent = Instant::now();
        }
        if peer.pending() > 0 {
            peer.flush()?;
            last_sent = Instant::now();
        }
        if last_heard.elapsed() >= gone_after {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the standby missed its heartbeats",
            ));
        }
        // Only one standby: other connections are observers (handed to their hub, which reads
        // them in a thread of its own) or a second standby, told one is connected. Looked for
        // once a heartbeat, not per pass: an `accept` is a system call.
        if last_accept.elapsed() >= settings.heartbeat {
            last_accept = Instant::now();
            // A few per look, so observers connecting together are not served one a heartbeat.
            for _ in 0..8 {
                let Ok((extra, _)) = listener.accept() else {
                    break;
                };
                match observers {
                    Some(hub) => hub.screen(extra),
                    // Without a hub, over TLS the answer would first need a handshake, which this
                    // loop does not stop streaming for: the connection is closed (it retries).
                    None if settings.tls.is_none() => {
                        if let Ok(mut other) = Peer::accept(extra, None) {
                            let _ = refuse(
                                &mut other,
                                RefuseCode::Busy,
                                "a standby is already connected",
                            );
                        }
                    }
                    None => {}
                }
            }
        }
        // Sleep until records are appended, the standby writes, or a heartbeat is due.
        let heartbeat_due = settings.heartbeat.saturating_sub(last_sent.elapsed());
        idle.pass(
            busy,
            peer.pending() > 0,
            || link.journaled_seq() >= next_seq,
            heartbeat_due,
        );
    }
    Ok(())
}
