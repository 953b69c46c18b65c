//! FIX 4.4 market data (BEHAVIOUR.md §9): MarketDataRequest (V) in; MarketDataSnapshotFullRefresh (W),
//! MarketDataIncrementalRefresh (X), SecurityStatus (f) and MarketDataRequestReject (Y) out.
//!
//! [`FixMarketData`] holds every FIX session's subscriptions. For each update of the builder it
//! encodes the entries once per parameter set (depth, entry types, update type) and hands the
//! gateway one body per subscriber, which differs from the others only by its MDReqID; the
//! session adds its header (sequence number, times) and trailer.
//!
//! FIX 4.4 as the data dictionary defines it has no field for a market-data sequence in W or X
//! (RptSeq came later), so FIX subscribers rely on the session's own MsgSeqNum for gaps; the
//! WebSocket feed and `/book` carry the symbol's sequence.

use std::ops::Range;

use rust_decimal::Decimal;

use hayate_core::EngineConfig;
use hayate_core::market_data::{MarketData, TradingStatus, Update, ViewAction, ViewChange};
use hayate_core::units::{Price, Qty, Side, SymbolId};

use super::codec::{Encoder, FieldList, format_utc_timestamp};
use super::session::FixSession;

/// Identifies a FIX session in the gateway: (connection index, connection id never reused).
pub type SessionKey = (usize, u64);

/// The deepest book a request may ask for per side (MarketDepth); deeper is refused with reason
/// 5. 0 asks for the whole book.
pub const MAX_DEPTH: u64 = 1000;
/// Longest MDReqID kept (a longer one is refused: it is echoed in every message).
pub const MAX_REQ_ID: usize = 64;
/// Live subscriptions one session may hold. Every update walks the subscriptions, so a client
/// that subscribed without end would slow every subscriber's feed and grow memory; past this it is
/// refused with reason 2 (insufficient bandwidth).
pub const MAX_SUBSCRIPTIONS_PER_SESSION: usize = 256;

/// MDReqRejReason (281) values we send.
pub mod reject_reason {
    /// Unknown symbol.
    pub const UNKNOWN_SYMBOL: u8 = b'0';
    /// Duplicate MDReqID.
    pub const DUPLICATE_MD_REQ_ID: u8 = b'1';
    /// Insufficient bandwidth: the session holds [`super::MAX_SUBSCRIPTIONS_PER_SESSION`].
    pub const INSUFFICIENT_BANDWIDTH: u8 = b'2';
    /// Unsupported SubscriptionRequestType (only 0, 1 and 2).
    pub const UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE: u8 = b'4';
    /// Unsupported MarketDepth.
    pub const UNSUPPORTED_MARKET_DEPTH: u8 = b'5';
    /// Unsupported MDUpdateType (only 0 full refresh and 1 incremental).
    pub const UNSUPPORTED_MD_UPDATE_TYPE: u8 = b'6';
    /// Unsupported AggregatedBook (only aggregated books are published).
    pub const UNSUPPORTED_AGGREGATED_BOOK: u8 = b'7';
    /// Unsupported MDEntryType (only bids, offers and trades).
    pub const UNSUPPORTED_MD_ENTRY_TYPE: u8 = b'8';
}

/// What a subscription asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Params {
    /// Levels per side; 0 = the whole book.
    depth: usize,
    bids: bool,
    offers: bool,
    trades: bool,
    /// MDUpdateType 0: a W after every change instead of X.
    full_refresh: bool,
}

#[derive(Debug)]
struct Subscription {
    key: SessionKey,
    id: String,
    symbols: Vec<SymbolId>,
    params: Params,
}

/// A refused request: what the MarketDataRequestReject says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdRefusal {
    /// The request's MDReqID (or `NONE`).
    pub md_req_id: String,
    /// MDReqRejReason (281).
    pub reason: u8,
    /// Text (58).
    pub text: String,
}

/// One message for one subscriber, from [`FixMarketData::on_update`]. Copy: the gateway drains
/// the sends while it borrows the bodies from the [`FixMarketData`] that owns them.
#[derive(Clone, Copy, Debug)]
pub struct FixMdSend {
    /// The session it goes to.
    pub key: SessionKey,
    /// `b'X'`, `b'W'` or `b'f'`.
    pub msg_type: u8,
    /// The body's range in `FixMarketData::bodies` (start, end).
    body: (usize, usize),
}

/// A parsed, accepted MarketDataRequest.
#[derive(Debug)]
enum Request {
    Subscribe {
        id: String,
        symbols: Vec<SymbolId>,
        params: Params,
        snapshot_only: bool,
    },
    Unsubscribe {
        id: String,
    },
}

/// Every FIX session's market-data subscriptions, and the buffers the messages are encoded into.
#[derive(Debug, Default)]
pub struct FixMarketData {
    subscriptions: Vec<Subscription>,
    /// Per update: each parameter set's entry block, encoded once.
    blocks: Vec<(Params, Range<usize>)>,
    block_bytes: Vec<u8>,
    /// The bodies of the sends of the last update.
    bodies: Vec<u8>,
    scratch: Encoder,
    changes: Vec<ViewChange>,
    encodes: u64,
}

impl FixMarketData {
    /// No subscriptions.
    pub fn new() -> FixMarketData {
        FixMarketData::default()
    }

    /// A MarketDataRequest (V) from `key`, whose fields are `fields` (already held to the data
    /// dictionary by the session layer). Writes the answers to `session` at once: one W per
    /// symbol for 263 = 0 or 1 (1 also subscribes), nothing for an unsubscribe, or a
    /// MarketDataRequestReject (Y). Returns the MDReqRejReason when refused.
    pub fn on_request(
        &mut self,
        key: SessionKey,
        fields: &FieldList,
        market: &MarketData,
        engine: &EngineConfig,
        session: &mut FixSession,
        now_ns: u64,
    ) -> Option<u8> {
        let request = parse_request(fields, engine).and_then(|request| match request {
            Request::Subscribe { ref id, .. }
                if self
                    .subscriptions
                    .iter()
                    .any(|s| s.key == key && s.id == *id) =>
            {
                Err(MdRefusal {
                    md_req_id: id.clone(),
                    reason: reject_reason::DUPLICATE_MD_REQ_ID,
                    text: "MDReqID is already subscribed on this session".to_owned(),
                })
            }
            Request::Subscribe {
                ref id,
                snapshot_only: false,
                ..
            } if self.subscriptions.iter().filter(|s| s.key == key).count()
                >= MAX_SUBSCRIPTIONS_PER_SESSION =>
            {
                Err(MdRefusal {
                    md_req_id: id.clone(),
                    reason: reject_reason::INSUFFICIENT_BANDWIDTH,
                    text: format!(
                        "at most {MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions per session"
                    ),
                })
            }
            request => Ok(request),
        });
        match request {
            Err(refusal) => {
                write_reject(session, &refusal, now_ns);
                Some(refusal.reason)
            }
            Ok(Request::Unsubscribe { id }) => {
                self.subscriptions.retain(|s| !(s.key == key && s.id == id));
                None
            }
            Ok(Request::Subscribe {
                id,
                symbols,
                params,
                snapshot_only,
            }) => {
                for &symbol in &symbols {
                    self.scratch.start_fragment();
                    self.encode_snapshot(market, engine, symbol, params);
                    let block = &self.scratch.fragment();
                    session.send(b"W", now_ns, |e| {
                        e.field(262, id.as_bytes());
                        e.raw(block);
                    });
                }
                if !snapshot_only {
                    self.subscriptions.push(Subscription {
                        key,
                        id,
                        symbols,
                        params,
                    });
                }
                None
            }
        }
    }

    /// One update from the builder: appends to `sends` what each subscribed session gets — an X
    /// with the entries of its view (or a W for MDUpdateType 0), and an f when the symbol's
    /// status changed. Entry blocks are encoded once per parameter set and copied per
    /// subscriber behind its MDReqID. Reuses its buffers: no allocation in steady state.
    pub fn on_update(
        &mut self,
        update: &Update,
        market: &MarketData,
        engine: &EngineConfig,
        sends: &mut Vec<FixMdSend>,
    ) {
        self.blocks.clear();
        self.block_bytes.clear();
        let Some(spec_name) = engine.symbol(update.symbol).map(|s| s.name.as_str()) else {
            return;
        };
        for n in 0..self.subscriptions.len() {
            let (key, params) = {
                let sub = &self.subscriptions[n];
                if !sub.symbols.contains(&update.symbol) {
                    continue;
                }
                (sub.key, sub.params)
            };
            if let Some(status) = update.status {
                let start = self.bodies.len();
                self.scratch.start_fragment();
                self.scratch.field(324, self.subscriptions[n].id.as_bytes());
                self.scratch.field(55, spec_name.as_bytes());
                let code: &[u8] = match status {
                    TradingStatus::Halted => b"2",
                    TradingStatus::Open => b"3",
                };
                self.scratch.field(326, code);
                self.bodies.extend_from_slice(self.scratch.fragment());
                sends.push(FixMdSend {
                    key,
                    msg_type: b'f',
                    body: (start, self.bodies.len()),
                });
            }
            let block = match self.blocks.iter().find(|(p, _)| *p == params) {
                Some((_, range)) => range.clone(),
                None => {
                    let range = self.encode_block(update, market, engine, params);
                    self.blocks.push((params, range.clone()));
                    range
                }
            };
            if block.is_empty() {
                continue;
            }
            let start = self.bodies.len();
            self.scratch.start_fragment();
            self.scratch.field(262, self.subscriptions[n].id.as_bytes());
            self.bodies.extend_from_slice(self.scratch.fragment());
            self.bodies.extend_from_slice(&self.block_bytes[block]);
            sends.push(FixMdSend {
                key,
                msg_type: if params.full_refresh { b'W' } else { b'X' },
                body: (start, self.bodies.len()),
            });
        }
    }

    /// The body of one send (everything after the standard header, before the trailer).
    pub fn body(&self, send: &FixMdSend) -> &[u8] {
        self.bodies
            .get(send.body.0..send.body.1)
            .unwrap_or_default()
    }

    /// Forgets the bodies of the sends handed out so far (they have been written): one command
    /// may make updates of several symbols, whose sends accumulate until then.
    pub fn sent(&mut self) {
        self.bodies.clear();
    }

    /// Forgets a closed session's subscriptions.
    pub fn drop_session(&mut self, key: SessionKey) {
        self.subscriptions.retain(|s| s.key != key);
    }

    /// Live subscriptions (for /metrics).
    pub fn subscriptions(&self) -> usize {
        self.subscriptions.len()
    }

    /// Entry blocks encoded so far: one per update and parameter set, however many subscribers
    /// share it.
    pub fn encodes(&self) -> u64 {
        self.encodes
    }

    /// Encodes the entries `params` asks for of `update` into `block_bytes`; an empty range
    /// when the subscriber's view did not change.
    fn encode_block(
        &mut self,
        update: &Update,
        market: &MarketData,
        engine: &EngineConfig,
        params: Params,
    ) -> Range<usize> {
        let start = self.block_bytes.len();
        let Some(spec) = engine.symbol(update.symbol) else {
            return start..start;
        };
        self.changes.clear();
        for (side, wanted) in [(Side::Buy, params.bids), (Side::Sell, params.offers)] {
            if wanted {
                market.view_changes(update, side, params.depth, &mut self.changes);
            }
        }
        let trades = if params.trades {
            update.trades.len()
        } else {
            0
        };
        if self.changes.is_empty() && trades == 0 {
            return start..start;
        }
        self.encodes += 1;
        self.scratch.start_fragment();
        if params.full_refresh {
            self.encode_snapshot(market, engine, update.symbol, params);
        } else {
            let e = &mut self.scratch;
            e.field_u64(268, (self.changes.len() + trades) as u64);
            for change in &self.changes {
                let action = match change.action {
                    ViewAction::New => b'0',
                    ViewAction::Change => b'1',
                    ViewAction::Delete => b'2',
                };
                e.field_char(279, action);
                e.field_char(269, entry_type(change.side));
                e.field(55, spec.name.as_bytes());
                price_field(e, 270, change.price, spec.tick_size);
                if change.action != ViewAction::Delete {
                    qty_field(e, 271, change.level.qty, spec.lot_size);
                    e.field_u64(346, u64::from(change.level.orders));
                }
            }
            if params.trades {
                for trade in &update.trades {
                    e.field_char(279, b'0');
                    e.field_char(269, b'2');
                    e.field(55, spec.name.as_bytes());
                    price_field(e, 270, trade.price, spec.tick_size);
                    qty_field(e, 271, trade.qty, spec.lot_size);
                    time_fields(e, trade.timestamp_ns);
                }
            }
        }
        self.block_bytes.extend_from_slice(self.scratch.fragment());
        start..self.block_bytes.len()
    }

    /// Writes a W's body after MDReqID into the scratch fragment: Symbol, then the best
    /// `depth` levels of each requested side (bids best first, then offers best first) and,
    /// when trades are asked for, the last trade.
    fn encode_snapshot(
        &mut self,
        market: &MarketData,
        engine: &EngineConfig,
        symbol: SymbolId,
        params: Params,
    ) {
        let (Some(spec), Some(book)) = (engine.symbol(symbol), market.book(symbol)) else {
            return;
        };
        let depth = if params.depth == 0 {
            usize::MAX
        } else {
            params.depth
        };
        let last = market.tape(symbol).and_then(|t| t.last()).copied();
        let e = &mut self.scratch;
        e.field(55, spec.name.as_bytes());
        let mut count = 0;
        for (side, wanted) in [(Side::Buy, params.bids), (Side::Sell, params.offers)] {
            if wanted {
                count += book.len(side).min(depth);
            }
        }
        let trade = last.filter(|_| params.trades);
        e.field_u64(268, (count + usize::from(trade.is_some())) as u64);
        for (side, wanted) in [(Side::Buy, params.bids), (Side::Sell, params.offers)] {
            if !wanted {
                continue;
            }
            for (price, level) in book.levels(side).take(depth) {
                e.field_char(269, entry_type(side));
                price_field(e, 270, price, spec.tick_size);
                qty_field(e, 271, level.qty, spec.lot_size);
                e.field_u64(346, u64::from(level.orders));
            }
        }
        if let Some(trade) = trade {
            e.field_char(269, b'2');
            price_field(e, 270, trade.price, spec.tick_size);
            qty_field(e, 271, trade.qty, spec.lot_size);
            time_fields(e, trade.timestamp_ns);
        }
    }
}

fn entry_type(side: Side) -> u8 {
    match side {
        Side::Buy => b'0',
        Side::Sell => b'1',
    }
}

/// A price in ticks as a decimal: ticks × tick_size, with no allocation.
fn price_field(e: &mut Encoder, tag: u32, price: Price, tick: Decimal) {
    e.field_decimal(tag, i128::from(price.0) * tick.mantissa(), tick.scale());
}

/// A quantity in lots as a decimal: lots × lot_size.
fn qty_field(e: &mut Encoder, tag: u32, qty: Qty, lot: Decimal) {
    e.field_decimal(tag, i128::from(qty.0) * lot.mantissa(), lot.scale());
}

/// MDEntryDate (272, YYYYMMDD) and MDEntryTime (273, HH:MM:SS.sss) of a trade.
fn time_fields(e: &mut Encoder, ns: u64) {
    let mut stamp = [0u8; 21];
    format_utc_timestamp(ns, &mut stamp);
    e.field(272, &stamp[..8]);
    e.field(273, &stamp[9..]);
}

/// Writes a MarketDataRequestReject (Y).
pub fn write_reject(session: &mut FixSession, refusal: &MdRefusal, now_ns: u64) {
    session.send(b"Y", now_ns, |e| {
        e.field(262, refusal.md_req_id.as_bytes());
        e.field_char(281, refusal.reason);
        e.field(58, refusal.text.as_bytes());
    });
}

/// Reads a MarketDataRequest; what we do not publish is refused with its MDReqRejReason. Behind
/// the session layer, reasons 4 and 6 do not occur (every SubscriptionRequestType and
/// MDUpdateType FIX 4.4 defines is supported, and the dictionary makes an undefined value a
/// session Reject), but this does not count on being called only with validated fields.
fn parse_request(fields: &FieldList, engine: &EngineConfig) -> Result<Request, MdRefusal> {
    // Never echo an empty value (an empty field is invalid FIX).
    let id = fields
        .get_str(262)
        .filter(|id| !id.is_empty())
        .unwrap_or("NONE");
    let refuse = |reason: u8, text: String| MdRefusal {
        md_req_id: id.chars().take(MAX_REQ_ID).collect(),
        reason,
        text,
    };
    if id.len() > MAX_REQ_ID {
        // No reason code fits; 0 with a text that says what is wrong.
        return Err(refuse(
            reject_reason::UNKNOWN_SYMBOL,
            format!("MDReqID longer than {MAX_REQ_ID} bytes"),
        ));
    }
    let id = id.to_owned();
    let snapshot_only = match fields.get(263) {
        Some(b"0") => true,
        Some(b"1") => false,
        Some(b"2") => return Ok(Request::Unsubscribe { id }),
        _ => {
            return Err(refuse(
                reject_reason::UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE,
                "SubscriptionRequestType must be 0 (snapshot), 1 (updates) or 2 (unsubscribe)"
                    .to_owned(),
            ));
        }
    };
    let depth = fields
        .get_str(264)
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|d| (0..=MAX_DEPTH as i64).contains(d))
        .ok_or_else(|| {
            refuse(
                reject_reason::UNSUPPORTED_MARKET_DEPTH,
                format!("MarketDepth must be 0 (full book) to {MAX_DEPTH}"),
            )
        })?;
    if !matches!(fields.get(266), None | Some(b"Y")) {
        return Err(refuse(
            reject_reason::UNSUPPORTED_AGGREGATED_BOOK,
            "only aggregated books (AggregatedBook Y) are published".to_owned(),
        ));
    }
    let full_refresh = match fields.get(265) {
        Some(b"0") => true,
        None | Some(b"1") => false,
        Some(_) => {
            return Err(refuse(
                reject_reason::UNSUPPORTED_MD_UPDATE_TYPE,
                "MDUpdateType must be 0 (full refresh) or 1 (incremental)".to_owned(),
            ));
        }
    };
    let mut params = Params {
        depth: depth as usize,
        bids: false,
        offers: false,
        trades: false,
        full_refresh,
    };
    let mut symbols = Vec::new();
    for (tag, value) in fields.iter() {
        match (tag, value) {
            (269, b"0") => params.bids = true,
            (269, b"1") => params.offers = true,
            (269, b"2") => params.trades = true,
            (269, other) => {
                return Err(refuse(
                    reject_reason::UNSUPPORTED_MD_ENTRY_TYPE,
                    format!(
                        "MDEntryType {} is not published: 0 bid, 1 offer, 2 trade",
                        String::from_utf8_lossy(other)
                    ),
                ));
            }
            (55, name) => {
                let name = std::str::from_utf8(name).unwrap_or("");
                let symbol = engine.symbol_id(name).ok_or_else(|| {
                    refuse(
                        reject_reason::UNKNOWN_SYMBOL,
                        format!("unknown symbol {name}"),
                    )
                })?;
                if !symbols.contains(&symbol) {
                    symbols.push(symbol);
                }
            }
            _ => {}
        }
    }
    if symbols.is_empty() {
        return Err(refuse(
            reject_reason::UNKNOWN_SYMBOL,
            "no Symbol (55) in NoRelatedSym".to_owned(),
        ));
    }
    Ok(Request::Subscribe {
        id,
        symbols,
        params,
        snapshot_only,
    })
}

#[cfg(test)]
mod tests;
