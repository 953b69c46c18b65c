//! Helpers shared by the journal's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hayate_journal::record::frame_len;
use hayate_journal::segment::{SEGMENT_HEADER_LEN, segment_file_name};
use hayate_journal::{FlushPolicy, Journal, JournalOptions, JournalReader};

/// The payload every test writes for `seq`: length and content are a function of the sequence,
/// so a reader can check content without remembering it.
pub fn payload_for(seq: u64) -> Vec<u8> {
    let len = (seq.wrapping_mul(2_654_435_761) % 301) as usize;
    (0..len)
        .map(|i| (seq as u8).wrapping_mul(31).wrapping_add(i as u8) ^ 0x5A)
        .collect()
}

pub fn options(segment_size: u64, flush_policy: FlushPolicy) -> JournalOptions {
    JournalOptions {
        segment_size,
        flush_policy,
        first_seq: 1,
    }
}

/// Appends `payload_for(seq)` for the next `count` sequences and commits.
pub fn append_records(journal: &mut Journal, count: u64) {
    for _ in 0..count {
        let seq = journal.next_seq();
        assert_eq!(journal.append(&payload_for(seq)).unwrap(), seq);
    }
    journal.commit().unwrap();
}

/// Creates a journal with `count` standard records and closes it.
pub fn write_journal(dir: &Path, segment_size: u64, count: u64) {
    let (mut journal, _) = Journal::open(dir, options(segment_size, FlushPolicy::Always)).unwrap();
    append_records(&mut journal, count);
}

/// Where record `seq` lives, by replaying the writer's layout rules for `payload_for` records
/// 1..=seq in segments of `segment_size`: (segment path, byte offset, frame length).
pub fn locate(dir: &Path, segment_size: u64, seq: u64) -> (PathBuf, u64, u64) {
    let mut first_seq = 1;
    let mut offset = SEGMENT_HEADER_LEN as u64;
    for s in 1..=seq {
        let len = frame_len(payload_for(s).len()) as u64;
        if offset + len > segment_size {
            first_seq = s;
            offset = SEGMENT_HEADER_LEN as u64;
        }
        if s == seq {
            return (dir.join(segment_file_name(first_seq)), offset, len);
        }
        offset += len;
    }
    unreachable!("seq 0 has no location")
}

/// First sequences of the segments a journal of `count` standard records has.
pub fn segment_starts(segment_size: u64, count: u64) -> Vec<u64> {
    let mut starts = vec![1];
    let mut offset = SEGMENT_HEADER_LEN as u64;
    for s in 1..=count {
        let len = frame_len(payload_for(s).len()) as u64;
        if offset + len > segment_size {
            starts.push(s);
            offset = SEGMENT_HEADER_LEN as u64;
        }
        offset += len;
    }
    starts
}

pub fn xor_byte(path: &Path, offset: u64, mask: u8) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= mask;
    file.write_all_at(&byte, offset).unwrap();
}

pub fn fill(path: &Path, offset: u64, len: usize, value: u8) {
    let file = OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(&vec![value; len], offset).unwrap();
}

/// Reads every record, checking order, continuity and content; returns the sequences.
pub fn read_all_checked(dir: &Path) -> Vec<u64> {
    let reader = JournalReader::open(dir).unwrap();
    let mut seqs = Vec::new();
    for record in reader.records_from(0) {
        let record = record.unwrap();
        if let Some(last) = seqs.last() {
            assert_eq!(record.seq, last + 1, "sequence gap");
        }
        assert_eq!(
            record.payload,
            payload_for(record.seq).as_slice(),
            "payload of seq {}",
            record.seq
        );
        seqs.push(record.seq);
    }
    seqs
}

/// A small xorshift generator: tests need reproducible randomness, not a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn from_clock() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Rng::seeded(nanos as u64 ^ u64::from(std::process::id()))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform-ish in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

/// Polls `condition` every millisecond until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    condition()
}
