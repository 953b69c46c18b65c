//! The walk behind [`super::MarketData::view_changes`]: a command's level changes of one side
//! merged, best first, with a run of the side's current levels, each visited with its rank
//! before and after the command.
//!
//! A level's rank before the command is its rank now, minus the levels added better than it,
//! plus the levels removed better than it: both counted from the changes already walked (they
//! are sorted best first), so no scratch space and no allocation is needed.

use super::Level;
use super::LevelChange;
use super::book::{SideLevels, better};
use crate::units::{Price, Side};

/// One visited level.
pub(super) enum At<'a> {
    /// A level the command changed; `old` and `new` are its ranks before and after (for a level
    /// that is gone, or was not there, the rank it would have had).
    Changed {
        change: &'a LevelChange,
        old: usize,
        new: usize,
    },
    /// A level of the scanned run that the command did not change, with its rank before.
    Unchanged {
        price: Price,
        level: Level,
        old: usize,
    },
}

/// Visits `changes` (one side's, best first) and the current levels ranked
/// `[scan_from, scan_from + scan_len)` that are not among them, best first.
pub(super) fn walk<'a>(
    levels: &SideLevels,
    side: Side,
    changes: impl Iterator<Item = &'a LevelChange>,
    scan_from: usize,
    scan_len: usize,
    mut visit: impl FnMut(At<'a>),
) {
    let mut changes = changes.peekable();
    let mut scan = levels
        .best_first()
        .enumerate()
        .skip(scan_from)
        .take(scan_len)
        .peekable();
    // Changes already walked (all better than what comes next) that added or removed a level.
    let (mut added, mut removed) = (0usize, 0usize);
    loop {
        let change_first = match (changes.peek(), scan.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(c), Some((_, (price, _)))) => !better(side, *price, c.price),
        };
        if change_first {
            let Some(change) = changes.next() else {
                break;
            };
            if scan
                .peek()
                .is_some_and(|(_, (price, _))| *price == change.price)
            {
                scan.next();
            }
            let new = levels.better_than(change.price);
            let old = (new + removed).saturating_sub(added);
            visit(At::Changed { change, old, new });
            added += usize::from(!change.before.exists() && change.after.exists());
            removed += usize::from(change.before.exists() && !change.after.exists());
        } else {
            let Some((rank, (price, level))) = scan.next() else {
                break;
            };
            let old = (rank + removed).saturating_sub(added);
            visit(At::Unchanged { price, level, old });
        }
    }
}
