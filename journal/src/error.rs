//! The journal's error type. Every variant names the file (and where it applies the byte offset
//! and sequence) so an operator can find the problem without a debugger.

use std::io;
use std::path::PathBuf;

/// What is wrong with one frame (a record or an end-of-segment marker) in a segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Defect {
    /// The frame's kind bits are neither "record" nor "end of segment".
    #[error("unknown frame kind in length word {tagged_len:#010x}")]
    UnknownKind {
        /// The raw tagged length word as stored.
        tagged_len: u32,
    },
    /// The frame claims more bytes than remain in the segment.
    #[error("frame of {frame_len} bytes does not fit in the {room} bytes left in the segment")]
    LengthOutOfBounds {
        /// Bytes the frame would occupy (header + padded payload).
        frame_len: u64,
        /// Bytes left in the segment from the frame's offset.
        room: u64,
    },
    /// The stored CRC32C does not match the frame's contents.
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC as stored in the frame.
        stored: u32,
        /// CRC computed over the frame's length word, sequence and payload.
        computed: u32,
    },
    /// The frame is intact but carries the wrong sequence number.
    #[error("sequence {found} where {expected} was expected")]
    SeqMismatch {
        /// The sequence continuity requires here.
        expected: u64,
        /// The sequence stored in the frame.
        found: u64,
    },
    /// Zeros where a record or an end-of-segment marker must be (a non-last segment must be sealed).
    #[error("no record and no end-of-segment marker (zeros) before the end of a non-last segment")]
    MissingEndMarker,
    /// A zero commit word (no frame) with non-zero bytes after it.
    #[error("no frame here (zero length word) but non-zero bytes follow")]
    UnexpectedZeros,
}

/// Errors from opening, appending to, reading, tailing or repairing a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("open", "msync", "rename", …).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A segment header is unreadable: bad magic, version, CRC, or a first sequence that does not
    /// match the file name.
    #[error("bad segment header in {path}: {reason}")]
    BadSegmentHeader {
        /// The segment file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A segment file is not as long as its header says (it was cut short, or grew).
    #[error("segment {path} is {actual_len} bytes long but its header says {expected_len}")]
    SegmentLength {
        /// The segment file.
        path: PathBuf,
        /// Length from the header.
        expected_len: u64,
        /// Length on disk.
        actual_len: u64,
    },
    /// Sequences do not continue from one segment to the next (a segment is missing).
    #[error(
        "sequence gap before {path}: previous segment ends before seq {expected_seq} but this one \
         starts at {found_seq} (a segment is missing?)"
    )]
    SequenceGap {
        /// The segment after the gap.
        path: PathBuf,
        /// The sequence that should have started this segment.
        expected_seq: u64,
        /// The segment's actual first sequence.
        found_seq: u64,
    },
    /// A bad frame that is not a torn tail (it is followed by valid data or is not in the last
    /// segment). Never skipped; fix with [`crate::repair::truncate_after`].
    #[error("corrupt journal: {path} at byte offset {offset} (seq {seq}): {defect}{context}")]
    CorruptRecord {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the frame within the file.
        offset: u64,
        /// The sequence expected at that offset.
        seq: u64,
        /// What is wrong with the frame.
        defect: Defect,
        /// Why it is not treated as a torn tail (starts with "; ", or empty).
        context: String,
    },
    /// A payload larger than fits in an empty segment.
    #[error("payload of {len} bytes exceeds the maximum of {max} for this segment size")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The largest payload an empty segment holds.
        max: usize,
    },
    /// Options that cannot work.
    #[error("invalid journal options: {0}")]
    InvalidOptions(String),
    /// Another process (or journal in this process) holds the directory's writer lock.
    #[error("journal {path} is locked by another writer")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A requested sequence is not in the journal.
    #[error("seq {seq} is not in the journal {dir} ({detail})")]
    SeqNotInJournal {
        /// The journal directory.
        dir: PathBuf,
        /// The requested sequence.
        seq: u64,
        /// What the journal holds instead.
        detail: String,
    },
}

/// Shorthand for results with [`JournalError`].
pub type Result<T, E = JournalError> = std::result::Result<T, E>;

impl JournalError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        JournalError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
