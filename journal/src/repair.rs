//! Explicit, operator-invoked repair. The journal never drops data on its own except a torn
//! tail; when `Journal::open` reports corruption, an operator decides what to keep and calls
//! [`truncate_after`].

use std::path::{Path, PathBuf};

use crate::error::{Defect, JournalError, Result};
use crate::lock::lock_dir;
use crate::record::{self, FRAME_HEADER_LEN, Frame};
use crate::recovery::corrupt;
use crate::segment::{self, SEGMENT_HEADER_LEN};

/// What [`truncate_after`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepairReport {
    /// Whole segment files deleted (all their records were after the kept sequence).
    pub deleted_segments: Vec<PathBuf>,
    /// The segment holding the kept sequence, if any bytes were zeroed in it.
    pub zeroed_file: Option<PathBuf>,
    /// Byte offset in `zeroed_file` from which bytes were zeroed.
    pub zeroed_offset: u64,
    /// Bytes zeroed (from `zeroed_offset` to the last non-zero byte).
    pub zeroed_bytes: u64,
    /// The sequence the journal continues at after the repair.
    pub next_seq: u64,
}

/// Drops every record after `seq`: deletes later segments and zeroes the rest of the segment that
/// holds `seq`. All records up to `seq` must be valid (see [`crate::verify`]). Takes the writer
/// lock, so it fails while a `Journal` has the directory open.
pub fn truncate_after(dir: impl AsRef<Path>, seq: u64) -> Result<RepairReport> {
    let dir = dir.as_ref();
    let Some(next_seq) = seq.checked_add(1) else {
        return Err(JournalError::SeqNotInJournal {
            dir: dir.to_path_buf(),
            seq,
            detail: "no journal reaches the largest sequence".to_string(),
        });
    };
    let _lock = lock_dir(dir)?;
    let segments = segment::list_segments(dir)?;
    let mut report = RepairReport {
        next_seq,
        ..RepairReport::default()
    };
    let Some(oldest) = segments.first() else {
        return Err(JournalError::SeqNotInJournal {
            dir: dir.to_path_buf(),
            seq,
            detail: "it is empty".into(),
        });
    };
    if seq + 1 < oldest.first_seq {
        return Err(JournalError::SeqNotInJournal {
            dir: dir.to_path_buf(),
            seq,
            detail: format!("the oldest retained record is {}", oldest.first_seq),
        });
    }
    let target_index = segments
        .iter()
        .rposition(|s| s.first_seq <= seq)
        .unwrap_or(0);
    let target = &segments[target_index];
    let (file, mut map) = segment::map_writable(target)?;
    let mut offset = SEGMENT_HEADER_LEN;
    let mut next_seq = target.first_seq;
    while next_seq <= seq {
        if map.len() - offset < FRAME_HEADER_LEN {
            return Err(beyond_end(dir, seq, next_seq));
        }
        let defect = match record::decode(&map, offset) {
            Ok(Frame::Record { record, frame_len }) if record.seq == next_seq => {
                offset += frame_len;
                next_seq += 1;
                continue;
            }
            Ok(Frame::Record { record, .. }) => Defect::SeqMismatch {
                expected: next_seq,
                found: record.seq,
            },
            Ok(Frame::Empty | Frame::EndOfSegment { .. }) => {
                return Err(beyond_end(dir, seq, next_seq));
            }
            Err(defect) => defect,
        };
        return Err(corrupt(
            target,
            offset,
            next_seq,
            defect,
            "; cannot keep records up to the requested seq",
        ));
    }
    // Nothing is changed until the kept prefix is known to be valid. Then later segments go
    // first (newest first), so an interrupted repair can simply be run again.
    for later in segments[target_index + 1..].iter().rev() {
        std::fs::remove_file(&later.path)
            .map_err(|e| JournalError::io("delete segment", &later.path, e))?;
        report.deleted_segments.push(later.path.clone());
    }
    if !report.deleted_segments.is_empty() {
        segment::sync_dir(dir)?;
    }
    if let Some(last_nonzero) = map[offset..].iter().rposition(|b| *b != 0) {
        map[offset..=offset + last_nonzero].fill(0);
        map.flush()
            .map_err(|e| JournalError::io("msync segment", &target.path, e))?;
        report.zeroed_file = Some(target.path.clone());
        report.zeroed_offset = offset as u64;
        report.zeroed_bytes = last_nonzero as u64 + 1;
    }
    file.sync_all()
        .map_err(|e| JournalError::io("fsync segment", &target.path, e))?;
    Ok(report)
}

fn beyond_end(dir: &Path, seq: u64, next_seq: u64) -> JournalError {
    JournalError::SeqNotInJournal {
        dir: dir.to_path_buf(),
        seq,
        detail: format!("the valid records end before seq {next_seq}"),
    }
}
