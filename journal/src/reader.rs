//! [`JournalReader`]: read-only access to a journal (replay, export). Never modifies files; a
//! torn tail simply ends the iteration, corruption anywhere else is an error item.

use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Defect, JournalError, Result};
use crate::record::{self, FRAME_HEADER_LEN, Frame, Record};
use crate::recovery::{classify_tail, corrupt};
use crate::segment::{self, SEGMENT_HEADER_LEN, SegmentFile};

/// A read-only view of a journal directory, mapped at open.
///
/// Segments created after `open` are not seen; use a [`crate::Tailer`] to follow a live journal.
pub struct JournalReader {
    dir: PathBuf,
    segments: Vec<(SegmentFile, Mmap)>,
}

impl std::fmt::Debug for JournalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalReader")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .finish()
    }
}

impl JournalReader {
    /// Maps every segment of `dir` read-only, validating headers and file lengths.
    pub fn open(dir: impl AsRef<Path>) -> Result<JournalReader> {
        let dir = dir.as_ref().to_path_buf();
        let mut segments = Vec::new();
        for seg in segment::list_segments(&dir)? {
            let map = segment::map_read_only(&seg)?;
            segments.push((seg, map));
        }
        Ok(JournalReader { dir, segments })
    }

    /// Iterates the records with sequence `>= seq`, in order (`0` means from the oldest). Asking
    /// for a sequence older than the oldest retained segment yields an error first rather than
    /// silently starting later.
    pub fn records_from(&self, seq: u64) -> Records<'_> {
        let start = self
            .segments
            .iter()
            .rposition(|(s, _)| s.first_seq <= seq)
            .unwrap_or(0);
        let mut records = Records {
            segments: &self.segments,
            index: start,
            offset: SEGMENT_HEADER_LEN,
            next_seq: self.segments.get(start).map_or(seq, |(s, _)| s.first_seq),
            from_seq: seq,
            pending_error: None,
            done: self.segments.is_empty(),
        };
        let oldest = self.segments.first().map(|(s, _)| s.first_seq);
        if let Some(oldest) = oldest.filter(|oldest| seq != 0 && seq < *oldest) {
            records.pending_error = Some(JournalError::SeqNotInJournal {
                dir: self.dir.clone(),
                seq,
                detail: format!("the oldest retained record is {oldest}"),
            });
        }
        records
    }

    /// The segment files, oldest first.
    pub fn segment_paths(&self) -> impl Iterator<Item = &Path> {
        self.segments.iter().map(|(s, _)| s.path.as_path())
    }
}

/// Iterator over records, from [`JournalReader::records_from`]. Stops after the first error.
pub struct Records<'r> {
    segments: &'r [(SegmentFile, Mmap)],
    index: usize,
    offset: usize,
    next_seq: u64,
    from_seq: u64,
    pending_error: Option<JournalError>,
    done: bool,
}

impl<'r> Records<'r> {
    fn fail(&mut self, error: JournalError) -> Option<Result<Record<'r>>> {
        self.done = true;
        Some(Err(error))
    }

    /// Moves to the next segment; `Err` if the sequence does not continue there.
    fn next_segment(&mut self) -> Result<bool> {
        self.index += 1;
        self.offset = SEGMENT_HEADER_LEN;
        let Some((seg, _)) = self.segments.get(self.index) else {
            return Ok(false);
        };
        if seg.first_seq != self.next_seq {
            return Err(JournalError::SequenceGap {
                path: seg.path.clone(),
                expected_seq: self.next_seq,
                found_seq: seg.first_seq,
            });
        }
        Ok(true)
    }
}

impl<'r> Iterator for Records<'r> {
    type Item = Result<Record<'r>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.pending_error.take() {
            return self.fail(error);
        }
        while !self.done {
            let segments = self.segments;
            let (seg, map) = &segments[self.index];
            let bytes: &'r [u8] = map;
            let is_last = self.index + 1 == segments.len();
            let full = bytes.len() - self.offset < FRAME_HEADER_LEN;
            let defect = if full {
                None
            } else {
                match record::decode(bytes, self.offset) {
                    Ok(Frame::Record { record, frame_len }) if record.seq == self.next_seq => {
                        self.offset += frame_len;
                        self.next_seq += 1;
                        if record.seq >= self.from_seq {
                            return Some(Ok(record));
                        }
                        continue;
                    }
                    Ok(Frame::Record { record, .. }) => Some(Defect::SeqMismatch {
                        expected: self.next_seq,
                        found: record.seq,
                    }),
                    Ok(Frame::EndOfSegment { next_seq }) if next_seq == self.next_seq => None,
                    Ok(Frame::EndOfSegment { next_seq }) => Some(Defect::SeqMismatch {
                        expected: self.next_seq,
                        found: next_seq,
                    }),
                    Ok(Frame::Empty) if !is_last => Some(Defect::MissingEndMarker),
                    Ok(Frame::Empty) => Some(Defect::UnexpectedZeros),
                    Err(defect) => Some(defect),
                }
            };
            match defect {
                None => match self.next_segment() {
                    Ok(true) => {}
                    Ok(false) => self.done = true,
                    Err(error) => return self.fail(error),
                },
                Some(defect @ Defect::SeqMismatch { .. }) => {
                    return self.fail(corrupt(seg, self.offset, self.next_seq, defect, ""));
                }
                Some(defect) if !is_last => {
                    return self.fail(corrupt(
                        seg,
                        self.offset,
                        self.next_seq,
                        defect,
                        "; the segment is not the last",
                    ));
                }
                Some(defect) => {
                    // Zeros or a torn tail end the journal; valid data after a defect is an error.
                    self.done = true;
                    if let Err(error) =
                        classify_tail(seg, bytes, self.offset, self.next_seq, defect)
                    {
                        return Some(Err(error));
                    }
                }
            }
        }
        None
    }
}
