//! The bodies the gateway sends: logon acknowledgement, symbol information, execution reports,
//! and the fixed parts of Reject and AdminResult.

use super::*;

/// LogonAck (0x81).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct LogonAck {
    /// The trader's account, 0 for an admin.
    pub account: AccountId,
    /// 1 for an admin session, else 0.
    pub is_admin: u8,
    pub(super) _pad: [u8; 3],
    /// The interval at which the server expects traffic; it sends a heartbeat after this much
    /// silence.
    pub heartbeat_ms: u32,
    pub(super) _pad2: [u8; 4],
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
    pub(super) _pad: [u8; 6],
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
    pub(super) _pad: u32,
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
pub(super) struct RejectFixed {
    pub(super) code: u16,
    pub(super) ref_msg_type: u8,
    pub(super) _pad: [u8; 5],
}

/// The fixed part of an AdminResult; the text follows.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct AdminResultFixed {
    pub(super) status: u8,
    pub(super) _pad: [u8; 7],
}
