//! `dump`: one line per journal record (sequence, receive time, the command in decimal units),
//! and with `--events` the events each command produced.

use std::io::Write;
use std::process::ExitCode;

use hayate::journal::JournalReader;
use hayate::{Command, EngineConfig};

use crate::format::utc_timestamp;
use crate::replay::replay_range;
use crate::{Context, DumpArgs, Result};

pub(crate) fn dump(ctx: &Context, args: &DumpArgs, out: &mut impl Write) -> Result<ExitCode> {
    let config = ctx.engine_config();
    if args.events {
        let from = args.from.unwrap_or(1).max(1);
        let mut current = 0;
        replay_range(ctx, from, args.to, |seq, command, event| {
            if seq != current {
                current = seq;
                writeln!(out, "{}", record_line(config, seq, command))?;
            }
            writeln!(out, "      {}", event.describe(config))?;
            Ok(())
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let reader = JournalReader::open(&ctx.journal_dir)?;
    for record in reader.records_from(args.from.unwrap_or(0)) {
        let record = record?;
        if args.to.is_some_and(|to| record.seq > to) {
            break;
        }
        match Command::from_bytes(record.payload) {
            Ok(command) => writeln!(out, "{}", record_line(config, record.seq, &command))?,
            Err(e) => writeln!(out, "{}  -  not a command: {e}", record.seq)?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn record_line(config: &EngineConfig, seq: u64, command: &Command) -> String {
    format!(
        "{seq}  {}  {}",
        utc_timestamp(command.timestamp_ns),
        command.describe(config)
    )
}
