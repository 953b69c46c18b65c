//! The primary's side: accepts its standby, agrees where it resumes (`super::handshake`),
//! streams the journal to it through a tailer — catch-up and live are the same loop, so there is
//! no switch-over to get wrong — and reports the standby's acknowledgements to the replicator
//! stage through the [`ReplicaLink`].

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hayate_core::command::Command;
use hayate_core::pipeline::{ReplicaLink, Wait};
use hayate_journal::Tailer;

use super::handshake::{Resume, resume_point};
use super::peer::{Idle, LISTENER, PEER, Peer};
use super::protocol::{
    Ack, Heartbeat, MAX_RECORDS, Message, RecordsWriter, RefuseCode, Truncate, Welcome,
};

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
}

/// The running server; stops when dropped.
pub struct ReplicationServer {
    addr: SocketAddr,
    peer: Arc<Mutex<Option<SocketAddr>>>,
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
        let stop = Arc::new(AtomicBool::new(false));
        let peer = Arc::new(Mutex::new(None));
        let thread = {
            let stop = Arc::clone(&stop);
            let peer = Arc::clone(&peer);
            std::thread::Builder::new()
                .name("hayate-repl-primary".into())
                .spawn(move || serve(&listener, &settings, &link, &*state, &stop, &peer))?
        };
        Ok(ReplicationServer {
            addr,
            peer,
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
    current: &Mutex<Option<SocketAddr>>,
) {
    let set_current = |peer| {
        if let Ok(mut slot) = current.lock() {
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
                if let Err(e) = stand_by(stream, listener, settings, state, stop, &mut idle) {
                    tracing::warn!(%peer, error = %e, "standby connection ended");
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

/// One standby, from handshake to disconnect.
fn stand_by(
    stream: TcpStream,
    listener: &TcpListener,
    settings: &PrimarySettings,
    state: &dyn PrimaryState,
    stop: &AtomicBool,
    idle: &mut Idle,
) -> io::Result<()> {
    let mut peer = Peer::new(stream)?;
    let link = idle.link();
    let hello_bytes = peer.wait_frame(HANDSHAKE_TIMEOUT)?;
    let hello = match Message::decode(&hello_bytes) {
        Ok(Message::Hello(hello)) => hello,
        Ok(_) | Err(_) => {
            refuse(&mut peer, RefuseCode::BadHandshake, "expected Hello")?;
            return Ok(());
        }
    };
    if hello.config_digest != settings.config_digest {
        refuse(
            &mut peer,
            RefuseCode::ConfigMismatch,
            "the standby's engine configuration differs from the primary's",
        )?;
        return Ok(());
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
            return Ok(());
        }
        Resume::TruncateAfter(keep_through) => {
            peer.send(&Message::Truncate(Truncate {
                keep_through,
                epoch,
            }));
            peer.flush_all(HANDSHAKE_TIMEOUT)?;
            return Ok(());
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
        &mut peer, listener, settings, state, stop, idle, from, epoch,
    )
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
            let out = peer.outbound();
            let mut writer = RecordsWriter::begin(out, next_seq);
            let mut bad = None;
            tailer
                .poll_at_most(MAX_RECORDS as usize, |seq, bytes| {
                    if bad.is_some() {
                        return;
                    }
                    match Command::from_bytes(bytes) {
                        Ok(command) if seq == writer.next_seq() => {
                            // At most MAX_RECORDS are delivered, so the frame has room.
                            let _ = writer.push(out, &command);
                        }
                        Ok(_) => bad = Some(format!("journal sequence {seq} out of order")),
                        Err(e) => bad = Some(format!("journal record {seq}: {e}")),
                    }
                })
                .map_err(io::Error::other)?;
            let sent = writer.finish(peer.outbound());
            if let Some(why) = bad {
                return Err(io::Error::other(why));
            }
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
        // Only one standby: a second one is told so (looked for once a heartbeat, not per
        // pass: an `accept` is a system call).
        if last_accept.elapsed() >= settings.heartbeat {
            last_accept = Instant::now();
            if let Ok((extra, _)) = listener.accept()
                && let Ok(mut other) = Peer::new(extra)
            {
                let _ = refuse(
                    &mut other,
                    RefuseCode::Busy,
                    "a standby is already connected",
                );
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
