//! What the bridge publishes, per journaled command, in the units people read: decimals in the
//! symbol's and asset's scale, names instead of ids. The sinks turn these rows into SQL rows
//! (PostgreSQL) and messages (NATS JetStream); the replay tool's `trades` CSV writes the same
//! [`TradeRow`], so a back-office table and a CSV export of the journal agree row by row.

use std::io::{self, Write};

use hayate_core::{Amount, EngineConfig, Event, EventKind, Side};
use rust_decimal::Decimal;
use serde::Serialize;

/// One trade: the taker's and the maker's side of it, as the engine reported them (taker fill
/// first, then the maker's with the same trade id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TradeRow {
    /// Journal sequence of the command that traded.
    pub seq: u64,
    /// The command's receive time, ns since the Unix epoch.
    pub timestamp_ns: u64,
    /// The trade's id (unique, increasing).
    pub trade_id: u64,
    /// The symbol's name.
    pub symbol: String,
    /// Trade price (the maker's limit).
    pub price: Decimal,
    /// Quantity traded.
    pub qty: Decimal,
    /// `buy` or `sell`: the taker's side.
    pub taker_side: &'static str,
    /// The taker's account.
    pub taker_account: u32,
    /// The taker's order id.
    pub taker_order_id: u64,
    /// The maker's account.
    pub maker_account: u32,
    /// The maker's order id.
    pub maker_order_id: u64,
    /// Fee the taker paid, in `fee_asset`.
    pub taker_fee: Decimal,
    /// Fee the maker paid, in `fee_asset`.
    pub maker_fee: Decimal,
    /// The asset fees are paid in (the symbol's quote).
    pub fee_asset: String,
}

impl TradeRow {
    /// The CSV header [`TradeRow::write_csv`] writes rows for.
    pub const CSV_HEADER: &'static str = "seq,timestamp,trade_id,symbol,price,qty,taker_side,\
        taker_account,taker_order_id,maker_account,maker_order_id,taker_fee,maker_fee,fee_asset";

    /// The trade from its taker and maker fills; `None` if they are not the two sides of one
    /// trade in a known symbol.
    pub fn new(
        config: &EngineConfig,
        seq: u64,
        timestamp_ns: u64,
        taker: &Event,
        maker: &Event,
    ) -> Option<TradeRow> {
        let fill = maker.fill();
        if taker.fill().trade_id != fill.trade_id {
            return None;
        }
        let spec = config.symbol(maker.symbol)?;
        let quote = config.asset(spec.quote)?;
        Some(TradeRow {
            seq,
            timestamp_ns,
            trade_id: fill.trade_id.0,
            symbol: spec.name.clone(),
            price: spec.price_to_decimal(fill.last_px),
            qty: spec.qty_to_decimal(fill.last_qty),
            taker_side: side_name(taker.side()),
            taker_account: taker.account.0,
            taker_order_id: taker.order_id.0,
            maker_account: maker.account.0,
            maker_order_id: maker.order_id.0,
            taker_fee: quote.amount_to_decimal(taker.fill().fee),
            maker_fee: quote.amount_to_decimal(fill.fee),
            fee_asset: quote.name.clone(),
        })
    }

    /// One CSV line (RFC 4180 quoting), `timestamp` printed by `time`.
    pub fn write_csv(&self, out: &mut dyn Write, time: impl Fn(u64) -> String) -> io::Result<()> {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.seq,
            time(self.timestamp_ns),
            self.trade_id,
            csv_field(&self.symbol),
            self.price,
            self.qty,
            self.taker_side,
            self.taker_account,
            self.taker_order_id,
            self.maker_account,
            self.maker_order_id,
            self.taker_fee,
            self.maker_fee,
            csv_field(&self.fee_asset)
        )
    }
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn side_name(side: Option<Side>) -> &'static str {
    match side {
        Some(Side::Buy) => "buy",
        Some(Side::Sell) => "sell",
        None => "",
    }
}

/// One event in an order's life (accepted, filled, restated, replaced, cancelled, rejected …):
/// the back office's order history and a firm's drop copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderEventRow {
    /// Journal sequence of the command.
    pub seq: u64,
    /// The event's place among the command's events (0 first): `(seq, index)` is its key.
    pub index: u32,
    /// The command's receive time, ns since the Unix epoch.
    pub timestamp_ns: u64,
    /// The account.
    pub account: u32,
    /// The order id (0 for an order refused before it got one).
    pub order_id: u64,
    /// The order's ClOrdID, or the request's (cancel, replace, query, mass cancel).
    pub client_order_id: String,
    /// The event, snake case: `accepted`, `rejected`, `fill`, `canceled`, `replaced`,
    /// `restated`, `cancel_rejected`, `replace_rejected`, `mass_canceled`,
    /// `mass_cancel_rejected`.
    pub kind: &'static str,
    /// The symbol's name (empty for an unknown symbol).
    pub symbol: String,
    /// `buy`, `sell`, or empty.
    pub side: &'static str,
    /// The order's limit price (0 for a market order).
    pub price: Decimal,
    /// The order's quantity.
    pub order_qty: Decimal,
    /// What is still open.
    pub leaves_qty: Decimal,
    /// What has filled.
    pub cum_qty: Decimal,
    /// A fill's price.
    pub last_px: Option<Decimal>,
    /// A fill's quantity.
    pub last_qty: Option<Decimal>,
    /// A fill's trade id.
    pub trade_id: Option<u64>,
    /// A fill's fee, in the symbol's quote asset.
    pub fee: Option<Decimal>,
    /// Whether this side of a fill was the maker.
    pub maker: bool,
    /// The reason code (BEHAVIOUR.md §3), empty when none.
    pub reason: &'static str,
    /// The ClOrdID a cancel, replace or query named, or a replaced order's previous one.
    pub orig_client_order_id: String,
}

impl OrderEventRow {
    /// The row for `event`, if it is about an order (not funds, halts or the operator's
    /// commands).
    pub fn new(
        config: &EngineConfig,
        seq: u64,
        index: u32,
        timestamp_ns: u64,
        event: &Event,
    ) -> Option<OrderEventRow> {
        use EventKind::*;
        let kind = match event.event_kind()? {
            Accepted => "accepted",
            Rejected => "rejected",
            Fill => "fill",
            Canceled => "canceled",
            Replaced => "replaced",
            Restated => "restated",
            CancelRejected => "cancel_rejected",
            ReplaceRejected => "replace_rejected",
            MassCanceled => "mass_canceled",
            MassCancelRejected => "mass_cancel_rejected",
            _ => return None,
        };
        let spec = config.symbol(event.symbol);
        let price = |p| spec.map_or(Decimal::ZERO, |s| s.price_to_decimal(p));
        let qty = |q| spec.map_or(Decimal::ZERO, |s| s.qty_to_decimal(q));
        let quote = spec.and_then(|s| config.asset(s.quote));
        let is_fill = event.event_kind() == Some(Fill);
        let fill = event.fill();
        let orig = match event.event_kind() {
            Some(Canceled | Replaced | CancelRejected | ReplaceRejected) => {
                event.orig_client_order_id().to_string()
            }
            _ => String::new(),
        };
        Some(OrderEventRow {
            seq,
            index,
            timestamp_ns,
            account: event.account.0,
            order_id: event.order_id.0,
            client_order_id: event.client_order_id.to_string(),
            kind,
            symbol: spec.map_or(String::new(), |s| s.name.clone()),
            side: side_name(event.side()),
            price: price(event.price),
            order_qty: qty(event.order_qty),
            leaves_qty: qty(event.leaves_qty),
            cum_qty: qty(event.cum_qty),
            last_px: is_fill.then(|| price(fill.last_px)),
            last_qty: is_fill.then(|| qty(fill.last_qty)),
            trade_id: is_fill.then_some(fill.trade_id.0),
            fee: is_fill.then(|| {
                quote.map_or(Decimal::from(fill.fee.0), |a| a.amount_to_decimal(fill.fee))
            }),
            maker: is_fill && event.is_maker(),
            reason: event.reason().code(),
            orig_client_order_id: orig,
        })
    }
}

/// An account's balance in one asset after a command changed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BalanceRow {
    /// The account.
    pub account: u32,
    /// The asset's name.
    pub asset: String,
    /// Free to use.
    pub available: Decimal,
    /// Held by open orders.
    pub reserved: Decimal,
    /// The journal sequence of the command after which the balance is this.
    pub seq: u64,
}

impl BalanceRow {
    /// The row for `account`'s balance in `asset`, in the asset's scale.
    pub fn new(
        config: &EngineConfig,
        seq: u64,
        account: u32,
        asset: hayate_core::AssetId,
        available: Amount,
        reserved: Amount,
    ) -> Option<BalanceRow> {
        let spec = config.asset(asset)?;
        Some(BalanceRow {
            account,
            asset: spec.name.clone(),
            available: spec.amount_to_decimal(available),
            reserved: spec.amount_to_decimal(reserved),
            seq,
        })
    }
}

/// Which market-data channel (BEHAVIOUR.md §9) a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketChannel {
    /// `l2update` messages.
    Level2,
    /// `match` messages (one per trade).
    Matches,
    /// `ticker` messages.
    Ticker,
    /// `status` messages.
    Status,
}

impl MarketChannel {
    /// The channel's name on the WebSocket feed and in NATS subjects.
    pub fn name(self) -> &'static str {
        match self {
            MarketChannel::Level2 => "level2",
            MarketChannel::Matches => "matches",
            MarketChannel::Ticker => "ticker",
            MarketChannel::Status => "status",
        }
    }
}

/// One market-data message, the exact text the core's WebSocket feed sends its subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketMessage {
    /// The symbol's name.
    pub symbol: String,
    /// The channel.
    pub channel: MarketChannel,
    /// The symbol's market-data sequence of the update this message belongs to.
    pub sequence: u64,
    /// The JSON text.
    pub text: String,
}

/// A symbol's level-2 snapshot as the feed sends a new subscriber, taken after the update with
/// market-data `sequence`: what an edge starts a subscriber from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketSnapshot {
    /// The symbol's name.
    pub symbol: String,
    /// The symbol's market-data sequence the snapshot includes.
    pub sequence: u64,
    /// The JSON text (a `snapshot` message).
    pub text: String,
}

/// Everything one journaled command produced, ready for the sinks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The command's journal sequence.
    pub seq: u64,
    /// The command's receive time, ns since the Unix epoch.
    pub timestamp_ns: u64,
    /// Its trades.
    pub trades: Vec<TradeRow>,
    /// Its order events (every execution event of every account it touched).
    pub order_events: Vec<OrderEventRow>,
    /// The balances it changed, after it.
    pub balances: Vec<BalanceRow>,
    /// Its market-data messages, in the order the feed sends them.
    pub market: Vec<MarketMessage>,
    /// Level-2 snapshots taken after it (every `snapshot_every` updates of a symbol).
    pub snapshots: Vec<MarketSnapshot>,
    /// The engine's events, in order: what a market-data edge feeds its own builder and feed
    /// with, so its WebSocket messages are the core's by construction.
    pub events: Vec<Event>,
    /// The whole market-data state after it ([`hayate_core::market_data::MarketData::save`]),
    /// every [`crate::bridge::Applier::with_market_state_every`] commands: where an edge starts.
    pub market_state: Option<Vec<u8>>,
}
