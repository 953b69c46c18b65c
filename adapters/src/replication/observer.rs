//! The observer's side of the replication port: a read-only follower (the bridge, an auditor)
//! connects to whichever node is primary, proves the observers' secret, says where its copy of
//! the stream stands and is sent every processed record after it (`super::observers` is the
//! primary's side).
//!
//! An observer keeps its own position (the bridge keeps it in its sinks); after any failure it
//! connects again from there, to the same node or to the standby once that is promoted.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use hayate_core::Command;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::auth::{self, ConnectFailure};
use super::peer::Peer;
use super::primary::MISSED_HEARTBEATS;
use super::protocol::{Ack, Heartbeat, Message, ObserverHello, RefuseCode, Welcome};
use crate::secrets::PairSecret;
use crate::tls::TlsDialer;

/// How an observer reaches the exchange.
#[derive(Debug, Clone)]
pub struct ObserveSettings {
    /// The nodes that may be primary, tried in turn (a standby does not serve observers).
    pub nodes: Vec<SocketAddr>,
    /// The name the primary logs and shows for this observer.
    pub name: String,
    /// The observers' secret (the primary's `[replication] observer_secret`).
    pub secret: PairSecret,
    /// Digest of the engine configuration (the primary refuses another).
    pub config_digest: u64,
    /// How often it tells the primary it is alive; at most the primary's heartbeat period (the
    /// primary drops an observer it has not heard from in five of its own).
    pub heartbeat: Duration,
    /// TLS, when the port has it (`[tls] replication`): the roots the primary's certificate
    /// must chain to and the name it must carry.
    pub tls: Option<TlsDialer>,
    /// How long connecting and the handshake may take.
    pub connect_timeout: Duration,
}

/// Where the observer's copy of the stream stands: the last sequence it applied and the epoch it
/// was in (from the engine it applies them with: [`hayate_core::Engine::epoch`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// The epoch of the last record applied (1 before any promotion).
    pub epoch: u64,
    /// The first sequence of that epoch (0 for epoch 1).
    pub epoch_start: u64,
    /// The last sequence applied (0: none).
    pub last_seq: u64,
}

/// Why observing stopped.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// No node could be reached, or the connection broke or went silent: try again later.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A node refused the observer.
    #[error("refused by {node}: {text} ({code:?})")]
    Refused {
        /// The node.
        node: SocketAddr,
        /// Why.
        code: RefuseCode,
        /// Its explanation.
        text: String,
    },
    /// The node did not prove the observers' secret, or refused ours.
    #[error("{node}: {why}")]
    Unproven {
        /// The node.
        node: SocketAddr,
        /// What happened.
        why: String,
    },
    /// The observer's copy holds commands the primary's journal does not (it followed a primary
    /// that lost its tail in a failover): what it published from them is not the exchange's.
    #[error(
        "the primary's journal parts from this observer's copy after sequence {keep_through}: \
         what it applied after that is not the exchange's"
    )]
    Diverged {
        /// The last sequence both hold.
        keep_through: u64,
    },
}

impl ObserveError {
    /// Whether retrying cannot help (an operator must act): another configuration, another
    /// secret, a position the journal no longer holds, a diverged copy.
    pub fn is_fatal(&self) -> bool {
        match self {
            ObserveError::Io(_) => false,
            ObserveError::Refused { code, .. } => matches!(
                code,
                RefuseCode::ConfigMismatch | RefuseCode::PositionGone | RefuseCode::BadProof
            ),
            ObserveError::Unproven { .. } | ObserveError::Diverged { .. } => true,
        }
    }
}

/// A connection to the primary, streaming records.
#[derive(Debug)]
pub struct Observation {
    peer: Peer,
    node: SocketAddr,
    welcome: Welcome,
    next_seq: u64,
    heartbeat: Duration,
    last_heard: Instant,
    last_sent: Instant,
    poll: Poll,
    events: Events,
}

impl Observation {
    /// Connects to the first node that accepts the observer at `position`. Nodes that cannot be
    /// reached, are not primary or are full are passed over; a refusal that retrying cannot mend
    /// ([`ObserveError::is_fatal`]) is returned at once.
    pub fn connect(
        settings: &ObserveSettings,
        position: Position,
    ) -> Result<Observation, ObserveError> {
        let mut last = ObserveError::Io(io::Error::other("no [bridge] nodes to connect to"));
        for &node in &settings.nodes {
            match Observation::connect_to(settings, node, position) {
                Ok(observation) => return Ok(observation),
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn connect_to(
        settings: &ObserveSettings,
        node: SocketAddr,
        position: Position,
    ) -> Result<Observation, ObserveError> {
        let patience = settings.connect_timeout;
        let mut peer = Peer::connect(node, patience, settings.tls.as_ref())?;
        let mut hello = ObserverHello {
            epoch: position.epoch.max(1),
            last_seq: position.last_seq,
            last_epoch_start: position.epoch_start,
            config_digest: settings.config_digest,
            ..ObserverHello::default()
        };
        hello.set_name(&settings.name);
        auth::connect_observer(&mut peer, &settings.secret, hello, patience).map_err(
            |failure| match failure {
                ConnectFailure::Io(e) => ObserveError::Io(e),
                ConnectFailure::Unproven(why) => ObserveError::Unproven { node, why },
                ConnectFailure::Refused { code, text } => {
                    ObserveError::Refused { node, code, text }
                }
            },
        )?;
        let answer = peer.wait_frame(patience)?;
        let welcome = match Message::decode(&answer) {
            Ok(Message::Welcome(welcome)) => welcome,
            Ok(Message::Truncate(truncate)) => {
                return Err(ObserveError::Diverged {
                    keep_through: truncate.keep_through,
                });
            }
            Ok(Message::Refuse { code, text }) => {
                return Err(ObserveError::Refused {
                    node,
                    code,
                    text: text.to_owned(),
                });
            }
            Ok(_) => return Err(io::Error::other("unexpected answer to the proof").into()),
            Err(e) => return Err(io::Error::other(e.to_string()).into()),
        };
        if welcome.resume_from != position.last_seq + 1 {
            return Err(io::Error::other(format!(
                "the primary offered records from {}, not {}",
                welcome.resume_from,
                position.last_seq + 1
            ))
            .into());
        }
        let poll = Poll::new()?;
        poll.registry().register(
            &mut SourceFd(&peer.stream().as_raw_fd()),
            Token(0),
            Interest::READABLE,
        )?;
        Ok(Observation {
            peer,
            node,
            welcome,
            next_seq: welcome.resume_from,
            heartbeat: settings.heartbeat,
            last_heard: Instant::now(),
            last_sent: Instant::now(),
            poll,
            events: Events::with_capacity(4),
        })
    }

    /// The node serving it.
    pub fn node(&self) -> SocketAddr {
        self.node
    }

    /// The primary's epoch and last processed sequence when it accepted the observer.
    pub fn primary_epoch(&self) -> u64 {
        self.welcome.epoch
    }

    /// The primary's last processed sequence as it last said (Welcome, then heartbeats).
    pub fn primary_seq(&self) -> u64 {
        self.welcome.primary_last_seq
    }

    /// The next sequence it expects.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Waits up to `timeout` for records and hands each one, in order, to `apply`; sends a
    /// heartbeat when one is due. Returns how many records it handed over (0: none came).
    pub fn poll(
        &mut self,
        timeout: Duration,
        mut apply: impl FnMut(u64, &Command),
    ) -> Result<usize, ObserveError> {
        let mut count = 0;
        let deadline = Instant::now() + timeout;
        loop {
            if self.peer.fill()? {
                self.last_heard = Instant::now();
            }
            let (next_seq, primary_seq) = (&mut self.next_seq, &mut self.welcome.primary_last_seq);
            self.peer.frames(|message| -> io::Result<()> {
                match message {
                    Message::Records(records) => {
                        for (seq, command) in records.iter() {
                            if seq != *next_seq {
                                return Err(io::Error::other(format!(
                                    "the primary sent sequence {seq} where {next_seq} was due"
                                )));
                            }
                            apply(seq, &command);
                            *next_seq += 1;
                            count += 1;
                        }
                        *primary_seq = (*primary_seq).max(next_seq.saturating_sub(1));
                    }
                    Message::Heartbeat(Heartbeat { seq, .. }) => *primary_seq = seq,
                    Message::Refuse { text, .. } => {
                        return Err(io::Error::other(format!("the primary closed: {text}")));
                    }
                    _ => {}
                }
                Ok(())
            })?;
            if self.last_sent.elapsed() >= self.heartbeat {
                self.peer.send(&Message::Heartbeat(Heartbeat {
                    epoch: self.welcome.epoch,
                    seq: self.next_seq.saturating_sub(1),
                    sent_ns: 0,
                }));
                self.last_sent = Instant::now();
            }
            if self.peer.pending() > 0 {
                self.peer.flush()?;
            }
            if self.last_heard.elapsed() >= self.heartbeat * MISSED_HEARTBEATS {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} went silent", self.node),
                )
                .into());
            }
            let now = Instant::now();
            if count > 0 || now >= deadline {
                return Ok(count);
            }
            let wait =
                (deadline - now).min(self.heartbeat.saturating_sub(self.last_sent.elapsed()));
            // EINTR or an error: the loop reads again, as after any wake-up.
            let _ = self.poll.poll(&mut self.events, Some(wait));
        }
    }

    /// Tells the primary how far the observer has applied (its lag figure); sent with the next
    /// poll.
    pub fn acknowledge(&mut self, applied_seq: u64) {
        self.peer.send(&Message::Ack(Ack {
            durable_seq: applied_seq,
            applied_seq,
        }));
    }
}
