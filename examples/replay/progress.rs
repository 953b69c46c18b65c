//! The progress bar on stderr for long replays and generation, shown only on a terminal, for
//! enough commands, and without `--quiet`.

use std::io::{self, IsTerminal};
use std::time::Duration;

use hayate::journal::JournalReader;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Context;

/// Journals shorter than this replay too fast for a progress bar to help.
const PROGRESS_MIN_COMMANDS: u64 = 100_000;
/// Progress is drawn every this many commands, keeping the bar off the replay's hot path.
pub(crate) const PROGRESS_STEP: u64 = 4096;

/// The last sequence a replay to `to` reaches, when it is worth a progress bar (and a pass over
/// the journal to count it).
pub(crate) fn journal_end(ctx: &Context, to: Option<u64>) -> Option<u64> {
    if ctx.quiet || !io::stderr().is_terminal() {
        return None;
    }
    let reader = JournalReader::open(&ctx.journal_dir).ok()?;
    let last = reader
        .records_from(0)
        .map_while(|r| r.ok())
        .last()
        .map(|r| r.seq)?;
    Some(to.map_or(last, |to| to.min(last)))
}

/// A bar on stderr for `total` commands; hidden when `total` is unknown or small, when stderr is
/// not a terminal, or with --quiet.
pub(crate) fn progress_bar(ctx: &Context, total: Option<u64>) -> ProgressBar {
    let shown = !ctx.quiet && io::stderr().is_terminal();
    match total {
        Some(total) if shown && total >= PROGRESS_MIN_COMMANDS => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, {eta} left)",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        }
        _ => ProgressBar::hidden(),
    }
}
