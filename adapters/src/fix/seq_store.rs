//! FIX sequence numbers that survive a gateway restart (BEHAVIOUR.md §6): one small memory-mapped file per
//! session, `<dir>/<client comp id>.seqnums`, holding the next sequence number expected from the
//! client and the next one we send.
//!
//! Stores into the map are plain memory writes (no system call per message) and reach the file
//! through the page cache even if the process is killed; a power cut may lose the last few, which
//! FIX recovers from anyway (ResendRequest, or a client's ResetSeqNumFlag).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

/// Magic and layout version at the start of the file.
const MAGIC: &[u8; 8] = b"HYTSEQ01";
const LEN: usize = 24;

/// A session's persisted sequence numbers.
#[derive(Debug)]
pub struct SeqStore {
    map: MmapMut,
    path: PathBuf,
}

impl SeqStore {
    /// Opens (or creates, at 1 and 1) the store of the session whose client is `comp_id`.
    pub fn open(dir: &Path, comp_id: &str) -> io::Result<SeqStore> {
        let (file, path) = open_session_file(dir, comp_id, "seqnums")?;
        let fresh = file.metadata()?.len() != LEN as u64;
        if fresh {
            file.set_len(LEN as u64)?;
        }
        // SAFETY: the file is ours (the gateway holds the journal's directory lock) and its
        // length was just fixed; nothing else maps or truncates it while we run.
        let map = unsafe { MmapMut::map_mut(&file)? };
        let mut store = SeqStore { map, path };
        if fresh || &store.map[..8] != MAGIC {
            store.map[..8].copy_from_slice(MAGIC);
            store.set(1, 1);
        }
        Ok(store)
    }

    /// A store at 1 and 1 that lives only in memory (an anonymous map, no file): nothing
    /// survives the process. For tests and fuzzing, where a file per session is only cost.
    pub fn in_memory() -> io::Result<SeqStore> {
        let map = memmap2::MmapOptions::new().len(LEN).map_anon()?;
        let mut store = SeqStore {
            map,
            path: PathBuf::new(),
        };
        store.map[..8].copy_from_slice(MAGIC);
        store.set(1, 1);
        Ok(store)
    }

    /// The next sequence number expected from the client.
    pub fn next_in(&self) -> u64 {
        self.word(8)
    }

    /// The next sequence number we send.
    pub fn next_out(&self) -> u64 {
        self.word(16)
    }

    /// Records both.
    pub fn set(&mut self, next_in: u64, next_out: u64) {
        self.map[8..16].copy_from_slice(&next_in.to_le_bytes());
        self.map[16..24].copy_from_slice(&next_out.to_le_bytes());
    }

    /// Records the next expected incoming number.
    pub fn set_next_in(&mut self, next_in: u64) {
        self.map[8..16].copy_from_slice(&next_in.to_le_bytes());
    }

    /// Records the next outgoing number.
    pub fn set_next_out(&mut self, next_out: u64) {
        self.map[16..24].copy_from_slice(&next_out.to_le_bytes());
    }

    /// Where the numbers live.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn word(&self, at: usize) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.map[at..at + 8]);
        u64::from_le_bytes(bytes).max(1)
    }
}

/// Opens (creating) `<dir>/<comp id>.<extension>`, a session's file, for reading and writing.
pub(super) fn open_session_file(
    dir: &Path,
    comp_id: &str,
    extension: &str,
) -> io::Result<(File, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.{extension}", file_stem(comp_id)));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    Ok((file, path))
}

/// A file name for a comp id: itself when it is plain, else hex, so no comp id can name a path.
fn file_stem(comp_id: &str) -> String {
    let plain = !comp_id.is_empty()
        && comp_id.len() <= 64
        && comp_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        comp_id.to_owned()
    } else {
        comp_id.bytes().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = SeqStore::open(dir.path(), "ALICE").expect("open");
        assert_eq!((store.next_in(), store.next_out()), (1, 1));
        store.set(42, 17);
        drop(store);
        let store = SeqStore::open(dir.path(), "ALICE").expect("reopen");
        assert_eq!((store.next_in(), store.next_out()), (42, 17));
    }

    #[test]
    fn an_in_memory_store_starts_at_one_and_keeps_numbers() {
        let mut store = SeqStore::in_memory().expect("anonymous map");
        assert_eq!((store.next_in(), store.next_out()), (1, 1));
        store.set_next_in(5);
        store.set_next_out(9);
        assert_eq!((store.next_in(), store.next_out()), (5, 9));
    }

    #[test]
    fn a_comp_id_cannot_name_a_path() {
        assert_eq!(file_stem("ALICE_1"), "ALICE_1");
        assert_eq!(file_stem("../x"), "2e2e2f78");
    }

    #[test]
    fn a_damaged_file_starts_again_at_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("BOB.seqnums"), b"garbage").expect("write");
        let store = SeqStore::open(dir.path(), "BOB").expect("open");
        assert_eq!((store.next_in(), store.next_out()), (1, 1));
    }
}
