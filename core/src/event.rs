//! Events: what the engine answers. Like commands, an event is a fixed-size `#[repr(C)]` POD of 128
//! bytes. Every command produces at least one event, so a gateway always has an answer to send.
//!
//! The first 96 bytes describe an order (or an account, for funds events); the last 32 bytes,
//! `detail`, depend on the kind: fill figures, the original ClOrdID, balances or a count. Read them
//! through the accessors ([`Event::fill`], [`Event::orig_client_order_id`], [`Event::balance`],
//! [`Event::count`]).

use bytemuck::{Pod, Zeroable};

use crate::units::{
    AccountId, Amount, AssetId, ClientOrderId, OrderId, Price, Qty, Side, SymbolId, TradeId,
};

/// The layout version written in every event.
pub const EVENT_VERSION: u8 = 1;

wire_enum! {
    /// Why an order or request was refused or ended (BEHAVIOUR.md §3, §8). The text form is what FIX Text (58)
    /// carries.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum Reason {
        /// No reason: accepted, or cancelled at the owner's request.
        None = 0,
        /// The symbol is not configured.
        UnknownSymbol = 1,
        /// The account does not exist, or is the fee account.
        UnknownAccount = 2,
        /// The symbol or the exchange is halted.
        Halted = 3,
        /// The price is not a positive number of ticks.
        InvalidPrice = 4,
        /// The quantity is not a positive number of lots, is outside min/max, or its notional overflows.
        InvalidQty = 5,
        /// A malformed order: bad enum, post-only with IOC/FOK/market, empty ClOrdID.
        InvalidOrder = 6,
        /// The ClOrdID is held by another open order of the account.
        DuplicateOrder = 7,
        /// The limit price is outside the price band.
        PriceBand = 8,
        /// The account has `max_open_orders` open already.
        TooManyOrders = 9,
        /// Available funds do not cover the order, the increase, or the withdrawal.
        InsufficientFunds = 10,
        /// A post-only order would cross a resting order.
        PostOnlyWouldTake = 11,
        /// A market order without a reference price or band.
        NoReferencePrice = 12,
        /// The order does not exist, has ended, or belongs to another account.
        UnknownOrder = 13,
        /// The unfilled remainder of an IOC or market order.
        IocRemainder = 14,
        /// A fill-or-kill order that could not fill whole.
        FokUnfilled = 15,
        /// Self-trade prevention.
        SelfTrade = 16,
        /// A replace whose new total is not above the filled quantity.
        ReplacedDone = 17,
        /// The exchange cancelled the orders of a dropped session.
        CancelOnDisconnect = 18,
        /// The asset is not configured.
        UnknownAsset = 19,
        /// A zero amount, or one that would take a balance past `i64::MAX` minor units.
        InvalidAmount = 20,
        /// The command could not be decoded (unknown kind or version).
        Malformed = 21,
        /// The account is blocked (kill switch): its orders were cancelled, and new orders and
        /// replaces are refused until it is unblocked.
        AccountBlocked = 22,
        /// The order's notional at its limit (or protection) price is above the symbol's
        /// `max_notional` (fat-finger limit).
        NotionalLimit = 23,
        /// The circuit breaker stopped a taker at its bound: the remainder is cancelled and the
        /// symbol halts; its halt and timed resume carry this reason too (BEHAVIOUR.md §10).
        CircuitBreaker = 24,
        /// The journal's file system is below `[journal] min_free_mb` (disk guard): new orders and
        /// replaces are refused at the gateway, never journaled (BEHAVIOUR.md §10).
        DiskFull = 25,
    }
}

/// One past the largest [`Reason`] byte: the size of a table indexed by reason (a test checks
/// that no reason lies past it).
pub const REASON_COUNT: usize = Reason::DiskFull as usize + 1;

impl Reason {
    /// The reason code as BEHAVIOUR.md §3 spells it (FIX Text 58).
    pub fn code(self) -> &'static str {
        use Reason::*;
        match self {
            None => "",
            UnknownSymbol => "UNKNOWN_SYMBOL",
            UnknownAccount => "UNKNOWN_ACCOUNT",
            Halted => "HALTED",
            InvalidPrice => "INVALID_PRICE",
            InvalidQty => "INVALID_QTY",
            InvalidOrder => "INVALID_ORDER",
            DuplicateOrder => "DUPLICATE_ORDER",
            PriceBand => "PRICE_BAND",
            TooManyOrders => "TOO_MANY_ORDERS",
            InsufficientFunds => "INSUFFICIENT_FUNDS",
            PostOnlyWouldTake => "POST_ONLY_WOULD_TAKE",
            NoReferencePrice => "NO_REFERENCE_PRICE",
            UnknownOrder => "UNKNOWN_ORDER",
            IocRemainder => "IOC_REMAINDER",
            FokUnfilled => "FOK_UNFILLED",
            SelfTrade => "SELF_TRADE",
            ReplacedDone => "REPLACED_DONE",
            CancelOnDisconnect => "CANCEL_ON_DISCONNECT",
            UnknownAsset => "UNKNOWN_ASSET",
            InvalidAmount => "INVALID_AMOUNT",
            Malformed => "MALFORMED",
            AccountBlocked => "ACCOUNT_BLOCKED",
            NotionalLimit => "NOTIONAL_LIMIT",
            CircuitBreaker => "CIRCUIT_BREAKER",
            DiskFull => "DISK_FULL",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

wire_enum! {
    /// An order's status, valued as the FIX OrdStatus digit.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum OrderStatus {
        /// Open, nothing filled.
        New = 0,
        /// Open, partly filled.
        PartiallyFilled = 1,
        /// Filled whole.
        Filled = 2,
        /// Ended without filling whole.
        Canceled = 4,
        /// Refused.
        Rejected = 8,
    }
}

wire_enum! {
    /// What an event reports.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum EventKind {
        /// An order was accepted and has an order id (ExecutionReport New). IOC and FOK orders too.
        Accepted = 1,
        /// A new order was refused (ExecutionReport Rejected); `reason` says why.
        Rejected = 2,
        /// One side of a trade (ExecutionReport Trade); `detail` holds [`Fill`].
        Fill = 3,
        /// An order ended unfilled (ExecutionReport Canceled); `reason` is `None` for a requested
        /// cancel. For a requested cancel `client_order_id` is the request's and the order's is in
        /// `detail`.
        Canceled = 4,
        /// A replace took effect (ExecutionReport Replaced); the old ClOrdID is in `detail`.
        Replaced = 5,
        /// Self-trade prevention shrank an order (ExecutionReport Restated, Text `SELF_TRADE`).
        Restated = 6,
        /// A cancel was refused (OrderCancelReject); the target ClOrdID is in `detail`.
        CancelRejected = 7,
        /// A replace was refused (OrderCancelReject); the target ClOrdID is in `detail`.
        ReplaceRejected = 8,
        /// An order's state, answering a query (ExecutionReport OrderStatus).
        OrderStatus = 9,
        /// A query named no order of the account; the target ClOrdID is in `detail`.
        QueryRejected = 10,
        /// A mass cancel finished (OrderMassCancelReport); `detail` holds the count cancelled.
        MassCanceled = 11,
        /// A mass cancel was refused (unknown symbol or account).
        MassCancelRejected = 12,
        /// A deposit was credited; `detail` holds the [`Balance`] after it.
        Deposited = 13,
        /// A withdrawal was debited; `detail` holds the [`Balance`] after it.
        Withdrawn = 14,
        /// A deposit was refused.
        DepositRejected = 15,
        /// A withdrawal was refused.
        WithdrawRejected = 16,
        /// A symbol (or, with the all-symbols flag, the exchange) was halted.
        Halted = 17,
        /// A symbol (or the exchange) was resumed.
        Resumed = 18,
        /// A halt or resume named an unknown symbol.
        HaltRejected = 19,
        /// The command could not be decoded at all.
        CommandRejected = 20,
        /// An operator's snapshot request was taken: the state at this sequence goes to the
        /// snapshot writer.
        SnapshotMarked = 21,
        /// A new epoch began (`detail`: epoch, first sequence).
        EpochRaised = 22,
        /// An epoch command that did not raise the epoch was refused (`detail`: the epoch asked for,
        /// the current one).
        EpochRejected = 23,
        /// An account was blocked; its open orders were cancelled `ACCOUNT_BLOCKED` just before
        /// (`detail`: the count cancelled).
        AccountBlocked = 24,
        /// An account's block was lifted.
        AccountUnblocked = 25,
        /// A block or unblock named an unknown account or the fee account (`UNKNOWN_ACCOUNT`).
        BlockRejected = 26,
        /// One part of a notice was journaled (`detail`: the part's index, the number of parts,
        /// the notice's action byte, the incident an update or resolve is about).
        NoticeRecorded = 27,
    }
}

/// `flags` bit: the order is post-only.
pub const EVENT_FLAG_POST_ONLY: u8 = 1;
/// `flags` bit (fill): this side was the maker (resting) order.
pub const EVENT_FLAG_MAKER: u8 = 2;
/// `flags` bit (halt, resume, mass cancel): all symbols.
pub const EVENT_FLAG_ALL_SYMBOLS: u8 = 4;

/// One event.
///
/// | offset | field |
/// |---|---|
/// | 0 | `kind`, `version`, `side`, `order_type`, `time_in_force`, `reason`, `status`, `flags` |
/// | 8 | `account` (u32), `symbol` (u16), `asset` (u16) |
/// | 16 | `order_id`, `price` (the order's limit, ticks), `order_qty`, `leaves_qty`, `cum_qty` (lots) |
/// | 56 | `cum_cost`: Σ fill price × fill qty in tick·lots, so AvgPx = `cum_cost / cum_qty` ticks |
/// | 64 | `client_order_id` |
/// | 96 | `detail`: by kind, see the accessors |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Event {
    /// [`EventKind`] as a byte.
    pub kind: u8,
    /// [`EVENT_VERSION`].
    pub version: u8,
    /// [`Side`] as a byte (0 when not about an order).
    pub side: u8,
    /// [`crate::OrderType`] as a byte.
    pub order_type: u8,
    /// [`crate::TimeInForce`] as a byte.
    pub time_in_force: u8,
    /// [`Reason`] as a byte.
    pub reason: u8,
    /// [`OrderStatus`] as a byte.
    pub status: u8,
    /// `EVENT_FLAG_*` bits.
    pub flags: u8,
    /// The account the event is for.
    pub account: AccountId,
    /// The symbol.
    pub symbol: SymbolId,
    /// The asset (funds events).
    pub asset: AssetId,
    /// The order id (0 when refused before one was given).
    pub order_id: OrderId,
    /// The order's limit price in ticks.
    pub price: Price,
    /// The order's total quantity (FIX OrderQty).
    pub order_qty: Qty,
    /// What is still open.
    pub leaves_qty: Qty,
    /// What has filled.
    pub cum_qty: Qty,
    /// Σ price × qty over the order's fills, in tick·lots.
    pub cum_cost: u64,
    /// The order's ClOrdID, or the request's (cancel, replace, query, mass cancel).
    pub client_order_id: ClientOrderId,
    /// Kind-dependent: [`Fill`], an original ClOrdID, a [`Balance`] or a count.
    pub detail: [u64; 4],
}

const _: () = assert!(std::mem::size_of::<Event>() == 128);

/// The figures of one fill, from [`Event::fill`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The trade price (the maker's price), in ticks.
    pub last_px: Price,
    /// The quantity traded, in lots.
    pub last_qty: Qty,
    /// The trade's id; both sides of a trade carry the same one.
    pub trade_id: TradeId,
    /// The fee this side paid, in quote minor units.
    pub fee: Amount,
}

/// An account's balance in one asset after a funds event, from [`Event::balance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// The amount deposited or withdrawn (or refused).
    pub amount: Amount,
    /// Available after the event.
    pub available: Amount,
    /// Reserved after the event.
    pub reserved: Amount,
}

impl Event {
    /// A zeroed event of `kind`.
    pub fn new(kind: EventKind) -> Event {
        Event {
            kind: kind as u8,
            version: EVENT_VERSION,
            ..Zeroable::zeroed()
        }
    }

    /// The decoded kind (`None` only for bytes not written by this build).
    pub fn event_kind(&self) -> Option<EventKind> {
        EventKind::from_u8(self.kind)
    }

    /// The decoded reason.
    pub fn reason(&self) -> Reason {
        Reason::from_u8(self.reason).unwrap_or(Reason::Malformed)
    }

    /// The decoded side, if the event is about an order.
    pub fn side(&self) -> Option<Side> {
        Side::from_u8(self.side)
    }

    /// The decoded status.
    pub fn status(&self) -> Option<OrderStatus> {
        OrderStatus::from_u8(self.status)
    }

    /// True for the maker side of a fill.
    pub fn is_maker(&self) -> bool {
        self.flags & EVENT_FLAG_MAKER != 0
    }

    /// The fill figures (meaningful for [`EventKind::Fill`]).
    pub fn fill(&self) -> Fill {
        Fill {
            last_px: Price(self.detail[0]),
            last_qty: Qty(self.detail[1]),
            trade_id: TradeId(self.detail[2]),
            fee: Amount(self.detail[3]),
        }
    }

    /// Sets the fill figures.
    pub fn set_fill(&mut self, fill: Fill) {
        self.detail = [fill.last_px.0, fill.last_qty.0, fill.trade_id.0, fill.fee.0];
    }

    /// The original ClOrdID (replaced, requested cancel, cancel/replace/query rejected).
    pub fn orig_client_order_id(&self) -> ClientOrderId {
        ClientOrderId(bytemuck::cast(self.detail))
    }

    /// Sets the original ClOrdID.
    pub fn set_orig_client_order_id(&mut self, id: ClientOrderId) {
        self.detail = bytemuck::cast(id.0);
    }

    /// The balance figures (funds events).
    pub fn balance(&self) -> Balance {
        Balance {
            amount: Amount(self.detail[0]),
            available: Amount(self.detail[1]),
            reserved: Amount(self.detail[2]),
        }
    }

    /// Sets the balance figures.
    pub fn set_balance(&mut self, balance: Balance) {
        self.detail = [balance.amount.0, balance.available.0, balance.reserved.0, 0];
    }

    /// The count (mass cancel report, account blocked: orders cancelled).
    pub fn count(&self) -> u64 {
        self.detail[0]
    }

    /// The average fill price in ticks (`cum_cost / cum_qty`), `None` before any fill.
    pub fn avg_price_ticks(&self) -> Option<f64> {
        (self.cum_qty.0 > 0).then(|| self.cum_cost as f64 / self.cum_qty.0 as f64)
    }

    /// The event's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }
}

/// Where the engine writes its events. Implemented for `Vec<Event>` and for any `FnMut(&Event)`.
pub trait EventSink {
    /// Receives one event; called in order, synchronously, from inside `Engine::process`.
    fn emit(&mut self, event: &Event);
}

impl EventSink for Vec<Event> {
    #[inline]
    fn emit(&mut self, event: &Event) {
        self.push(*event);
    }
}

impl<F: FnMut(&Event)> EventSink for F {
    #[inline]
    fn emit(&mut self, event: &Event) {
        self(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new reason must move [`REASON_COUNT`], or tables sized by it (`/metrics`) miss it.
    #[test]
    fn reason_count_covers_every_reason() {
        for byte in 0..=u8::MAX {
            if let Some(reason) = Reason::from_u8(byte) {
                assert!(
                    (reason as usize) < REASON_COUNT,
                    "{reason:?} past REASON_COUNT"
                );
                assert!(!reason.code().is_empty() || reason == Reason::None);
            }
        }
        assert!(Reason::from_u8(REASON_COUNT as u8 - 1).is_some());
    }
}
