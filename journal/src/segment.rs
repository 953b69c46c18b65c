//! Segment files: header, naming, listing, creation (prepared ahead under a temporary name:
//! sized, prefaulted; then installed with its header and real name) and mapping. Layout in [`crate::format`].

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapMut, MmapOptions};

use crate::error::{JournalError, Result};

/// Magic bytes opening every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"HYJRNSEG";
/// The segment format version this crate writes and reads.
pub const SEGMENT_VERSION: u32 = 1;
/// Bytes in a segment header; the first frame starts here.
pub const SEGMENT_HEADER_LEN: usize = 64;
/// Segment file name suffix.
const SEGMENT_EXT: &str = "seg";
/// Suffix of a segment being created; never read, removed by the next writer.
pub(crate) const TEMP_SUFFIX: &str = ".seg.tmp";
const PAGE: usize = 4096;

/// A segment's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Sequence of the segment's first record.
    pub first_seq: u64,
    /// Length of the segment file in bytes.
    pub segment_size: u64,
}

impl SegmentHeader {
    fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        header[0..8].copy_from_slice(&SEGMENT_MAGIC);
        header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&(SEGMENT_HEADER_LEN as u32).to_le_bytes());
        header[16..24].copy_from_slice(&self.first_seq.to_le_bytes());
        header[24..32].copy_from_slice(&self.segment_size.to_le_bytes());
        let crc = crc32c::crc32c(&header[..60]);
        header[60..64].copy_from_slice(&crc.to_le_bytes());
        header
    }

    /// Decodes and validates a header; the error string says what is wrong.
    fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let field = |range: std::ops::Range<usize>| -> u64 {
            bytes[range]
                .iter()
                .rev()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        };
        if bytes.len() < SEGMENT_HEADER_LEN {
            return Err(format!(
                "file is {} bytes, shorter than a header",
                bytes.len()
            ));
        }
        if bytes[0..8] != SEGMENT_MAGIC {
            return Err(format!("bad magic {:02x?}", &bytes[0..8]));
        }
        let stored_crc = field(60..64) as u32;
        let computed = crc32c::crc32c(&bytes[..60]);
        if stored_crc != computed {
            return Err(format!(
                "header CRC mismatch: stored {stored_crc:#010x}, computed {computed:#010x}"
            ));
        }
        let version = field(8..12);
        if version != u64::from(SEGMENT_VERSION) {
            return Err(format!("unsupported format version {version}"));
        }
        let header_len = field(12..16);
        if header_len != SEGMENT_HEADER_LEN as u64 {
            return Err(format!("unsupported header length {header_len}"));
        }
        Ok(SegmentHeader {
            first_seq: field(16..24),
            segment_size: field(24..32),
        })
    }
}

/// A segment file found in a journal directory (by name; its header is not read yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// First sequence, from the file name.
    pub first_seq: u64,
    /// Path of the file.
    pub path: PathBuf,
}

/// File name of the segment starting at `first_seq`: `{first_seq:020}.seg`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.{SEGMENT_EXT}")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".seg")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Lists the segment files of `dir`, ordered by first sequence. Other files are ignored.
/// A missing directory is an empty journal.
pub fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io("read directory", dir, e)),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("read directory", dir, e))?;
        let name = entry.file_name();
        if let Some(first_seq) = name.to_str().and_then(parse_segment_name) {
            segments.push(SegmentFile {
                first_seq,
                path: entry.path(),
            });
        }
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

/// Temp files left by a writer that died while creating a segment.
pub(crate) fn list_temp_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io("read directory", dir, e))?;
    let mut temps = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io("read directory", dir, e))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(TEMP_SUFFIX))
        {
            temps.push(entry.path());
        }
    }
    Ok(temps)
}

/// Makes directory entries (creations, renames, deletions) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io("fsync directory", dir, e))
}

/// Checks a mapped or read segment's header against its file name and length.
pub(crate) fn validate_header(
    segment: &SegmentFile,
    bytes: &[u8],
    file_len: u64,
) -> Result<SegmentHeader> {
    let header = SegmentHeader::decode(bytes).map_err(|reason| JournalError::BadSegmentHeader {
        path: segment.path.clone(),
        reason,
    })?;
    if header.first_seq != segment.first_seq {
        return Err(JournalError::BadSegmentHeader {
            path: segment.path.clone(),
            reason: format!(
                "header says first seq {} but the file name says {}",
                header.first_seq, segment.first_seq
            ),
        });
    }
    if header.segment_size != file_len {
        return Err(JournalError::SegmentLength {
            path: segment.path.clone(),
            expected_len: header.segment_size,
            actual_len: file_len,
        });
    }
    Ok(header)
}

/// Reads the header of an open segment file and validates it and the file's length.
fn check_file(segment: &SegmentFile, file: &File) -> Result<()> {
    let path = &segment.path;
    let file_len = file
        .metadata()
        .map_err(|e| JournalError::io("stat segment", path, e))?
        .len();
    let mut head = [0u8; SEGMENT_HEADER_LEN];
    let head_len = (file_len as usize).min(SEGMENT_HEADER_LEN);
    file.read_exact_at(&mut head[..head_len], 0)
        .map_err(|e| JournalError::io("read segment header", path, e))?;
    validate_header(segment, &head[..head_len], file_len).map(|_| ())
}

/// Opens a segment read-only and maps it after validating its header and length.
pub(crate) fn map_read_only(segment: &SegmentFile) -> Result<Mmap> {
    let path = &segment.path;
    let file = File::open(path).map_err(|e| JournalError::io("open segment", path, e))?;
    check_file(segment, &file)?;
    // SAFETY: the journal's files are only ever appended to by the single writer, which publishes
    // each frame with a Release store of its commit word that readers load atomically; bytes a
    // reader looks at are never changed afterwards (only repair/recovery, with the lock, zero
    // bytes past the valid records).
    unsafe { Mmap::map(&file) }.map_err(|e| JournalError::io("mmap segment", path, e))
}

/// Opens an existing segment for writing (recovery, repair). Validates header and length.
pub(crate) fn map_writable(segment: &SegmentFile) -> Result<(File, MmapMut)> {
    let path = &segment.path;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io("open segment", path, e))?;
    check_file(segment, &file)?;
    // SAFETY: we hold the directory's writer lock, so no other writer maps this file mutably.
    let map = unsafe { MmapMut::map_mut(&file) }
        .map_err(|e| JournalError::io("mmap segment", path, e))?;
    Ok((file, map))
}

/// Name of the spare segment the writer's background thread prepares ahead of a roll-over. It
/// ends in [`TEMP_SUFFIX`], so a spare left by a crashed writer is deleted by the next open.
pub(crate) const SPARE_FILE_NAME: &str = "spare.seg.tmp";

/// A segment file prepared ahead of use under a temporary name: sized, mapped and prefaulted, but
/// with no header yet (its `first_seq` is not known until the roll-over that installs it).
pub(crate) struct Spare {
    /// The temporary path (ends in [`TEMP_SUFFIX`]).
    pub(crate) path: PathBuf,
    file: File,
    map: MmapMut,
}

impl std::fmt::Debug for Spare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spare").field("path", &self.path).finish()
    }
}

/// How [`prepare`] fills a new segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// A sparse file whose length is fsynced; every page is then dirtied in the page cache (a write
    /// to each page) so appends neither page-fault nor allocate, but no zeros are written to disk:
    /// the records are written once, by writeback or a later sync. For `FlushPolicy::Never`.
    Sparse,
    /// As `Sparse`, then the zeros are written and fsynced: the blocks are allocated and
    /// initialised, so a commit's `msync` later is a plain overwrite (no block allocation and no
    /// file-system journal commit on the commit path). For `Always` and `Interval`.
    Zeroed,
}

/// Prepares a segment file of `segment_size` bytes named `temp_name` in `dir` (which must end in
/// [`TEMP_SUFFIX`]): length durable, mapped, every page prefaulted for writing. The slow part of
/// creating a segment; the writer's background thread runs it ahead of the roll-over.
pub(crate) fn prepare(dir: &Path, temp_name: &str, segment_size: u64, fill: Fill) -> Result<Spare> {
    debug_assert!(temp_name.ends_with(TEMP_SUFFIX));
    let path = dir.join(temp_name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| JournalError::io("create segment", &path, e))?;
    file.set_len(segment_size)
        .map_err(|e| JournalError::io("preallocate segment", &path, e))?;
    reserve_blocks(&file, segment_size)
        .map_err(|e| JournalError::io("reserve segment blocks", &path, e))?;
    // The length is durable before the file can get a segment's name (sparse: no data written).
    file.sync_all()
        .map_err(|e| JournalError::io("fsync segment", &path, e))?;
    // SAFETY: the file is new and private to this writer until it is renamed by `install`.
    let mut map = unsafe { MmapOptions::new().map_mut(&file) }
        .map_err(|e| JournalError::io("mmap segment", &path, e))?;
    prefault_writable(&mut map);
    if fill == Fill::Zeroed {
        file.sync_all()
            .map_err(|e| JournalError::io("fsync segment", &path, e))?;
    }
    Ok(Spare { path, file, map })
}

/// Turns a prepared spare into the segment starting at `first_seq`: writes its header through the
/// mapping (no system call) and renames it to `{first_seq:020}.seg`, so tailers and recovery only
/// ever see a segment with its full length and a valid header.
///
/// With `durable`, also msyncs the header page before the rename and fsyncs the directory after
/// it: a power cut then leaves either the temporary file (deleted by the next open) or a complete
/// empty segment. Without it (`FlushPolicy::Never`), the header and the name are only in the page
/// cache, which a process crash does not lose; [`crate::Journal::sync`] makes them durable later.
/// Either way the order of the steps makes a process crash between any two of them safe.
pub(crate) fn install(
    dir: &Path,
    mut spare: Spare,
    first_seq: u64,
    durable: bool,
) -> Result<(SegmentFile, File, MmapMut)> {
    let segment_size = spare.map.len() as u64;
    spare.map[..SEGMENT_HEADER_LEN].copy_from_slice(
        &SegmentHeader {
            first_seq,
            segment_size,
        }
        .encode(),
    );
    if durable {
        spare
            .map
            .flush_range(0, SEGMENT_HEADER_LEN)
            .map_err(|e| JournalError::io("msync segment header", &spare.path, e))?;
    }
    let path = dir.join(segment_file_name(first_seq));
    fs::rename(&spare.path, &path)
        .map_err(|e| JournalError::io("rename segment", &spare.path, e))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok((SegmentFile { first_seq, path }, spare.file, spare.map))
}

/// Creates the segment starting at `first_seq` inline (at open, or when no spare is ready):
/// [`prepare`] under the name `{first_seq:020}.seg.tmp`, then [`install`].
pub(crate) fn create(
    dir: &Path,
    first_seq: u64,
    segment_size: u64,
    fill: Fill,
    durable: bool,
) -> Result<(SegmentFile, File, MmapMut)> {
    let temp_name = format!("{}.tmp", segment_file_name(first_seq));
    let spare = prepare(dir, &temp_name, segment_size, fill)?;
    install(dir, spare, first_seq, durable)
}

/// Reserves the file's blocks (`fallocate`) so that a full file system is a named error here,
/// before the file is mapped, rather than a SIGBUS when the prefault or an append first writes
/// to a page of a sparse mapping. File systems without `fallocate` keep the sparse file.
fn reserve_blocks(file: &File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let len = libc::off_t::try_from(len)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: a plain system call on a file descriptor this function borrows.
        if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EOPNOTSUPP) {
                return Err(e);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, len);
    Ok(())
}

/// Makes every page of `map` present and writable, so appends neither page-fault nor allocate:
/// one `madvise(MADV_POPULATE_WRITE)` where the kernel has it (Linux 5.14+), which is several
/// times faster than faulting page by page; [`prefault`] otherwise.
fn prefault_writable(map: &mut MmapMut) {
    #[cfg(target_os = "linux")]
    if map.advise(memmap2::Advice::PopulateWrite).is_ok() {
        return;
    }
    prefault(map);
}

/// Writes a zero to the last byte of every page (all zero already), so the kernel allocates the
/// page (and reserves its blocks) now rather than on the append path.
fn prefault(map: &mut [u8]) {
    let mut page_end = PAGE;
    while page_end - PAGE < map.len() {
        let index = page_end.min(map.len()) - 1;
        // Volatile so the compiler keeps a store of a value the byte already has.
        // SAFETY: `index` is in bounds of the exclusively borrowed map.
        unsafe { std::ptr::write_volatile(map.as_mut_ptr().add(index), 0) };
        page_end += PAGE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full file system is a named error when a segment is prepared, not a SIGBUS later. Needs
    /// root to mount a small tmpfs; skipped (with a message) where mounting is refused.
    #[test]
    fn a_full_file_system_is_a_named_error_when_a_segment_is_prepared() {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return;
        }
        struct Unmount<'a>(&'a Path);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                let _ = std::process::Command::new("umount").arg(self.0).status();
            }
        }
        let _unmount = Unmount(dir.path());
        let err = match create(dir.path(), 1, 8 << 20, Fill::Zeroed, true) {
            Ok(_) => panic!("an 8 MiB segment fitted in a 2 MiB file system"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("reserve segment blocks"), "{err}");
        assert!(err.contains(".seg.tmp"), "{err}");
        // A segment that fits is still made.
        create(dir.path(), 1, 1 << 20, Fill::Zeroed, true).unwrap();
    }

    #[test]
    fn header_round_trips() {
        let header = SegmentHeader {
            first_seq: 12345,
            segment_size: 65536,
        };
        assert_eq!(SegmentHeader::decode(&header.encode()), Ok(header));
    }

    #[test]
    fn a_header_bit_flip_is_detected() {
        let mut bytes = SegmentHeader {
            first_seq: 1,
            segment_size: 4096,
        }
        .encode();
        bytes[20] ^= 1;
        assert!(SegmentHeader::decode(&bytes).unwrap_err().contains("CRC"));
    }

    #[test]
    fn segment_names_sort_and_parse() {
        assert_eq!(segment_file_name(7), "00000000000000000007.seg");
        assert_eq!(parse_segment_name("00000000000000000007.seg"), Some(7));
        assert_eq!(parse_segment_name("00000000000000000007.seg.tmp"), None);
        assert_eq!(parse_segment_name("7.seg"), None);
    }
}
