//! [`verify`]: checks a whole journal without stopping at the first problem, for an operator's
//! `verify` command. Read-only.

use std::path::{Path, PathBuf};

use crate::error::{Defect, Result};
use crate::record::{self, FRAME_HEADER_LEN, Frame};
use crate::recovery::{TornTail, classify_tail};
use crate::segment::{self, SEGMENT_HEADER_LEN, SegmentFile};

/// One segment as `verify` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    /// The segment file.
    pub path: PathBuf,
    /// First sequence (from the file name).
    pub first_seq: u64,
    /// Valid records found in it.
    pub records: u64,
    /// Sequence of its last valid record.
    pub last_seq: Option<u64>,
    /// Bytes used by header and valid frames.
    pub used_bytes: u64,
    /// File length.
    pub size: u64,
    /// True if it ends with an end-of-segment marker.
    pub sealed: bool,
}

/// One problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file concerned.
    pub file: PathBuf,
    /// Byte offset in the file, where it applies.
    pub offset: Option<u64>,
    /// The sequence expected there, where known.
    pub seq: Option<u64>,
    /// What is wrong (and where scanning resumed).
    pub description: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Every segment file, oldest first (unreadable ones with zero records).
    pub segments: Vec<SegmentSummary>,
    /// Valid records in total.
    pub records: u64,
    /// Oldest valid record.
    pub first_seq: Option<u64>,
    /// Newest valid record.
    pub last_seq: Option<u64>,
    /// A torn tail `Journal::open` would truncate (not a problem: expected after a crash).
    pub torn_tail: Option<TornTail>,
    /// Everything that would make `Journal::open` fail.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True if the journal has no problems (a torn tail is allowed).
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks every segment header, frame CRC and sequence in `dir`, continuing past problems.
/// Fails only if the directory cannot be listed.
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport> {
    let segments = segment::list_segments(dir.as_ref())?;
    let mut report = VerifyReport::default();
    let mut expected: Option<u64> = None;
    for (index, seg) in segments.iter().enumerate() {
        let is_last = index + 1 == segments.len();
        if let Some(expected_seq) = expected.filter(|e| *e != seg.first_seq) {
            report.problems.push(Problem {
                file: seg.path.clone(),
                offset: None,
                seq: Some(expected_seq),
                description: format!(
                    "sequence gap: the previous segment ends before seq {expected_seq} but this one starts at {} \
                     (a segment is missing?)",
                    seg.first_seq
                ),
            });
        }
        let mut summary = SegmentSummary {
            path: seg.path.clone(),
            first_seq: seg.first_seq,
            records: 0,
            last_seq: None,
            used_bytes: 0,
            size: 0,
            sealed: false,
        };
        match segment::map_read_only(seg) {
            Ok(map) => {
                summary.size = map.len() as u64;
                expected = Some(verify_segment(
                    seg,
                    &map,
                    is_last,
                    &mut summary,
                    &mut report,
                ));
            }
            Err(error) => {
                report.problems.push(Problem {
                    file: seg.path.clone(),
                    offset: None,
                    seq: None,
                    description: error.to_string(),
                });
                expected = None;
            }
        }
        report.segments.push(summary);
    }
    Ok(report)
}

/// Scans one segment, recording problems and resynchronising after each; returns the sequence
/// the next segment should start at.
fn verify_segment(
    seg: &SegmentFile,
    bytes: &[u8],
    is_last: bool,
    summary: &mut SegmentSummary,
    report: &mut VerifyReport,
) -> u64 {
    let mut offset = SEGMENT_HEADER_LEN;
    let mut next_seq = seg.first_seq;
    let problem = |offset: usize, seq: u64, description: String| Problem {
        file: seg.path.clone(),
        offset: Some(offset as u64),
        seq: Some(seq),
        description,
    };
    while bytes.len() - offset >= FRAME_HEADER_LEN {
        let defect = match record::decode(bytes, offset) {
            Ok(Frame::Record { record, frame_len }) => {
                if record.seq != next_seq {
                    let defect = Defect::SeqMismatch {
                        expected: next_seq,
                        found: record.seq,
                    };
                    report
                        .problems
                        .push(problem(offset, next_seq, defect.to_string()));
                }
                summary.records += 1;
                summary.last_seq = Some(record.seq);
                report.records += 1;
                report.first_seq.get_or_insert(record.seq);
                report.last_seq = Some(record.seq);
                next_seq = record.seq + 1;
                offset += frame_len;
                continue;
            }
            Ok(Frame::EndOfSegment {
                next_seq: marker_seq,
            }) => {
                if marker_seq != next_seq {
                    let defect = Defect::SeqMismatch {
                        expected: next_seq,
                        found: marker_seq,
                    };
                    report.problems.push(problem(
                        offset,
                        next_seq,
                        format!("end-of-segment marker: {defect}"),
                    ));
                }
                summary.sealed = true;
                offset += FRAME_HEADER_LEN;
                break;
            }
            Ok(Frame::Empty) if !is_last && bytes[offset..].iter().all(|b| *b == 0) => {
                report.problems.push(problem(
                    offset,
                    next_seq,
                    Defect::MissingEndMarker.to_string(),
                ));
                break;
            }
            Ok(Frame::Empty) => Defect::UnexpectedZeros,
            Err(defect) => defect,
        };
        if is_last {
            match classify_tail(seg, bytes, offset, next_seq, defect.clone()) {
                Ok(None) => break,
                Ok(Some(torn)) => {
                    report.torn_tail = Some(torn);
                    break;
                }
                Err(_) => {}
            }
        }
        // Resynchronise on the next valid frame so later problems are found too.
        let resume = record::find_valid_frame_after(bytes, offset, next_seq);
        let description = match resume {
            Some(resume) => format!(
                "{defect}; skipped {} bytes, resuming at offset {resume}",
                resume - offset
            ),
            None => format!("{defect}; no valid frame after it in this segment"),
        };
        report.problems.push(problem(offset, next_seq, description));
        let Some(resume) = resume else { break };
        if let Ok(Frame::Record { record, .. }) = record::decode(bytes, resume) {
            next_seq = record.seq;
        }
        offset = resume;
    }
    summary.used_bytes = offset as u64;
    next_seq
}
