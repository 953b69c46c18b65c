//! The standby's side: the primary's records go into this node's own pipeline, in order and
//! exactly once, so its journal holds the same records at the same sequences and its matcher
//! reaches the same state (the same digest at the same sequence).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hayate_core::command::{Command, CommandKind};
use hayate_core::pipeline::{PublishError, Publisher, ReplicaLink, Wait};

use super::auth::{self, ConnectFailure};
use super::peer::{Idle, PEER, Peer};
use super::protocol::{Ack, Heartbeat, Hello, Message, NONCE_LEN, RefuseCode};
use crate::secrets::PairSecret;
use crate::tls::PairTls;

/// The longest a sleeping follower goes without looking whether it should stop (to be
/// promoted, say).
const STOP_CHECK: Duration = Duration::from_millis(20);

/// Why a record could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A record is missing: the stream skipped from `expected` to `got` (reconnect and resume).
    #[error("replication gap: expected sequence {expected}, got {got}")]
    Gap {
        /// The sequence this node needs next.
        expected: u64,
        /// The sequence that came.
        got: u64,
    },
    /// This node's pipeline does not take commands any more.
    #[error("the standby's pipeline refused the record: {0}")]
    Pipeline(String),
}

/// Publishes the primary's records into the standby's pipeline.
pub struct Applier {
    publisher: Publisher,
    next_seq: u64,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl Applier {
    /// An applier for a pipeline whose journal ends at `last_seq`. Nothing else may publish to
    /// that pipeline: the journal numbers records in arrival order, and they must keep the
    /// primary's numbers.
    pub fn new(publisher: Publisher, last_seq: u64) -> Applier {
        Applier {
            publisher,
            next_seq: last_seq + 1,
        }
    }

    /// The sequence this node needs next.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Applies record `seq`. A record already applied (a retransmission after a reconnect) is
    /// skipped; a gap is an error.
    pub fn apply(&mut self, seq: u64, command: &Command) -> Result<(), ApplyError> {
        if seq < self.next_seq {
            return Ok(());
        }
        if seq > self.next_seq {
            return Err(ApplyError::Gap {
                expected: self.next_seq,
                got: seq,
            });
        }
        match self.publisher.publish(command) {
            Ok(()) => {
                self.next_seq += 1;
                Ok(())
            }
            Err(PublishError::Full) => Err(ApplyError::Pipeline("ring full".to_owned())),
            Err(e) => Err(ApplyError::Pipeline(e.to_string())),
        }
    }
}

/// What the standby reports of itself in the handshake and its acknowledgements.
pub trait StandbyState: Send + Sync {
    /// The current epoch and the sequence it began at.
    fn epoch(&self) -> (u64, u64);
    /// The last sequence this node's journal has made durable (what an Ack promises).
    fn durable_seq(&self) -> u64;
    /// The last sequence this node's matcher has applied.
    fn applied_seq(&self) -> u64;
    /// A promotion's epoch record was applied: it is this node's epoch from now on (its next
    /// Hello must say so, or the primary would take the record for an unreplicated tail).
    fn record_epoch(&self, _epoch: u64, _start_seq: u64) {}
}

/// Settings of the standby's connection to its primary.
#[derive(Debug, Clone)]
pub struct FollowerSettings {
    /// Where the primary listens for its standby.
    pub primary: SocketAddr,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Digest of the engine configuration (must equal the primary's).
    pub config_digest: u64,
    /// Silence from the primary after which [`follow`] returns [`Followed::PrimaryLost`] (automatic
    /// promotion); `None` = never. Counted only once this run has reached the primary.
    pub promote_after: Option<Duration>,
    /// How the follower waits when idle (`[pipeline] wait`).
    pub wait: Wait,
    /// The pair's secret: proved to the primary, and the primary must prove it back.
    pub secret: PairSecret,
    /// TLS on the link (`[tls] replication`): the primary's certificate is checked first.
    pub tls: Option<PairTls>,
    /// This node's own pipeline's link (inactive until a promotion): its journaler wakes the
    /// sleeping follower when records become durable, to acknowledge them.
    pub link: Arc<ReplicaLink>,
}

/// Why [`follow`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// Asked to stop (e.g. to be promoted).
    Stopped,
    /// The primary says this node holds records it never had: drop everything after
    /// `keep_through` (with the pipeline stopped), then follow again.
    Truncate {
        /// The last sequence to keep.
        keep_through: u64,
    },
    /// The primary refused this standby for good (configuration, epoch): an operator must act.
    Refused {
        /// Why, as the primary said.
        text: String,
    },
    /// Nothing heard from the primary for [`FollowerSettings::promote_after`].
    PrimaryLost,
}

/// What the standby has seen of its primary, for `/status`.
#[derive(Debug, Default)]
pub struct FollowerStatus {
    /// Connected and streaming.
    pub connected: AtomicBool,
    /// The primary's last sequence, from its heartbeats.
    pub primary_seq: AtomicU64,
    /// The primary's epoch.
    pub primary_epoch: AtomicU64,
}

/// Follows the primary until `stop()` is true: connects (and reconnects after any failure,
/// every heartbeat), resumes where this node's journal ends, applies records, acknowledges what
/// this node has made durable, and exchanges heartbeats.
pub fn follow(
    settings: &FollowerSettings,
    applier: &mut Applier,
    state: &dyn StandbyState,
    status: &FollowerStatus,
    stop: &dyn Fn() -> bool,
) -> Followed {
    // Last time the primary was heard from; `None` until this run has reached it (a standby
    // that never saw its primary has no grounds to replace it).
    let mut last_contact: Option<Instant> = None;
    while !stop() {
        match session(settings, applier, state, status, stop, &mut last_contact) {
            Ok(Some(outcome)) => {
                status.connected.store(false, Ordering::Release);
                return outcome;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(primary = %settings.primary, error = %e, "replication link down; retrying")
            }
        }
        status.connected.store(false, Ordering::Release);
        if primary_lost(settings, last_contact) {
            return Followed::PrimaryLost;
        }
        std::thread::sleep(settings.heartbeat);
    }
    Followed::Stopped
}

fn primary_lost(settings: &FollowerSettings, last_contact: Option<Instant>) -> bool {
    match (settings.promote_after, last_contact) {
        (Some(limit), Some(heard)) => heard.elapsed() >= limit,
        _ => false,
    }
}

/// One connection: `Ok(Some)` ends following, `Ok(None)`/`Err` reconnect.
fn session(
    settings: &FollowerSettings,
    applier: &mut Applier,
    state: &dyn StandbyState,
    status: &FollowerStatus,
    stop: &dyn Fn() -> bool,
    last_contact: &mut Option<Instant>,
) -> std::io::Result<Option<Followed>> {
    let gone_after = settings.heartbeat * super::primary::MISSED_HEARTBEATS;
    let mut peer = match Peer::connect(
        settings.primary,
        gone_after,
        settings.tls.as_ref().map(PairTls::dialer),
    ) {
        Ok(peer) => peer,
        // The primary's certificate is not the one this node trusts (or it does not speak
        // TLS): following it would hand the journal's position to a stranger. Like a failed
        // proof of the secret, this ends following until an operator looks.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Ok(Some(Followed::Refused {
                text: format!("TLS with the primary failed: {e}"),
            }));
        }
        Err(e) => return Err(e),
    };
    let (epoch, epoch_start) = state.epoch();
    let hello = Hello {
        epoch,
        last_seq: applier.next_seq() - 1,
        last_epoch_start: epoch_start,
        config_digest: settings.config_digest,
        nonce: [0; NONCE_LEN],
    };
    match auth::connect(&mut peer, &settings.secret, hello, gone_after) {
        Ok(()) => {}
        Err(ConnectFailure::Io(e)) => return Err(e),
        // Busy: another standby is connected; try again later.
        Err(ConnectFailure::Refused {
            code: RefuseCode::Busy,
            text,
        }) => return Err(std::io::Error::other(text)),
        Err(ConnectFailure::Refused { code, text }) => {
            return Ok(Some(Followed::Refused {
                text: format!("{code:?}: {text}"),
            }));
        }
        Err(ConnectFailure::Unproven(text)) => return Ok(Some(Followed::Refused { text })),
    }
    let answer = peer.wait_frame(gone_after)?;
    let welcome = match Message::decode(&answer) {
        Ok(Message::Welcome(welcome)) => welcome,
        Ok(Message::Truncate(t)) => {
            return Ok(Some(Followed::Truncate {
                keep_through: t.keep_through,
            }));
        }
        Ok(Message::Refuse { code, text }) => {
            // Our proof was refused (the secrets differ), or the position or configuration was:
            // an operator must act.
            return Ok(Some(Followed::Refused {
                text: format!("{code:?}: {text}"),
            }));
        }
        Ok(_) => return Err(std::io::Error::other("unexpected answer to Hello")),
        Err(e) => return Err(std::io::Error::other(e.to_string())),
    };
    status.primary_epoch.store(welcome.epoch, Ordering::Relaxed);
    status
        .primary_seq
        .store(welcome.primary_last_seq, Ordering::Relaxed);
    status.connected.store(true, Ordering::Release);
    *last_contact = Some(Instant::now());
    tracing::info!(primary = %settings.primary, from = welcome.resume_from, "following the primary");
    let mut last_heard = Instant::now();
    let mut last_sent = Instant::now();
    let mut acked = 0u64;
    let mut idle = Idle::new(settings.wait, Arc::clone(&settings.link))?;
    idle.watch(peer.stream(), PEER)?;
    while !stop() {
        let mut busy = peer.fill()?;
        if busy {
            last_heard = Instant::now();
            *last_contact = Some(last_heard);
        }
        let mut failure = None;
        peer.frames(|message| -> std::io::Result<()> {
            match message {
                Message::Records(records) => {
                    for (seq, command) in records.iter() {
                        if let Err(e) = applier.apply(seq, &command) {
                            failure = Some(e.to_string());
                            break;
                        }
                        if command.command_kind() == Some(CommandKind::Epoch) {
                            state.record_epoch(command.qty, command.order_id.0);
                        }
                    }
                }
                Message::Heartbeat(heartbeat) => {
                    status
                        .primary_seq
                        .fetch_max(heartbeat.seq, Ordering::Relaxed);
                    status
                        .primary_epoch
                        .store(heartbeat.epoch, Ordering::Relaxed);
                }
                _ => {}
            }
            Ok(())
        })?;
        if let Some(why) = failure {
            return Err(std::io::Error::other(why));
        }
        let durable = state.durable_seq();
        if durable > acked {
            peer.send(&Message::Ack(Ack {
                durable_seq: durable,
                applied_seq: state.applied_seq(),
            }));
            acked = durable;
            busy = true;
        }
        if last_sent.elapsed() >= settings.heartbeat {
            peer.send(&Message::Heartbeat(Heartbeat {
                epoch: state.epoch().0,
                seq: durable,
                sent_ns: 0,
            }));
        }
        if peer.pending() > 0 {
            peer.flush()?;
            last_sent = Instant::now();
        }
        if primary_lost(settings, *last_contact) {
            return Ok(Some(Followed::PrimaryLost));
        }
        if last_heard.elapsed() >= gone_after {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the primary missed its heartbeats",
            ));
        }
        // Sleep until records come, this node's journaler makes some durable (to acknowledge),
        // or a heartbeat is due.
        // At most STOP_CHECK, so that a promotion (which stops following) starts promptly.
        let heartbeat_due = settings.heartbeat.saturating_sub(last_sent.elapsed());
        idle.pass(
            busy,
            peer.pending() > 0,
            || state.durable_seq() > acked,
            heartbeat_due.min(STOP_CHECK),
        );
    }
    Ok(Some(Followed::Stopped))
}
