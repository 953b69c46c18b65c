//! `book SYMBOL --at SEQ`: a symbol's L2 book as market data showed it right after a journal
//! sequence, rebuilt as a restarted gateway rebuilds it (market-data snapshot, then journal).

use std::io::Write;
use std::process::ExitCode;

use hayate::Side;
use hayate::journal::JournalReader;

use crate::format::utc_timestamp;
use crate::{BookArgs, Context, Result};

pub(crate) fn book(ctx: &Context, args: &BookArgs, out: &mut impl Write) -> Result<ExitCode> {
    let config = ctx.engine_config();
    let symbol = config.symbol_id(&args.symbol).ok_or_else(|| {
        format!(
            "unknown symbol {:?} (not in the configuration)",
            args.symbol
        )
    })?;
    let spec = &config.symbols[symbol.0 as usize];
    let last = JournalReader::open(&ctx.journal_dir)?
        .records_from(0)
        .map_while(|r| r.ok())
        .last()
        .map_or(0, |r| r.seq);
    let at = args.at.unwrap_or(last);
    if at > last {
        return Err(format!("--at {at} is past the journal's last record ({last})").into());
    }
    let (market, report) = hayate::market_data::recover(config, &ctx.data_dir, at)?;
    if let Some(warning) = &report.warning {
        writeln!(out, "warning: {warning}")?;
    }
    writeln!(
        out,
        "{} after journal sequence {at}: market-data sequence {}, {}",
        spec.name,
        market.sequence(symbol),
        match market.status(symbol) {
            hayate::market_data::TradingStatus::Open => "open",
            hayate::market_data::TradingStatus::Halted => "halted",
        }
    )?;
    let Some(l2) = market.book(symbol) else {
        return Ok(ExitCode::SUCCESS);
    };
    let depth = if args.depth == 0 {
        usize::MAX
    } else {
        args.depth
    };
    writeln!(
        out,
        "{:>6} {:>20} {:>20} {:>8}",
        "side", "price", "size", "orders"
    )?;
    let asks: Vec<_> = l2.levels(Side::Sell).take(depth).collect();
    for (price, level) in asks.iter().rev() {
        writeln!(
            out,
            "{:>6} {:>20} {:>20} {:>8}",
            "ask",
            spec.price_to_decimal(*price),
            spec.qty_to_decimal(level.qty),
            level.orders
        )?;
    }
    for (price, level) in l2.levels(Side::Buy).take(depth) {
        writeln!(
            out,
            "{:>6} {:>20} {:>20} {:>8}",
            "bid",
            spec.price_to_decimal(price),
            spec.qty_to_decimal(level.qty),
            level.orders
        )?;
    }
    match market.ticker(symbol).last {
        Some(trade) => writeln!(
            out,
            "last trade: #{} {} x {} at {} (taker {})",
            trade.trade_id,
            spec.qty_to_decimal(trade.qty),
            spec.price_to_decimal(trade.price),
            utc_timestamp(trade.timestamp_ns),
            match trade.taker_side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            }
        )?,
        None => writeln!(out, "last trade: none")?,
    }
    Ok(ExitCode::SUCCESS)
}
