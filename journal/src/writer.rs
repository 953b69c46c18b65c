//! [`Journal`]: the single writer. Appends into a memory-mapped segment, group-commits with one
//! `msync` per batch, rolls over to segments prepared ahead by a background thread, and deletes
//! old ones for retention.
//!
//! # Roll-over
//!
//! A background thread per journal ([`crate::preparer`]) keeps one *spare* segment ready: a file
//! named `spare.seg.tmp`, sized, its length fsynced, mapped and prefaulted (see
//! [`segment::prepare`]). When a record does not fit, `append` rolls over on the spot:
//!
//! 1. writes the end-of-segment marker into the full segment (a store into the mapping);
//! 2. `Always`/`Interval` only: msyncs what of the full segment is not durable yet (the records
//!    since the last commit and the marker);
//! 3. writes the spare's header with the real `first_seq` (a store into the mapping);
//! 4. `Always`/`Interval` only: msyncs the header page;
//! 5. renames the spare to `{first_seq:020}.seg`;
//! 6. `Always`/`Interval` only: fsyncs the directory;
//! 7. hands the thread the full segment's mapping to unmap, and asks it for the next spare.
//!
//! Under `Never` that is one `rename` plus two uncontended lock round trips and a futex wake:
//! 70–100 µs measured on ext4 (64 MiB segments, 64-byte records; the rename is ~60 µs), against
//! 90–160 ms when the segment was created inline. Under `Always`/`Interval` the three syncs add
//! about three commits' worth of latency (not measured separately), on the path that pays an msync
//! per batch anyway.
//! If the spare is not ready (the thread fell behind), the segment is created inline as before
//! and [`Journal::inline_rollovers`] counts it.
//!
//! Crash safety. A process crash at any point leaves: before step 5, a sealed (or not yet sealed)
//! last segment and a `.seg.tmp` file, which the next open deletes and reports (a sealed last
//! segment makes it create the next one); after step 5, a segment with a valid header, full
//! length and no records, which is a valid empty last segment. Everything is visible in that order
//! to the next opener because a process crash loses nothing from the page cache. Against a power
//! cut under `Always`/`Interval`, the syncs order it the same way: the spare's length is durable
//! before it is renamed (the thread fsyncs it), the full segment's marker and the new header
//! before the rename can be, and the rename before any record in the new segment is acknowledged.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use memmap2::MmapMut;

use crate::error::{JournalError, Result};
use crate::lock::{DirLock, lock_dir};
use crate::preparer::Preparer;
use crate::record::{self, FRAME_HEADER_LEN, MAX_PAYLOAD_FIELD, frame_len};
use crate::recovery::{OpenReport, scan_segment};
use crate::segment::{self, Fill, SEGMENT_HEADER_LEN, SegmentFile};

/// When appended records are made durable (msync'd to storage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Group commit: every [`Journal::commit`] msyncs everything appended so far (one `msync` per
    /// batch). Survives process crashes and power cuts up to [`Journal::durable_seq`].
    Always,
    /// [`Journal::commit`] msyncs only if at least `ms` milliseconds passed since the last sync;
    /// [`Journal::sync`] forces one. Bounds the loss window on a power cut to about `ms`
    /// (plus the time until the next commit call).
    Interval {
        /// Minimum milliseconds between syncs.
        ms: u64,
    },
    /// Never msync on commit. Records are in the page cache as soon as they are appended, so
    /// they survive the *process* crashing, but NOT a power cut or kernel crash. `durable_seq`
    /// then means "safe from a process crash" and advances on every commit.
    Never,
}

/// Options for [`Journal::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Size of each new segment file in bytes (multiple of 8, at least 4096).
    pub segment_size: u64,
    /// When records are made durable.
    pub flush_policy: FlushPolicy,
    /// Sequence of the first record of a journal that has no segments yet (usually 1).
    pub first_seq: u64,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_size: 64 << 20,
            flush_policy: FlushPolicy::Always,
            first_seq: 1,
        }
    }
}

impl JournalOptions {
    /// The largest payload a record can have with these options (what fits in an empty segment).
    pub fn max_payload(&self) -> usize {
        let room =
            (self.segment_size as usize).saturating_sub(SEGMENT_HEADER_LEN + FRAME_HEADER_LEN);
        (room / 8 * 8).min(MAX_PAYLOAD_FIELD)
    }

    /// How new segments are filled: sparse under `Never` (nothing to sync later), zeroed and
    /// fsynced otherwise (so each commit's msync overwrites allocated blocks).
    fn fill(&self) -> Fill {
        match self.flush_policy {
            FlushPolicy::Never => Fill::Sparse,
            FlushPolicy::Always | FlushPolicy::Interval { .. } => Fill::Zeroed,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.segment_size < 4096 || self.segment_size % 8 != 0 {
            return Err(JournalError::InvalidOptions(format!(
                "segment_size {} must be a multiple of 8 and at least 4096",
                self.segment_size
            )));
        }
        if self.segment_size > isize::MAX as u64 / 2 {
            return Err(JournalError::InvalidOptions(format!(
                "segment_size {} is too large",
                self.segment_size
            )));
        }
        if self.first_seq == 0 {
            return Err(JournalError::InvalidOptions(
                "first_seq must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The segment being appended to.
struct ActiveSegment {
    // Keeps the descriptor for the mapping's lifetime (and for fsync at open).
    _file: File,
    map: MmapMut,
    /// Where the next frame goes.
    write_offset: usize,
    /// Everything before this offset has been msync'd.
    flushed_offset: usize,
}

/// The journal writer: the only one allowed per directory (enforced with a lock file).
///
/// `append` writes into the mapped segment and makes no system call and no allocation unless it
/// rolls over to a new segment; `commit` is the one system call of the steady state.
pub struct Journal {
    dir: PathBuf,
    options: JournalOptions,
    /// Declared before the lock so it is dropped (thread joined, unused spare deleted) first.
    preparer: Preparer,
    _lock: DirLock,
    /// All segments, oldest first; the last one is the active one.
    segments: Vec<SegmentFile>,
    active: ActiveSegment,
    next_seq: u64,
    durable_seq: u64,
    last_sync: Instant,
    max_payload: usize,
    /// Roll-overs that found no spare ready and created the segment inline.
    inline_rollovers: u64,
    /// `Never` only: how many of the sealed segments just before the active one were sealed
    /// without an msync; `sync` fsyncs them.
    unsynced_sealed: usize,
    /// `Never` only: a roll-over renamed a segment into place without fsyncing the directory.
    dir_unsynced: bool,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .field("next_seq", &self.next_seq)
            .field("durable_seq", &self.durable_seq)
            .field("inline_rollovers", &self.inline_rollovers)
            .finish()
    }
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, recovering it: every segment is validated, a torn
    /// tail of the last segment is zeroed and reported, and anything else wrong is an error that
    /// names the file, offset and sequence. Takes the directory's writer lock.
    pub fn open(dir: impl AsRef<Path>, options: JournalOptions) -> Result<(Journal, OpenReport)> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| JournalError::io("create directory", &dir, e))?;
        let lock = lock_dir(&dir)?;
        let mut report = OpenReport::default();
        for temp in segment::list_temp_files(&dir)? {
            std::fs::remove_file(&temp)
                .map_err(|e| JournalError::io("remove temp segment", &temp, e))?;
            report.removed_temp_files.push(temp);
        }
        if !report.removed_temp_files.is_empty() {
            segment::sync_dir(&dir)?;
        }
        let mut segments = segment::list_segments(&dir)?;
        let mut next_seq = options.first_seq;
        let mut active = None;
        for (index, seg) in segments.iter().enumerate() {
            if index > 0 && seg.first_seq != next_seq {
                return Err(JournalError::SequenceGap {
                    path: seg.path.clone(),
                    expected_seq: next_seq,
                    found_seq: seg.first_seq,
                });
            }
            if index + 1 < segments.len() {
                let map = segment::map_read_only(seg)?;
                next_seq = scan_segment(seg, &map, false)?.next_seq;
                continue;
            }
            let (file, mut map) = segment::map_writable(seg)?;
            let scan = scan_segment(seg, &map, true)?;
            if let Some(torn) = &scan.torn {
                let start = torn.offset as usize;
                let end = start + torn.bytes as usize;
                map[start..end].fill(0);
                map.flush_range(start, end - start)
                    .map_err(|e| JournalError::io("msync truncated tail", &seg.path, e))?;
            }
            // Make whatever a crashed predecessor left in the page cache durable, so that
            // durable_seq starts out true.
            file.sync_all()
                .map_err(|e| JournalError::io("fsync segment", &seg.path, e))?;
            next_seq = scan.next_seq;
            report.torn_tail = scan.torn;
            if !scan.sealed {
                active = Some(ActiveSegment {
                    _file: file,
                    map,
                    write_offset: scan.end_offset,
                    flushed_offset: scan.end_offset,
                });
            }
        }
        let active = match active {
            Some(active) => active,
            None => {
                let (seg, file, map) =
                    segment::create(&dir, next_seq, options.segment_size, options.fill(), true)?;
                segments.push(seg);
                ActiveSegment {
                    _file: file,
                    map,
                    write_offset: SEGMENT_HEADER_LEN,
                    flushed_offset: SEGMENT_HEADER_LEN,
                }
            }
        };
        let first_seq = segments.first().map_or(next_seq, |s| s.first_seq);
        report.segments = segments.len();
        report.first_seq = (next_seq > first_seq).then_some(first_seq);
        report.last_seq = (next_seq > first_seq).then(|| next_seq - 1);
        let preparer = Preparer::spawn(&dir, options.segment_size, options.fill())?;
        let journal = Journal {
            dir,
            options,
            preparer,
            _lock: lock,
            segments,
            active,
            next_seq,
            durable_seq: next_seq - 1,
            last_sync: Instant::now(),
            max_payload: options.max_payload(),
            inline_rollovers: 0,
            unsynced_sealed: 0,
            dir_unsynced: false,
        };
        Ok((journal, report))
    }

    /// Appends a record and returns its sequence. Not durable until a commit says so
    /// (see [`Journal::durable_seq`]); visible to tailers at once.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64> {
        if payload.len() > self.max_payload {
            return Err(JournalError::PayloadTooLarge {
                len: payload.len(),
                max: self.max_payload,
            });
        }
        let len = frame_len(payload.len());
        if self.active.write_offset + len > self.active.map.len() {
            self.roll_over()?;
        }
        let seq = self.next_seq;
        record::write_record(&mut self.active.map, self.active.write_offset, seq, payload);
        self.active.write_offset += len;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Ends a batch: makes the records appended so far durable as the flush policy says, and
    /// returns [`Journal::durable_seq`]. With `Always` this is one `msync` for the whole batch.
    pub fn commit(&mut self) -> Result<u64> {
        match self.options.flush_policy {
            FlushPolicy::Always => self.sync(),
            FlushPolicy::Interval { ms } => {
                if self.last_sync.elapsed() >= Duration::from_millis(ms) {
                    self.sync()
                } else {
                    Ok(self.durable_seq)
                }
            }
            FlushPolicy::Never => {
                self.durable_seq = self.next_seq - 1;
                Ok(self.durable_seq)
            }
        }
    }

    /// Forces an msync of everything appended so far, whatever the policy; returns the durable
    /// sequence.
    pub fn sync(&mut self) -> Result<u64> {
        // Oldest first: the sealed segments' end markers, then the active segment (with its header
        // if it was installed without one being synced), then the names.
        self.sync_sealed()?;
        self.flush_active()?;
        if self.dir_unsynced {
            segment::sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        self.durable_seq = self.next_seq - 1;
        self.last_sync = Instant::now();
        Ok(self.durable_seq)
    }

    /// Fsyncs the segments a `Never` roll-over sealed without an msync (their mappings are gone:
    /// the page cache is per file, so an fsync through a new descriptor covers it).
    fn sync_sealed(&mut self) -> Result<()> {
        let active = self.segments.len() - 1;
        // Retention may have deleted some of them already.
        let from = active.saturating_sub(self.unsynced_sealed);
        for seg in &self.segments[from..active] {
            File::open(&seg.path)
                .and_then(|file| file.sync_data())
                .map_err(|e| JournalError::io("fsync sealed segment", &seg.path, e))?;
        }
        self.unsynced_sealed = 0;
        Ok(())
    }

    fn flush_active(&mut self) -> Result<()> {
        let active = &mut self.active;
        if active.write_offset > active.flushed_offset {
            active
                .map
                .flush_range(
                    active.flushed_offset,
                    active.write_offset - active.flushed_offset,
                )
                .map_err(|e| {
                    JournalError::io(
                        "msync segment",
                        self.segments.last().map_or(&self.dir, |s| &s.path),
                        e,
                    )
                })?;
            active.flushed_offset = active.write_offset;
        }
        Ok(())
    }

    /// Seals the active segment with an end-of-segment marker (if it has room for one) and
    /// continues in the spare the background thread prepared (or, if none is ready, in a segment
    /// created inline) starting at `next_seq`. See the module documentation for the steps and why
    /// they are crash-safe.
    fn roll_over(&mut self) -> Result<()> {
        let active = &mut self.active;
        if active.map.len() - active.write_offset >= FRAME_HEADER_LEN {
            record::write_end_of_segment(&mut active.map, active.write_offset, self.next_seq);
            active.write_offset += FRAME_HEADER_LEN;
        }
        let durable = self.options.flush_policy != FlushPolicy::Never;
        if durable {
            // A later segment must not be durable while the end of this one is not: after a power
            // cut, recovery would find this segment not last and without its end marker.
            self.flush_active()?;
            self.durable_seq = self.next_seq - 1;
            self.last_sync = Instant::now();
        }
        // Under `Never` the full segment is not msynced here. `Never` promises survival of a
        // process crash only, and after one the page cache — where the marker stored above
        // already is — is what the next opener reads: it sees the marker before the renamed
        // segment, in program order, with or without an msync. A power cut could leave the new
        // name durable before the marker, but under `Never` it could always leave an unopenable
        // journal anyway (writeback persists pages in no particular order, so a later page of a
        // segment can reach the disk before an earlier one); `repair` is the answer there. A
        // `sync` call still makes everything durable: it fsyncs the segments sealed this way.
        // Sealed: if what follows fails, the next append retries the roll-over instead of writing
        // after the marker.
        self.active.write_offset = self.active.map.len();
        let first_seq = self.next_seq;
        let taken = self.preparer.take();
        // Taking the spare (or its error) empties the slot: the next one is asked for below, once
        // this one is renamed (it reuses the name).
        let want_spare = taken.is_some();
        let installed = match taken {
            Some(Ok(spare)) => segment::install(&self.dir, spare, first_seq, durable),
            // Not ready (the thread fell behind), or preparing it failed: create it inline, which
            // reports the error if it persists.
            Some(Err(_)) | None => {
                self.inline_rollovers += 1;
                segment::create(
                    &self.dir,
                    first_seq,
                    self.options.segment_size,
                    self.options.fill(),
                    durable,
                )
            }
        };
        let (seg, file, map) = match installed {
            Ok(installed) => installed,
            Err(e) => {
                if want_spare {
                    self.preparer.request();
                }
                return Err(e);
            }
        };
        self.segments.push(seg);
        let sealed = std::mem::replace(
            &mut self.active,
            ActiveSegment {
                _file: file,
                map,
                write_offset: SEGMENT_HEADER_LEN,
                // Not durable yet under `Never`: the next sync msyncs the header too.
                flushed_offset: if durable { SEGMENT_HEADER_LEN } else { 0 },
            },
        );
        if !durable {
            self.unsynced_sealed += 1;
            self.dir_unsynced = true;
        }
        self.preparer
            .after_roll_over((sealed._file, sealed.map), want_spare);
        Ok(())
    }

    /// Deletes the segments all of whose records are `<= seq` (typically after a snapshot at
    /// `seq`), never the active segment. Returns the deleted files.
    pub fn delete_segments_through(&mut self, seq: u64) -> Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        // A non-active segment's last record is the one before the next segment's first.
        while self.segments.len() > 1 && self.segments[1].first_seq - 1 <= seq {
            let oldest = self.segments.remove(0);
            std::fs::remove_file(&oldest.path)
                .map_err(|e| JournalError::io("delete segment", &oldest.path, e))?;
            removed.push(oldest.path);
        }
        if !removed.is_empty() {
            segment::sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// The highest sequence that is durable under the flush policy (0 if none); acknowledge a
    /// record only once this reaches it.
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// The sequence the next `append` will return.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The sequence of the newest record, if the journal has any.
    pub fn last_seq(&self) -> Option<u64> {
        (self.next_seq > self.first_seq()).then(|| self.next_seq - 1)
    }

    /// The sequence of the oldest retained record (or of the next record if there are none).
    pub fn first_seq(&self) -> u64 {
        self.segments.first().map_or(self.next_seq, |s| s.first_seq)
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment files, oldest first; the last is the one being appended to.
    pub fn segment_paths(&self) -> impl Iterator<Item = &Path> {
        self.segments.iter().map(|s| s.path.as_path())
    }

    /// The largest payload `append` accepts.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// How many roll-overs since open found no prepared spare segment and created the next
    /// segment inline, stalling that `append` (0 when the background thread keeps up).
    pub fn inline_rollovers(&self) -> u64 {
        self.inline_rollovers
    }
}
