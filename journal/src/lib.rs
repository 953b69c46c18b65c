//! Hayate's journal: opaque records, framed with length, CRC32C and sequence, in memory-mapped,
//! preallocated segment files; plus atomic, checksummed snapshot files. It knows nothing of
//! orders: a record is a sequence number and payload bytes.
//!
//! ```
//! use hayate_journal::{FlushPolicy, Journal, JournalOptions, JournalReader};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let options = JournalOptions { segment_size: 64 * 1024, flush_policy: FlushPolicy::Always, first_seq: 1 };
//!
//! // Write a batch, then make it durable with one msync (group commit).
//! let (mut journal, report) = Journal::open(dir.path(), options)?;
//! assert!(report.torn_tail.is_none());
//! let first = journal.append(b"hello")?;
//! let second = journal.append(b"world")?;
//! assert_eq!(journal.commit()?, second); // durable up to `second`: acknowledge now
//! drop(journal);
//!
//! // Read it back from any sequence.
//! let reader = JournalReader::open(dir.path())?;
//! let records: Vec<_> = reader.records_from(first).collect::<Result<_, _>>()?;
//! assert_eq!(records[1].seq, second);
//! assert_eq!(records[1].payload, b"world");
//! # Ok(())
//! # }
//! ```
//!
//! The pieces:
//! - [`Journal`]: the single writer (`append`, `commit`, `sync`, `durable_seq`, retention).
//!   Opening it recovers the journal: a torn tail is truncated and reported in [`OpenReport`];
//!   any other damage is a [`JournalError`] naming file, offset and sequence.
//! - [`JournalReader`]: read-only iteration from any sequence; [`verify()`]: a full check that lists
//!   every problem.
//! - [`Tailer`]: follows a journal another thread or process is writing.
//! - [`repair`]: the operator's explicit truncation.
//! - [`snapshot_file`]: atomic snapshot files.
//! - [`format`](mod@format): the on-disk format, byte by byte.

#![warn(missing_docs)]

pub mod error;
pub mod format;
mod lock;
mod preparer;
mod reader;
pub mod record;
pub mod recovery;
pub mod repair;
pub mod segment;
pub mod snapshot_file;
mod tailer;
mod verify;
mod writer;

pub use error::{Defect, JournalError, Result};
pub use lock::LOCK_FILE_NAME;
pub use reader::{JournalReader, Records};
pub use record::Record;
pub use recovery::{OpenReport, TornTail};
pub use tailer::Tailer;
pub use verify::{Problem, SegmentSummary, VerifyReport, verify};
pub use writer::{FlushPolicy, Journal, JournalOptions};
