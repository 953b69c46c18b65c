//! Commands: what the engine is asked to do. A command is a fixed-size `#[repr(C)]` POD of 128
//! bytes (two cache lines), little-endian; the same bytes are what the journal stores and the
//! replicator sends, so nothing is serialised between the ring and the disk.
//!
//! The engine reads the fields that its [`CommandKind`] names and ignores the rest; constructors
//! below set exactly those.

use bytemuck::{Pod, Zeroable};

use crate::units::{
    AccountId, Amount, AssetId, ClientOrderId, OrderId, OrderType, Price, Qty, SelfTradePrevention,
    Side, SymbolId, TimeInForce,
};

/// The layout version written in every command; a reader refuses others.
///
/// A new [`CommandKind`] that uses the existing fields (as `Block` and `Unblock` do) is added
/// without a new version: a journal written before it holds none, so it still loads, and an
/// older build refuses a journal that holds one by its kind, naming the record. A version bump is
/// for a change in what the existing bytes mean.
pub const COMMAND_VERSION: u8 = 1;

wire_enum! {
    /// What a command asks for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum CommandKind {
        /// Place a limit or market order.
        NewOrder = 1,
        /// Cancel one order, by order id or by the account's client order id.
        Cancel = 2,
        /// Cancel/replace: new price and/or new total quantity.
        Replace = 3,
        /// Cancel every open order of an account, or of an account in one symbol.
        MassCancel = 4,
        /// Report one order's state (FIX OrderStatusRequest); changes nothing.
        QueryOrder = 5,
        /// Credit an account.
        Deposit = 6,
        /// Debit an account's available balance.
        Withdraw = 7,
        /// Halt one symbol, or the whole exchange.
        Halt = 8,
        /// Resume one symbol, or the whole exchange.
        Resume = 9,
        /// An operator asks for a snapshot at this point of the journal; changes no state.
        Snapshot = 10,
        /// A standby was promoted: a new epoch begins at this command's sequence (replication
        /// fencing; the history of epochs is part of the replicated state).
        Epoch = 11,
        /// Kill switch: cancel every open order of an account and refuse its new orders and
        /// replaces until it is unblocked (BEHAVIOUR.md §10).
        Block = 12,
        /// Lift an account's block.
        Unblock = 13,
        /// One part of an incident notice or maintenance window (issue 15; the layout is
        /// [`NoticePart`]). Changes no state; the status page reads notices from the journal.
        Notice = 14,
    }
}

mod notice;
pub use notice::{
    NOTICE_PART_TEXT, NOTICE_TEXT_MAX, Notice, NoticeAction, NoticeAssembler, NoticePart,
    NoticeSeverity,
};

/// `flags` bit: the order is post-only.
pub const FLAG_POST_ONLY: u8 = 1;
/// `flags` bit (halt, resume, mass cancel): the command applies to every symbol.
pub const FLAG_ALL_SYMBOLS: u8 = 2;
/// `flags` bit (mass cancel): the cancel is the exchange's, because the session dropped.
pub const FLAG_CANCEL_ON_DISCONNECT: u8 = 4;
/// `flags` bit (replace): `symbol` names the target order's symbol, and a target in another
/// symbol is `UNKNOWN_ORDER` (FIX gives a replace's Symbol; the binary protocol does not).
pub const FLAG_SYMBOL_CHECKED: u8 = 8;

/// One command, as the ring, the journal and the replicator carry it.
///
/// | offset | field | used by |
/// |---|---|---|
/// | 0 | `kind`, `version`, `side`, `order_type`, `time_in_force`, `stp`, `flags`, pad | all |
/// | 8 | `account` (u32), `symbol` (u16), `asset` (u16) | all but halt/resume use some |
/// | 16 | `timestamp_ns`: the gateway's receive time, journaled so replay is exact | all |
/// | 24 | `order_id`: the target of cancel/replace/query (0 = by client order id) | |
/// | 32 | `price` (ticks) | new order, replace |
/// | 40 | `qty` (lots; the new total for replace) or `amount` (minor units) | |
/// | 48 | reserved, zero | |
/// | 64 | `client_order_id`: the new order's, or the request's own | |
/// | 96 | `orig_client_order_id`: the target order's current ClOrdID | cancel, replace, query |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Command {
    /// [`CommandKind`] as a byte.
    pub kind: u8,
    /// [`COMMAND_VERSION`].
    pub version: u8,
    /// [`Side`] as a byte.
    pub side: u8,
    /// [`OrderType`] as a byte.
    pub order_type: u8,
    /// [`TimeInForce`] as a byte.
    pub time_in_force: u8,
    /// [`SelfTradePrevention`] as a byte (0 = default `DC`).
    pub stp: u8,
    /// `FLAG_*` bits.
    pub flags: u8,
    _pad0: u8,
    /// The account acting (or credited, debited).
    pub account: AccountId,
    /// The symbol.
    pub symbol: SymbolId,
    /// The asset (deposit, withdraw).
    pub asset: AssetId,
    /// Receive time at the gateway, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Target order id (cancel, replace, query), 0 when addressed by client order id.
    pub order_id: OrderId,
    /// Limit price in ticks.
    pub price: Price,
    /// Quantity in lots, or an amount in minor units (deposit, withdraw).
    pub qty: u64,
    _reserved: [u64; 2],
    /// The new order's ClOrdID, or the request's own ClOrdID (cancel, replace, query).
    pub client_order_id: ClientOrderId,
    /// The target order's current ClOrdID (cancel, replace, query).
    pub orig_client_order_id: ClientOrderId,
}

const _: () = assert!(std::mem::size_of::<Command>() == 128);

/// A new order's parameters, for [`Command::new_order`].
#[derive(Clone, Copy, Debug)]
pub struct NewOrder {
    /// The account placing the order.
    pub account: AccountId,
    /// The symbol.
    pub symbol: SymbolId,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// GTC, IOC or FOK.
    pub time_in_force: TimeInForce,
    /// Limit price in ticks (ignored for market orders).
    pub price: Price,
    /// Quantity in lots.
    pub qty: Qty,
    /// Post-only flag.
    pub post_only: bool,
    /// Self-trade prevention mode.
    pub stp: SelfTradePrevention,
    /// The client's order id.
    pub client_order_id: ClientOrderId,
}

impl NewOrder {
    /// A GTC limit order with the default STP mode and no post-only flag.
    pub fn limit(
        account: AccountId,
        symbol: SymbolId,
        side: Side,
        price: Price,
        qty: Qty,
        client_order_id: ClientOrderId,
    ) -> NewOrder {
        NewOrder {
            account,
            symbol,
            side,
            order_type: OrderType::Limit,
            time_in_force: TimeInForce::Gtc,
            price,
            qty,
            post_only: false,
            stp: SelfTradePrevention::DecrementCancel,
            client_order_id,
        }
    }

    /// A market order (IOC at the protection price).
    pub fn market(
        account: AccountId,
        symbol: SymbolId,
        side: Side,
        qty: Qty,
        client_order_id: ClientOrderId,
    ) -> NewOrder {
        NewOrder {
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Ioc,
            price: Price(0),
            ..NewOrder::limit(account, symbol, side, Price(0), qty, client_order_id)
        }
    }

    /// The same order with another time in force.
    pub fn with_tif(mut self, time_in_force: TimeInForce) -> NewOrder {
        self.time_in_force = time_in_force;
        self
    }

    /// The same order, post-only.
    pub fn post_only(mut self) -> NewOrder {
        self.post_only = true;
        self
    }

    /// The same order with another self-trade prevention mode.
    pub fn with_stp(mut self, stp: SelfTradePrevention) -> NewOrder {
        self.stp = stp;
        self
    }
}

/// How a cancel, replace or query names its target order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRef {
    /// By the engine's order id.
    Id(OrderId),
    /// By the account's current client order id (FIX OrigClOrdID).
    Client(ClientOrderId),
    /// By both; they must name the same order (BEHAVIOUR.md §8).
    Both(OrderId, ClientOrderId),
}

impl OrderRef {
    fn split(self) -> (OrderId, ClientOrderId) {
        match self {
            OrderRef::Id(id) => (id, ClientOrderId::EMPTY),
            OrderRef::Client(c) => (OrderId(0), c),
            OrderRef::Both(id, c) => (id, c),
        }
    }
}

impl Command {
    fn blank(kind: CommandKind, account: AccountId) -> Command {
        Command {
            kind: kind as u8,
            version: COMMAND_VERSION,
            account,
            ..Zeroable::zeroed()
        }
    }

    /// Place an order.
    pub fn new_order(order: NewOrder) -> Command {
        Command {
            side: order.side as u8,
            order_type: order.order_type as u8,
            time_in_force: order.time_in_force as u8,
            stp: order.stp as u8,
            flags: if order.post_only { FLAG_POST_ONLY } else { 0 },
            symbol: order.symbol,
            price: order.price,
            qty: order.qty.0,
            client_order_id: order.client_order_id,
            ..Command::blank(CommandKind::NewOrder, order.account)
        }
    }

    /// Cancel one order of `account`. `request_id` is the cancel request's own ClOrdID (may be empty).
    pub fn cancel(account: AccountId, target: OrderRef, request_id: ClientOrderId) -> Command {
        let (order_id, orig) = target.split();
        Command {
            order_id,
            orig_client_order_id: orig,
            client_order_id: request_id,
            ..Command::blank(CommandKind::Cancel, account)
        }
    }

    /// Replace one order of `account` with a new price and new total quantity; `new_id` becomes
    /// its ClOrdID.
    pub fn replace(
        account: AccountId,
        target: OrderRef,
        new_id: ClientOrderId,
        price: Price,
        total_qty: Qty,
    ) -> Command {
        let (order_id, orig) = target.split();
        Command {
            order_id,
            orig_client_order_id: orig,
            client_order_id: new_id,
            price,
            qty: total_qty.0,
            ..Command::blank(CommandKind::Replace, account)
        }
    }

    /// Cancel every open order of `account`, or only those in `symbol`.
    pub fn mass_cancel(
        account: AccountId,
        symbol: Option<SymbolId>,
        request_id: ClientOrderId,
    ) -> Command {
        Command {
            symbol: symbol.unwrap_or_default(),
            flags: if symbol.is_none() {
                FLAG_ALL_SYMBOLS
            } else {
                0
            },
            client_order_id: request_id,
            ..Command::blank(CommandKind::MassCancel, account)
        }
    }

    /// This replace names its target's symbol too: one in another symbol is `UNKNOWN_ORDER`.
    pub fn in_symbol(mut self, symbol: SymbolId) -> Command {
        self.symbol = symbol;
        self.flags |= FLAG_SYMBOL_CHECKED;
        self
    }

    /// The exchange cancels every open order of `account` because its session dropped; the
    /// cancels carry `CANCEL_ON_DISCONNECT`.
    pub fn cancel_on_disconnect(account: AccountId) -> Command {
        let mut cmd = Command::mass_cancel(account, None, ClientOrderId::EMPTY);
        cmd.flags |= FLAG_CANCEL_ON_DISCONNECT;
        cmd
    }

    /// The exchange cancels one order of `account` because the session that placed it dropped
    /// (FIX CancelOrdersOnDisconnect `S`); the cancel carries `CANCEL_ON_DISCONNECT`.
    pub fn cancel_on_disconnect_order(account: AccountId, order_id: OrderId) -> Command {
        let mut cmd = Command::cancel(account, OrderRef::Id(order_id), ClientOrderId::EMPTY);
        cmd.flags |= FLAG_CANCEL_ON_DISCONNECT;
        cmd
    }

    /// An operator's request for a snapshot: journaled like every admin action, and the matcher
    /// writes the state as of this command.
    pub fn snapshot() -> Command {
        Command::blank(CommandKind::Snapshot, AccountId(0))
    }

    /// A new epoch `epoch` beginning at journal sequence `start_seq` (the sequence this command
    /// will get: a node promotes itself while nothing else is being published).
    pub fn epoch(epoch: u64, start_seq: u64) -> Command {
        Command {
            qty: epoch,
            order_id: OrderId(start_seq),
            ..Command::blank(CommandKind::Epoch, AccountId(0))
        }
    }

    /// Block `account` (the kill switch): its open orders are cancelled `ACCOUNT_BLOCKED` and its
    /// new orders and replaces refused until [`Command::unblock`].
    pub fn block(account: AccountId) -> Command {
        Command::blank(CommandKind::Block, account)
    }

    /// Lift `account`'s block.
    pub fn unblock(account: AccountId) -> Command {
        Command::blank(CommandKind::Unblock, account)
    }

    /// Ask for one order's state.
    pub fn query_order(account: AccountId, target: OrderRef, request_id: ClientOrderId) -> Command {
        Command {
            kind: CommandKind::QueryOrder as u8,
            ..Command::cancel(account, target, request_id)
        }
    }

    /// Credit `amount` of `asset` to `account` (creating the account if new).
    pub fn deposit(account: AccountId, asset: AssetId, amount: Amount) -> Command {
        Command {
            asset,
            qty: amount.0,
            ..Command::blank(CommandKind::Deposit, account)
        }
    }

    /// Debit `amount` of `asset` from `account`'s available balance.
    pub fn withdraw(account: AccountId, asset: AssetId, amount: Amount) -> Command {
        Command {
            kind: CommandKind::Withdraw as u8,
            ..Command::deposit(account, asset, amount)
        }
    }

    /// Halt one symbol, or the whole exchange with `None`.
    pub fn halt(symbol: Option<SymbolId>) -> Command {
        Command {
            symbol: symbol.unwrap_or_default(),
            flags: if symbol.is_none() {
                FLAG_ALL_SYMBOLS
            } else {
                0
            },
            ..Command::blank(CommandKind::Halt, AccountId(0))
        }
    }

    /// Resume one symbol, or the whole exchange with `None`.
    pub fn resume(symbol: Option<SymbolId>) -> Command {
        Command {
            kind: CommandKind::Resume as u8,
            ..Command::halt(symbol)
        }
    }

    /// The same command stamped with a receive time.
    pub fn at(mut self, timestamp_ns: u64) -> Command {
        self.timestamp_ns = timestamp_ns;
        self
    }

    /// The decoded kind, or `None` for an unknown byte.
    pub fn command_kind(&self) -> Option<CommandKind> {
        CommandKind::from_u8(self.kind)
    }

    /// True when the post-only flag is set.
    pub fn is_post_only(&self) -> bool {
        self.flags & FLAG_POST_ONLY != 0
    }

    /// True when a halt, resume or mass cancel applies to every symbol.
    pub fn is_all_symbols(&self) -> bool {
        self.flags & FLAG_ALL_SYMBOLS != 0
    }

    /// The command's bytes, as journaled.
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }

    /// Reads a command from exactly 128 bytes (any alignment), checking the version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Command, CommandDecodeError> {
        let cmd: Command = bytemuck::try_pod_read_unaligned(bytes)
            .map_err(|_| CommandDecodeError::Size { len: bytes.len() })?;
        if cmd.version != COMMAND_VERSION {
            return Err(CommandDecodeError::Version {
                version: cmd.version,
            });
        }
        if cmd.command_kind().is_none() {
            return Err(CommandDecodeError::Kind { kind: cmd.kind });
        }
        Ok(cmd)
    }
}

/// Why bytes are not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandDecodeError {
    /// Not 128 bytes.
    #[error("a command is 128 bytes, got {len}")]
    Size {
        /// The length given.
        len: usize,
    },
    /// A layout version this build does not know.
    #[error(
        "unknown command layout version {version} (this build reads version {COMMAND_VERSION})"
    )]
    Version {
        /// The version byte found.
        version: u8,
    },
    /// An unknown command kind.
    #[error("unknown command kind {kind}")]
    Kind {
        /// The kind byte found.
        kind: u8,
    },
}
