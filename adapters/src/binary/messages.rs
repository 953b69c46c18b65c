//! The binary protocol's messages (see `adapters/BINARY_PROTOCOL.md` for the wire tables).
//!
//! Fixed bodies are `#[repr(C)]` [`Pod`] structs laid out with explicit padding, so a body is its
//! struct's bytes: encoding is one copy and decoding one unaligned read. That equals little-endian
//! only on little-endian hosts, which `hayate-core` already requires for its commands and events.
//!
//! Text fields are fixed byte arrays, zero-padded UTF-8; decoding refuses a text field that is not
//! valid UTF-8 or has a non-zero byte after its padding starts, so every accessor of a decoded
//! message succeeds. Padding fields are reserved: senders write zeros, receivers ignore them.

use std::str::FromStr;

use bytemuck::{Pod, Zeroable};
use hayate_core::{
    AccountId, ClientOrderId, Event, OrderId, OrderType, Price, Qty, SelfTradePrevention, Side,
    SymbolId, TimeInForce,
};
use rust_decimal::Decimal;

use super::codec::{HEADER_LEN, Header, VERSION};

/// Message type bytes.
pub mod msg_type {
    /// Client → server: log on.
    pub const LOGON: u8 = 0x01;
    /// Client → server: log off.
    pub const LOGOUT: u8 = 0x02;
    /// Client → server: keep-alive.
    pub const HEARTBEAT: u8 = 0x03;
    /// Client → server: place an order.
    pub const NEW_ORDER: u8 = 0x10;
    /// Client → server: cancel an order.
    pub const CANCEL: u8 = 0x11;
    /// Client → server: cancel/replace an order.
    pub const REPLACE: u8 = 0x12;
    /// Client → server: cancel every order of the account (in one symbol or all).
    pub const MASS_CANCEL: u8 = 0x13;
    /// Client → server: ask for an order's state.
    pub const QUERY_ORDER: u8 = 0x14;
    /// Admin → server: credit an account.
    pub const DEPOSIT: u8 = 0x20;
    /// Admin → server: debit an account.
    pub const WITHDRAW: u8 = 0x21;
    /// Admin → server: halt a symbol or the exchange.
    pub const HALT: u8 = 0x22;
    /// Admin → server: resume a symbol or the exchange.
    pub const RESUME: u8 = 0x23;
    /// Admin → server: write a snapshot now.
    pub const SNAPSHOT: u8 = 0x24;
    /// Admin → server: report the exchange's status.
    pub const STATUS: u8 = 0x25;
    /// Admin → server: promote this standby to primary.
    pub const PROMOTE: u8 = 0x26;
    /// Admin → server: block an account (kill switch).
    pub const BLOCK: u8 = 0x27;
    /// Admin → server: lift an account's block.
    pub const UNBLOCK: u8 = 0x28;
    /// Admin → server: an incident notice or maintenance window.
    pub const NOTICE: u8 = 0x29;
    /// Server → client: the logon was accepted.
    pub const LOGON_ACK: u8 = 0x81;
    /// Server → client: a message was refused.
    pub const REJECT: u8 = 0x82;
    /// Server → client: keep-alive.
    pub const SERVER_HEARTBEAT: u8 = 0x83;
    /// Server → client: one symbol's id, name and units.
    pub const SYMBOL_INFO: u8 = 0x84;
    /// Server → client: one engine event.
    pub const REPORT: u8 = 0x90;
    /// Server → admin: the outcome of an admin request.
    pub const ADMIN_RESULT: u8 = 0xA0;
}

/// The longest Reject text in bytes; longer text is truncated on encode.
pub const MAX_REJECT_TEXT: usize = 256;
/// The longest AdminResult text in bytes; longer text is truncated on encode.
pub const MAX_ADMIN_TEXT: usize = 4096;

/// `NewOrder::order_type` for a limit order: the engine's byte, as in every Report's event, so
/// one numbering holds in both directions (FIX's OrdType digits are the other way round).
pub const ORDER_TYPE_LIMIT: u8 = 1;
/// `NewOrder::order_type` for a market order (the engine's byte).
pub const ORDER_TYPE_MARKET: u8 = 2;

/// Why a message was decoded as nothing. The `Display` text is what a Reject carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message type is not one this side receives.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// The header's version is not [`VERSION`].
    #[error("unsupported version {0}")]
    BadVersion(u8),
    /// The message is not as long as its type (or its header) says it must be.
    #[error("message type 0x{msg_type:02x}: length {got}, expected {expected}")]
    BadLength {
        /// The message type (0 when even the header is incomplete).
        msg_type: u8,
        /// The length the type requires (the minimum or maximum for variable messages, the
        /// declared length when the header disagrees with the bytes given).
        expected: usize,
        /// The message's length in bytes.
        got: usize,
    },
    /// A text field is not zero-padded UTF-8.
    #[error("message type 0x{msg_type:02x}: {field} is not zero-padded UTF-8")]
    BadText {
        /// The message type.
        msg_type: u8,
        /// The field's name.
        field: &'static str,
    },
    /// A field holds a value its type does not define (a server message only: a client message's
    /// values are the engine's to judge).
    #[error("message type 0x{msg_type:02x}: bad value in {field}")]
    BadValue {
        /// The message type.
        msg_type: u8,
        /// The field's name.
        field: &'static str,
    },
}

impl DecodeError {
    /// The Reject code a server answers this error with.
    pub fn reject_code(&self) -> RejectCode {
        match self {
            DecodeError::UnknownType(_) => RejectCode::UnknownMessageType,
            _ => RejectCode::Malformed,
        }
    }
}

/// Why the server refused a message (Reject `code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RejectCode {
    /// A message other than Logon before logging on.
    NotLoggedOn = 1,
    /// Bad credentials; the server closes the connection.
    LogonRefused = 2,
    /// The message could not be decoded; the text says why.
    Malformed = 3,
    /// The message type is unknown.
    UnknownMessageType = 4,
    /// The session may not send this message (e.g. an admin message from a trader).
    NotPermitted = 5,
    /// The session exceeded its message rate.
    Throttled = 6,
    /// The exchange cannot take the request (pipeline stopped, or this is a standby).
    Unavailable = 7,
    /// A Logon on a session that is already logged on.
    AlreadyLoggedOn = 8,
    /// A field's value is out of range; the text names the field.
    BadValue = 9,
}

impl RejectCode {
    /// Decodes the wire value.
    pub fn from_u16(v: u16) -> Option<RejectCode> {
        use RejectCode::*;
        Some(match v {
            1 => NotLoggedOn,
            2 => LogonRefused,
            3 => Malformed,
            4 => UnknownMessageType,
            5 => NotPermitted,
            6 => Throttled,
            7 => Unavailable,
            8 => AlreadyLoggedOn,
            9 => BadValue,
            _ => return None,
        })
    }
}

hayate_core::wire_enum! {
    /// Which orders the exchange cancels when the session drops (Logon `cancel_on_disconnect`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum CancelOnDisconnect {
        /// The user's configured setting.
        Configured = 0,
        /// None.
        None = b'N',
        /// The orders this session placed.
        Session = b'S',
        /// All the account's orders.
        All = b'Y',
    }
}

/// The text of a zero-padded field: `None` unless UTF-8 with nothing but zeros after the first
/// zero.
fn padded_text(bytes: &[u8]) -> Option<&str> {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let (text, padding) = bytes.split_at_checked(len)?;
    if padding.iter().any(|&b| b != 0) {
        return None;
    }
    std::str::from_utf8(text).ok()
}

/// A zero-padded field holding `text`, `None` if it is too long or holds a NUL (which would read
/// back as padding).
fn fill_text<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut field = [0u8; N];
    if text.contains('\0') {
        return None;
    }
    field
        .get_mut(..text.len())?
        .copy_from_slice(text.as_bytes());
    Some(field)
}

/// `text` cut to at most `max` bytes at a char boundary.
fn truncate_text(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

fn check_text(msg_type: u8, field: &'static str, bytes: &[u8]) -> Result<(), DecodeError> {
    match padded_text(bytes) {
        Some(_) => Ok(()),
        None => Err(DecodeError::BadText { msg_type, field }),
    }
}

/// A fixed body: its bytes are the struct's.
trait Body: Pod {
    /// Refuses text fields that are not zero-padded UTF-8.
    fn check(&self, _msg_type: u8) -> Result<(), DecodeError> {
        Ok(())
    }
}

mod client_bodies;
mod server_bodies;

pub use client_bodies::*;
pub use server_bodies::*;
use server_bodies::{AdminResultFixed, RejectFixed};

const _: () = {
    use std::mem::size_of;
    assert!(size_of::<Logon>() == 72);
    assert!(size_of::<NewOrder>() == 56);
    assert!(size_of::<OrderRequest>() == 72);
    assert!(size_of::<Replace>() == 88);
    assert!(size_of::<MassCancel>() == 40);
    assert!(size_of::<Funds>() == 56);
    assert!(size_of::<HaltTarget>() == 16);
    assert!(size_of::<AccountTarget>() == 8);
    assert!(size_of::<NoticeHead>() == 32);
    assert!(size_of::<LogonAck>() == 16);
    assert!(size_of::<SymbolInfo>() == 72);
    assert!(size_of::<Report>() == 152);
    assert!(size_of::<RejectFixed>() == 8);
    assert!(size_of::<AdminResultFixed>() == 8);
    // The longest message must fit the u16 length field.
    assert!(HEADER_LEN + size_of::<AdminResultFixed>() + MAX_ADMIN_TEXT <= u16::MAX as usize);
    assert!(
        HEADER_LEN + size_of::<NoticeHead>() + hayate_core::command::NOTICE_TEXT_MAX
            <= u16::MAX as usize
    );
};

/// Appends one message. `reserve` allocates only when `out` lacks the capacity.
fn put(out: &mut Vec<u8>, msg_type: u8, fixed: &[u8], text: &[u8]) {
    let len = HEADER_LEN + fixed.len() + text.len();
    out.reserve(len);
    let header = Header {
        // Every message is under u16::MAX (asserted above), so this never saturates.
        length: u16::try_from(len).unwrap_or(u16::MAX),
        msg_type,
        version: VERSION,
    };
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(fixed);
    out.extend_from_slice(text);
}

/// Checks the header and returns the message type and the body.
fn open(message: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    let Some(header) = Header::parse(message) else {
        return Err(DecodeError::BadLength {
            msg_type: message.get(2).copied().unwrap_or(0),
            expected: HEADER_LEN,
            got: message.len(),
        });
    };
    if header.version != VERSION {
        return Err(DecodeError::BadVersion(header.version));
    }
    if usize::from(header.length) != message.len() {
        return Err(DecodeError::BadLength {
            msg_type: header.msg_type,
            expected: usize::from(header.length),
            got: message.len(),
        });
    }
    let body = message.get(HEADER_LEN..).unwrap_or_default();
    Ok((header.msg_type, body))
}

fn bad_length(msg_type: u8, expected_body: usize, body: &[u8]) -> DecodeError {
    DecodeError::BadLength {
        msg_type,
        expected: HEADER_LEN + expected_body,
        got: HEADER_LEN + body.len(),
    }
}

fn fixed<T: Body>(msg_type: u8, body: &[u8]) -> Result<T, DecodeError> {
    let value: T = bytemuck::try_pod_read_unaligned(body)
        .map_err(|_| bad_length(msg_type, size_of::<T>(), body))?;
    value.check(msg_type)?;
    Ok(value)
}

fn empty(msg_type: u8, body: &[u8]) -> Result<(), DecodeError> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(bad_length(msg_type, 0, body))
    }
}

/// Splits a variable body into its fixed part and its text.
fn variable<T: Pod>(msg_type: u8, body: &[u8], max_text: usize) -> Result<(T, &str), DecodeError> {
    let Some((head, text)) = body.split_at_checked(size_of::<T>()) else {
        return Err(bad_length(msg_type, size_of::<T>(), body));
    };
    if text.len() > max_text {
        return Err(bad_length(msg_type, size_of::<T>() + max_text, body));
    }
    let head = bytemuck::try_pod_read_unaligned(head)
        .map_err(|_| bad_length(msg_type, size_of::<T>(), body))?;
    let text = std::str::from_utf8(text).map_err(|_| DecodeError::BadText {
        msg_type,
        field: "text",
    })?;
    Ok((head, text))
}

/// A message from a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    /// 0x01.
    Logon(Logon),
    /// 0x02.
    Logout,
    /// 0x03.
    Heartbeat,
    /// 0x10.
    NewOrder(NewOrder),
    /// 0x11.
    Cancel(OrderRequest),
    /// 0x12.
    Replace(Replace),
    /// 0x13.
    MassCancel(MassCancel),
    /// 0x14.
    QueryOrder(OrderRequest),
    /// 0x20 (admin).
    Deposit(Funds),
    /// 0x21 (admin).
    Withdraw(Funds),
    /// 0x22 (admin).
    Halt(HaltTarget),
    /// 0x23 (admin).
    Resume(HaltTarget),
    /// 0x24 (admin).
    Snapshot,
    /// 0x25 (admin).
    Status,
    /// 0x26 (admin).
    Promote,
    /// 0x27 (admin).
    Block(AccountTarget),
    /// 0x28 (admin).
    Unblock(AccountTarget),
    /// 0x29 (admin): the head; the text follows it in the message ([`notice_text`]), so that
    /// this enum stays small and `Copy`. Encode with [`encode_notice`].
    Notice(NoticeHead),
}

/// The text of a Notice message (`message` as framed, already decoded once, so its text is
/// known to be valid UTF-8 of an allowed length); empty for any other message.
pub fn notice_text(message: &[u8]) -> &str {
    message
        .get(HEADER_LEN + size_of::<NoticeHead>()..)
        .and_then(|text| std::str::from_utf8(text).ok())
        .unwrap_or_default()
}

/// Appends a Notice message: `head`, then `text` (at most
/// [`hayate_core::command::NOTICE_TEXT_MAX`] bytes; longer is cut at a character boundary).
pub fn encode_notice(out: &mut Vec<u8>, head: &NoticeHead, text: &str) {
    let mut end = text.len().min(hayate_core::command::NOTICE_TEXT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    put(
        out,
        msg_type::NOTICE,
        bytemuck::bytes_of(head),
        &text.as_bytes()[..end],
    );
}

impl ClientMessage {
    /// Decodes one whole message (as [`super::codec::frame`] cut it).
    pub fn decode(message: &[u8]) -> Result<ClientMessage, DecodeError> {
        use msg_type::*;
        let (t, body) = open(message)?;
        Ok(match t {
            LOGON => ClientMessage::Logon(fixed(t, body)?),
            LOGOUT => empty(t, body).map(|()| ClientMessage::Logout)?,
            HEARTBEAT => empty(t, body).map(|()| ClientMessage::Heartbeat)?,
            NEW_ORDER => ClientMessage::NewOrder(fixed(t, body)?),
            CANCEL => ClientMessage::Cancel(fixed(t, body)?),
            REPLACE => ClientMessage::Replace(fixed(t, body)?),
            MASS_CANCEL => ClientMessage::MassCancel(fixed(t, body)?),
            QUERY_ORDER => ClientMessage::QueryOrder(fixed(t, body)?),
            DEPOSIT => ClientMessage::Deposit(fixed(t, body)?),
            WITHDRAW => ClientMessage::Withdraw(fixed(t, body)?),
            HALT => ClientMessage::Halt(fixed(t, body)?),
            RESUME => ClientMessage::Resume(fixed(t, body)?),
            SNAPSHOT => empty(t, body).map(|()| ClientMessage::Snapshot)?,
            STATUS => empty(t, body).map(|()| ClientMessage::Status)?,
            PROMOTE => empty(t, body).map(|()| ClientMessage::Promote)?,
            BLOCK => ClientMessage::Block(fixed(t, body)?),
            UNBLOCK => ClientMessage::Unblock(fixed(t, body)?),
            NOTICE => {
                let (head, _) =
                    variable::<NoticeHead>(t, body, hayate_core::command::NOTICE_TEXT_MAX)?;
                ClientMessage::Notice(head)
            }
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// Appends the message's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let body: &[u8] = match self {
            ClientMessage::Logon(m) => bytemuck::bytes_of(m),
            ClientMessage::NewOrder(m) => bytemuck::bytes_of(m),
            ClientMessage::Cancel(m) => bytemuck::bytes_of(m),
            ClientMessage::Replace(m) => bytemuck::bytes_of(m),
            ClientMessage::MassCancel(m) => bytemuck::bytes_of(m),
            ClientMessage::QueryOrder(m) => bytemuck::bytes_of(m),
            ClientMessage::Deposit(m) | ClientMessage::Withdraw(m) => bytemuck::bytes_of(m),
            ClientMessage::Halt(m) | ClientMessage::Resume(m) => bytemuck::bytes_of(m),
            ClientMessage::Block(m) | ClientMessage::Unblock(m) => bytemuck::bytes_of(m),
            // A notice without its text; `encode_notice` writes both.
            ClientMessage::Notice(m) => bytemuck::bytes_of(m),
            ClientMessage::Logout
            | ClientMessage::Heartbeat
            | ClientMessage::Snapshot
            | ClientMessage::Status
            | ClientMessage::Promote => &[],
        };
        put(out, self.msg_type(), body, &[]);
    }

    /// The message type byte.
    pub fn msg_type(&self) -> u8 {
        use msg_type::*;
        match self {
            ClientMessage::Logon(_) => LOGON,
            ClientMessage::Logout => LOGOUT,
            ClientMessage::Heartbeat => HEARTBEAT,
            ClientMessage::NewOrder(_) => NEW_ORDER,
            ClientMessage::Cancel(_) => CANCEL,
            ClientMessage::Replace(_) => REPLACE,
            ClientMessage::MassCancel(_) => MASS_CANCEL,
            ClientMessage::QueryOrder(_) => QUERY_ORDER,
            ClientMessage::Deposit(_) => DEPOSIT,
            ClientMessage::Withdraw(_) => WITHDRAW,
            ClientMessage::Halt(_) => HALT,
            ClientMessage::Resume(_) => RESUME,
            ClientMessage::Snapshot => SNAPSHOT,
            ClientMessage::Status => STATUS,
            ClientMessage::Promote => PROMOTE,
            ClientMessage::Block(_) => BLOCK,
            ClientMessage::Unblock(_) => UNBLOCK,
            ClientMessage::Notice(_) => NOTICE,
        }
    }

    /// True for the messages only an admin session may send.
    pub fn is_admin(&self) -> bool {
        self.msg_type() >= msg_type::DEPOSIT
    }
}

/// A message from the server. Texts borrow from the decoded buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    /// 0x81.
    LogonAck(LogonAck),
    /// 0x82: a refused message.
    Reject {
        /// Why.
        code: RejectCode,
        /// The refused message's type (0 when it had none).
        ref_msg_type: u8,
        /// Details, at most [`MAX_REJECT_TEXT`] bytes (truncated on encode).
        text: &'a str,
    },
    /// 0x83.
    Heartbeat,
    /// 0x84.
    SymbolInfo(SymbolInfo),
    /// 0x90.
    Report(Report),
    /// 0xA0: the outcome of an admin request.
    AdminResult {
        /// `status == 0`; encoding writes `status` and ignores this.
        ok: bool,
        /// 0 on success, else an error.
        status: u8,
        /// Details (e.g. the status JSON), at most [`MAX_ADMIN_TEXT`] bytes (truncated on
        /// encode).
        text: &'a str,
    },
}

impl<'a> ServerMessage<'a> {
    /// Decodes one whole message (as [`super::codec::frame`] cut it).
    pub fn decode(message: &'a [u8]) -> Result<ServerMessage<'a>, DecodeError> {
        use msg_type::*;
        let (t, body) = open(message)?;
        Ok(match t {
            LOGON_ACK => ServerMessage::LogonAck(fixed(t, body)?),
            REJECT => {
                let (head, text) = variable::<RejectFixed>(t, body, MAX_REJECT_TEXT)?;
                let code = RejectCode::from_u16(head.code).ok_or(DecodeError::BadValue {
                    msg_type: t,
                    field: "code",
                })?;
                ServerMessage::Reject {
                    code,
                    ref_msg_type: head.ref_msg_type,
                    text,
                }
            }
            SERVER_HEARTBEAT => empty(t, body).map(|()| ServerMessage::Heartbeat)?,
            SYMBOL_INFO => ServerMessage::SymbolInfo(fixed(t, body)?),
            REPORT => ServerMessage::Report(fixed(t, body)?),
            ADMIN_RESULT => {
                let (head, text) = variable::<AdminResultFixed>(t, body, MAX_ADMIN_TEXT)?;
                ServerMessage::AdminResult {
                    ok: head.status == 0,
                    status: head.status,
                    text,
                }
            }
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// Appends the message's bytes to `out`, allocating nothing when `out` has the capacity.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let t = self.msg_type();
        match *self {
            ServerMessage::LogonAck(ref m) => put(out, t, bytemuck::bytes_of(m), &[]),
            ServerMessage::Reject {
                code,
                ref_msg_type,
                text,
            } => {
                let head = RejectFixed {
                    code: code as u16,
                    ref_msg_type,
                    _pad: [0; 5],
                };
                let text = truncate_text(text, MAX_REJECT_TEXT);
                put(out, t, bytemuck::bytes_of(&head), text.as_bytes());
            }
            ServerMessage::Heartbeat => put(out, t, &[], &[]),
            ServerMessage::SymbolInfo(ref m) => put(out, t, bytemuck::bytes_of(m), &[]),
            ServerMessage::Report(ref m) => put(out, t, bytemuck::bytes_of(m), &[]),
            ServerMessage::AdminResult { status, text, .. } => {
                let head = AdminResultFixed {
                    status,
                    _pad: [0; 7],
                };
                let text = truncate_text(text, MAX_ADMIN_TEXT);
                put(out, t, bytemuck::bytes_of(&head), text.as_bytes());
            }
        }
    }

    /// The message type byte.
    pub fn msg_type(&self) -> u8 {
        use msg_type::*;
        match self {
            ServerMessage::LogonAck(_) => LOGON_ACK,
            ServerMessage::Reject { .. } => REJECT,
            ServerMessage::Heartbeat => SERVER_HEARTBEAT,
            ServerMessage::SymbolInfo(_) => SYMBOL_INFO,
            ServerMessage::Report(_) => REPORT,
            ServerMessage::AdminResult { .. } => ADMIN_RESULT,
        }
    }
}

#[cfg(test)]
mod tests;
