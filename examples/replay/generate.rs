//! `generate`: writes the generator's commands into a fresh journal, committed in batches of
//! varying size while an engine runs alongside, with a snapshot every K commands, and prints
//! the digest `replay` must reproduce.

use std::io::Write;
use std::process::ExitCode;

use hayate::journal::{FlushPolicy, Journal, JournalOptions, snapshot_file};
use hayate::recovery;
use hayate::{Engine, EventKind};

use crate::generator::OrderFlow;
use crate::progress::{PROGRESS_STEP, progress_bar};
// splitmix64, shared with the benches and tests, so a seed always gives the same journal.
use crate::{Context, GenerateArgs, Result};
use hayate_testkit::rng::Rng;

pub(crate) fn generate(
    ctx: &Context,
    args: &GenerateArgs,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let config = ctx.engine_config();
    let existing = snapshot_file::list_snapshots(&ctx.snapshot_dir)?;
    if let Some((_, path)) = existing.first() {
        return Err(format!(
            "{} already holds snapshots ({}); generate writes a fresh data directory",
            ctx.snapshot_dir.display(),
            path.display()
        )
        .into());
    }
    let mut flow = OrderFlow::new(&ctx.config, args.seed)?;
    let options = JournalOptions {
        segment_size: args
            .segment_size
            .unwrap_or(ctx.config.journal().segment_size),
        // One sync at the end: the generator is not acknowledging anybody.
        flush_policy: FlushPolicy::Never,
        first_seq: 1,
    };
    let (mut journal, opened) = Journal::open(&ctx.journal_dir, options)?;
    if let Some(last) = opened.last_seq {
        return Err(format!(
            "{} already holds records up to seq {last}; generate writes a fresh journal \
             (choose an empty --data)",
            ctx.journal_dir.display()
        )
        .into());
    }
    let mut engine = Engine::new(config.clone());
    let bar = progress_bar(ctx, Some(args.commands));
    let mut events = Vec::new();
    let (mut trades, mut snapshots) = (0u64, 0u64);
    // Its own generator, so that batching and snapshots never change the commands: a journal of
    // N commands is a prefix of a longer one with the same seed.
    let mut batches = Rng::new(args.seed ^ 0x6261_7463_6865_7321);
    let mut batch_left = 0;
    for n in 1..=args.commands {
        let command = flow.next_command(&engine);
        let seq = journal.append(command.as_bytes())?;
        events.clear();
        engine.process(&command, &mut events);
        for event in &events {
            flow.observe(event);
            trades += u64::from(event.event_kind() == Some(EventKind::Fill) && event.is_maker());
        }
        let snapshot_due = args.snapshot_every.is_some_and(|k| seq % k == 0);
        if batch_left == 0 {
            // Batches of varying size, as a gateway's group commit makes them.
            journal.commit()?;
            batch_left = 1 + batches.below(256);
        }
        batch_left -= 1;
        if snapshot_due {
            // The journal holds every command the snapshot covers before the snapshot exists.
            journal.sync()?;
            recovery::write_snapshot(&engine, seq, &ctx.snapshot_dir)?;
            snapshots += 1;
        }
        if seq % PROGRESS_STEP == 0 {
            bar.set_position(n);
        }
    }
    journal.sync()?;
    bar.finish_and_clear();
    let segments = journal.segment_paths().count();
    writeln!(
        out,
        "generated {} commands (sequences 1..{}) into {}: {segments} segments, {trades} trades, \
         {snapshots} snapshots in {}",
        args.commands,
        args.commands,
        ctx.journal_dir.display(),
        ctx.snapshot_dir.display()
    )?;
    writeln!(out, "digest: {:016x}", engine.digest())?;
    Ok(ExitCode::SUCCESS)
}
