//! `trades`: every trade of a range of commands as CSV, one row per trade with both sides.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use hayate::{Amount, Command, EngineConfig, Event, EventKind, Side};

use crate::format::utc_timestamp;
use crate::replay::replay_range;
use crate::{Context, Result, TradesArgs};

pub(crate) fn trades(
    ctx: &Context,
    args: &TradesArgs,
    stdout: &mut impl Write,
) -> Result<ExitCode> {
    let config = ctx.engine_config();
    let mut file = match &args.out {
        Some(path) => {
            Some(BufWriter::new(File::create(path).map_err(|e| {
                format!("cannot create {}: {e}", path.display())
            })?))
        }
        None => None,
    };
    let out: &mut dyn Write = match &mut file {
        Some(file) => file,
        None => stdout,
    };
    writeln!(
        out,
        "seq,timestamp,trade_id,symbol,price,qty,taker_side,taker_account,taker_order_id,\
         maker_account,maker_order_id,taker_fee,maker_fee,fee_asset"
    )?;
    let mut taker: Option<Event> = None;
    let mut rows = 0u64;
    replay_range(
        ctx,
        args.from.unwrap_or(1).max(1),
        args.to,
        |seq, command, event| {
            if event.event_kind() != Some(EventKind::Fill) {
                return Ok(());
            }
            if !event.is_maker() {
                taker = Some(*event);
                return Ok(());
            }
            // The engine reports a trade as the taker's fill, then the maker's, same trade id.
            let trade_id = event.fill().trade_id;
            let Some(taker) = taker.take().filter(|t| t.fill().trade_id == trade_id) else {
                return Err(io::Error::other(format!(
                    "journal record {seq}: the maker fill of trade {trade_id} does not follow its \
                 taker fill"
                )));
            };
            rows += 1;
            write_trade_row(out, config, seq, command, &taker, event)
        },
    )
    .map_err(|e| match &args.out {
        Some(path) => format!("{e} (writing {})", path.display()).into(),
        None => e,
    })?;
    out.flush()?;
    if let Some(path) = &args.out {
        eprintln!("{rows} trades written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_trade_row(
    out: &mut dyn Write,
    config: &EngineConfig,
    seq: u64,
    command: &Command,
    taker: &Event,
    maker: &Event,
) -> io::Result<()> {
    let fill = maker.fill();
    let Some(spec) = config.symbol(maker.symbol) else {
        return Err(io::Error::other(format!(
            "journal record {seq}: trade {} in unknown symbol #{}",
            fill.trade_id, maker.symbol
        )));
    };
    let quote = config.asset(spec.quote);
    let fee_asset = quote.map_or("?", |asset| asset.name.as_str());
    let fee = |amount: Amount| {
        quote.map_or(amount.to_string(), |asset| {
            asset.amount_to_decimal(amount).to_string()
        })
    };
    let taker_side = match taker.side() {
        Some(Side::Buy) => "buy",
        Some(Side::Sell) => "sell",
        None => "?",
    };
    writeln!(
        out,
        "{seq},{},{},{},{},{},{taker_side},{},{},{},{},{},{},{}",
        utc_timestamp(command.timestamp_ns),
        fill.trade_id,
        csv_field(&spec.name),
        spec.price_to_decimal(fill.last_px),
        spec.qty_to_decimal(fill.last_qty),
        taker.account,
        taker.order_id,
        maker.account,
        maker.order_id,
        fee(taker.fill().fee),
        fee(fill.fee),
        csv_field(fee_asset)
    )
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
