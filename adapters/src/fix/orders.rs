//! FIX application messages to engine commands, and engine events to FIX reports (BEHAVIOUR.md §6, §8).
//!
//! Inbound: NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G),
//! OrderStatusRequest (H) and OrderMassCancelRequest (q) become one [`Command`] each, for the
//! session's own account only. What the gateway can refuse without the engine (an unknown symbol, a
//! price off the tick, a foreign Account) is answered here and never reaches the journal.
//!
//! Outbound: every [`Event`] for the session's account becomes an ExecutionReport (8),
//! OrderCancelReject (9) or OrderMassCancelReport (r). ExecID is `<seq>-<index>` of the event on
//! the output ring, unique across restarts; reports the gateway makes itself use
//! `L<gateway start>-<n>`.

use rust_decimal::Decimal;

use hayate_core::command::{Command, NewOrder, OrderRef};
use hayate_core::engine::{EngineConfig, SymbolSpec};
use hayate_core::event::{Event, EventKind, OrderStatus, Reason};
use hayate_core::pipeline::Output;
use hayate_core::units::{
    AccountId, ClientOrderId, OrderId, OrderType, Price, Qty, SelfTradePrevention, Side, SymbolId,
    TimeInForce,
};

use super::codec::{Encoder, FieldList, parse_decimal};
use super::session::FixSession;

/// Tags of the application messages.
mod tag {
    pub const ACCOUNT: u32 = 1;
    pub const AVG_PX: u32 = 6;
    pub const CL_ORD_ID: u32 = 11;
    pub const COMMISSION: u32 = 12;
    pub const COMM_TYPE: u32 = 13;
    pub const CUM_QTY: u32 = 14;
    pub const EXEC_ID: u32 = 17;
    pub const EXEC_INST: u32 = 18;
    pub const LAST_PX: u32 = 31;
    pub const LAST_QTY: u32 = 32;
    pub const ORDER_ID: u32 = 37;
    pub const ORDER_QTY: u32 = 38;
    pub const ORD_STATUS: u32 = 39;
    pub const ORD_TYPE: u32 = 40;
    pub const ORIG_CL_ORD_ID: u32 = 41;
    pub const PRICE: u32 = 44;
    pub const SIDE: u32 = 54;
    pub const SYMBOL: u32 = 55;
    pub const TEXT: u32 = 58;
    pub const TIME_IN_FORCE: u32 = 59;
    pub const TRANSACT_TIME: u32 = 60;
    pub const CXL_REJ_REASON: u32 = 102;
    pub const ORD_REJ_REASON: u32 = 103;
    pub const EXEC_TYPE: u32 = 150;
    pub const LEAVES_QTY: u32 = 151;
    pub const CXL_REJ_RESPONSE_TO: u32 = 434;
    pub const MASS_CANCEL_REQUEST_TYPE: u32 = 530;
    pub const MASS_CANCEL_RESPONSE: u32 = 531;
    pub const MASS_CANCEL_REJECT_REASON: u32 = 532;
    pub const TOTAL_AFFECTED_ORDERS: u32 = 533;
    /// SecondaryExecID: on a fill, the trade's id (the same on both sides of the trade).
    pub const TRADE_ID: u32 = 527;
    pub const SELF_TRADE_TYPE: u32 = 7928;
}

/// What a refused request gets back, made by the gateway (the engine never saw it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// ExecutionReport Rejected of a NewOrderSingle, or of an OrderStatusRequest.
    Order {
        /// The reason (Text and OrdRejReason).
        reason: Reason,
        /// What exactly was wrong, appended to the reason code in Text.
        detail: &'static str,
    },
    /// OrderCancelReject of a cancel (`replace == false`) or a replace.
    CancelReplace {
        /// Cancel/replace.
        replace: bool,
        /// The reason (Text and CxlRejReason).
        reason: Reason,
        /// What exactly was wrong.
        detail: &'static str,
    },
    /// OrderMassCancelReport with MassCancelResponse 0 (rejected).
    MassCancel {
        /// The reason (Text).
        reason: Reason,
        /// What exactly was wrong.
        detail: &'static str,
    },
}

impl Refusal {
    /// The disk guard's refusal of `command` (`DISK_FULL`, BEHAVIOUR.md §10): an ExecutionReport
    /// Rejected for a new order, an OrderCancelReject for a replace; `None` for what the guard
    /// lets through (cancels, mass cancels, queries).
    pub fn disk_full(command: &Command) -> Option<Refusal> {
        // The engine's list of what such a refusal applies to, and its shape, decide.
        let event = hayate_core::engine::refusal(command, Reason::DiskFull)?;
        let reason = Reason::DiskFull;
        let detail = "free space on the journal's file system is below min_free_mb";
        Some(if event.event_kind() == Some(EventKind::ReplaceRejected) {
            Refusal::CancelReplace {
                replace: true,
                reason,
                detail,
            }
        } else {
            Refusal::Order { reason, detail }
        })
    }
}

/// Maps an application message (already valid against the dictionary) from a session trading
/// for `account` to the engine command it asks for.
pub fn to_command(
    fields: &FieldList,
    account: AccountId,
    engine: &EngineConfig,
) -> Result<Command, Refusal> {
    let order = |(reason, detail): Fault| Refusal::Order { reason, detail };
    let cancel_replace = |replace| {
        move |(reason, detail): Fault| Refusal::CancelReplace {
            replace,
            reason,
            detail,
        }
    };
    match fields.msg_type().unwrap_or_default() {
        b"D" => new_order(fields, account, engine).map_err(order),
        b"F" => cancel(fields, account).map_err(cancel_replace(false)),
        b"G" => replace(fields, account, engine).map_err(cancel_replace(true)),
        b"H" => status(fields, account).map_err(order),
        b"q" => mass_cancel(fields, account, engine)
            .map_err(|(reason, detail)| Refusal::MassCancel { reason, detail }),
        _ => Err(order((Reason::InvalidOrder, "not an order message"))),
    }
}

/// What is wrong with a request, before it becomes the answer its message type gets
/// ([`Refusal`]): the reason code and the detail appended to it in Text.
type Fault = (Reason, &'static str);

/// A ClOrdID-like field: 1 to 32 bytes (BEHAVIOUR.md §8).
fn client_order_id(fields: &FieldList, tag: u32) -> Option<ClientOrderId> {
    fields
        .get(tag)
        .filter(|v| !v.is_empty())
        .and_then(ClientOrderId::from_bytes)
}

/// The request's own ClOrdID (11).
fn request_id(fields: &FieldList) -> Result<ClientOrderId, Fault> {
    client_order_id(fields, tag::CL_ORD_ID)
        .ok_or((Reason::InvalidOrder, "ClOrdID must be 1 to 32 bytes"))
}

/// Account (1), when present, must be the session's (BEHAVIOUR.md §8).
fn own_account(fields: &FieldList, account: AccountId) -> Result<(), Fault> {
    match fields.get_str(tag::ACCOUNT) {
        Some(text) if text.parse::<u32>().ok() != Some(account.0) => {
            Err((Reason::UnknownAccount, "Account is not the session's"))
        }
        _ => Ok(()),
    }
}

fn symbol<'a>(
    fields: &FieldList,
    engine: &'a EngineConfig,
) -> Result<(SymbolId, &'a SymbolSpec), Fault> {
    let unknown = (Reason::UnknownSymbol, "unknown Symbol");
    let id = fields
        .get_str(tag::SYMBOL)
        .and_then(|name| engine.symbol_id(name))
        .ok_or(unknown)?;
    Ok((id, engine.symbol(id).ok_or(unknown)?))
}

fn decimal(fields: &FieldList, tag: u32) -> Option<Decimal> {
    fields.get(tag).and_then(parse_decimal)
}

/// OrderQty (38) in lots. A quantity that is not a positive whole number of lots becomes 0,
/// which the engine refuses `INVALID_QTY` at its place in the order of checks (BEHAVIOUR.md §3),
/// so a halted symbol or an unknown order is named first, whoever spots which fault.
fn quantity(fields: &FieldList, spec: &SymbolSpec) -> Qty {
    decimal(fields, tag::ORDER_QTY)
        .and_then(|q| spec.qty_from_decimal(q))
        .unwrap_or(Qty(0))
}

/// Price (44) in ticks; an off-tick or non-positive price becomes 0, refused `INVALID_PRICE` by
/// the engine in its order of checks (see [`quantity`]).
fn limit_price(fields: &FieldList, spec: &SymbolSpec) -> Price {
    decimal(fields, tag::PRICE)
        .and_then(|p| spec.price_from_decimal(p))
        .unwrap_or(Price(0))
}

fn new_order(
    fields: &FieldList,
    account: AccountId,
    engine: &EngineConfig,
) -> Result<Command, Fault> {
    // The gateway's own checks follow the engine's order (BEHAVIOUR.md §3): values that are
    // not defined (row 0), the symbol (1), the account (2); price and quantity go to the engine.
    let id = request_id(fields)?;
    let side = match fields.get(tag::SIDE) {
        Some(b"1") => Side::Buy,
        Some(b"2") => Side::Sell,
        _ => return Err((Reason::InvalidOrder, "Side must be 1 (buy) or 2 (sell)")),
    };
    let order_type = match fields.get(tag::ORD_TYPE) {
        Some(b"1") => OrderType::Market,
        Some(b"2") => OrderType::Limit,
        _ => {
            return Err((
                Reason::InvalidOrder,
                "OrdType must be 1 (market) or 2 (limit)",
            ));
        }
    };
    let time_in_force = match fields.get(tag::TIME_IN_FORCE) {
        None | Some(b"1") => TimeInForce::Gtc,
        Some(b"3") => TimeInForce::Ioc,
        Some(b"4") => TimeInForce::Fok,
        Some(_) => {
            return Err((
                Reason::InvalidOrder,
                "TimeInForce must be 1 (GTC), 3 (IOC) or 4 (FOK)",
            ));
        }
    };
    let mut post_only = false;
    if let Some(list) = fields.get(tag::EXEC_INST) {
        for inst in list.split(|b| *b == b' ') {
            match inst {
                b"6" | b"A" => post_only = true,
                _ => {
                    return Err((
                        Reason::InvalidOrder,
                        "ExecInst supports only 6 or A (post-only)",
                    ));
                }
            }
        }
    }
    let stp = match fields.get(tag::SELF_TRADE_TYPE) {
        None | Some(b"D") => SelfTradePrevention::DecrementCancel,
        Some(b"O") => SelfTradePrevention::CancelOldest,
        Some(b"N") => SelfTradePrevention::CancelNewest,
        Some(b"B") => SelfTradePrevention::CancelBoth,
        Some(_) => {
            return Err((Reason::InvalidOrder, "SelfTradeType must be D, O, N or B"));
        }
    };
    let (symbol_id, spec) = symbol(fields, engine)?;
    own_account(fields, account)?;
    let qty = quantity(fields, spec);
    let price = match order_type {
        OrderType::Market => Price(0),
        OrderType::Limit => limit_price(fields, spec),
    };
    Ok(Command::new_order(NewOrder {
        account,
        symbol: symbol_id,
        side,
        order_type,
        time_in_force,
        price,
        qty,
        post_only,
        stp,
        client_order_id: id,
    }))
}

/// The target of a cancel or replace: OrigClOrdID (41) and, when given, OrderID (37), which
/// must then name the same order (the engine checks). An OrderID that is not a number names no
/// order of this account.
fn target(fields: &FieldList) -> Result<OrderRef, Fault> {
    let no_order = (
        Reason::UnknownOrder,
        "OrigClOrdID or OrderID names no order",
    );
    let orig = client_order_id(fields, tag::ORIG_CL_ORD_ID).ok_or(no_order)?;
    match fields.get_str(tag::ORDER_ID) {
        None => Ok(OrderRef::Client(orig)),
        Some(text) => {
            let id = text.parse::<u64>().map_err(|_| no_order)?;
            Ok(OrderRef::Both(OrderId(id), orig))
        }
    }
}

fn cancel(fields: &FieldList, account: AccountId) -> Result<Command, Fault> {
    let id = request_id(fields)?;
    own_account(fields, account)?;
    Ok(Command::cancel(account, target(fields)?, id))
}

fn replace(
    fields: &FieldList,
    account: AccountId,
    engine: &EngineConfig,
) -> Result<Command, Fault> {
    let id = request_id(fields)?;
    own_account(fields, account)?;
    if fields.get(tag::ORD_TYPE) != Some(b"2".as_slice()) {
        return Err((
            Reason::InvalidOrder,
            "only limit orders (OrdType 2) can be replaced",
        ));
    }
    let target = target(fields)?;
    // The Symbol names the order's symbol, and its tick and lot convert the price and quantity:
    // the engine checks it is the target's (else UNKNOWN_ORDER, as for any order not found
    // where the request says). A Symbol we do not list can be no order's.
    let (symbol_id, price, qty) = match symbol(fields, engine) {
        Ok((symbol_id, spec)) => (symbol_id, limit_price(fields, spec), quantity(fields, spec)),
        Err(_) => (SymbolId(u16::MAX), Price(0), Qty(0)),
    };
    Ok(Command::replace(account, target, id, price, qty).in_symbol(symbol_id))
}

fn status(fields: &FieldList, account: AccountId) -> Result<Command, Fault> {
    let id = request_id(fields)?;
    own_account(fields, account)?;
    // OrderStatusRequest has no OrigClOrdID: its ClOrdID names the order, OrderID optionally.
    let target = match fields.get_str(tag::ORDER_ID) {
        None => OrderRef::Client(id),
        Some(text) => {
            let order_id = text
                .parse::<u64>()
                .map_err(|_| (Reason::UnknownOrder, "OrderID names no order"))?;
            OrderRef::Both(OrderId(order_id), id)
        }
    };
    Ok(Command::query_order(account, target, id))
}

fn mass_cancel(
    fields: &FieldList,
    account: AccountId,
    engine: &EngineConfig,
) -> Result<Command, Fault> {
    let id = request_id(fields)?;
    match fields.get(tag::MASS_CANCEL_REQUEST_TYPE) {
        Some(b"7") => Ok(Command::mass_cancel(account, None, id)),
        Some(b"1") => {
            let (symbol_id, _) = symbol(fields, engine)?;
            Ok(Command::mass_cancel(account, Some(symbol_id), id))
        }
        _ => Err((
            Reason::InvalidOrder,
            "MassCancelRequestType must be 1 (symbol) or 7 (all)",
        )),
    }
}

/// OrdRejReason (103) for a reason code (BEHAVIOUR.md §8).
pub fn ord_rej_reason(reason: Reason) -> u64 {
    match reason {
        Reason::UnknownSymbol => 1,
        Reason::Halted => 2,
        Reason::InsufficientFunds | Reason::TooManyOrders => 3,
        Reason::DuplicateOrder => 6,
        Reason::InvalidOrder => 11,
        Reason::InvalidQty => 13,
        Reason::UnknownAccount => 15,
        // BEHAVIOUR.md §10: the protections have no FIX code of their own; Text names them.
        Reason::AccountBlocked
        | Reason::NotionalLimit
        | Reason::CircuitBreaker
        | Reason::DiskFull => 99,
        _ => 99,
    }
}

/// Writes a decimal field from a `rust_decimal` value without allocating.
fn field_decimal(e: &mut Encoder, tag: u32, value: Decimal) {
    e.field_decimal(tag, value.mantissa(), value.scale());
}

/// Writes the ExecID of an event: `<seq>-<index>`.
fn exec_id(e: &mut Encoder, seq: u64, index: u32) {
    let mut buf = [0u8; 41];
    let len = write_pair(&mut buf, seq, u64::from(index));
    e.field(tag::EXEC_ID, &buf[..len]);
}

/// Writes "a-b" into `buf` (enough for two u64s), returning the length.
fn write_pair(buf: &mut [u8; 41], a: u64, b: u64) -> usize {
    let mut digits = itoa::Buffer::new();
    let mut len = 0;
    for (i, part) in [a, b].into_iter().enumerate() {
        if i > 0 {
            buf[len] = b'-';
            len += 1;
        }
        let text = digits.format(part).as_bytes();
        buf[len..len + text.len()].copy_from_slice(text);
        len += text.len();
    }
    len
}

/// Writes one engine event to `session` as the FIX message BEHAVIOUR.md §6 prescribes. Events that are
/// not for a trading session (funds, halts) are skipped; returns whether something was sent.
pub fn write_report(
    session: &mut FixSession,
    out: &Output,
    engine: &EngineConfig,
    now_ns: u64,
) -> bool {
    let event = &out.event;
    let Some(kind) = event.event_kind() else {
        return false;
    };
    let spec = engine.symbol(event.symbol);
    match kind {
        EventKind::Accepted
        | EventKind::Rejected
        | EventKind::Fill
        | EventKind::Canceled
        | EventKind::Replaced
        | EventKind::Restated
        | EventKind::OrderStatus
        | EventKind::QueryRejected => {
            session.send(b"8", now_ns, |e| {
                execution_report(e, out, kind, spec, engine);
            });
            true
        }
        EventKind::CancelRejected | EventKind::ReplaceRejected => {
            session.send(b"9", now_ns, |e| {
                if event.order_id.0 == 0 {
                    e.field(tag::ORDER_ID, b"NONE");
                } else {
                    e.field_u64(tag::ORDER_ID, event.order_id.0);
                }
                e.field(tag::CL_ORD_ID, or_none(event.client_order_id.as_bytes()));
                e.field(
                    tag::ORIG_CL_ORD_ID,
                    or_none(event.orig_client_order_id().as_bytes()),
                );
                e.field_char(tag::ORD_STATUS, ord_status_char(event));
                e.field_char(
                    tag::CXL_REJ_RESPONSE_TO,
                    if kind == EventKind::CancelRejected {
                        b'1'
                    } else {
                        b'2'
                    },
                );
                e.field_u64(
                    tag::CXL_REJ_REASON,
                    if event.reason() == Reason::UnknownOrder {
                        1
                    } else {
                        99
                    },
                );
                e.field(tag::TEXT, event.reason().code().as_bytes());
            });
            true
        }
        EventKind::MassCanceled | EventKind::MassCancelRejected => {
            let all = event.flags & hayate_core::event::EVENT_FLAG_ALL_SYMBOLS != 0;
            session.send(b"r", now_ns, |e| {
                e.field(tag::CL_ORD_ID, or_none(event.client_order_id.as_bytes()));
                let mut buf = [0u8; 41];
                let len = write_pair(&mut buf, out.seq, u64::from(out.index));
                e.field(tag::ORDER_ID, &buf[..len]);
                let request_type = if all { b'7' } else { b'1' };
                e.field_char(tag::MASS_CANCEL_REQUEST_TYPE, request_type);
                if kind == EventKind::MassCanceled {
                    e.field_char(tag::MASS_CANCEL_RESPONSE, request_type);
                    e.field_u64(tag::TOTAL_AFFECTED_ORDERS, event.count());
                } else {
                    e.field_char(tag::MASS_CANCEL_RESPONSE, b'0');
                    let reject_reason = match event.reason() {
                        Reason::UnknownSymbol => 1,
                        _ => 99,
                    };
                    e.field_u64(tag::MASS_CANCEL_REJECT_REASON, reject_reason);
                    e.field(tag::TEXT, event.reason().code().as_bytes());
                }
                if let (false, Some(spec)) = (all, spec) {
                    e.field(tag::SYMBOL, spec.name.as_bytes());
                }
                e.field_timestamp(tag::TRANSACT_TIME, out.timestamp_ns);
            });
            true
        }
        _ => false,
    }
}

/// FIX has no empty values: an id the engine left empty (an exchange-initiated cancel has no
/// request id) is written `NONE`.
fn or_none(id: &[u8]) -> &[u8] {
    if id.is_empty() { b"NONE" } else { id }
}

fn ord_status_char(event: &Event) -> u8 {
    match event.status() {
        Some(OrderStatus::New) => b'0',
        Some(OrderStatus::PartiallyFilled) => b'1',
        Some(OrderStatus::Filled) => b'2',
        Some(OrderStatus::Canceled) => b'4',
        Some(OrderStatus::Rejected) | None => b'8',
    }
}

fn execution_report(
    e: &mut Encoder,
    out: &Output,
    kind: EventKind,
    spec: Option<&SymbolSpec>,
    engine: &EngineConfig,
) {
    let event = &out.event;
    if event.order_id.0 == 0 {
        e.field(tag::ORDER_ID, b"NONE");
    } else {
        e.field_u64(tag::ORDER_ID, event.order_id.0);
    }
    e.field(tag::CL_ORD_ID, or_none(event.client_order_id.as_bytes()));
    let orig = match kind {
        EventKind::Replaced => Some(event.orig_client_order_id()),
        // A requested cancel carries the request's ClOrdID; the order's is the original.
        EventKind::Canceled if !event.orig_client_order_id().is_empty() => {
            Some(event.orig_client_order_id())
        }
        _ => None,
    };
    if let Some(orig) = orig.filter(|o| o.is_well_formed()) {
        e.field(tag::ORIG_CL_ORD_ID, orig.as_bytes());
    }
    exec_id(e, out.seq, out.index);
    let exec_type = match kind {
        EventKind::Accepted => b'0',
        EventKind::Rejected => b'8',
        EventKind::Fill => b'F',
        EventKind::Canceled => b'4',
        EventKind::Replaced => b'5',
        EventKind::Restated => b'D',
        _ => b'I',
    };
    e.field_char(tag::EXEC_TYPE, exec_type);
    e.field_char(tag::ORD_STATUS, ord_status_char(event));
    if let Some(spec) = spec {
        e.field(tag::SYMBOL, spec.name.as_bytes());
    }
    if let Some(side) = event.side() {
        e.field_char(tag::SIDE, if side == Side::Buy { b'1' } else { b'2' });
    }
    if let Some(spec) = spec {
        field_decimal(e, tag::ORDER_QTY, spec.qty_to_decimal(event.order_qty));
        if event.price.0 != 0 {
            field_decimal(e, tag::PRICE, spec.price_to_decimal(event.price));
        }
        if kind == EventKind::Fill {
            let fill = event.fill();
            field_decimal(e, tag::LAST_QTY, spec.qty_to_decimal(fill.last_qty));
            field_decimal(e, tag::LAST_PX, spec.price_to_decimal(fill.last_px));
            e.field_u64(tag::TRADE_ID, fill.trade_id.0);
            // The fee, in the quote asset (CommType 3: absolute).
            if let Some(quote) = engine.asset(spec.quote) {
                field_decimal(e, tag::COMMISSION, quote.amount_to_decimal(fill.fee));
                e.field_char(tag::COMM_TYPE, b'3');
            }
        }
        field_decimal(e, tag::LEAVES_QTY, spec.qty_to_decimal(event.leaves_qty));
        field_decimal(e, tag::CUM_QTY, spec.qty_to_decimal(event.cum_qty));
        field_decimal(e, tag::AVG_PX, avg_px(spec, event));
    } else {
        e.field(tag::LEAVES_QTY, b"0");
        e.field(tag::CUM_QTY, b"0");
        e.field(tag::AVG_PX, b"0");
    }
    if kind == EventKind::Rejected {
        e.field_u64(tag::ORD_REJ_REASON, ord_rej_reason(event.reason()));
    }
    let reason = event.reason();
    if reason != Reason::None {
        e.field(tag::TEXT, reason.code().as_bytes());
    }
    e.field_timestamp(tag::TRANSACT_TIME, out.timestamp_ns);
}

/// AvgPx: Σ price × qty / Σ qty, in price units (0 before any fill).
fn avg_px(spec: &SymbolSpec, event: &Event) -> Decimal {
    if event.cum_qty.0 == 0 {
        return Decimal::ZERO;
    }
    let ticks = Decimal::from(event.cum_cost) / Decimal::from(event.cum_qty.0);
    (ticks * spec.tick_size)
        .round_dp(spec.tick_size.scale() + 8)
        .normalize()
}

/// Writes a gateway-made refusal (see [`Refusal`]) of the message in `fields`; `exec_id` is the
/// gateway's own unique id for it.
pub fn write_refusal(
    session: &mut FixSession,
    refusal: &Refusal,
    request: &RequestIds,
    exec_id: &[u8],
    now_ns: u64,
) {
    match refusal {
        Refusal::Order { reason, detail } => session.send(b"8", now_ns, |e| {
            e.field(tag::ORDER_ID, b"NONE");
            e.field(tag::CL_ORD_ID, or_none(&request.cl_ord_id));
            e.field(tag::EXEC_ID, exec_id);
            e.field_char(tag::EXEC_TYPE, if request.is_status { b'I' } else { b'8' });
            e.field_char(tag::ORD_STATUS, b'8');
            if !request.symbol.is_empty() {
                e.field(tag::SYMBOL, &request.symbol);
            }
            if !request.side.is_empty() {
                e.field(tag::SIDE, &request.side);
            }
            e.field(tag::LEAVES_QTY, b"0");
            e.field(tag::CUM_QTY, b"0");
            e.field(tag::AVG_PX, b"0");
            e.field_u64(tag::ORD_REJ_REASON, ord_rej_reason(*reason));
            e.field(tag::TEXT, text(*reason, detail).as_bytes());
            e.field_timestamp(tag::TRANSACT_TIME, now_ns);
        }),
        Refusal::CancelReplace {
            replace,
            reason,
            detail,
        } => session.send(b"9", now_ns, |e| {
            e.field(tag::ORDER_ID, b"NONE");
            e.field(tag::CL_ORD_ID, or_none(&request.cl_ord_id));
            e.field(tag::ORIG_CL_ORD_ID, or_none(&request.orig_cl_ord_id));
            e.field_char(tag::ORD_STATUS, b'8');
            e.field_char(tag::CXL_REJ_RESPONSE_TO, if *replace { b'2' } else { b'1' });
            e.field_u64(
                tag::CXL_REJ_REASON,
                if *reason == Reason::UnknownOrder {
                    1
                } else {
                    99
                },
            );
            e.field(tag::TEXT, text(*reason, detail).as_bytes());
        }),
        Refusal::MassCancel { reason, detail } => session.send(b"r", now_ns, |e| {
            e.field(tag::CL_ORD_ID, or_none(&request.cl_ord_id));
            e.field(tag::ORDER_ID, b"NONE");
            let request_type = request.mass_cancel_type.unwrap_or(b'7');
            e.field_char(tag::MASS_CANCEL_REQUEST_TYPE, request_type);
            e.field_char(tag::MASS_CANCEL_RESPONSE, b'0');
            let reject_reason = if *reason == Reason::UnknownSymbol {
                1
            } else {
                99
            };
            e.field_u64(tag::MASS_CANCEL_REJECT_REASON, reject_reason);
            e.field(tag::TEXT, text(*reason, detail).as_bytes());
        }),
    }
}

fn text(reason: Reason, detail: &str) -> String {
    format!("{}: {detail}", reason.code())
}

/// The identifying fields of a request, copied out of the parsed message so the session can
/// write the answer.
#[derive(Debug, Default, Clone)]
pub struct RequestIds {
    /// ClOrdID (11), as sent.
    pub cl_ord_id: Vec<u8>,
    /// OrigClOrdID (41), as sent.
    pub orig_cl_ord_id: Vec<u8>,
    /// Symbol (55), as sent.
    pub symbol: Vec<u8>,
    /// Side (54), as sent.
    pub side: Vec<u8>,
    /// MassCancelRequestType (530).
    pub mass_cancel_type: Option<u8>,
    /// The request is an OrderStatusRequest (answered ExecType I).
    pub is_status: bool,
}

impl RequestIds {
    /// Copies the ids of the request in `fields`.
    pub fn of(fields: &FieldList) -> RequestIds {
        let copy = |tag| fields.get(tag).map(<[u8]>::to_vec).unwrap_or_default();
        RequestIds {
            cl_ord_id: copy(tag::CL_ORD_ID),
            orig_cl_ord_id: copy(tag::ORIG_CL_ORD_ID),
            symbol: copy(tag::SYMBOL),
            side: copy(tag::SIDE),
            mass_cancel_type: fields
                .get(tag::MASS_CANCEL_REQUEST_TYPE)
                .and_then(|v| v.first().copied()),
            is_status: fields.msg_type() == Some(b"H".as_slice()),
        }
    }
}

/// A decimal quantity in lots, for the tests.
#[cfg(test)]
fn lots(spec: &SymbolSpec, qty: &str) -> Option<Qty> {
    spec.qty_from_decimal(qty.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExchangeConfig;

    #[test]
    fn exec_ids_are_seq_dash_index() {
        let mut buf = [0u8; 41];
        let len = write_pair(&mut buf, 18_446_744_073_709_551_615, 7);
        assert_eq!(&buf[..len], b"18446744073709551615-7");
        let len = write_pair(&mut buf, 0, 0);
        assert_eq!(&buf[..len], b"0-0");
    }

    #[test]
    fn ord_rej_reasons_follow_spec_8() {
        assert_eq!(ord_rej_reason(Reason::UnknownSymbol), 1);
        assert_eq!(ord_rej_reason(Reason::Halted), 2);
        assert_eq!(ord_rej_reason(Reason::InsufficientFunds), 3);
        assert_eq!(ord_rej_reason(Reason::TooManyOrders), 3);
        assert_eq!(ord_rej_reason(Reason::DuplicateOrder), 6);
        assert_eq!(ord_rej_reason(Reason::InvalidOrder), 11);
        assert_eq!(ord_rej_reason(Reason::InvalidQty), 13);
        assert_eq!(ord_rej_reason(Reason::UnknownAccount), 15);
        assert_eq!(ord_rej_reason(Reason::PriceBand), 99);
        assert_eq!(ord_rej_reason(Reason::AccountBlocked), 99);
        assert_eq!(ord_rej_reason(Reason::NotionalLimit), 99);
        assert_eq!(ord_rej_reason(Reason::CircuitBreaker), 99);
        assert_eq!(Reason::CircuitBreaker.code(), "CIRCUIT_BREAKER");
        assert_eq!(ord_rej_reason(Reason::DiskFull), 99);
        assert_eq!(Reason::DiskFull.code(), "DISK_FULL");
    }

    #[test]
    fn avg_px_is_cost_over_quantity_in_price_units() {
        let config = ExchangeConfig::demo();
        let spec = config.engine_config().symbol(SymbolId(0)).expect("symbol");
        let mut event = Event::new(EventKind::Fill);
        event.cum_qty = lots(spec, "0.0003").expect("lots");
        event.cum_cost = 5_000_000 * 2 + 5_000_003;
        let avg = avg_px(spec, &event);
        let expected = (Decimal::from(15_000_003u64) / Decimal::from(3u64)) * spec.tick_size;
        assert_eq!(
            avg,
            expected.round_dp(spec.tick_size.scale() + 8).normalize()
        );
    }
}
