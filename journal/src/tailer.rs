//! [`Tailer`]: follows a journal that another thread or process is still writing (replication
//! catch-up, live consumers). Polling, never blocking: call [`Tailer::poll`] in your own loop with
//! your own wait strategy.
//!
//! It relies on the writer's publication protocol (see [`crate::format`]): a frame's commit word
//! is stored last with `Release` and loaded here with `Acquire`, so a zero word is "not written
//! yet" and a non-zero word covers a complete frame — a frame whose CRC then fails is corruption,
//! not a race. New segments appear atomically (created under a temporary name, then renamed),
//! and each sealed segment names its successor in its end-of-segment marker.

use std::path::PathBuf;

use memmap2::Mmap;

use crate::error::{Defect, JournalError, Result};
use crate::record::{self, FRAME_HEADER_LEN, Frame};
use crate::recovery::corrupt;
use crate::segment::{self, SEGMENT_HEADER_LEN, SegmentFile, segment_file_name};

/// Which segment the tailer should map next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Not started: find the segment holding `from_seq` by listing the directory.
    Start,
    /// Moved past a segment: wait for the one starting exactly at this sequence.
    Segment(u64),
}

/// Delivers every complete record, in order and exactly once, as a writer appends them.
pub struct Tailer {
    dir: PathBuf,
    from_seq: u64,
    /// Sequence of the next frame in the current segment.
    next_seq: u64,
    current: Option<(SegmentFile, Mmap)>,
    offset: usize,
    next: Next,
}

impl std::fmt::Debug for Tailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tailer")
            .field("dir", &self.dir)
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

impl Tailer {
    /// A tailer of the journal in `dir` that delivers records from `from_seq` on (`0` or `1`: from
    /// the oldest). The directory may not exist yet; nothing is read until the first poll.
    pub fn open(dir: impl Into<PathBuf>, from_seq: u64) -> Result<Tailer> {
        Ok(Tailer {
            dir: dir.into(),
            from_seq,
            next_seq: 0,
            current: None,
            offset: 0,
            next: Next::Start,
        })
    }

    /// Delivers every complete record written since the last poll to `f(seq, payload)`, across
    /// segment roll-overs; returns how many it delivered (0: nothing new yet).
    pub fn poll(&mut self, f: impl FnMut(u64, &[u8])) -> Result<usize> {
        self.poll_at_most(usize::MAX, f)
    }

    /// Like [`Tailer::poll`], but delivers at most `max` records (the rest wait for the next
    /// call), so a consumer far behind works through the backlog in bounded steps.
    pub fn poll_at_most(&mut self, max: usize, mut f: impl FnMut(u64, &[u8])) -> Result<usize> {
        let mut delivered = 0;
        loop {
            if delivered >= max {
                return Ok(delivered);
            }
            if self.current.is_none() && !self.map_next_segment()? {
                return Ok(delivered);
            }
            let Some((seg, map)) = &self.current else {
                return Ok(delivered);
            };
            if map.len() - self.offset < FRAME_HEADER_LEN {
                self.next = Next::Segment(self.next_seq);
                self.current = None;
                continue;
            }
            let defect = match record::decode(map, self.offset) {
                Ok(Frame::Empty) => return Ok(delivered),
                Ok(Frame::Record { record, frame_len }) if record.seq == self.next_seq => {
                    if record.seq >= self.from_seq {
                        f(record.seq, record.payload);
                        delivered += 1;
                    }
                    self.offset += frame_len;
                    self.next_seq += 1;
                    continue;
                }
                Ok(Frame::EndOfSegment { next_seq }) if next_seq == self.next_seq => {
                    self.next = Next::Segment(self.next_seq);
                    self.current = None;
                    continue;
                }
                Ok(Frame::Record { record, .. }) => Defect::SeqMismatch {
                    expected: self.next_seq,
                    found: record.seq,
                },
                Ok(Frame::EndOfSegment { next_seq }) => Defect::SeqMismatch {
                    expected: self.next_seq,
                    found: next_seq,
                },
                Err(defect) => defect,
            };
            return Err(corrupt(
                seg,
                self.offset,
                self.next_seq,
                defect,
                "; a published frame failed validation",
            ));
        }
    }

    /// The sequence of the next record this tailer will deliver.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.max(self.from_seq)
    }

    /// Maps the segment to read next, if it exists yet.
    fn map_next_segment(&mut self) -> Result<bool> {
        let seg = match self.next {
            Next::Start => {
                let segments = segment::list_segments(&self.dir)?;
                let Some(oldest) = segments.first() else {
                    return Ok(false);
                };
                if self.from_seq > 1 && self.from_seq < oldest.first_seq {
                    return Err(JournalError::SeqNotInJournal {
                        dir: self.dir.clone(),
                        seq: self.from_seq,
                        detail: format!("the oldest retained record is {}", oldest.first_seq),
                    });
                }
                let index = segments
                    .iter()
                    .rposition(|s| s.first_seq <= self.from_seq)
                    .unwrap_or(0);
                segments[index].clone()
            }
            Next::Segment(first_seq) => {
                let path = self.dir.join(segment_file_name(first_seq));
                // The writer renames a complete segment into place, so existing means ready.
                match path.try_exists() {
                    Ok(true) => SegmentFile { first_seq, path },
                    Ok(false) => return Ok(false),
                    Err(e) => return Err(JournalError::io("stat segment", path, e)),
                }
            }
        };
        let map = segment::map_read_only(&seg)?;
        self.next_seq = seg.first_seq;
        self.offset = SEGMENT_HEADER_LEN;
        self.current = Some((seg, map));
        Ok(true)
    }
}
