//! The binary order-entry protocol's side of a session: logging on (and learning the symbol's
//! tick and lot sizes from its SymbolInfo), encoding the IOC orders, framing and decoding the
//! replies, and handing each order's reports to the ledger.

use std::io::Write;

use hayate::adapters::binary::codec::{Framing as BinaryFraming, frame as binary_frame};
use hayate::adapters::binary::messages::{
    CancelOnDisconnect, ClientMessage, Logon, NewOrder, ServerMessage,
};
use hayate::{ClientOrderId, EventKind, OrderType, Price, Qty, Side, SymbolId, TimeInForce};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::OrderSpec;
use super::driver::Ledger;
use super::gateways::Credentials;
use super::session::{MAX_MESSAGE, Session, Wire, parse_digits};

/// What a binary session's orders carry, in the symbol's units.
pub(super) struct BinaryWire {
    pub(super) symbol: SymbolId,
    pub(super) buy: Price,
    pub(super) sell: Price,
    pub(super) qty: Qty,
}

impl BinaryWire {
    /// Appends the IOC order whose ClOrdID is `id` to `out`: a buy at the buy price, a buy at
    /// the sell price (`cross`: it trades with the maker), or a sell at the sell price.
    #[inline]
    pub(super) fn encode_order(&self, id: &[u8], buy: bool, cross: bool, out: &mut Vec<u8>) {
        let mut cl_ord_id = ClientOrderId([0; 32]);
        cl_ord_id.0[..id.len()].copy_from_slice(id);
        let (side, price) = match (buy, cross) {
            (true, true) => (Side::Buy, self.sell),
            (true, false) => (Side::Buy, self.buy),
            (false, _) => (Side::Sell, self.sell),
        };
        let order = NewOrder::new(
            cl_ord_id,
            self.symbol,
            side,
            OrderType::Limit,
            TimeInForce::Ioc,
            price,
            self.qty,
        );
        ClientMessage::NewOrder(order).encode(out);
    }

    pub(super) fn encode_logout(out: &mut Vec<u8>) {
        ClientMessage::Logout.encode(out);
    }
}

impl Session {
    pub(super) fn binary_logon(
        &mut self,
        user: &Credentials,
        spec: &OrderSpec,
    ) -> Result<(), String> {
        // No cancels at disconnect: IOC orders leave nothing open, and the commands would only
        // blur the journal count the report checks.
        let logon = Logon::new(&user.username, &user.password, CancelOnDisconnect::None)
            .ok_or("a credential is longer than 32 bytes")?;
        ClientMessage::Logon(logon).encode(&mut self.out);
        self.stream
            .write_all(&self.out)
            .map_err(|e| format!("logon: {e}"))?;
        self.out.clear();
        let mut logged_on = false;
        loop {
            let len = self.read_message_blocking(binary_complete)?;
            let reply = match ServerMessage::decode(&self.inbound[..len]) {
                Ok(ServerMessage::LogonAck(_)) => {
                    logged_on = true;
                    None
                }
                Ok(ServerMessage::SymbolInfo(info)) if logged_on => {
                    if info.name() == Some(spec.symbol.as_str()) {
                        let (Some(tick), Some(lot)) = (info.tick_size(), info.lot_size()) else {
                            return Err("SymbolInfo without a readable tick or lot size".into());
                        };
                        Some((info.symbol, tick, lot))
                    } else {
                        None
                    }
                }
                Ok(ServerMessage::Reject { code, text, .. }) => {
                    return Err(format!("logon refused: {code:?}: {text}"));
                }
                Ok(_) => None,
                Err(e) => return Err(format!("an undecodable reply to the logon: {e}")),
            };
            self.consume(len);
            if let Some((symbol, tick, lot)) = reply {
                let units = |value: Decimal, size: Decimal, what: &str| {
                    whole_steps(value, size).ok_or_else(|| {
                        format!(
                            "{what} {value} is not a positive multiple of {size} on {}",
                            spec.symbol
                        )
                    })
                };
                self.wire = Wire::Binary(BinaryWire {
                    symbol,
                    buy: Price(units(spec.buy, tick, "--buy-price")?),
                    sell: Price(units(spec.sell, tick, "--sell-price")?),
                    qty: Qty(units(spec.qty, lot, "--qty")?),
                });
                return Ok(());
            }
        }
    }
}

/// Hands every whole message at the front of `inbound` to the ledger; returns the bytes used.
pub(super) fn handle_messages(
    inbound: &[u8],
    now: u64,
    session: usize,
    ledger: &mut Ledger,
) -> Result<usize, String> {
    let mut start = 0;
    while let Some(len) = binary_complete(&inbound[start..])? {
        on_binary(&inbound[start..start + len], now, session, ledger);
        start += len;
    }
    Ok(start)
}

/// The length of the binary message at the front of `buf`, if whole.
fn binary_complete(buf: &[u8]) -> Result<Option<usize>, String> {
    match binary_frame(buf, MAX_MESSAGE) {
        BinaryFraming::Complete { len } => Ok(Some(len)),
        BinaryFraming::Incomplete => Ok(None),
        BinaryFraming::Invalid { declared } => Err(format!(
            "the gateway sent a message declaring {declared} bytes"
        )),
    }
}

fn on_binary(message: &[u8], now: u64, session: usize, ledger: &mut Ledger) {
    match ServerMessage::decode(message) {
        Ok(ServerMessage::Report(report)) => {
            let event = report.event();
            let id = parse_digits(event.client_order_id.as_bytes());
            let first = report.index == 0
                && (event.kind == EventKind::Accepted as u8
                    || event.kind == EventKind::Rejected as u8);
            ledger.on_reply(now, id, session, first, event.kind, event.reason);
        }
        Ok(ServerMessage::Reject { code, text, .. }) => {
            ledger.on_protocol_reject(|| format!("{code:?}: {text}"));
        }
        Ok(_) => {}
        Err(_) => ledger.stats.garbled += 1,
    }
}

/// How many `size` steps make `value` exactly, if a positive whole number.
fn whole_steps(value: Decimal, size: Decimal) -> Option<u64> {
    if size <= Decimal::ZERO {
        return None;
    }
    let steps = value.checked_div(size)?;
    if !steps.fract().is_zero() {
        return None;
    }
    steps.to_u64().filter(|&n| n > 0)
}
