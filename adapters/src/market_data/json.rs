//! The feed's JSON, in the conventions of Coinbase Exchange's feed: decimals as strings, times in
//! RFC 3339 UTC with microseconds, every message about a product with its market-data sequence.
//! Written by hand into a reused `String` (the messages are small and fixed in shape); client
//! messages are parsed with `serde_json` in `request.rs`.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use hayate_core::SymbolSpec;
use hayate_core::market_data::{MarketData, Trade, TradingStatus, Update};
use hayate_core::units::{Price, Qty, Side, SymbolId};

use crate::fix::codec::civil_from_days;

/// `"…"` with JSON escaping (product names and error texts; everything else is digits).
pub fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A decimal without trailing zeros, quoted.
fn decimal(out: &mut String, value: Decimal) {
    let _ = write!(out, "\"{}\"", value.normalize());
}

fn price(out: &mut String, spec: &SymbolSpec, price: Price) {
    decimal(out, spec.price_to_decimal(price));
}

fn size(out: &mut String, spec: &SymbolSpec, qty: Qty) {
    decimal(out, spec.qty_to_decimal(qty));
}

/// `"2026-12-05T09:11:15.123456Z"`.
pub fn time(out: &mut String, ns: u64) {
    let secs = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1_000;
    let (y, m, d) = civil_from_days(secs / 86_400);
    let s = secs % 86_400;
    let _ = write!(
        out,
        "\"{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z\"",
        s / 3600,
        (s / 60) % 60,
        s % 60
    );
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn head(out: &mut String, kind: &str, spec: &SymbolSpec, sequence: u64) {
    out.clear();
    let _ = write!(out, "{{\"type\":\"{kind}\",\"product_id\":");
    string(out, &spec.name);
    let _ = write!(out, ",\"sequence\":{sequence}");
}

/// `level2`'s first message: the whole book, best first.
pub fn snapshot(out: &mut String, market: &MarketData, spec: &SymbolSpec, symbol: SymbolId) {
    head(out, "snapshot", spec, market.sequence(symbol));
    for (side, key) in [(Side::Buy, "bids"), (Side::Sell, "asks")] {
        let _ = write!(out, ",\"{key}\":[");
        if let Some(book) = market.book(symbol) {
            for (n, (p, level)) in book.levels(side).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push('[');
                price(out, spec, p);
                out.push(',');
                size(out, spec, level.qty);
                out.push(']');
            }
        }
        out.push(']');
    }
    out.push('}');
}

/// `level2`'s update: every level the command changed, `size` "0" for a removed one. Sent for
/// every update of the product, with no changes when only its status changed, so the level2
/// channel alone carries every sequence number and a gap always means a lost message.
pub fn l2update(out: &mut String, update: &Update, spec: &SymbolSpec) {
    head(out, "l2update", spec, update.sequence);
    out.push_str(",\"time\":");
    time(out, update.timestamp_ns);
    out.push_str(",\"changes\":[");
    for (n, change) in update.levels.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let _ = write!(out, "[\"{}\",", side_name(change.side));
        price(out, spec, change.price);
        out.push(',');
        size(out, spec, change.after.qty);
        out.push(']');
    }
    out.push_str("]}");
}

/// `matches`: one trade; `side` is the maker's, as Coinbase writes it.
pub fn trade(out: &mut String, trade: &Trade, spec: &SymbolSpec, sequence: u64) {
    head(out, "match", spec, sequence);
    out.push(',');
    trade_fields(out, trade, spec);
    out.push('}');
}

/// `"trade_id":…,"side":…,"price":…,"size":…,"time":…` (the match message and `/trades`).
fn trade_fields(out: &mut String, trade: &Trade, spec: &SymbolSpec) {
    let _ = write!(
        out,
        "\"trade_id\":{},\"side\":\"{}\",\"price\":",
        trade.trade_id.0,
        side_name(trade.taker_side.opposite())
    );
    price(out, spec, trade.price);
    out.push_str(",\"size\":");
    size(out, spec, trade.qty);
    out.push_str(",\"time\":");
    time(out, trade.timestamp_ns);
}

/// `ticker`: best bid and offer with sizes, last trade (null where there is none).
pub fn ticker(
    out: &mut String,
    market: &MarketData,
    spec: &SymbolSpec,
    symbol: SymbolId,
    time_ns: u64,
) {
    let ticker = market.ticker(symbol);
    head(out, "ticker", spec, market.sequence(symbol));
    for (key, level) in [("best_bid", ticker.bid), ("best_ask", ticker.ask)] {
        let _ = write!(out, ",\"{key}\":");
        match level {
            Some((p, _)) => price(out, spec, p),
            None => out.push_str("null"),
        }
        let _ = write!(out, ",\"{key}_size\":");
        match level {
            Some((_, q)) => size(out, spec, q),
            None => out.push_str("null"),
        }
    }
    out.push_str(",\"price\":");
    match ticker.last {
        Some(t) => price(out, spec, t.price),
        None => out.push_str("null"),
    }
    out.push_str(",\"last_size\":");
    match ticker.last {
        Some(t) => size(out, spec, t.qty),
        None => out.push_str("null"),
    }
    out.push_str(",\"time\":");
    time(out, time_ns);
    out.push('}');
}

/// `status`: the product's trading status.
pub fn status(
    out: &mut String,
    market: &MarketData,
    spec: &SymbolSpec,
    symbol: SymbolId,
    time_ns: u64,
) {
    head(out, "status", spec, market.sequence(symbol));
    let name = match market.status(symbol) {
        TradingStatus::Open => "open",
        TradingStatus::Halted => "halted",
    };
    let _ = write!(out, ",\"status\":\"{name}\",\"time\":");
    time(out, time_ns);
    out.push('}');
}

/// `{"type":"error","message":…}`.
pub fn error(out: &mut String, message: &str) {
    out.clear();
    out.push_str("{\"type\":\"error\",\"message\":");
    string(out, message);
    out.push('}');
}

/// `GET /book/SYMBOL?depth=N`: the best `depth` levels per side (0: all) with their order
/// counts, as Coinbase's level-2 book: `[price, size, num_orders]`.
pub fn book_page(
    out: &mut String,
    market: &MarketData,
    spec: &SymbolSpec,
    symbol: SymbolId,
    depth: usize,
) {
    let depth = if depth == 0 { usize::MAX } else { depth };
    out.clear();
    out.push_str("{\"product_id\":");
    string(out, &spec.name);
    let _ = write!(out, ",\"sequence\":{}", market.sequence(symbol));
    for (side, key) in [(Side::Buy, "bids"), (Side::Sell, "asks")] {
        let _ = write!(out, ",\"{key}\":[");
        if let Some(book) = market.book(symbol) {
            for (n, (p, level)) in book.levels(side).take(depth).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push('[');
                price(out, spec, p);
                out.push(',');
                size(out, spec, level.qty);
                let _ = write!(out, ",{}]", level.orders);
            }
        }
        out.push(']');
    }
    out.push('}');
}

/// `GET /trades/SYMBOL?limit=N`: the newest trades, newest first.
pub fn trades_page(
    out: &mut String,
    market: &MarketData,
    spec: &SymbolSpec,
    symbol: SymbolId,
    limit: usize,
) {
    out.clear();
    out.push('[');
    if let Some(tape) = market.tape(symbol) {
        for (n, t) in tape.newest_first().take(limit).enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push('{');
            trade_fields(out, t, spec);
            out.push('}');
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_microseconds() {
        let mut out = String::new();
        time(&mut out, 1_764_925_875_123_456_789);
        assert_eq!(out, "\"2025-12-05T09:11:15.123456Z\"");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\n");
        assert_eq!(out, "\"a\\\"b\\\\c\\u000a\"");
    }
}
