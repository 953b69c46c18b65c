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

/// Logon (0x01), for traders and admins alike.
#[derive(Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Logon {
    /// The username, zero-padded UTF-8.
    pub username: [u8; 32],
    /// The password, zero-padded UTF-8.
    pub password: [u8; 32],
    /// A [`CancelOnDisconnect`] byte.
    pub cancel_on_disconnect: u8,
    _pad: [u8; 7],
}

impl Logon {
    /// A logon, `None` if a credential is longer than 32 bytes or holds a NUL.
    pub fn new(
        username: &str,
        password: &str,
        cancel_on_disconnect: CancelOnDisconnect,
    ) -> Option<Logon> {
        Some(Logon {
            username: fill_text(username)?,
            password: fill_text(password)?,
            cancel_on_disconnect: cancel_on_disconnect as u8,
            ..Zeroable::zeroed()
        })
    }

    /// The username, `None` if not zero-padded UTF-8.
    pub fn username(&self) -> Option<&str> {
        padded_text(&self.username)
    }

    /// The password, `None` if not zero-padded UTF-8.
    pub fn password(&self) -> Option<&str> {
        padded_text(&self.password)
    }

    /// The decoded cancel-on-disconnect choice.
    pub fn cancel_on_disconnect(&self) -> Option<CancelOnDisconnect> {
        CancelOnDisconnect::from_u8(self.cancel_on_disconnect)
    }
}

// Hand-written so a logged message never shows the password.
impl std::fmt::Debug for Logon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logon")
            .field("username", &String::from_utf8_lossy(&self.username))
            .field("password", &"<redacted>")
            .field("cancel_on_disconnect", &self.cancel_on_disconnect)
            .finish()
    }
}

impl Body for Logon {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "username", &self.username)?;
        check_text(msg_type, "password", &self.password)
    }
}

/// NewOrder (0x10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct NewOrder {
    /// The order's ClOrdID, unique among the account's open orders.
    pub client_order_id: ClientOrderId,
    /// The limit price in ticks (ignored for market orders).
    pub price: Price,
    /// The quantity in lots.
    pub qty: Qty,
    /// The symbol id (from SymbolInfo).
    pub symbol: SymbolId,
    /// 1 buy, 2 sell.
    pub side: u8,
    /// [`ORDER_TYPE_MARKET`] or [`ORDER_TYPE_LIMIT`].
    pub order_type: u8,
    /// 1 GTC, 3 IOC, 4 FOK.
    pub time_in_force: u8,
    /// 0 the default, else a [`SelfTradePrevention`] byte.
    pub stp: u8,
    /// 0 or 1.
    pub post_only: u8,
    _pad: u8,
}

impl NewOrder {
    /// An order with the default self-trade prevention and without post-only.
    pub fn new(
        client_order_id: ClientOrderId,
        symbol: SymbolId,
        side: Side,
        order_type: OrderType,
        time_in_force: TimeInForce,
        price: Price,
        qty: Qty,
    ) -> NewOrder {
        NewOrder {
            client_order_id,
            price,
            qty,
            symbol,
            side: side as u8,
            order_type: match order_type {
                OrderType::Market => ORDER_TYPE_MARKET,
                OrderType::Limit => ORDER_TYPE_LIMIT,
            },
            time_in_force: time_in_force as u8,
            ..Zeroable::zeroed()
        }
    }

    /// The decoded side.
    pub fn side(&self) -> Option<Side> {
        Side::from_u8(self.side)
    }

    /// The decoded order type.
    pub fn order_type(&self) -> Option<OrderType> {
        match self.order_type {
            ORDER_TYPE_MARKET => Some(OrderType::Market),
            ORDER_TYPE_LIMIT => Some(OrderType::Limit),
            _ => None,
        }
    }

    /// The decoded time in force.
    pub fn time_in_force(&self) -> Option<TimeInForce> {
        TimeInForce::from_u8(self.time_in_force)
    }

    /// The decoded self-trade prevention mode (0 is the default).
    pub fn stp(&self) -> Option<SelfTradePrevention> {
        SelfTradePrevention::from_command_byte(self.stp)
    }

    /// The decoded post-only flag.
    pub fn post_only(&self) -> Option<bool> {
        match self.post_only {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl Body for NewOrder {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "client_order_id", &self.client_order_id.0)
    }
}

/// Cancel (0x11) and QueryOrder (0x14): a request about one order, named by `order_id`, or by
/// `orig_client_order_id` when `order_id` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct OrderRequest {
    /// The request's own ClOrdID (may be empty).
    pub client_order_id: ClientOrderId,
    /// The target order's current ClOrdID.
    pub orig_client_order_id: ClientOrderId,
    /// The target order's id, 0 to address it by `orig_client_order_id`.
    pub order_id: OrderId,
}

impl OrderRequest {
    /// A cancel or query request.
    pub fn new(
        client_order_id: ClientOrderId,
        orig_client_order_id: ClientOrderId,
        order_id: OrderId,
    ) -> OrderRequest {
        OrderRequest {
            client_order_id,
            orig_client_order_id,
            order_id,
        }
    }
}

impl Body for OrderRequest {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_order_ids(msg_type, &self.client_order_id, &self.orig_client_order_id)
    }
}

/// The request's and the target's ClOrdIDs, as every request about an existing order carries.
fn check_order_ids(
    msg_type: u8,
    client_order_id: &ClientOrderId,
    orig_client_order_id: &ClientOrderId,
) -> Result<(), DecodeError> {
    check_text(msg_type, "client_order_id", &client_order_id.0)?;
    check_text(msg_type, "orig_client_order_id", &orig_client_order_id.0)
}

/// Replace (0x12): a new price and/or a new total quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Replace {
    /// The order's new ClOrdID.
    pub client_order_id: ClientOrderId,
    /// The target order's current ClOrdID.
    pub orig_client_order_id: ClientOrderId,
    /// The target order's id, 0 to address it by `orig_client_order_id`.
    pub order_id: OrderId,
    /// The new limit price in ticks.
    pub price: Price,
    /// The new total quantity in lots (filled included).
    pub qty: Qty,
}

impl Replace {
    /// A replace request.
    pub fn new(
        client_order_id: ClientOrderId,
        orig_client_order_id: ClientOrderId,
        order_id: OrderId,
        price: Price,
        qty: Qty,
    ) -> Replace {
        Replace {
            client_order_id,
            orig_client_order_id,
            order_id,
            price,
            qty,
        }
    }
}

impl Body for Replace {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_order_ids(msg_type, &self.client_order_id, &self.orig_client_order_id)
    }
}

/// MassCancel (0x13): every open order of the account, in one symbol or in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct MassCancel {
    /// The request's ClOrdID.
    pub client_order_id: ClientOrderId,
    /// The symbol (ignored when `all_symbols` is 1).
    pub symbol: SymbolId,
    /// 1 for every symbol, 0 for `symbol` only.
    pub all_symbols: u8,
    _pad: [u8; 5],
}

impl MassCancel {
    /// A mass cancel of one symbol, or of all symbols when `symbol` is `None`.
    pub fn new(client_order_id: ClientOrderId, symbol: Option<SymbolId>) -> MassCancel {
        MassCancel {
            client_order_id,
            symbol: symbol.unwrap_or_default(),
            all_symbols: u8::from(symbol.is_none()),
            ..Zeroable::zeroed()
        }
    }
}

impl Body for MassCancel {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "client_order_id", &self.client_order_id.0)
    }
}

/// Deposit (0x20) and Withdraw (0x21).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Funds {
    /// The account credited or debited.
    pub account: AccountId,
    _pad: [u8; 4],
    /// The asset's name, zero-padded UTF-8.
    pub asset: [u8; 16],
    /// The amount in asset units as decimal text (`"1.5"`), zero-padded.
    pub amount: [u8; 32],
}

impl Funds {
    /// A funds request, `None` if a text is too long (16 and 32 bytes) or holds a NUL.
    pub fn new(account: AccountId, asset: &str, amount: &str) -> Option<Funds> {
        Some(Funds {
            account,
            asset: fill_text(asset)?,
            amount: fill_text(amount)?,
            ..Zeroable::zeroed()
        })
    }

    /// The asset's name.
    pub fn asset(&self) -> Option<&str> {
        padded_text(&self.asset)
    }

    /// The amount's text.
    pub fn amount_text(&self) -> Option<&str> {
        padded_text(&self.amount)
    }

    /// The amount, `None` unless the text is a decimal number.
    pub fn amount(&self) -> Option<Decimal> {
        Decimal::from_str(self.amount_text()?).ok()
    }
}

impl Body for Funds {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "asset", &self.asset)?;
        check_text(msg_type, "amount", &self.amount)
    }
}

/// Halt (0x22) and Resume (0x23).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct HaltTarget {
    /// A symbol's name, or `all`, zero-padded UTF-8.
    pub target: [u8; 16],
}

impl HaltTarget {
    /// The word that names the whole exchange.
    pub const ALL: &'static str = "all";

    /// A target, `None` if longer than 16 bytes or holding a NUL.
    pub fn new(target: &str) -> Option<HaltTarget> {
        Some(HaltTarget {
            target: fill_text(target)?,
        })
    }

    /// The target's text.
    pub fn target(&self) -> Option<&str> {
        padded_text(&self.target)
    }

    /// True when the target is the whole exchange.
    pub fn is_all(&self) -> bool {
        self.target() == Some(Self::ALL)
    }
}

impl Body for HaltTarget {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "target", &self.target)
    }
}

/// LogonAck (0x81).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct LogonAck {
    /// The trader's account, 0 for an admin.
    pub account: AccountId,
    /// 1 for an admin session, else 0.
    pub is_admin: u8,
    _pad: [u8; 3],
    /// The interval at which the server expects traffic; it sends a heartbeat after this much
    /// silence.
    pub heartbeat_ms: u32,
    _pad2: [u8; 4],
}

impl LogonAck {
    /// A logon acknowledgement.
    pub fn new(account: AccountId, is_admin: bool, heartbeat_ms: u32) -> LogonAck {
        LogonAck {
            account,
            is_admin: u8::from(is_admin),
            heartbeat_ms,
            ..Zeroable::zeroed()
        }
    }
}

impl Body for LogonAck {}

/// SymbolInfo (0x84): what a client needs to convert prices to ticks and quantities to lots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct SymbolInfo {
    /// The id orders name the symbol by.
    pub symbol: SymbolId,
    _pad: [u8; 6],
    /// The symbol's name (`BTC-JPY`), zero-padded UTF-8.
    pub name: [u8; 16],
    /// Quote units per tick, decimal text.
    pub tick_size: [u8; 24],
    /// Base units per lot, decimal text.
    pub lot_size: [u8; 24],
}

impl SymbolInfo {
    /// A symbol's information, `None` if a text is too long (16, 24 and 24 bytes) or holds a NUL.
    pub fn new(
        symbol: SymbolId,
        name: &str,
        tick_size: &str,
        lot_size: &str,
    ) -> Option<SymbolInfo> {
        Some(SymbolInfo {
            symbol,
            name: fill_text(name)?,
            tick_size: fill_text(tick_size)?,
            lot_size: fill_text(lot_size)?,
            ..Zeroable::zeroed()
        })
    }

    /// The symbol's name.
    pub fn name(&self) -> Option<&str> {
        padded_text(&self.name)
    }

    /// The tick size's text.
    pub fn tick_size_text(&self) -> Option<&str> {
        padded_text(&self.tick_size)
    }

    /// The lot size's text.
    pub fn lot_size_text(&self) -> Option<&str> {
        padded_text(&self.lot_size)
    }

    /// The tick size, `None` unless the text is a decimal number.
    pub fn tick_size(&self) -> Option<Decimal> {
        Decimal::from_str(self.tick_size_text()?).ok()
    }

    /// The lot size, `None` unless the text is a decimal number.
    pub fn lot_size(&self) -> Option<Decimal> {
        Decimal::from_str(self.lot_size_text()?).ok()
    }
}

impl Body for SymbolInfo {
    fn check(&self, msg_type: u8) -> Result<(), DecodeError> {
        check_text(msg_type, "name", &self.name)?;
        check_text(msg_type, "tick_size", &self.tick_size)?;
        check_text(msg_type, "lot_size", &self.lot_size)
    }
}

/// Report (0x90): one engine event, verbatim.
///
/// `(seq, index)` is the event's ExecID: `seq` numbers the command in the journal and `index` the
/// event among that command's events, so the pair is unique across restarts.
#[derive(Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Report {
    /// The journal sequence number of the command that produced the event.
    pub seq: u64,
    /// The command's receive time at the gateway, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The event's position among the command's events, from 0.
    pub index: u32,
    _pad: u32,
    /// The [`Event`]'s 128 bytes; read them with [`Report::event`].
    pub event: [u8; 128],
}

impl Report {
    /// A report of `event`.
    pub fn new(seq: u64, timestamp_ns: u64, index: u32, event: &Event) -> Report {
        Report {
            seq,
            timestamp_ns,
            index,
            _pad: 0,
            event: bytemuck::cast(*event),
        }
    }

    /// The event.
    pub fn event(&self) -> Event {
        bytemuck::cast(self.event)
    }
}

// Hand-written to show the event's fields rather than 128 raw bytes.
impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("seq", &self.seq)
            .field("timestamp_ns", &self.timestamp_ns)
            .field("index", &self.index)
            .field("event", &self.event())
            .finish()
    }
}

impl Body for Report {}

/// The fixed part of a Reject; the text follows.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct RejectFixed {
    code: u16,
    ref_msg_type: u8,
    _pad: [u8; 5],
}

/// The fixed part of an AdminResult; the text follows.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct AdminResultFixed {
    status: u8,
    _pad: [u8; 7],
}

const _: () = {
    use std::mem::size_of;
    assert!(size_of::<Logon>() == 72);
    assert!(size_of::<NewOrder>() == 56);
    assert!(size_of::<OrderRequest>() == 72);
    assert!(size_of::<Replace>() == 88);
    assert!(size_of::<MassCancel>() == 40);
    assert!(size_of::<Funds>() == 56);
    assert!(size_of::<HaltTarget>() == 16);
    assert!(size_of::<LogonAck>() == 16);
    assert!(size_of::<SymbolInfo>() == 72);
    assert!(size_of::<Report>() == 152);
    assert!(size_of::<RejectFixed>() == 8);
    assert!(size_of::<AdminResultFixed>() == 8);
    // The longest message must fit the u16 length field.
    assert!(HEADER_LEN + size_of::<AdminResultFixed>() + MAX_ADMIN_TEXT <= u16::MAX as usize);
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
mod tests {
    use super::msg_type::*;
    use super::*;
    use crate::binary::codec::{Framing, frame};
    use hayate_core::{Amount, EventKind, Fill, TradeId};
    use proptest::prelude::*;
    use std::mem::offset_of;

    fn cl(s: &str) -> ClientOrderId {
        ClientOrderId::new(s).unwrap()
    }

    fn all_client_messages() -> Vec<ClientMessage> {
        let mut order = NewOrder::new(
            cl("o-1"),
            SymbolId(7),
            Side::Sell,
            OrderType::Limit,
            TimeInForce::Ioc,
            Price(5_000_000),
            Qty(25),
        );
        order.stp = SelfTradePrevention::CancelBoth as u8;
        order.post_only = 1;
        vec![
            ClientMessage::Logon(
                Logon::new("alice", "pässword", CancelOnDisconnect::Session).unwrap(),
            ),
            ClientMessage::Logout,
            ClientMessage::Heartbeat,
            ClientMessage::NewOrder(order),
            ClientMessage::Cancel(OrderRequest::new(cl("c-1"), cl("o-1"), OrderId(0))),
            ClientMessage::Replace(Replace::new(
                cl("o-2"),
                cl("o-1"),
                OrderId(99),
                Price(4_900_000),
                Qty(30),
            )),
            ClientMessage::MassCancel(MassCancel::new(cl("m-1"), Some(SymbolId(3)))),
            ClientMessage::MassCancel(MassCancel::new(ClientOrderId::EMPTY, None)),
            ClientMessage::QueryOrder(OrderRequest::new(
                ClientOrderId::EMPTY,
                cl("o-1"),
                OrderId(5),
            )),
            ClientMessage::Deposit(Funds::new(AccountId(1), "JPY", "10000000.5").unwrap()),
            ClientMessage::Withdraw(Funds::new(AccountId(2), "BTC", "0.00000001").unwrap()),
            ClientMessage::Halt(HaltTarget::new("BTC-JPY").unwrap()),
            ClientMessage::Resume(HaltTarget::new(HaltTarget::ALL).unwrap()),
            ClientMessage::Snapshot,
            ClientMessage::Status,
            ClientMessage::Promote,
        ]
    }

    fn sample_event() -> Event {
        let mut e = Event::new(EventKind::Fill);
        e.side = Side::Buy as u8;
        e.order_type = OrderType::Limit as u8;
        e.time_in_force = TimeInForce::Gtc as u8;
        e.status = 1;
        e.account = AccountId(1);
        e.symbol = SymbolId(0);
        e.order_id = OrderId(42);
        e.price = Price(5_000_000);
        e.order_qty = Qty(10);
        e.leaves_qty = Qty(6);
        e.cum_qty = Qty(4);
        e.cum_cost = 20_000_000;
        e.client_order_id = cl("o-1");
        e.set_fill(Fill {
            last_px: Price(5_000_000),
            last_qty: Qty(4),
            trade_id: TradeId(17),
            fee: Amount(2000),
        });
        e
    }
    fn all_server_texts() -> Vec<ServerMessage<'static>> {
        vec![
            ServerMessage::LogonAck(LogonAck::new(AccountId(1), false, 1000)),
            ServerMessage::LogonAck(LogonAck::new(AccountId(0), true, 1000)),
            ServerMessage::Reject {
                code: RejectCode::BadValue,
                ref_msg_type: NEW_ORDER,
                text: "side",
            },
            ServerMessage::Reject {
                code: RejectCode::Throttled,
                ref_msg_type: CANCEL,
                text: "",
            },
            ServerMessage::Heartbeat,
            ServerMessage::SymbolInfo(
                SymbolInfo::new(SymbolId(0), "BTC-JPY", "1", "0.0001").unwrap(),
            ),
            ServerMessage::Report(Report::new(
                12,
                1_700_000_000_000_000_000,
                2,
                &sample_event(),
            )),
            ServerMessage::AdminResult {
                ok: true,
                status: 0,
                text: "{\"state\":\"running\"}",
            },
            ServerMessage::AdminResult {
                ok: false,
                status: 3,
                text: "unknown symbol ✗",
            },
        ]
    }

    #[test]
    fn client_messages_round_trip() {
        for m in all_client_messages() {
            let mut out = Vec::new();
            m.encode(&mut out);
            assert_eq!(out[2], m.msg_type());
            assert_eq!(out[3], VERSION);
            assert_eq!(usize::from(u16::from_le_bytes([out[0], out[1]])), out.len());
            assert_eq!(ClientMessage::decode(&out), Ok(m), "{m:?}");
        }
    }

    #[test]
    fn server_messages_round_trip() {
        for m in all_server_texts() {
            let mut out = Vec::new();
            m.encode(&mut out);
            assert_eq!(out[2], m.msg_type());
            assert_eq!(usize::from(u16::from_le_bytes([out[0], out[1]])), out.len());
            assert_eq!(ServerMessage::decode(&out), Ok(m), "{m:?}");
        }
    }

    #[test]
    fn accessors() {
        let logon = Logon::new("alice", "pässword", CancelOnDisconnect::All).unwrap();
        assert_eq!(logon.username(), Some("alice"));
        assert_eq!(logon.password(), Some("pässword"));
        assert_eq!(logon.cancel_on_disconnect(), Some(CancelOnDisconnect::All));
        assert!(!format!("{logon:?}").contains("pässword"));
        assert!(Logon::new(&"x".repeat(33), "p", CancelOnDisconnect::None).is_none());
        assert!(Logon::new(&"x".repeat(32), "p", CancelOnDisconnect::None).is_some());
        assert!(Logon::new("a\0b", "p", CancelOnDisconnect::None).is_none());

        let order = NewOrder::new(
            cl("o"),
            SymbolId(1),
            Side::Buy,
            OrderType::Market,
            TimeInForce::Fok,
            Price(0),
            Qty(1),
        );
        assert_eq!(order.order_type, ORDER_TYPE_MARKET);
        assert_eq!(order.order_type(), Some(OrderType::Market));
        assert_eq!(order.side(), Some(Side::Buy));
        assert_eq!(order.time_in_force(), Some(TimeInForce::Fok));
        assert_eq!(order.stp(), Some(SelfTradePrevention::DecrementCancel));
        assert_eq!(order.post_only(), Some(false));

        let funds = Funds::new(AccountId(1), "JPY", "1.50").unwrap();
        assert_eq!(funds.asset(), Some("JPY"));
        assert_eq!(funds.amount(), Some(Decimal::new(150, 2)));
        assert!(
            Funds::new(AccountId(1), "JPY", "x")
                .unwrap()
                .amount()
                .is_none()
        );
        assert!(Funds::new(AccountId(1), &"A".repeat(17), "1").is_none());

        assert!(HaltTarget::new("all").unwrap().is_all());
        assert!(!HaltTarget::new("BTC-JPY").unwrap().is_all());

        let info = SymbolInfo::new(SymbolId(0), "BTC-JPY", "1", "0.0001").unwrap();
        assert_eq!(info.name(), Some("BTC-JPY"));
        assert_eq!(info.tick_size(), Some(Decimal::ONE));
        assert_eq!(info.lot_size(), Some(Decimal::new(1, 4)));

        let mut gap = [0u8; 16];
        gap[0] = b'a';
        gap[2] = b'b';
        assert_eq!(padded_text(&gap), None);
        assert_eq!(padded_text(&[0xFF, 0]), None);
        assert_eq!(padded_text(&[0; 4]), Some(""));
        assert_eq!(padded_text(b"abcd"), Some("abcd"));

        let event = sample_event();
        let report = Report::new(1, 2, 3, &event);
        assert_eq!(report.event(), event);
        assert!(format!("{report:?}").contains("order_id"));

        let mc = MassCancel::new(cl("m"), None);
        assert_eq!(mc.all_symbols, 1);
        assert!(ClientMessage::Promote.is_admin());
        assert!(ClientMessage::Deposit(funds).is_admin());
        assert!(
            !ClientMessage::QueryOrder(OrderRequest::new(cl("q"), cl("o"), OrderId(0))).is_admin()
        );
    }

    #[test]
    fn layouts() {
        assert_eq!(offset_of!(Logon, password), 32);
        assert_eq!(offset_of!(Logon, cancel_on_disconnect), 64);
        assert_eq!(offset_of!(NewOrder, price), 32);
        assert_eq!(offset_of!(NewOrder, qty), 40);
        assert_eq!(offset_of!(NewOrder, symbol), 48);
        assert_eq!(offset_of!(NewOrder, side), 50);
        assert_eq!(offset_of!(NewOrder, order_type), 51);
        assert_eq!(offset_of!(NewOrder, time_in_force), 52);
        assert_eq!(offset_of!(NewOrder, stp), 53);
        assert_eq!(offset_of!(NewOrder, post_only), 54);
        assert_eq!(offset_of!(OrderRequest, orig_client_order_id), 32);
        assert_eq!(offset_of!(OrderRequest, order_id), 64);
        assert_eq!(offset_of!(Replace, order_id), 64);
        assert_eq!(offset_of!(Replace, price), 72);
        assert_eq!(offset_of!(Replace, qty), 80);
        assert_eq!(offset_of!(MassCancel, symbol), 32);
        assert_eq!(offset_of!(MassCancel, all_symbols), 34);
        assert_eq!(offset_of!(Funds, asset), 8);
        assert_eq!(offset_of!(Funds, amount), 24);
        assert_eq!(offset_of!(LogonAck, is_admin), 4);
        assert_eq!(offset_of!(LogonAck, heartbeat_ms), 8);
        assert_eq!(offset_of!(SymbolInfo, name), 8);
        assert_eq!(offset_of!(SymbolInfo, tick_size), 24);
        assert_eq!(offset_of!(SymbolInfo, lot_size), 48);
        assert_eq!(offset_of!(Report, timestamp_ns), 8);
        assert_eq!(offset_of!(Report, index), 16);
        assert_eq!(offset_of!(Report, event), 24);
        assert_eq!(offset_of!(RejectFixed, ref_msg_type), 2);

        // The documented example (BINARY_PROTOCOL.md) must be what the code writes.
        let doc = include_str!("../../BINARY_PROTOCOL.md");
        let (order, report) = doc_example();
        for bytes in [order, report] {
            let hex = hex_dump(&bytes);
            assert!(doc.contains(&hex), "the document lacks:\n{hex}");
        }
    }

    /// 16 bytes per line, offset first, as the document shows them.
    fn hex_dump(bytes: &[u8]) -> String {
        bytes
            .chunks(16)
            .enumerate()
            .map(|(i, line)| {
                let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
                format!("{:04x}  {}\n", i * 16, hex.join(" "))
            })
            .collect()
    }

    fn doc_example() -> (Vec<u8>, Vec<u8>) {
        let order = NewOrder::new(
            cl("o-1"),
            SymbolId(0),
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            Price(5_000_000),
            Qty(10),
        );
        let mut order_bytes = Vec::new();
        ClientMessage::NewOrder(order).encode(&mut order_bytes);
        let mut event = Event::new(EventKind::Accepted);
        event.side = Side::Buy as u8;
        event.order_type = OrderType::Limit as u8;
        event.time_in_force = TimeInForce::Gtc as u8;
        event.account = AccountId(1);
        event.order_id = OrderId(1);
        event.price = Price(5_000_000);
        event.order_qty = Qty(10);
        event.leaves_qty = Qty(10);
        event.client_order_id = cl("o-1");
        let mut report_bytes = Vec::new();
        ServerMessage::Report(Report::new(3, 1_700_000_000_000_000_000, 0, &event))
            .encode(&mut report_bytes);
        (order_bytes, report_bytes)
    }

    #[test]
    #[ignore = "prints the document's hex example"]
    fn print_doc_example() {
        let (order, report) = doc_example();
        println!("{}\n{}", hex_dump(&order), hex_dump(&report));
    }

    #[test]
    fn encode_appends_without_allocating() {
        let mut out = Vec::with_capacity(1024);
        out.push(0xEE);
        let ptr = out.as_ptr();
        for m in all_server_texts() {
            m.encode(&mut out);
        }
        assert_eq!(out.as_ptr(), ptr, "no reallocation with enough capacity");
        assert_eq!(out[0], 0xEE);
    }

    #[test]
    fn framing_split_at_every_byte() {
        let mut stream = Vec::new();
        let messages = all_client_messages();
        for m in &messages {
            m.encode(&mut stream);
        }
        for cut in 0..=stream.len() {
            let mut buf = Vec::new();
            let mut got = Vec::new();
            for chunk in [&stream[..cut], &stream[cut..]] {
                buf.extend_from_slice(chunk);
                while let Framing::Complete { len } = frame(&buf, 4096) {
                    got.push(ClientMessage::decode(&buf[..len]).unwrap());
                    buf.drain(..len);
                }
            }
            assert!(buf.is_empty());
            assert_eq!(got, messages, "cut at {cut}");
        }
    }

    #[test]
    fn text_truncated_at_a_char_boundary() {
        // 'é' is 2 bytes: 257 bytes of text cut at 256 would split the last one.
        let long = format!("a{}", "é".repeat(128));
        let mut out = Vec::new();
        ServerMessage::Reject {
            code: RejectCode::Malformed,
            ref_msg_type: 0,
            text: &long,
        }
        .encode(&mut out);
        let Ok(ServerMessage::Reject { text, .. }) = ServerMessage::decode(&out) else {
            panic!("decodes");
        };
        assert_eq!(text.len(), 255);
        assert!(long.starts_with(text));

        let json = "x".repeat(5000);
        out.clear();
        ServerMessage::AdminResult {
            ok: true,
            status: 0,
            text: &json,
        }
        .encode(&mut out);
        assert_eq!(out.len(), HEADER_LEN + 8 + MAX_ADMIN_TEXT);
        let Ok(ServerMessage::AdminResult { text, .. }) = ServerMessage::decode(&out) else {
            panic!("decodes");
        };
        assert_eq!(text.len(), MAX_ADMIN_TEXT);
    }

    fn encoded_client(m: ClientMessage) -> Vec<u8> {
        let mut out = Vec::new();
        m.encode(&mut out);
        out
    }

    fn set_len(bytes: &mut [u8]) {
        let len = u16::try_from(bytes.len()).unwrap().to_le_bytes();
        bytes[..2].copy_from_slice(&len);
    }

    #[test]
    fn decode_errors() {
        // Shorter than a header.
        assert_eq!(
            ClientMessage::decode(&[3, 0, 3]),
            Err(DecodeError::BadLength {
                msg_type: 3,
                expected: HEADER_LEN,
                got: 3
            })
        );
        assert_eq!(
            ClientMessage::decode(&[]),
            Err(DecodeError::BadLength {
                msg_type: 0,
                expected: HEADER_LEN,
                got: 0
            })
        );
        // Version.
        assert_eq!(
            ClientMessage::decode(&[4, 0, HEARTBEAT, 2]),
            Err(DecodeError::BadVersion(2))
        );
        // Unknown types, including a server type sent to the server and vice versa.
        for t in [0x00, 0x04, 0x15, 0x27, LOGON_ACK, 0xFF] {
            let e = ClientMessage::decode(&[4, 0, t, VERSION]).unwrap_err();
            assert_eq!(e, DecodeError::UnknownType(t));
            assert_eq!(e.reject_code(), RejectCode::UnknownMessageType);
        }
        assert_eq!(
            ServerMessage::decode(&[4, 0, NEW_ORDER, VERSION]),
            Err(DecodeError::UnknownType(NEW_ORDER))
        );
        // Declared length disagrees with the bytes given.
        assert_eq!(
            ClientMessage::decode(&[5, 0, HEARTBEAT, VERSION]),
            Err(DecodeError::BadLength {
                msg_type: HEARTBEAT,
                expected: 5,
                got: 4
            })
        );
        // Wrong size for the type: one byte short, one byte long, and a body on an empty message.
        let mut order = encoded_client(all_client_messages()[3]);
        order.pop();
        set_len(&mut order);
        let e = ClientMessage::decode(&order).unwrap_err();
        assert_eq!(
            e,
            DecodeError::BadLength {
                msg_type: NEW_ORDER,
                expected: 60,
                got: 59
            }
        );
        assert_eq!(e.reject_code(), RejectCode::Malformed);
        order.extend_from_slice(&[0, 0]);
        set_len(&mut order);
        assert!(matches!(
            ClientMessage::decode(&order),
            Err(DecodeError::BadLength { got: 61, .. })
        ));
        assert_eq!(
            ClientMessage::decode(&[5, 0, LOGOUT, VERSION, 0]),
            Err(DecodeError::BadLength {
                msg_type: LOGOUT,
                expected: 4,
                got: 5
            })
        );
        // Bad text: invalid UTF-8, and a byte after the padding.
        let mut logon = encoded_client(all_client_messages()[0]);
        logon[HEADER_LEN] = 0xFF;
        assert_eq!(
            ClientMessage::decode(&logon),
            Err(DecodeError::BadText {
                msg_type: LOGON,
                field: "username"
            })
        );
        let mut cancel = encoded_client(all_client_messages()[4]);
        cancel[HEADER_LEN + 32 + 31] = b'x';
        assert_eq!(
            ClientMessage::decode(&cancel),
            Err(DecodeError::BadText {
                msg_type: CANCEL,
                field: "orig_client_order_id"
            })
        );
        // Variable messages: below the minimum, above the maximum, bad text, bad code.
        assert_eq!(
            ServerMessage::decode(&[11, 0, REJECT, VERSION, 3, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::BadLength {
                msg_type: REJECT,
                expected: 12,
                got: 11
            })
        );
        let mut reject = vec![0, 0, REJECT, VERSION, 3, 0, 0, 0, 0, 0, 0, 0];
        reject.extend_from_slice(&[b'a'; MAX_REJECT_TEXT + 1]);
        set_len(&mut reject);
        assert_eq!(
            ServerMessage::decode(&reject),
            Err(DecodeError::BadLength {
                msg_type: REJECT,
                expected: 12 + MAX_REJECT_TEXT,
                got: 13 + MAX_REJECT_TEXT
            })
        );
        reject.truncate(14);
        reject[13] = 0xC3; // a truncated two-byte sequence
        set_len(&mut reject);
        assert_eq!(
            ServerMessage::decode(&reject),
            Err(DecodeError::BadText {
                msg_type: REJECT,
                field: "text"
            })
        );
        reject[13] = b'b';
        reject[4] = 0;
        assert_eq!(
            ServerMessage::decode(&reject),
            Err(DecodeError::BadValue {
                msg_type: REJECT,
                field: "code"
            })
        );
        let admin = [13, 0, ADMIN_RESULT, VERSION, 1, 0, 0, 0, 0, 0, 0, 0, 0x80];
        assert_eq!(
            ServerMessage::decode(&admin),
            Err(DecodeError::BadText {
                msg_type: ADMIN_RESULT,
                field: "text"
            })
        );
        // Display texts name the problem.
        assert_eq!(
            DecodeError::UnknownType(0x42).to_string(),
            "unknown message type 0x42"
        );
    }

    fn arb_text<const N: usize>() -> impl Strategy<Value = [u8; N]> {
        // Arbitrary chars (multi-byte ones included), cut to the field at a char boundary.
        proptest::collection::vec(any::<char>().prop_filter("no NUL", |&c| c != '\0'), 0..=N)
            .prop_map(|chars| {
                let s: String = chars.into_iter().collect();
                fill_text(truncate_text(&s, N)).unwrap()
            })
    }

    fn arb_cl() -> impl Strategy<Value = ClientOrderId> {
        arb_text::<32>().prop_map(ClientOrderId)
    }

    fn arb_client() -> impl Strategy<Value = ClientMessage> {
        let logon = (arb_text::<32>(), arb_text::<32>(), any::<u8>()).prop_map(|(u, p, c)| {
            ClientMessage::Logon(Logon {
                username: u,
                password: p,
                cancel_on_disconnect: c,
                ..Zeroable::zeroed()
            })
        });
        let order = (
            arb_cl(),
            any::<u64>(),
            any::<u64>(),
            any::<u16>(),
            any::<[u8; 5]>(),
        )
            .prop_map(|(c, p, q, s, [side, ot, tif, stp, po])| {
                ClientMessage::NewOrder(NewOrder {
                    client_order_id: c,
                    price: Price(p),
                    qty: Qty(q),
                    symbol: SymbolId(s),
                    side,
                    order_type: ot,
                    time_in_force: tif,
                    stp,
                    post_only: po,
                    ..Zeroable::zeroed()
                })
            });
        let cancel = (arb_cl(), arb_cl(), any::<u64>(), any::<bool>()).prop_map(|(c, o, id, q)| {
            if q {
                ClientMessage::QueryOrder(OrderRequest::new(c, o, OrderId(id)))
            } else {
                ClientMessage::Cancel(OrderRequest::new(c, o, OrderId(id)))
            }
        });
        let replace = (arb_cl(), arb_cl(), any::<[u64; 3]>()).prop_map(|(c, o, [id, p, q])| {
            ClientMessage::Replace(Replace::new(c, o, OrderId(id), Price(p), Qty(q)))
        });
        let mass = (arb_cl(), any::<u16>(), any::<u8>()).prop_map(|(c, s, a)| {
            ClientMessage::MassCancel(MassCancel {
                client_order_id: c,
                symbol: SymbolId(s),
                all_symbols: a,
                ..Zeroable::zeroed()
            })
        });
        let funds = (
            any::<u32>(),
            arb_text::<16>(),
            arb_text::<32>(),
            any::<bool>(),
        )
            .prop_map(|(a, asset, amount, w)| {
                let f = Funds {
                    account: AccountId(a),
                    asset,
                    amount,
                    ..Zeroable::zeroed()
                };
                if w {
                    ClientMessage::Withdraw(f)
                } else {
                    ClientMessage::Deposit(f)
                }
            });
        let halt = (arb_text::<16>(), any::<bool>()).prop_map(|(t, r)| {
            let h = HaltTarget { target: t };
            if r {
                ClientMessage::Resume(h)
            } else {
                ClientMessage::Halt(h)
            }
        });
        let unit = prop::sample::select(vec![
            ClientMessage::Logout,
            ClientMessage::Heartbeat,
            ClientMessage::Snapshot,
            ClientMessage::Status,
            ClientMessage::Promote,
        ]);
        prop_oneof![logon, order, cancel, replace, mass, funds, halt, unit]
    }

    const ALL_TYPES: [u8; 21] = [
        LOGON,
        LOGOUT,
        HEARTBEAT,
        NEW_ORDER,
        CANCEL,
        REPLACE,
        MASS_CANCEL,
        QUERY_ORDER,
        DEPOSIT,
        WITHDRAW,
        HALT,
        RESUME,
        SNAPSHOT,
        STATUS,
        PROMOTE,
        LOGON_ACK,
        REJECT,
        SERVER_HEARTBEAT,
        SYMBOL_INFO,
        REPORT,
        ADMIN_RESULT,
    ];

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = ClientMessage::decode(&bytes);
            let _ = ServerMessage::decode(&bytes);
        }

        #[test]
        fn decode_never_panics_behind_a_valid_header(
            t in prop::sample::select(ALL_TYPES.to_vec()),
            body in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            // A well-formed header gets random bytes past the header checks, into the bodies.
            let mut bytes = vec![0, 0, t, VERSION];
            bytes.extend_from_slice(&body);
            set_len(&mut bytes);
            if let Ok(m) = ClientMessage::decode(&bytes) {
                // Whatever decodes has readable text.
                if let ClientMessage::Logon(l) = m {
                    prop_assert!(l.username().is_some() && l.password().is_some());
                }
                let mut again = Vec::new();
                m.encode(&mut again);
                prop_assert_eq!(again.len(), bytes.len());
            }
            if let Ok(m) = ServerMessage::decode(&bytes) {
                let mut again = Vec::new();
                m.encode(&mut again);
                prop_assert_eq!(ServerMessage::decode(&again), Ok(m));
            }
        }

        #[test]
        fn client_round_trip(m in arb_client()) {
            let mut out = Vec::new();
            m.encode(&mut out);
            prop_assert_eq!(frame(&out, 4096), Framing::Complete { len: out.len() });
            prop_assert_eq!(ClientMessage::decode(&out), Ok(m));
        }

        #[test]
        fn server_round_trip(
            seq in any::<u64>(),
            ts in any::<u64>(),
            index in any::<u32>(),
            words in any::<[u64; 16]>(),
            ack in (any::<u32>(), any::<bool>(), any::<u32>()),
            info in (any::<u16>(), arb_text::<16>(), arb_text::<24>(), arb_text::<24>()),
            code in 1u16..=9,
            ref_type in any::<u8>(),
            status in any::<u8>(),
            text in ".{0,80}",
        ) {
            // Any 128 bytes are an Event: the report must carry them untouched.
            let event: Event = bytemuck::cast(words);
            let (name, tick, lot) = (info.1, info.2, info.3);
            let messages = [
                ServerMessage::Report(Report::new(seq, ts, index, &event)),
                ServerMessage::LogonAck(LogonAck::new(AccountId(ack.0), ack.1, ack.2)),
                ServerMessage::SymbolInfo(SymbolInfo {
                    symbol: SymbolId(info.0),
                    name,
                    tick_size: tick,
                    lot_size: lot,
                    ..Zeroable::zeroed()
                }),
                ServerMessage::Reject {
                    code: RejectCode::from_u16(code).unwrap(),
                    ref_msg_type: ref_type,
                    text: &text,
                },
                ServerMessage::AdminResult { ok: status == 0, status, text: &text },
            ];
            let mut out = Vec::new();
            for m in &messages {
                m.encode(&mut out);
            }
            let mut rest = &out[..];
            for m in messages {
                let Framing::Complete { len } = frame(rest, 4096) else {
                    return Err(TestCaseError::fail("incomplete"));
                };
                prop_assert_eq!(ServerMessage::decode(&rest[..len]), Ok(m));
                rest = &rest[len..];
            }
            prop_assert!(rest.is_empty());
        }
    }
}
