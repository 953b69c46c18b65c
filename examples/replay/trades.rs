//! `trades`: every trade of a range of commands as CSV, one row per trade with both sides.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use hayate::adapters::bridge::TradeRow;
use hayate::{Event, EventKind};

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
    writeln!(out, "{}", TradeRow::CSV_HEADER)?;
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
            // The same row the bridge writes to the back office's `trades` table.
            let Some(row) = TradeRow::new(config, seq, command.timestamp_ns, &taker, event) else {
                return Err(io::Error::other(format!(
                    "journal record {seq}: trade {trade_id} in unknown symbol #{}",
                    event.symbol
                )));
            };
            rows += 1;
            row.write_csv(out, utc_timestamp)
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
