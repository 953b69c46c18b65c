//! The journal rigs: Hayate's journal and the plain `std::fs` baselines, behind one interface per
//! group.

use super::*;

pub(super) fn options(flush_policy: FlushPolicy) -> JournalOptions {
    JournalOptions {
        segment_size: SEGMENT_SIZE,
        flush_policy,
        first_seq: 1,
    }
}

/// Records of `payload` bytes one segment holds.
pub(super) fn records_per_segment(payload: usize) -> u64 {
    (SEGMENT_SIZE - 64) / (FRAME_HEADER + payload.div_ceil(8) * 8) as u64
}

/// A writer under test that keeps its state across timed blocks.
pub(super) trait Rig {
    /// Appends `n` 64-byte records, committing/flushing every [`APPEND_BATCH`]; returns only the
    /// time spent in the writer's own calls.
    fn append_64(&mut self, n: u64) -> Duration;
}

pub(super) fn payload_64(counter: u64) -> [u8; 64] {
    let mut p = [0x5a; 64];
    p[..8].copy_from_slice(&counter.to_le_bytes());
    p
}

/// Hayate's journal with `FlushPolicy::Never`.
pub(super) struct NeverRig {
    pub(super) base: PathBuf,
    pub(super) skip_rollovers: bool,
    pub(super) dir: Option<TempDir>,
    pub(super) journal: Option<Journal>,
    pub(super) counter: u64,
    pub(super) in_segment: u64,
    pub(super) rollovers: u64,
}

impl NeverRig {
    pub(super) fn new(base: &Path, skip_rollovers: bool) -> NeverRig {
        let mut rig = NeverRig {
            base: base.to_path_buf(),
            skip_rollovers,
            dir: None,
            journal: None,
            counter: 0,
            in_segment: 0,
            rollovers: 0,
        };
        rig.fresh();
        rig
    }

    /// A new, empty journal (its first segment created here, untimed).
    pub(super) fn fresh(&mut self) {
        self.journal = None;
        self.dir = None;
        let dir = tempfile::tempdir_in(&self.base).expect("temp dir");
        let (journal, _) = Journal::open(dir.path(), options(FlushPolicy::Never)).unwrap();
        self.journal = Some(journal);
        self.dir = Some(dir);
        self.in_segment = 0;
    }
}

impl Rig for NeverRig {
    fn append_64(&mut self, n: u64) -> Duration {
        let per_segment = records_per_segment(64);
        let mut total = Duration::ZERO;
        let mut left = n;
        while left > 0 {
            let chunk = if self.skip_rollovers {
                if self.in_segment == per_segment {
                    self.fresh();
                }
                left.min(per_segment - self.in_segment)
            } else {
                left
            };
            let journal = self.journal.as_mut().unwrap();
            let segments_before = journal.segment_paths().count();
            let mut counter = self.counter;
            let start = Instant::now();
            for _ in 0..chunk {
                journal.append(&payload_64(counter)).expect("append");
                counter += 1;
                if counter % APPEND_BATCH == 0 {
                    journal.commit().expect("commit");
                }
            }
            total += start.elapsed();
            self.rollovers += (journal.segment_paths().count() - segments_before) as u64;
            self.counter = counter;
            self.in_segment += chunk;
            left -= chunk;
        }
        if !self.skip_rollovers {
            // Retention, untimed: keeps the disk footprint at one or two segments.
            let journal = self.journal.as_mut().unwrap();
            if let Some(last) = journal.last_seq() {
                journal.delete_segments_through(last).expect("retention");
            }
        }
        total
    }
}

/// `BufWriter<File>` writing the same 80 bytes per record, flushing at batch ends.
pub(super) struct BufRig {
    pub(super) dir: TempDir,
    pub(super) writer: Option<BufWriter<File>>,
    pub(super) counter: u64,
    pub(super) written: u64,
    pub(super) files: u64,
}

impl BufRig {
    pub(super) fn new(base: &Path) -> BufRig {
        let mut rig = BufRig {
            dir: tempfile::tempdir_in(base).expect("temp dir"),
            writer: None,
            counter: 0,
            written: 0,
            files: 0,
        };
        rig.rotate();
        rig
    }

    /// Replaces the file with a new empty one (untimed; keeps the disk footprint bounded).
    pub(super) fn rotate(&mut self) {
        if let Some(mut w) = self.writer.take() {
            w.flush().unwrap();
        }
        let path = self.dir.path().join("baseline.log");
        let _ = std::fs::remove_file(&path);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        self.writer = Some(BufWriter::new(file));
        self.written = 0;
        self.files += 1;
    }
}

impl Rig for BufRig {
    fn append_64(&mut self, n: u64) -> Duration {
        let writer = self.writer.as_mut().unwrap();
        let mut counter = self.counter;
        let start = Instant::now();
        for _ in 0..n {
            let mut frame = [0u8; FRAME_HEADER + 64];
            frame[..4].copy_from_slice(&(0x8000_0000u32 | 64).to_le_bytes());
            frame[8..16].copy_from_slice(&(counter + 1).to_le_bytes());
            frame[16..].copy_from_slice(&payload_64(counter));
            writer.write_all(&frame).expect("write");
            counter += 1;
            if counter % APPEND_BATCH == 0 {
                writer.flush().expect("flush");
            }
        }
        let elapsed = start.elapsed();
        self.counter = counter;
        self.written += n * (FRAME_HEADER as u64 + 64);
        if self.written >= 4 * SEGMENT_SIZE {
            self.rotate();
        }
        elapsed
    }
}

/// A durable writer: appends a batch of commands and makes it durable.
pub(super) trait DurableRig {
    /// One batch; returns its latency (append + commit).
    fn batch(&mut self, commands: &[Command]) -> Duration;
    /// Untimed housekeeping between samples.
    fn housekeeping(&mut self);
}

pub(super) struct AlwaysRig {
    pub(super) _dir: TempDir,
    pub(super) journal: Journal,
    pub(super) rollovers: u64,
}

impl AlwaysRig {
    pub(super) fn new(base: &Path) -> AlwaysRig {
        let dir = tempfile::tempdir_in(base).expect("temp dir");
        let (journal, _) = Journal::open(dir.path(), options(FlushPolicy::Always)).unwrap();
        AlwaysRig {
            _dir: dir,
            journal,
            rollovers: 0,
        }
    }
}

impl DurableRig for AlwaysRig {
    fn batch(&mut self, commands: &[Command]) -> Duration {
        let segments_before = self.journal.segment_paths().count();
        let start = Instant::now();
        let mut last = 0;
        for cmd in commands {
            last = self.journal.append(cmd.as_bytes()).expect("append");
        }
        let durable = self.journal.commit().expect("commit");
        let elapsed = start.elapsed();
        assert_eq!(
            durable, last,
            "a commit with Always makes the whole batch durable"
        );
        self.rollovers += (self.journal.segment_paths().count() - segments_before) as u64;
        elapsed
    }

    fn housekeeping(&mut self) {
        if let Some(last) = self.journal.last_seq() {
            self.journal
                .delete_segments_through(last)
                .expect("retention");
        }
    }
}

pub(super) struct FdatasyncRig {
    pub(super) dir: TempDir,
    pub(super) writer: BufWriter<File>,
    pub(super) seq: u64,
    pub(super) written: u64,
}

impl FdatasyncRig {
    pub(super) fn new(base: &Path) -> FdatasyncRig {
        let dir = tempfile::tempdir_in(base).expect("temp dir");
        let writer = FdatasyncRig::open(dir.path());
        FdatasyncRig {
            dir,
            writer,
            seq: 0,
            written: 0,
        }
    }

    pub(super) fn open(dir: &Path) -> BufWriter<File> {
        let path = dir.join("baseline.log");
        let _ = std::fs::remove_file(&path);
        BufWriter::new(
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(path)
                .unwrap(),
        )
    }
}

impl DurableRig for FdatasyncRig {
    fn batch(&mut self, commands: &[Command]) -> Duration {
        let start = Instant::now();
        for cmd in commands {
            self.seq += 1;
            let mut header = [0u8; FRAME_HEADER];
            header[..4].copy_from_slice(&(0x8000_0000u32 | 128).to_le_bytes());
            header[8..].copy_from_slice(&self.seq.to_le_bytes());
            self.writer.write_all(&header).expect("write");
            self.writer.write_all(cmd.as_bytes()).expect("write");
        }
        self.writer.flush().expect("flush");
        self.writer.get_ref().sync_data().expect("fdatasync");
        let elapsed = start.elapsed();
        self.written += (commands.len() * (FRAME_HEADER + 128)) as u64;
        elapsed
    }

    fn housekeeping(&mut self) {
        if self.written >= SEGMENT_SIZE {
            self.writer = FdatasyncRig::open(self.dir.path());
            self.written = 0;
        }
    }
}

/// Commands for the durable group: taken in order from the workload, wrapping around.
pub(super) struct CommandSource<'a> {
    pub(super) commands: &'a [Command],
    pub(super) at: usize,
}

impl<'a> CommandSource<'a> {
    pub(super) fn next(&mut self, n: usize) -> &'a [Command] {
        if self.at + n > self.commands.len() {
            self.at = 0;
        }
        let slice = &self.commands[self.at..self.at + n];
        self.at += n;
        slice
    }
}
