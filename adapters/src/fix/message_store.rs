//! The application messages a FIX session sent, kept so a ResendRequest gets them back
//! (BEHAVIOUR.md §6): one memory-mapped ring file per session, `<dir>/<client comp id>.messages`,
//! beside the session's sequence numbers and surviving a restart or a SIGKILL the same way
//! (stores are memory writes that reach the file through the page cache).
//!
//! Each record is the message exactly as sent, with its MsgSeqNum and send time. The ring is
//! bounded by its size: when it is full, the oldest records are overwritten, and a resend
//! gap-fills what is no longer there (as it does for session messages and for anything older
//! than the retention window). Appending is a copy into the map: no allocation, no system call.
//!
//! Layout: a 64-byte header (magic, capacity, the logical byte positions of the oldest record
//! and of the next write, the number of records), then the ring. Positions only grow; a
//! position's byte is at `position % capacity`. A record is `len: u32, pad: u32, seq: u64,
//! sent_ns: u64`, then `len` bytes, padded to 8. A record that would cross the end of the ring
//! starts at its beginning instead, and a `len` of `u32::MAX` marks where the old lap stopped.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use memmap2::MmapMut;

use super::seq_store::open_session_file;

const MAGIC: &[u8; 8] = b"HYTMSG01";
const HEADER: usize = 64;
const RECORD_HEADER: usize = 24;
const WRAP: u32 = u32::MAX;

/// Header words (byte offsets in the file).
const AT_CAPACITY: usize = 8;
const AT_OLDEST: usize = 16;
const AT_NEXT: usize = 24;
const AT_COUNT: usize = 32;

/// One stored message, as [`MessageStore::range`] yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored<'a> {
    /// Its MsgSeqNum.
    pub seq: u64,
    /// When it was sent (Unix ns).
    pub sent_ns: u64,
    /// The message as it went out, header to CheckSum.
    pub bytes: &'a [u8],
}

/// A session's sent application messages.
#[derive(Debug)]
pub struct MessageStore {
    map: MmapMut,
}

impl MessageStore {
    /// Opens (or creates, empty) the store of the session whose client is `comp_id`, holding
    /// up to `capacity` bytes of messages. A file of another size or layout starts empty.
    pub fn open(dir: &Path, comp_id: &str, capacity: usize) -> io::Result<MessageStore> {
        let (file, _) = open_session_file(dir, comp_id, "messages")?;
        let len = (HEADER + capacity.next_multiple_of(8)) as u64;
        let fresh = file.metadata()?.len() != len;
        if fresh {
            file.set_len(0)?;
            file.set_len(len)?;
        }
        // Blocks allocated and pages mapped now, at logon, rather than by the first write to
        // each page while an execution report goes out (measured: that moved order→ack's
        // p99.99 from 1.2 to 1.7 ms at 10k/s). A file system without fallocate still works,
        // sparsely; but a full one refuses the logon here, because a write to a page that has no
        // block behind it would kill the gateway with SIGBUS.
        // SAFETY: posix_fallocate on our own open descriptor, within the length just set.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
        if rc == libc::ENOSPC || rc == libc::EDQUOT {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: the file is ours (the gateway holds the data directory's lock, and a comp id
        // has one session at a time); its length was just fixed and nothing truncates it
        // while it is mapped.
        let map = unsafe { memmap2::MmapOptions::new().populate().map_mut(&file)? };
        let mut store = MessageStore { map };
        if fresh || !store.consistent() {
            store.clear();
        }
        Ok(store)
    }

    /// A store of `capacity` bytes in memory only (an anonymous map): for tests and fuzzing.
    pub fn in_memory(capacity: usize) -> io::Result<MessageStore> {
        let map = memmap2::MmapOptions::new()
            .len(HEADER + capacity.next_multiple_of(8))
            .map_anon()?;
        let mut store = MessageStore { map };
        store.clear();
        Ok(store)
    }

    /// Forgets every message (the sequence numbers were reset).
    pub fn clear(&mut self) {
        self.map[..8].copy_from_slice(MAGIC);
        let capacity = (self.map.len() - HEADER) as u64;
        self.put_word(AT_CAPACITY, capacity);
        self.put_word(AT_OLDEST, 0);
        self.put_word(AT_NEXT, 0);
        self.put_word(AT_COUNT, 0);
    }

    /// Keeps `message`, sent as `seq` at `sent_ns`, dropping the oldest messages to make room.
    /// A message larger than the whole ring is not kept (a resend gap-fills it).
    pub fn append(&mut self, seq: u64, sent_ns: u64, message: &[u8]) {
        let need = (RECORD_HEADER + message.len().next_multiple_of(8)) as u64;
        let capacity = self.capacity() as u64;
        if need > capacity || message.len() >= WRAP as usize {
            return;
        }
        let next = self.word(AT_NEXT);
        let offset = next % capacity;
        let start = if offset + need > capacity {
            next + (capacity - offset)
        } else {
            next
        };
        // Make room first: every byte from `next` to the record's end must be free.
        while self.word(AT_COUNT) > 0 && start + need - self.word(AT_OLDEST) > capacity {
            let oldest = self.word(AT_OLDEST);
            let after = match read_record(&self.map[HEADER..], oldest) {
                Some((_, after)) => after,
                None => next,
            };
            self.put_word(AT_OLDEST, after);
            self.put_word(AT_COUNT, self.word(AT_COUNT) - 1);
        }
        if self.word(AT_COUNT) == 0 {
            self.put_word(AT_OLDEST, start);
        }
        let ring = self.ring_mut();
        if start != next {
            let at = offset as usize;
            ring[at..at + 4].copy_from_slice(&WRAP.to_le_bytes());
        }
        let at = (start % capacity) as usize;
        ring[at..at + 4].copy_from_slice(&(message.len() as u32).to_le_bytes());
        ring[at + 4..at + 8].fill(0);
        ring[at + 8..at + 16].copy_from_slice(&seq.to_le_bytes());
        ring[at + 16..at + 24].copy_from_slice(&sent_ns.to_le_bytes());
        ring[at + RECORD_HEADER..at + RECORD_HEADER + message.len()].copy_from_slice(message);
        self.put_word(AT_COUNT, self.word(AT_COUNT) + 1);
        self.put_word(AT_NEXT, start + need);
    }

    /// The stored messages with `begin <= seq <= end`, oldest first.
    pub fn range(&self, begin: u64, end: u64) -> impl Iterator<Item = Stored<'_>> {
        self.records()
            .filter(move |stored| stored.seq >= begin && stored.seq <= end)
    }

    /// How many messages it holds.
    pub fn len(&self) -> u64 {
        self.word(AT_COUNT)
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record, oldest first.
    fn records(&self) -> impl Iterator<Item = Stored<'_>> {
        let ring = &self.map[HEADER..];
        let mut at = self.word(AT_OLDEST);
        let mut left = self.word(AT_COUNT);
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let (stored, after) = read_record(ring, at)?;
            left -= 1;
            at = after;
            Some(stored)
        })
    }

    /// The header and the records agree (a file cut short or scribbled on starts over empty
    /// rather than resend garbage).
    fn consistent(&self) -> bool {
        if &self.map[..8] != MAGIC || self.word(AT_CAPACITY) as usize != self.capacity() {
            return false;
        }
        let (oldest, next) = (self.word(AT_OLDEST), self.word(AT_NEXT));
        if next < oldest || next - oldest > self.capacity() as u64 {
            return false;
        }
        let ring = &self.map[HEADER..];
        let mut at = oldest;
        for _ in 0..self.word(AT_COUNT) {
            match read_record(ring, at) {
                Some((_, after)) if after <= next => at = after,
                _ => return false,
            }
        }
        at == next
    }

    fn capacity(&self) -> usize {
        self.map.len() - HEADER
    }

    fn ring_mut(&mut self) -> &mut [u8] {
        &mut self.map[HEADER..]
    }

    fn word(&self, at: usize) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.map[at..at + 8]);
        u64::from_le_bytes(bytes)
    }

    fn put_word(&mut self, at: usize, value: u64) {
        self.map[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }
}

/// The record at logical position `at` (past a wrap mark) and the position after it.
fn read_record(ring: &[u8], mut at: u64) -> Option<(Stored<'_>, u64)> {
    let capacity = ring.len() as u64;
    if capacity == 0 {
        return None;
    }
    let u32_at = |i: usize| {
        ring.get(i..i + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |i: usize| {
        ring.get(i..i + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let mut i = (at % capacity) as usize;
    if u32_at(i)? == WRAP {
        at += capacity - i as u64;
        i = 0;
    }
    let len = u32_at(i)?;
    if len == WRAP {
        return None;
    }
    let len = len as usize;
    let body = ring.get(i + RECORD_HEADER..i + RECORD_HEADER + len)?;
    let stored = Stored {
        seq: u64_at(i + 8)?,
        sent_ns: u64_at(i + 16)?,
        bytes: body,
    };
    Some((
        stored,
        at + (RECORD_HEADER + len.next_multiple_of(8)) as u64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64, len: usize) -> Vec<u8> {
        let mut m = format!("8=FIX.4.4|34={seq}|").into_bytes();
        m.resize(len.max(m.len()), b'x');
        m
    }

    #[test]
    fn keeps_what_fits_and_drops_the_oldest() {
        let mut store = MessageStore::in_memory(1024).expect("map");
        for seq in 1..=100 {
            store.append(seq, seq * 10, &message(seq, 50 + (seq as usize % 30)));
            let seqs: Vec<u64> = store.range(0, u64::MAX).map(|s| s.seq).collect();
            assert_eq!(seqs.last(), Some(&seq));
            assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
            assert_eq!(seqs.len() as u64, store.len());
            assert!(store.consistent());
            for stored in store.range(0, u64::MAX) {
                assert_eq!(
                    stored.bytes,
                    message(stored.seq, 50 + (stored.seq as usize % 30))
                );
                assert_eq!(stored.sent_ns, stored.seq * 10);
            }
        }
        // 1024 bytes hold about a dozen of these.
        assert!((8..=14).contains(&store.len()), "{}", store.len());
        let tail: Vec<u64> = store.range(95, 97).map(|s| s.seq).collect();
        assert_eq!(tail, vec![95, 96, 97]);
    }

    #[test]
    fn a_message_larger_than_the_ring_is_not_kept() {
        let mut store = MessageStore::in_memory(128).expect("map");
        store.append(1, 0, &message(1, 40));
        store.append(2, 0, &message(2, 500));
        assert_eq!(
            store.range(0, 9).map(|s| s.seq).collect::<Vec<_>>(),
            vec![1]
        );
    }

    #[test]
    fn survives_reopening_and_starts_over_on_a_corrupt_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut store = MessageStore::open(dir.path(), "ALICE", 4096).expect("open");
            for seq in 1..=200 {
                store.append(seq, seq, &message(seq, 100));
            }
        }
        let store = MessageStore::open(dir.path(), "ALICE", 4096).expect("reopen");
        let seqs: Vec<u64> = store.range(0, u64::MAX).map(|s| s.seq).collect();
        assert_eq!(seqs.last(), Some(&200));
        assert!(seqs.len() > 20);
        drop(store);
        // A different capacity is a different layout: it starts empty.
        let store = MessageStore::open(dir.path(), "ALICE", 8192).expect("resized");
        assert!(store.is_empty());
        drop(store);
        let path = dir.path().join("ALICE.messages");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[AT_COUNT] = 0xff;
        std::fs::write(&path, bytes).expect("write");
        let store = MessageStore::open(dir.path(), "ALICE", 8192).expect("corrupt");
        assert!(store.is_empty());
    }
}
