//! The open-time scan: validates every segment and tells a torn tail (truncated and reported)
//! from corruption in the middle (an error). Shared by the writer, the reader and `verify`.

use std::path::PathBuf;

use crate::error::{Defect, JournalError, Result};
use crate::record::{self, FRAME_HEADER_LEN, Frame};
use crate::segment::{SEGMENT_HEADER_LEN, SegmentFile};

/// A torn tail found (and, by `Journal::open`, zeroed) at the end of the last segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// Byte offset of the first bad byte (the start of the incomplete record).
    pub offset: u64,
    /// The sequence the incomplete record would have had; the journal continues from it.
    pub seq: u64,
    /// Bytes from `offset` to the last non-zero byte of the segment (what was zeroed).
    pub bytes: u64,
    /// What was wrong with the frame at `offset`.
    pub defect: Defect,
}

/// What [`crate::Journal::open`] found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// Segment files in the journal after opening (including one created by the open).
    pub segments: usize,
    /// Sequence of the oldest record, if any.
    pub first_seq: Option<u64>,
    /// Sequence of the newest record, if any.
    pub last_seq: Option<u64>,
    /// The torn tail that was truncated, if there was one.
    pub torn_tail: Option<TornTail>,
    /// Temporary files of an interrupted segment creation that were deleted.
    pub removed_temp_files: Vec<PathBuf>,
}

/// The result of scanning one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentScan {
    /// Valid records in the segment.
    pub records: u64,
    /// The sequence after the last valid record.
    pub next_seq: u64,
    /// Offset after the last valid record (where the next frame goes).
    pub end_offset: usize,
    /// True if the segment ends with an end-of-segment marker.
    pub sealed: bool,
    /// A torn tail after the last valid record (last segment only).
    pub torn: Option<TornTail>,
}

/// Scans `bytes` (a whole segment whose header is already validated).
///
/// Records must continue from `segment.first_seq` one by one. A non-last segment must end with an
/// end-of-segment marker or be too full for another frame; any defect in it is an error. In the
/// last segment, a defect followed by nothing valid is a torn tail; followed by anything valid,
/// it is an error.
pub(crate) fn scan_segment(
    segment: &SegmentFile,
    bytes: &[u8],
    is_last: bool,
) -> Result<SegmentScan> {
    let mut scan = SegmentScan {
        records: 0,
        next_seq: segment.first_seq,
        end_offset: SEGMENT_HEADER_LEN,
        sealed: false,
        torn: None,
    };
    loop {
        let offset = scan.end_offset;
        if bytes.len() - offset < FRAME_HEADER_LEN {
            return Ok(scan);
        }
        let defect = match record::decode(bytes, offset) {
            Ok(Frame::Record { record, frame_len }) if record.seq == scan.next_seq => {
                scan.records += 1;
                scan.next_seq += 1;
                scan.end_offset += frame_len;
                continue;
            }
            Ok(Frame::EndOfSegment { next_seq }) if next_seq == scan.next_seq => {
                scan.sealed = true;
                return Ok(scan);
            }
            Ok(Frame::Record { record, .. }) => {
                // An intact frame with the wrong sequence is never a torn write.
                return Err(corrupt(
                    segment,
                    offset,
                    scan.next_seq,
                    seq_defect(scan.next_seq, record.seq),
                    "",
                ));
            }
            Ok(Frame::EndOfSegment { next_seq }) => {
                return Err(corrupt(
                    segment,
                    offset,
                    scan.next_seq,
                    seq_defect(scan.next_seq, next_seq),
                    "",
                ));
            }
            Ok(Frame::Empty) if !is_last => Defect::MissingEndMarker,
            Ok(Frame::Empty) => Defect::UnexpectedZeros,
            Err(defect) => defect,
        };
        if !is_last {
            return Err(corrupt(
                segment,
                offset,
                scan.next_seq,
                defect,
                "; the segment is not the last",
            ));
        }
        scan.torn = classify_tail(segment, bytes, offset, scan.next_seq, defect)?;
        return Ok(scan);
    }
}

fn seq_defect(expected: u64, found: u64) -> Defect {
    Defect::SeqMismatch { expected, found }
}

pub(crate) fn corrupt(
    segment: &SegmentFile,
    offset: usize,
    seq: u64,
    defect: Defect,
    context: &str,
) -> JournalError {
    JournalError::CorruptRecord {
        path: segment.path.clone(),
        offset: offset as u64,
        seq,
        defect,
        context: context.to_owned(),
    }
}

/// The index of the last non-zero byte. Every clean open and replay asks this of the unused rest
/// of the last segment (tens of MiB of zeros), so it compares 8-byte words, not bytes.
fn last_nonzero(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let tail = words.remainder();
    if let Some(i) = tail.iter().rposition(|b| *b != 0) {
        return Some(bytes.len() - tail.len() + i);
    }
    let word = words
        .rposition(|w| u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) != 0)?;
    let at = word * 8;
    bytes[at..at + 8]
        .iter()
        .rposition(|b| *b != 0)
        .map(|i| at + i)
}

/// Decides what the bytes from `offset` to the end of the last segment are: all zeros (`None`),
/// a torn tail (`Some`), or corruption followed by valid data (error).
///
/// `defect` describes the frame at `offset`; `Defect::UnexpectedZeros` stands for a zero commit word.
pub(crate) fn classify_tail(
    segment: &SegmentFile,
    bytes: &[u8],
    offset: usize,
    seq: u64,
    defect: Defect,
) -> Result<Option<TornTail>> {
    let Some(last_nonzero) = last_nonzero(&bytes[offset..]) else {
        return Ok(None);
    };
    if let Some(valid) = record::find_valid_frame_after(bytes, offset, seq) {
        let context =
            format!("; a valid frame follows at offset {valid}, so this is not a torn tail");
        return Err(corrupt(segment, offset, seq, defect, &context));
    }
    Ok(Some(TornTail {
        path: segment.path.clone(),
        offset: offset as u64,
        seq,
        bytes: (last_nonzero + 1) as u64,
        defect,
    }))
}

#[cfg(test)]
mod tests {
    use super::last_nonzero;

    #[test]
    fn last_nonzero_agrees_with_a_byte_scan() {
        for len in [0usize, 1, 7, 8, 9, 64, 67] {
            for at in 0..=len {
                let mut bytes = vec![0u8; len];
                if at < len {
                    bytes[at] = 0x5a;
                }
                let want = bytes.iter().rposition(|b| *b != 0);
                assert_eq!(last_nonzero(&bytes), want, "len {len} non-zero at {at}");
            }
        }
    }
}
