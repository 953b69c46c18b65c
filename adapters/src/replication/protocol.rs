//! The replication wire protocol between a primary and its hot standby.
//!
//! The primary streams its journal, `(sequence, command)` records, to the standby; the standby
//! journals and applies them and acknowledges what it has made durable; both send heartbeats.
//! Before any of that, both prove they hold the pair's secret (`super::auth`): Hello (with the
//! standby's nonce) → Challenge (the primary's nonce and proof) → Proof (the standby's) → Welcome.
//! Epochs fence old primaries: every promotion raises the epoch, and a node that learns of an
//! epoch higher than its own steps down.
//!
//! Every frame starts with an 8-byte header; all integers are little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | `length` (u32): the whole frame, header included, `HEADER_LEN..=MAX_FRAME` |
//! | 4 | 1 | `msg_type` (see [`msg_type`]) |
//! | 5 | 1 | `version` ([`VERSION`]) |
//! | 6 | 2 | reserved |
//!
//! Fixed bodies are `#[repr(C)]` [`Pod`] structs with no implicit padding, so a body is its
//! struct's bytes (little-endian because `hayate-core` only builds on little-endian hosts).
//! Reserved and padding fields are written as zeros and ignored on receipt, as in the binary
//! order-entry protocol, so they stay free for later use without a version bump.
//!
//! [`frame`] cuts a byte stream into frames; [`Message::decode`] checks one frame completely, so
//! every accessor of a decoded message succeeds; [`RecordsWriter`] builds a records frame in
//! place, one command at a time.

use bytemuck::{Pod, Zeroable};
use hayate_core::{Command, CommandDecodeError};

/// The protocol version every header carries (2: the handshake authenticates both sides).
pub const VERSION: u8 = 2;

/// Bytes of a handshake nonce and of a proof (an HMAC-SHA256).
pub const NONCE_LEN: usize = 32;

/// The largest frame, header included (1 MiB). A larger declared length is a broken or hostile
/// peer: the receiver drops the connection rather than buffer it.
pub const MAX_FRAME: usize = 1 << 20;

/// The header's size in bytes.
pub const HEADER_LEN: usize = 8;

/// The first eight bytes of a [`Hello`] body, so a stray client (or another protocol) is refused
/// at its first frame.
pub const MAGIC: [u8; 8] = *b"HAYATERP";

/// The longest text a refusal carries, in bytes.
pub const MAX_REFUSE_TEXT: usize = 512;

/// The size of one command on the wire.
pub const COMMAND_LEN: usize = std::mem::size_of::<Command>();

/// The size of a records frame before its commands: header, `first_seq`, `count`, padding.
pub const RECORDS_HEAD_LEN: usize = HEADER_LEN + std::mem::size_of::<RecordsHead>();

/// The most commands one records frame holds without exceeding [`MAX_FRAME`].
pub const MAX_RECORDS: u32 = ((MAX_FRAME - RECORDS_HEAD_LEN) / COMMAND_LEN) as u32;

/// Message type bytes.
pub mod msg_type {
    /// Standby → primary, the first message: [`Hello`](super::Hello).
    pub const HELLO: u8 = 0x01;
    /// Primary → standby: [`Welcome`](super::Welcome).
    pub const WELCOME: u8 = 0x02;
    /// Primary → standby: [`Truncate`](super::Truncate).
    pub const TRUNCATE: u8 = 0x03;
    /// Either way: [`Message::Refuse`](super::Message::Refuse).
    pub const REFUSE: u8 = 0x04;
    /// Primary → standby: [`Records`](super::Records).
    pub const RECORDS: u8 = 0x05;
    /// Standby → primary: [`Ack`](super::Ack).
    pub const ACK: u8 = 0x06;
    /// Both ways: [`Heartbeat`](super::Heartbeat).
    pub const HEARTBEAT: u8 = 0x07;
    /// A promoted node → anyone it can reach: [`EpochNotice`](super::EpochNotice).
    pub const EPOCH_NOTICE: u8 = 0x08;
    /// Primary → standby, the answer to a Hello: [`Challenge`](super::Challenge).
    pub const CHALLENGE: u8 = 0x09;
    /// Standby → primary, the answer to a Challenge: [`Proof`](super::Proof).
    pub const PROOF: u8 = 0x0A;
    /// Observer → primary, the first message: [`ObserverHello`](super::ObserverHello).
    pub const OBSERVER_HELLO: u8 = 0x0B;
}

pub use crate::framing::Framing;

/// Finds the first frame in `buf`.
///
/// The length is judged as soon as its four bytes arrive, so an oversized frame is refused before
/// any of its body is buffered.
pub fn frame(buf: &[u8]) -> Framing {
    let Some(length) = buf.first_chunk::<4>() else {
        return Framing::Incomplete;
    };
    crate::framing::judge(declared_len(*length), buf.len(), HEADER_LEN, MAX_FRAME)
}

/// The header's length field as a `usize`; saturating so that a 16-bit host still sees an
/// out-of-range length as too large rather than wrapping into range.
fn declared_len(length: [u8; 4]) -> usize {
    usize::try_from(u32::from_le_bytes(length)).unwrap_or(usize::MAX)
}

/// Standby → primary, the first message on a connection: where the standby's journal stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Hello {
    /// The standby's current epoch.
    pub epoch: u64,
    /// The last sequence durable in the standby's journal (0 when empty).
    pub last_seq: u64,
    /// The first sequence of the standby's current epoch (0 if none).
    pub last_epoch_start: u64,
    /// A hash of the engine configuration; the primary refuses a standby whose digest differs.
    pub config_digest: u64,
    /// Fresh random bytes: the primary's proof covers them, so a recorded answer proves nothing.
    pub nonce: [u8; NONCE_LEN],
}

/// Observer → primary, the first message of a read-only follower (a bridge, an auditor): where
/// its copy of the stream stands, in the same terms as a standby's [`Hello`] so the primary can
/// tell whether it diverged. Answered by a [`Challenge`] proved with the observers' secret (not
/// the pair's: an observer's credential cannot make a standby), then [`Welcome`] and records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct ObserverHello {
    /// The epoch of the last record the observer applied (1 when it has none).
    pub epoch: u64,
    /// The last sequence it applied (0: none; it is sent everything from 1).
    pub last_seq: u64,
    /// The first sequence of its epoch (0 if none).
    pub last_epoch_start: u64,
    /// A hash of the engine configuration; the primary refuses another.
    pub config_digest: u64,
    /// Fresh random bytes, as in [`Hello`].
    pub nonce: [u8; NONCE_LEN],
    /// The observer's name for the primary's logs and metrics (UTF-8, zero-padded).
    pub name: [u8; 32],
}

impl ObserverHello {
    /// The name, up to its first zero byte (lossy on bytes that are not UTF-8).
    pub fn name(&self) -> String {
        let end = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name.len());
        String::from_utf8_lossy(self.name.get(..end).unwrap_or_default()).into_owned()
    }

    /// Sets the name, cut to 32 bytes at a character boundary.
    pub fn set_name(&mut self, name: &str) {
        let mut end = name.len().min(self.name.len());
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        self.name = [0; 32];
        self.name[..end].copy_from_slice(&name.as_bytes()[..end]);
    }
}

/// Primary → standby, the answer to a [`Hello`]: the primary's proof that it holds the pair's
/// secret (over the Hello and its own nonce), and the nonce the standby's [`Proof`] must cover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Challenge {
    /// Fresh random bytes.
    pub nonce: [u8; NONCE_LEN],
    /// HMAC-SHA256 of the secret over the Hello and `nonce`, as the primary.
    pub proof: [u8; NONCE_LEN],
}

/// Standby → primary, the answer to a [`Challenge`]: the standby's proof, over the same Hello and
/// the primary's fresh nonce (so a recorded handshake replayed on a new connection fails).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Proof {
    /// HMAC-SHA256 of the secret over the Hello and the primary's nonce, as the standby.
    pub proof: [u8; NONCE_LEN],
}

/// Primary → standby: the handshake is accepted and records follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Welcome {
    /// The primary's epoch.
    pub epoch: u64,
    /// The first sequence the primary will send.
    pub resume_from: u64,
    /// The last sequence in the primary's journal.
    pub primary_last_seq: u64,
}

/// Primary → standby, instead of [`Welcome`], when the standby holds a tail the primary never had
/// (an old primary rejoining): the standby drops that tail and reconnects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Truncate {
    /// Keep records up to and including this sequence; drop every later one.
    pub keep_through: u64,
    /// The primary's epoch.
    pub epoch: u64,
}

/// Standby → primary: how far the standby has come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Ack {
    /// The last sequence durable in the standby's journal.
    pub durable_seq: u64,
    /// The last sequence the standby's engine has applied.
    pub applied_seq: u64,
}

/// Both ways: the sender is alive, and where it stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Heartbeat {
    /// The sender's epoch.
    pub epoch: u64,
    /// The sender's last durable sequence.
    pub seq: u64,
    /// The sender's clock when sending, nanoseconds since the Unix epoch.
    pub sent_ns: u64,
}

/// A promoted node → anyone it can reach: a new epoch has begun. A receiver whose epoch is lower
/// stops accepting orders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct EpochNotice {
    /// The new epoch.
    pub epoch: u64,
    /// The first sequence of the new epoch.
    pub epoch_start: u64,
}

/// Why a peer refuses a connection or a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RefuseCode {
    /// The peer's epoch is not one the sender allows; the receiver must step down.
    StaleEpoch = 1,
    /// The engine configurations differ.
    ConfigMismatch = 2,
    /// The sender is not the primary.
    NotPrimary = 3,
    /// The handshake was malformed or out of order.
    BadHandshake = 4,
    /// Another standby is already connected.
    Busy = 5,
    /// The peer did not prove it holds the pair's secret.
    BadProof = 6,
    /// As many observers as the primary serves are connected (`max_observers`), or it serves
    /// none.
    ObserversFull = 7,
    /// The journal no longer holds the position asked for (retention deleted it): the observer
    /// must start from a snapshot of its own at or after the journal's first sequence.
    PositionGone = 8,
}

impl RefuseCode {
    /// Decodes the wire value.
    pub fn from_u16(v: u16) -> Option<RefuseCode> {
        use RefuseCode::*;
        Some(match v {
            1 => StaleEpoch,
            2 => ConfigMismatch,
            3 => NotPrimary,
            4 => BadHandshake,
            5 => Busy,
            6 => BadProof,
            7 => ObserversFull,
            8 => PositionGone,
            _ => return None,
        })
    }
}

/// The records body before its commands.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct RecordsHead {
    first_seq: u64,
    count: u32,
    _pad: u32,
}

/// The refusal body before its text; padded to 8 so the text starts aligned, for readability in a
/// packet dump more than for speed.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct RefuseHead {
    code: u16,
    _pad: [u8; 6],
}

/// A run of consecutive journal records, borrowed from the frame that carried them.
///
/// Only [`Message::decode`] makes one, after checking every command, so [`Records::iter`] yields
/// commands without further errors. Build a frame with [`RecordsWriter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Records<'a> {
    first_seq: u64,
    count: u32,
    bytes: &'a [u8],
}

impl<'a> Records<'a> {
    /// The first record's sequence (at least 1).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// The last record's sequence (no overflow: decoding refuses runs past `u64::MAX`).
    pub fn last_seq(&self) -> u64 {
        // `count - 1` first: a run ending exactly at `u64::MAX` must not overflow on the way.
        self.first_seq + (u64::from(self.count) - 1)
    }

    /// How many records (at least 1, at most [`MAX_RECORDS`]).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The records in order, as `(sequence, command)`; reads each command from the frame (any
    /// alignment) without copying the run.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Command)> + use<'a> {
        // An inclusive range, so a run ending at `u64::MAX` does not overflow computing the next.
        (self.first_seq..=self.last_seq())
            .zip(self.bytes.chunks_exact(COMMAND_LEN))
            .map(|(seq, chunk)| (seq, bytemuck::pod_read_unaligned(chunk)))
    }
}

/// One replication message. Decoded messages borrow variable-length parts from the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// [`msg_type::HELLO`].
    Hello(Hello),
    /// [`msg_type::WELCOME`].
    Welcome(Welcome),
    /// [`msg_type::TRUNCATE`].
    Truncate(Truncate),
    /// [`msg_type::REFUSE`]: the sender refuses and closes.
    Refuse {
        /// Why.
        code: RefuseCode,
        /// A human-readable explanation, at most [`MAX_REFUSE_TEXT`] bytes.
        text: &'a str,
    },
    /// [`msg_type::RECORDS`].
    Records(Records<'a>),
    /// [`msg_type::ACK`].
    Ack(Ack),
    /// [`msg_type::HEARTBEAT`].
    Heartbeat(Heartbeat),
    /// [`msg_type::EPOCH_NOTICE`].
    EpochNotice(EpochNotice),
    /// [`msg_type::CHALLENGE`].
    Challenge(Challenge),
    /// [`msg_type::PROOF`].
    Proof(Proof),
    /// [`msg_type::OBSERVER_HELLO`].
    ObserverHello(ObserverHello),
}

/// Why a frame is not a valid message. Every one means a broken or hostile peer: the receiver
/// drops the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than a header.
    #[error("a frame is at least {HEADER_LEN} bytes, got {len}")]
    Short {
        /// The bytes given.
        len: usize,
    },
    /// The header's length is not the frame's.
    #[error("the header declares {declared} bytes but the frame has {actual}")]
    LengthMismatch {
        /// The header's length.
        declared: usize,
        /// The frame's length.
        actual: usize,
    },
    /// The frame is larger than [`MAX_FRAME`].
    #[error("a frame is at most {MAX_FRAME} bytes, got {len}")]
    TooLong {
        /// The frame's length.
        len: usize,
    },
    /// A protocol version this build does not speak.
    #[error("unknown protocol version {version} (this build speaks {VERSION})")]
    BadVersion {
        /// The version byte found.
        version: u8,
    },
    /// An unknown message type.
    #[error("unknown message type {msg_type:#04x}")]
    UnknownType {
        /// The type byte found.
        msg_type: u8,
    },
    /// The frame's length is wrong for its type.
    #[error("message type {msg_type:#04x} needs {expected} bytes, got {got}")]
    BadLength {
        /// The type byte.
        msg_type: u8,
        /// The length the type needs: exact for fixed bodies, the minimum for a refusal, the one
        /// the count implies for records.
        expected: usize,
        /// The frame's length.
        got: usize,
    },
    /// A hello without [`MAGIC`].
    #[error("hello without the protocol magic")]
    BadMagic,
    /// A refusal code this build does not know.
    #[error("unknown refusal code {code}")]
    UnknownRefuseCode {
        /// The code found.
        code: u16,
    },
    /// A refusal text longer than [`MAX_REFUSE_TEXT`].
    #[error("refusal text of {len} bytes (at most {MAX_REFUSE_TEXT})")]
    TextTooLong {
        /// The text's length.
        len: usize,
    },
    /// A refusal text that is not UTF-8.
    #[error("refusal text is not UTF-8")]
    BadText,
    /// A records frame with no records; the protocol never sends one, so it is a broken peer.
    #[error("records frame with no records")]
    ZeroRecords,
    /// Sequences start at 1 and stay within `u64`; this run does not.
    #[error("records {first_seq} + {count} leave the sequence range")]
    BadSequence {
        /// The first sequence.
        first_seq: u64,
        /// The count.
        count: u32,
    },
    /// A record is not a valid command.
    #[error("record {index} of the frame is not a command")]
    Command {
        /// The record's position in the frame, from 0.
        index: u32,
        /// Why.
        source: CommandDecodeError,
    },
}

/// Reads a fixed body, mapping a size mismatch to the frame-level error.
fn read_body<T: Pod>(msg_type: u8, body: &[u8]) -> Result<T, DecodeError> {
    bytemuck::try_pod_read_unaligned(body).map_err(|_| DecodeError::BadLength {
        msg_type,
        expected: HEADER_LEN + std::mem::size_of::<T>(),
        got: HEADER_LEN + body.len(),
    })
}

/// Appends a header; `len` is bounded by the callers (fixed bodies, capped text, checked runs),
/// so it always fits in the length field.
fn put_header(out: &mut Vec<u8>, msg_type: u8, len: usize) {
    let length = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&[msg_type, VERSION, 0, 0]);
}

/// Appends a whole frame whose body is one Pod struct.
fn put_fixed<T: Pod>(out: &mut Vec<u8>, msg_type: u8, body: &T) {
    put_header(out, msg_type, HEADER_LEN + std::mem::size_of::<T>());
    out.extend_from_slice(bytemuck::bytes_of(body));
}

/// The longest prefix of `text` within [`MAX_REFUSE_TEXT`] bytes that ends on a character
/// boundary, so truncating never produces invalid UTF-8. (`str::floor_char_boundary` is newer
/// than the workspace's minimum Rust.)
fn capped_text(text: &str) -> &str {
    let mut end = text.len().min(MAX_REFUSE_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

impl<'a> Message<'a> {
    /// The message's type byte.
    #[cfg(test)]
    pub fn msg_type(&self) -> u8 {
        match self {
            Message::Hello(_) => msg_type::HELLO,
            Message::Welcome(_) => msg_type::WELCOME,
            Message::Truncate(_) => msg_type::TRUNCATE,
            Message::Refuse { .. } => msg_type::REFUSE,
            Message::Records(_) => msg_type::RECORDS,
            Message::Ack(_) => msg_type::ACK,
            Message::Heartbeat(_) => msg_type::HEARTBEAT,
            Message::EpochNotice(_) => msg_type::EPOCH_NOTICE,
            Message::Challenge(_) => msg_type::CHALLENGE,
            Message::Proof(_) => msg_type::PROOF,
            Message::ObserverHello(_) => msg_type::OBSERVER_HELLO,
        }
    }
    /// Decodes exactly one frame (as cut by [`frame`]), checking all of it: header, length for
    /// the type, magic, text, sequence range and every command.
    pub fn decode(frame: &'a [u8]) -> Result<Message<'a>, DecodeError> {
        let Some((head, body)) = frame.split_first_chunk::<HEADER_LEN>() else {
            return Err(DecodeError::Short { len: frame.len() });
        };
        let [l0, l1, l2, l3, msg_type, version, _, _] = *head;
        let declared = declared_len([l0, l1, l2, l3]);
        if declared != frame.len() {
            return Err(DecodeError::LengthMismatch {
                declared,
                actual: frame.len(),
            });
        }
        if frame.len() > MAX_FRAME {
            return Err(DecodeError::TooLong { len: frame.len() });
        }
        if version != VERSION {
            return Err(DecodeError::BadVersion { version });
        }
        Ok(match msg_type {
            msg_type::HELLO => Message::Hello(decode_hello(msg_type, body)?),
            msg_type::OBSERVER_HELLO => Message::ObserverHello(decode_hello(msg_type, body)?),
            msg_type::WELCOME => Message::Welcome(read_body(msg_type, body)?),
            msg_type::TRUNCATE => Message::Truncate(read_body(msg_type, body)?),
            msg_type::REFUSE => decode_refuse(body)?,
            msg_type::RECORDS => Message::Records(decode_records(body)?),
            msg_type::ACK => Message::Ack(read_body(msg_type, body)?),
            msg_type::HEARTBEAT => Message::Heartbeat(read_body(msg_type, body)?),
            msg_type::EPOCH_NOTICE => Message::EpochNotice(read_body(msg_type, body)?),
            msg_type::CHALLENGE => Message::Challenge(read_body(msg_type, body)?),
            msg_type::PROOF => Message::Proof(read_body(msg_type, body)?),
            _ => return Err(DecodeError::UnknownType { msg_type }),
        })
    }

    /// Appends the message's frame to `out`. A refusal's text is cut to [`MAX_REFUSE_TEXT`] bytes
    /// at a character boundary, so every encoded message decodes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello(hello) => put_hello(out, msg_type::HELLO, hello),
            Message::ObserverHello(hello) => put_hello(out, msg_type::OBSERVER_HELLO, hello),
            Message::Welcome(body) => put_fixed(out, msg_type::WELCOME, body),
            Message::Truncate(body) => put_fixed(out, msg_type::TRUNCATE, body),
            Message::Refuse { code, text } => {
                let text = capped_text(text);
                let head = RefuseHead {
                    code: *code as u16,
                    _pad: [0; 6],
                };
                put_header(
                    out,
                    msg_type::REFUSE,
                    HEADER_LEN + size_of_val(&head) + text.len(),
                );
                out.extend_from_slice(bytemuck::bytes_of(&head));
                out.extend_from_slice(text.as_bytes());
            }
            Message::Records(records) => {
                let head = RecordsHead {
                    first_seq: records.first_seq,
                    count: records.count,
                    _pad: 0,
                };
                put_header(
                    out,
                    msg_type::RECORDS,
                    RECORDS_HEAD_LEN + records.bytes.len(),
                );
                out.extend_from_slice(bytemuck::bytes_of(&head));
                out.extend_from_slice(records.bytes);
            }
            Message::Ack(body) => put_fixed(out, msg_type::ACK, body),
            Message::Heartbeat(body) => put_fixed(out, msg_type::HEARTBEAT, body),
            Message::EpochNotice(body) => put_fixed(out, msg_type::EPOCH_NOTICE, body),
            Message::Challenge(body) => put_fixed(out, msg_type::CHALLENGE, body),
            Message::Proof(body) => put_fixed(out, msg_type::PROOF, body),
        }
    }
}

/// Appends a hello frame: [`MAGIC`] then the body.
fn put_hello<T: Pod>(out: &mut Vec<u8>, msg_type: u8, hello: &T) {
    put_header(out, msg_type, HEADER_LEN + MAGIC.len() + size_of_val(hello));
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(bytemuck::bytes_of(hello));
}

/// A hello body (a standby's or an observer's) is [`MAGIC`] then the struct; the length is
/// judged before the magic so a truncated hello reports its length, the more useful diagnosis.
fn decode_hello<T: Pod>(msg_type: u8, body: &[u8]) -> Result<T, DecodeError> {
    let expected = MAGIC.len() + std::mem::size_of::<T>();
    let (magic, rest) = match body.split_first_chunk::<8>() {
        Some(split) if body.len() == expected => split,
        _ => {
            return Err(DecodeError::BadLength {
                msg_type,
                expected: HEADER_LEN + expected,
                got: HEADER_LEN + body.len(),
            });
        }
    };
    if *magic != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    read_body(msg_type, rest)
}

fn decode_refuse(body: &[u8]) -> Result<Message<'_>, DecodeError> {
    let head_len = std::mem::size_of::<RefuseHead>();
    let Some((head, text)) = body.split_first_chunk::<8>() else {
        return Err(DecodeError::BadLength {
            msg_type: msg_type::REFUSE,
            expected: HEADER_LEN + head_len,
            got: HEADER_LEN + body.len(),
        });
    };
    let [c0, c1, ..] = *head;
    let code = u16::from_le_bytes([c0, c1]);
    let code = RefuseCode::from_u16(code).ok_or(DecodeError::UnknownRefuseCode { code })?;
    if text.len() > MAX_REFUSE_TEXT {
        return Err(DecodeError::TextTooLong { len: text.len() });
    }
    let text = std::str::from_utf8(text).map_err(|_| DecodeError::BadText)?;
    Ok(Message::Refuse { code, text })
}

fn decode_records(body: &[u8]) -> Result<Records<'_>, DecodeError> {
    let head_len = std::mem::size_of::<RecordsHead>();
    let (head, bytes) = body.split_at_checked(head_len).unwrap_or((body, &[]));
    let head: RecordsHead = read_body(msg_type::RECORDS, head)?;
    let RecordsHead {
        first_seq, count, ..
    } = head;
    if count == 0 {
        return Err(DecodeError::ZeroRecords);
    }
    // In u64 so a hostile count cannot overflow the arithmetic; saturating into usize keeps the
    // comparison (and the error) meaningful on any host.
    let expected = (RECORDS_HEAD_LEN as u64) + u64::from(count) * (COMMAND_LEN as u64);
    let expected = usize::try_from(expected).unwrap_or(usize::MAX);
    if HEADER_LEN + body.len() != expected {
        return Err(DecodeError::BadLength {
            msg_type: msg_type::RECORDS,
            expected,
            got: HEADER_LEN + body.len(),
        });
    }
    if first_seq == 0 || first_seq.checked_add(u64::from(count) - 1).is_none() {
        return Err(DecodeError::BadSequence { first_seq, count });
    }
    // Checked here, once, so a bad command drops the connection before anything is journaled
    // and `Records::iter` needs no error path.
    for (index, chunk) in (0..count).zip(bytes.chunks_exact(COMMAND_LEN)) {
        Command::from_bytes(chunk).map_err(|source| DecodeError::Command { index, source })?;
    }
    Ok(Records {
        first_seq,
        count,
        bytes,
    })
}

/// A records frame refused a command: it already holds [`MAX_RECORDS`], or the next sequence
/// would pass `u64::MAX`. Finish the frame and begin another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the records frame is full")]
pub struct RecordsFull;

/// Builds a records frame in place at the end of a buffer: [`begin`](RecordsWriter::begin)
/// appends the head, [`push`](RecordsWriter::push) appends commands, and
/// [`finish`](RecordsWriter::finish) patches the length and count. Nothing allocates when the
/// buffer has the capacity.
///
/// The buffer must not be changed between `begin` and `finish` other than through the writer.
#[derive(Debug)]
#[must_use = "an unfinished records frame has no length or count"]
pub struct RecordsWriter {
    start: usize,
    first_seq: u64,
    count: u32,
}

impl RecordsWriter {
    /// Begins a records frame at the end of `out` whose first record is `first_seq`. Sequences
    /// start at 1: a frame from 0 is refused by the receiver.
    pub fn begin(out: &mut Vec<u8>, first_seq: u64) -> RecordsWriter {
        debug_assert!(first_seq > 0, "sequences start at 1");
        let start = out.len();
        // The length is patched by `finish`; writing the full head now keeps `push` a plain append.
        put_header(out, msg_type::RECORDS, 0);
        out.extend_from_slice(bytemuck::bytes_of(&RecordsHead {
            first_seq,
            count: 0,
            _pad: 0,
        }));
        RecordsWriter {
            start,
            first_seq,
            count: 0,
        }
    }

    /// Appends the next record's command; refused when the frame is full.
    pub fn push(&mut self, out: &mut Vec<u8>, command: &Command) -> Result<(), RecordsFull> {
        if self.is_full() {
            return Err(RecordsFull);
        }
        out.extend_from_slice(command.as_bytes());
        self.count += 1;
        Ok(())
    }

    /// True when [`push`](RecordsWriter::push) would refuse.
    pub fn is_full(&self) -> bool {
        self.count >= MAX_RECORDS || self.first_seq.checked_add(u64::from(self.count)).is_none()
    }

    /// The sequence the next pushed command gets.
    pub fn next_seq(&self) -> u64 {
        self.first_seq.saturating_add(u64::from(self.count))
    }

    /// Completes the frame and returns how many records it holds. With none, the begun frame is
    /// removed instead, since an empty records frame is invalid, and `out` is as before `begin`.
    pub fn finish(self, out: &mut Vec<u8>) -> u32 {
        if self.count == 0 {
            out.truncate(self.start);
            return 0;
        }
        let len = u32::try_from(out.len() - self.start).unwrap_or(u32::MAX);
        debug_assert!(
            len as usize <= MAX_FRAME,
            "the buffer changed behind the writer"
        );
        // `get_mut` rather than indexing: a caller that truncated the buffer behind the writer
        // gets a broken frame (which the peer refuses), not a panic in the replicator.
        if let Some(field) = out.get_mut(self.start..self.start + 4) {
            field.copy_from_slice(&len.to_le_bytes());
        }
        let count_at = self.start + HEADER_LEN + 8;
        if let Some(field) = out.get_mut(count_at..count_at + 4) {
            field.copy_from_slice(&self.count.to_le_bytes());
        }
        self.count
    }
}

#[cfg(test)]
mod tests;
