//! Read-only followers on the replication port: bridges, auditors, anything that wants the
//! exchange's journal as it happens without being its standby.
//!
//! An observer connects to the same port as the standby and says so in its first message
//! (`ObserverHello`). It proves the observers' secret (`[replication] observer_secret`, another
//! secret than the pair's, with labels of its own: an observer's credential can never pass for a
//! standby's), says where its copy stands, and is sent every record after that — but only records
//! the matcher has processed (journaled, durable and, in sync mode, acknowledged by the standby),
//! so an observer never publishes a command that a failover could take back.
//!
//! What makes observers safe for the exchange:
//! - **asynchronous**: one thread (the hub) serves them all, apart from the standby's loop and
//!   the pipeline; it never blocks on an observer — one whose socket pushes back is simply not
//!   sent more until it drains, and one that stops answering is dropped after missed heartbeats.
//!   Its acknowledgements are read for the lag figure and never reach the replicator. While
//!   commands keep coming it looks for new ones every millisecond rather than have the matcher
//!   wake it (a system call per batch on the order path); only after 100 ms without news does
//!   it sleep until the matcher's next batch wakes it, so an idle exchange costs nothing.
//! - **capped**: at most `max_observers` connected or shaking hands; more are refused
//!   (`ObserversFull`).
//! - **never promotable**: an observer keeps no journal the pair knows of and is never sent a
//!   promotion's epoch notice; nothing it says changes the primary's state (a later epoch from an
//!   observer is refused, not obeyed).
//! - **resumable from any sequence** the journal still holds (catch-up and live are the same
//!   tailer loop); a position retention deleted is refused (`PositionGone`).

use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender};
use hayate_core::pipeline::Monitor;
use hayate_journal::{JournalReader, Tailer};
use mio::{Events, Poll, Token, Waker};

use super::handshake::{Resume, resume_point};
use super::peer::Peer;
use super::primary::{MISSED_HEARTBEATS, PrimaryState};
use super::protocol::{
    Heartbeat, MAX_FRAME, MAX_RECORDS, Message, ObserverHello, RefuseCode, Truncate, Welcome,
};
use crate::secrets::PairSecret;

/// How long an observer's handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The hub's wake-up (new observer, stop) and the first observer's token.
const WAKER: Token = Token(0);
/// The longest the hub sleeps while an observer's socket pushes back.
const PUSHBACK_RETRY: Duration = Duration::from_millis(1);
/// While commands keep coming, the hub looks for more this often instead of being woken by the
/// matcher. A wake-up is a system call on the matcher's thread after every batch: measured with
/// the bridge on a core of its own, it cost order→ack 1.13–1.21× at p50 against 0.95–1.02× when
/// polling (`loadgen --bridge --bridge-cpus 1`, 2k/s); observers see a command up to this much
/// later.
const BUSY_POLL: Duration = Duration::from_millis(1);
/// Polls in a row that find nothing new before the hub sleeps until the matcher wakes it (so an
/// idle exchange costs no wake-ups): 100 ms without news.
const POLLS_BEFORE_PARK: u32 = 100;

/// Settings of the observer hub.
#[derive(Debug, Clone)]
pub struct ObserverSettings {
    /// The primary's journal directory.
    pub journal_dir: PathBuf,
    /// Heartbeat period (the pair's).
    pub heartbeat: Duration,
    /// Digest of the engine configuration; an observer with another is refused.
    pub config_digest: u64,
    /// The observers' secret; `None`: this primary serves no observers.
    pub secret: Option<PairSecret>,
    /// At most this many observers connected (and shaking hands) at once.
    pub max: usize,
    /// TLS on the port (`[tls] replication`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// One observer as `/status` and `/metrics` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverView {
    /// The name it gave.
    pub name: String,
    /// Its address.
    pub addr: String,
    /// The last sequence sent to it.
    pub sent_seq: u64,
    /// The last sequence it said it applied.
    pub acked_seq: u64,
}

/// Counters and the observers' list, shared with the handle.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// Observers shaking hands or being served: the cap applies to both.
    admitted: AtomicUsize,
    /// Connections refused because they did not prove the observers' secret.
    unproven: AtomicU64,
    /// Connections refused because the cap was reached (or observers are off).
    full: AtomicU64,
    /// Observers served since start.
    served: AtomicU64,
    views: Mutex<Vec<ObserverView>>,
}

/// An authenticated observer, handed from its handshake thread to the hub.
struct Admitted {
    peer: Peer,
    name: String,
    addr: String,
    from: u64,
    epoch: u64,
}

/// The hub serving every observer; stops when dropped.
pub struct ObserverHub {
    settings: Arc<ObserverSettings>,
    state: Arc<dyn PrimaryState>,
    monitor: Monitor,
    shared: Arc<Shared>,
    admitted: Sender<Admitted>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ObserverHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObserverHub")
            .field("max", &self.settings.max)
            .finish_non_exhaustive()
    }
}

impl ObserverHub {
    /// Starts the hub's thread. `monitor` is this node's pipeline: observers are sent what its
    /// matcher has processed, and its matcher wakes the hub.
    pub(crate) fn start(
        settings: ObserverSettings,
        monitor: Monitor,
        state: Arc<dyn PrimaryState>,
    ) -> io::Result<ObserverHub> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        {
            let waker = Arc::clone(&waker);
            monitor.set_processed_waker(move || {
                // A full eventfd already means "wake up".
                let _ = waker.wake();
            });
        }
        let (admitted, incoming) = crossbeam::channel::unbounded();
        let shared = Arc::new(Shared::default());
        let settings = Arc::new(settings);
        let thread = {
            let hub = Hub {
                settings: Arc::clone(&settings),
                monitor: monitor.clone(),
                shared: Arc::clone(&shared),
                incoming,
                poll,
                observers: Vec::new(),
                last_committed: 0,
                quiet_polls: POLLS_BEFORE_PARK,
            };
            std::thread::Builder::new()
                .name("hayate-observers".into())
                .spawn(move || hub.run())?
        };
        Ok(ObserverHub {
            settings,
            state,
            monitor,
            shared,
            admitted,
            waker,
            thread: Some(thread),
        })
    }

    /// An observer's first message arrived on a connection the replication server accepted:
    /// its handshake goes on in a thread of its own, so the server is free at once.
    pub(crate) fn admit(&self, peer: Peer, hello: ObserverHello, addr: String) {
        if !self.reserve() {
            refuse_full(peer, &self.settings);
            self.shared.full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let admission = self.admission();
        let spawned = std::thread::Builder::new()
            .name("hayate-observer-handshake".into())
            .spawn(move || admission.run(peer, hello, addr));
        if spawned.is_err() {
            self.shared.admitted.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A connection accepted while the standby is being served: it may be an observer (admitted)
    /// or a second standby (told one is connected). Read in a thread of its own, so the
    /// standby's stream never waits for it (TLS included).
    pub(crate) fn screen(&self, stream: TcpStream) {
        if !self.reserve() {
            // Over the cap nothing is read: the connection is closed.
            self.shared.full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let admission = self.admission();
        let tls = self.settings.tls.clone();
        let spawned = std::thread::Builder::new()
            .name("hayate-observer-handshake".into())
            .spawn(move || {
                let addr = stream
                    .peer_addr()
                    .map_or_else(|_| "?".to_string(), |a| a.to_string());
                let Ok(mut peer) = Peer::accept(stream, tls.as_ref()) else {
                    admission.release();
                    return;
                };
                let first =
                    peer.wait_frame(HANDSHAKE_TIMEOUT).ok().and_then(
                        |bytes| match Message::decode(&bytes) {
                            Ok(Message::ObserverHello(hello)) => Some(Ok(hello)),
                            Ok(Message::Hello(_)) => Some(Err(())),
                            _ => None,
                        },
                    );
                match first {
                    Some(Ok(hello)) => admission.run(peer, hello, addr),
                    Some(Err(())) => {
                        refuse(
                            &mut peer,
                            RefuseCode::Busy,
                            "a standby is already connected",
                        );
                        admission.release();
                    }
                    None => {
                        admission.shared.unproven.fetch_add(1, Ordering::Relaxed);
                        admission.release();
                    }
                }
            });
        if spawned.is_err() {
            self.shared.admitted.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Takes a place under the cap; false when there is none (or observers are off).
    fn reserve(&self) -> bool {
        if self.settings.secret.is_none() {
            return false;
        }
        let max = self.settings.max;
        self.shared
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    fn admission(&self) -> Admission {
        Admission {
            settings: Arc::clone(&self.settings),
            state: Arc::clone(&self.state),
            monitor: self.monitor.clone(),
            shared: Arc::clone(&self.shared),
            admitted: self.admitted.clone(),
            waker: Arc::clone(&self.waker),
        }
    }

    /// The observers connected now.
    pub fn observers(&self) -> Vec<ObserverView> {
        self.shared
            .views
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Connections refused because they did not prove the observers' secret.
    pub fn unproven(&self) -> u64 {
        self.shared.unproven.load(Ordering::Relaxed)
    }

    /// Connections refused because the cap was reached (or observers are off).
    pub fn refused_full(&self) -> u64 {
        self.shared.full.load(Ordering::Relaxed)
    }

    /// Observers served since start.
    pub fn served(&self) -> u64 {
        self.shared.served.load(Ordering::Relaxed)
    }
}

impl Drop for ObserverHub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn refuse(peer: &mut Peer, code: RefuseCode, text: &str) {
    peer.send(&Message::Refuse { code, text });
    let _ = peer.flush_all(HANDSHAKE_TIMEOUT);
}

fn refuse_full(mut peer: Peer, settings: &ObserverSettings) {
    let text = if settings.secret.is_none() {
        "this primary serves no observers ([replication] observer_secret is not set)".to_string()
    } else {
        format!(
            "{} observers are connected, the most this primary serves",
            settings.max
        )
    };
    refuse(&mut peer, RefuseCode::ObserversFull, &text);
}

/// One observer's handshake, in a thread of its own.
struct Admission {
    settings: Arc<ObserverSettings>,
    state: Arc<dyn PrimaryState>,
    monitor: Monitor,
    shared: Arc<Shared>,
    admitted: Sender<Admitted>,
    waker: Arc<Waker>,
}

impl Admission {
    fn release(&self) {
        self.shared.admitted.fetch_sub(1, Ordering::AcqRel);
    }

    fn run(self, mut peer: Peer, hello: ObserverHello, addr: String) {
        let name = hello.name();
        match self.handshake(&mut peer, &hello) {
            Ok(Some((from, epoch))) => {
                tracing::info!(observer = %name, %addr, from, "observer connected");
                self.shared.served.fetch_add(1, Ordering::Relaxed);
                let admitted = Admitted {
                    peer,
                    name,
                    addr,
                    from,
                    epoch,
                };
                // The place under the cap passes to the hub, which releases it at disconnect.
                if self.admitted.send(admitted).is_err() {
                    self.release();
                }
                let _ = self.waker.wake();
            }
            Ok(None) => self.release(),
            Err(e) => {
                tracing::warn!(observer = %name, %addr, error = %e, "observer handshake failed");
                self.release();
            }
        }
    }

    /// Proofs, configuration and position; `Some((from, epoch))` once Welcome is sent.
    fn handshake(&self, peer: &mut Peer, hello: &ObserverHello) -> io::Result<Option<(u64, u64)>> {
        let Some(secret) = &self.settings.secret else {
            return Ok(None);
        };
        let challenge = secret.observer_challenge(hello)?;
        peer.send(&Message::Challenge(challenge));
        peer.flush_all(HANDSHAKE_TIMEOUT)?;
        let proved = peer
            .wait_frame(HANDSHAKE_TIMEOUT)
            .ok()
            .and_then(|bytes| match Message::decode(&bytes) {
                Ok(Message::Proof(proof)) => Some(proof),
                _ => None,
            })
            .is_some_and(|proof| secret.observer_proved(hello, &challenge, &proof));
        if !proved {
            self.shared.unproven.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("refused an observer that did not prove the observers' secret");
            refuse(
                peer,
                RefuseCode::BadProof,
                "no proof of the observers' secret",
            );
            return Ok(None);
        }
        if hello.config_digest != self.settings.config_digest {
            refuse(
                peer,
                RefuseCode::ConfigMismatch,
                "the observer's engine configuration differs from the primary's",
            );
            return Ok(None);
        }
        let epochs = self.state.epochs();
        let epoch = epochs.last().map_or(1, |e| e.0);
        let committed = self.monitor.processed_seq();
        let from = match resume_point(&epochs, committed, hello.epoch.max(1), hello.last_seq) {
            Resume::From(from) => from,
            // Its copy holds commands this primary does not: it must not go on (what it
            // published from them is not the exchange's); it is told where the histories part.
            Resume::TruncateAfter(keep_through) => {
                peer.send(&Message::Truncate(Truncate {
                    keep_through,
                    epoch,
                }));
                peer.flush_all(HANDSHAKE_TIMEOUT)?;
                return Ok(None);
            }
            // A later epoch than this primary's: refused, and — unlike a standby's word — not
            // obeyed (an observer's credential must not be able to fence the primary).
            Resume::StaleEpoch => {
                refuse(
                    peer,
                    RefuseCode::StaleEpoch,
                    "the observer has seen a later epoch than this primary's",
                );
                return Ok(None);
            }
        };
        if from <= committed && !journal_holds(&self.settings.journal_dir, from) {
            refuse(
                peer,
                RefuseCode::PositionGone,
                &format!(
                    "the journal no longer holds sequence {from} (retention deleted it): start \
                     from a snapshot at or after the journal's first sequence"
                ),
            );
            return Ok(None);
        }
        peer.send(&Message::Welcome(Welcome {
            epoch,
            resume_from: from,
            primary_last_seq: committed,
        }));
        peer.flush_all(HANDSHAKE_TIMEOUT)?;
        Ok(Some((from, epoch)))
    }
}

/// Whether the journal in `dir` still holds record `seq`.
fn journal_holds(dir: &std::path::Path, seq: u64) -> bool {
    let Ok(reader) = JournalReader::open(dir) else {
        return false;
    };
    reader
        .records_from(seq)
        .next()
        .is_some_and(|record| record.is_ok_and(|r| r.seq == seq))
}

/// One observer being served.
struct Served {
    peer: Peer,
    name: String,
    addr: String,
    tailer: Tailer,
    next_seq: u64,
    acked_seq: u64,
    epoch: u64,
    last_heard: Instant,
    last_sent: Instant,
}

/// The hub's thread.
struct Hub {
    settings: Arc<ObserverSettings>,
    monitor: Monitor,
    shared: Arc<Shared>,
    incoming: Receiver<Admitted>,
    poll: Poll,
    observers: Vec<Served>,
    /// The processed sequence at the last pass, and the polls since it last moved.
    last_committed: u64,
    quiet_polls: u32,
}

impl Hub {
    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let gone_after = self.settings.heartbeat * MISSED_HEARTBEATS;
        while !self.shared.stop.load(Ordering::Acquire) {
            let mut busy = self.take_new();
            let committed = self.monitor.processed_seq();
            if committed != self.last_committed {
                self.last_committed = committed;
                self.quiet_polls = 0;
            }
            let mut index = 0;
            while index < self.observers.len() {
                let observer = &mut self.observers[index];
                match serve(observer, committed, self.settings.heartbeat, gone_after) {
                    Ok(did) => {
                        busy |= did;
                        index += 1;
                    }
                    Err(e) => {
                        tracing::info!(observer = %observer.name, addr = %observer.addr,
                            reason = %e, "observer disconnected");
                        let gone = self.observers.swap_remove(index);
                        let _ = self.poll.registry().deregister(&mut mio::unix::SourceFd(
                            &std::os::fd::AsRawFd::as_raw_fd(gone.peer.stream()),
                        ));
                        self.shared.admitted.fetch_sub(1, Ordering::AcqRel);
                    }
                }
            }
            self.publish_views();
            if busy {
                continue;
            }
            self.sleep(&mut events);
        }
        self.shared
            .admitted
            .fetch_sub(self.observers.len(), Ordering::AcqRel);
    }

    /// Registers observers whose handshake finished; true if there were any.
    fn take_new(&mut self) -> bool {
        let mut any = false;
        while let Ok(new) = self.incoming.try_recv() {
            any = true;
            // One token for all: any readiness means "serve every observer once more".
            let token = Token(1);
            let registered = self.poll.registry().register(
                &mut mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(new.peer.stream())),
                token,
                mio::Interest::READABLE,
            );
            let tailer = Tailer::open(&self.settings.journal_dir, new.from);
            match (registered, tailer) {
                (Ok(()), Ok(tailer)) => self.observers.push(Served {
                    peer: new.peer,
                    name: new.name,
                    addr: new.addr,
                    tailer,
                    next_seq: new.from,
                    acked_seq: new.from.saturating_sub(1),
                    epoch: new.epoch,
                    last_heard: Instant::now(),
                    last_sent: Instant::now(),
                }),
                _ => {
                    tracing::warn!(observer = %new.name, "could not start serving an observer");
                    self.shared.admitted.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        any
    }

    fn publish_views(&self) {
        if let Ok(mut views) = self.shared.views.lock() {
            views.clear();
            views.extend(self.observers.iter().map(|o| ObserverView {
                name: o.name.clone(),
                addr: o.addr.clone(),
                sent_seq: o.next_seq.saturating_sub(1),
                acked_seq: o.acked_seq,
            }));
        }
    }

    /// Sleeps until the next look (every [`BUSY_POLL`] while commands keep coming), or after a
    /// quiet spell until the matcher processes more (while an observer waits for it); and in
    /// any case until an observer writes, a new one arrives, or a heartbeat is due.
    fn sleep(&mut self, events: &mut Events) {
        let heartbeat = self.settings.heartbeat;
        let mut timeout = heartbeat;
        let mut waiting_for_records = false;
        for o in &self.observers {
            timeout = timeout.min(heartbeat.saturating_sub(o.last_sent.elapsed()));
            if o.peer.pending() > 0 {
                timeout = timeout.min(PUSHBACK_RETRY);
            } else {
                waiting_for_records = true;
            }
        }
        let behind = |monitor: &Monitor, observers: &[Served]| {
            let committed = monitor.processed_seq();
            observers
                .iter()
                .any(|o| o.peer.pending() == 0 && o.next_seq <= committed)
        };
        if waiting_for_records && self.quiet_polls < POLLS_BEFORE_PARK {
            // Commands came recently: look again soon rather than ask the matcher for a wake-up.
            self.quiet_polls += 1;
            let _ = self.poll.poll(events, Some(timeout.min(BUSY_POLL)));
        } else if waiting_for_records {
            // Quiet for a while and an observer waits for records: the matcher wakes the hub
            // after its next batch (one system call on its thread, after the quiet spell). With
            // no observer waiting it is never asked to wake anyone.
            self.monitor.park_processed();
            if !behind(&self.monitor, &self.observers) {
                let _ = self.poll.poll(events, Some(timeout));
            }
            self.monitor.unpark_processed();
        } else {
            let _ = self.poll.poll(events, Some(timeout));
        }
    }
}

/// One pass over one observer: records up to `committed`, its messages, a heartbeat when due.
/// An error drops it.
fn serve(
    o: &mut Served,
    committed: u64,
    heartbeat: Duration,
    gone_after: Duration,
) -> io::Result<bool> {
    let mut busy = false;
    if o.peer.pending() < MAX_FRAME && o.next_seq <= committed {
        let room = (committed - o.next_seq + 1).min(u64::from(MAX_RECORDS)) as usize;
        let sent = o.peer.send_records(&mut o.tailer, o.next_seq, room)?;
        if sent > 0 {
            o.next_seq += u64::from(sent);
            busy = true;
        }
    }
    if o.peer.fill()? {
        o.last_heard = Instant::now();
        busy = true;
    }
    let acked = &mut o.acked_seq;
    o.peer.frames(|message| -> io::Result<()> {
        if let Message::Ack(ack) = message {
            *acked = ack.applied_seq;
        }
        // Heartbeats only show it is alive; anything else an observer says is ignored.
        Ok(())
    })?;
    if o.last_sent.elapsed() >= heartbeat {
        o.peer.send(&Message::Heartbeat(Heartbeat {
            epoch: o.epoch,
            seq: committed,
            sent_ns: 0,
        }));
        o.last_sent = Instant::now();
    }
    if o.peer.pending() > 0 {
        o.peer.flush()?;
        o.last_sent = Instant::now();
    }
    if o.last_heard.elapsed() >= gone_after {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the observer missed its heartbeats",
        ));
    }
    Ok(busy)
}
