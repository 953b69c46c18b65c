//! Snapshot files: a state image at a sequence, written atomically and checksummed.
//!
//! Layout of `snapshot-{seq:020}.snap` (little-endian):
//!
//! | bytes  | field                                   |
//! |--------|-----------------------------------------|
//! | 0..8   | magic `HYSNAP01`                        |
//! | 8..12  | format version (1)                      |
//! | 12..16 | CRC32C of the body                      |
//! | 16..24 | sequence the state is at                |
//! | 24..32 | body length in bytes                    |
//! | 32..36 | CRC32C of header bytes 0..32            |
//! | 36..40 | zero                                    |
//! | 40..   | body (opaque to this crate)             |
//!
//! Written to a temporary file in the same directory, fsynced, renamed into place and the
//! directory fsynced: a reader sees either the whole snapshot or none.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Magic bytes opening a snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"HYSNAP01";
/// The snapshot format version this crate writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Bytes before the body.
pub const SNAPSHOT_HEADER_LEN: usize = 40;

/// Errors reading or writing snapshot files; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    /// An I/O operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the snapshot magic.
    #[error("{path} is not a snapshot file (bad magic)")]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// The header fails its CRC or has an unknown version.
    #[error("bad snapshot header in {path}: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file is shorter or longer than its header says.
    #[error(
        "snapshot {path} should be {expected} bytes but is {actual} (truncated or appended to)"
    )]
    Length {
        /// The file.
        path: PathBuf,
        /// Header + body length from the header.
        expected: u64,
        /// Actual file length.
        actual: u64,
    },
    /// The body fails its CRC.
    #[error("snapshot {path} body CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    BodyCrc {
        /// The file.
        path: PathBuf,
        /// CRC from the header.
        stored: u32,
        /// CRC of the body as read.
        computed: u32,
    },
    /// The sequence in the header differs from the one in the file name.
    #[error("snapshot {path} header says seq {header_seq} but its name says {name_seq}")]
    SeqMismatch {
        /// The file.
        path: PathBuf,
        /// Sequence from the header.
        header_seq: u64,
        /// Sequence from the file name.
        name_seq: u64,
    },
}

fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> SnapshotFileError + 'a {
    move |source| SnapshotFileError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// File name of the snapshot at `seq`.
pub fn snapshot_file_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.snap")
}

fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn encode_header(seq: u64, body: &[u8]) -> [u8; SNAPSHOT_HEADER_LEN] {
    let mut header = [0u8; SNAPSHOT_HEADER_LEN];
    header[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
    header[8..12].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&crc32c::crc32c(body).to_le_bytes());
    header[16..24].copy_from_slice(&seq.to_le_bytes());
    header[24..32].copy_from_slice(&(body.len() as u64).to_le_bytes());
    let header_crc = crc32c::crc32c(&header[..32]);
    header[32..36].copy_from_slice(&header_crc.to_le_bytes());
    header
}

/// Writes the snapshot of the state at `seq` atomically into `dir` (created if missing) and
/// returns its path. An existing snapshot at the same `seq` is replaced.
pub fn write_snapshot(
    dir: impl AsRef<Path>,
    seq: u64,
    body: &[u8],
) -> Result<PathBuf, SnapshotFileError> {
    let dir = dir.as_ref();
    fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    let path = dir.join(snapshot_file_name(seq));
    // The pid keeps two processes writing the same seq from sharing a temp file.
    let temp = dir.join(format!(
        "{}.tmp.{}",
        snapshot_file_name(seq),
        std::process::id()
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .map_err(io_err("create snapshot", &temp))?;
    file.write_all(&encode_header(seq, body))
        .map_err(io_err("write snapshot", &temp))?;
    file.write_all(body)
        .map_err(io_err("write snapshot", &temp))?;
    file.sync_all().map_err(io_err("fsync snapshot", &temp))?;
    fs::rename(&temp, &path).map_err(io_err("rename snapshot", &temp))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))?;
    Ok(path)
}

/// Lists the snapshot files in `dir` as `(seq, path)`, oldest first (by name; not validated).
/// A missing directory has none.
pub fn list_snapshots(dir: impl AsRef<Path>) -> Result<Vec<(u64, PathBuf)>, SnapshotFileError> {
    let dir = dir.as_ref();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read directory", dir)(e)),
    };
    let mut snapshots = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("read directory", dir))?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_snapshot_name) {
            snapshots.push((seq, entry.path()));
        }
    }
    snapshots.sort();
    Ok(snapshots)
}

/// Reads and checks a snapshot file (magic, header CRC, version, length, body CRC, and the
/// sequence against the file name); returns `(seq, body)`.
pub fn read_snapshot(path: impl AsRef<Path>) -> Result<(u64, Vec<u8>), SnapshotFileError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(io_err("read snapshot", path))?;
    let field = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    };
    if bytes.len() < SNAPSHOT_MAGIC.len() || bytes[..8] != SNAPSHOT_MAGIC {
        return Err(SnapshotFileError::BadMagic {
            path: path.to_path_buf(),
        });
    }
    if bytes.len() < SNAPSHOT_HEADER_LEN {
        return Err(SnapshotFileError::Length {
            path: path.to_path_buf(),
            expected: SNAPSHOT_HEADER_LEN as u64,
            actual: bytes.len() as u64,
        });
    }
    let bad_header = |reason: String| SnapshotFileError::BadHeader {
        path: path.to_path_buf(),
        reason,
    };
    let stored_header_crc = field(32..36) as u32;
    let computed_header_crc = crc32c::crc32c(&bytes[..32]);
    if stored_header_crc != computed_header_crc {
        return Err(bad_header(format!(
            "header CRC mismatch: stored {stored_header_crc:#010x}, computed {computed_header_crc:#010x}"
        )));
    }
    let version = field(8..12);
    if version != u64::from(SNAPSHOT_VERSION) {
        return Err(bad_header(format!("unsupported format version {version}")));
    }
    let seq = field(16..24);
    let body_len = field(24..32);
    let expected = (SNAPSHOT_HEADER_LEN as u64).saturating_add(body_len);
    if expected != bytes.len() as u64 {
        return Err(SnapshotFileError::Length {
            path: path.to_path_buf(),
            expected,
            actual: bytes.len() as u64,
        });
    }
    let body = &bytes[SNAPSHOT_HEADER_LEN..];
    let stored = field(12..16) as u32;
    let computed = crc32c::crc32c(body);
    if stored != computed {
        return Err(SnapshotFileError::BodyCrc {
            path: path.to_path_buf(),
            stored,
            computed,
        });
    }
    let name_seq = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_snapshot_name);
    if let Some(name_seq) = name_seq.filter(|n| *n != seq) {
        return Err(SnapshotFileError::SeqMismatch {
            path: path.to_path_buf(),
            header_seq: seq,
            name_seq,
        });
    }
    Ok((seq, body.to_vec()))
}

/// The newest snapshot that reads back valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSnapshot {
    /// The sequence the state is at; replay the journal from `seq + 1`.
    pub seq: u64,
    /// The snapshot body.
    pub body: Vec<u8>,
    /// The file it came from.
    pub path: PathBuf,
}

/// Loads the newest valid snapshot in `dir`, falling back to older ones past corrupt files.
/// Returns it (if any) and one error for every newer file that was skipped, so the caller can
/// report them. Fails only if the directory cannot be listed.
pub fn newest_valid_snapshot(
    dir: impl AsRef<Path>,
) -> Result<(Option<LoadedSnapshot>, Vec<SnapshotFileError>), SnapshotFileError> {
    let mut skipped = Vec::new();
    for (_, path) in list_snapshots(dir)?.into_iter().rev() {
        match read_snapshot(&path) {
            Ok((seq, body)) => return Ok((Some(LoadedSnapshot { seq, body, path }), skipped)),
            Err(error) => skipped.push(error),
        }
    }
    Ok((None, skipped))
}

/// Keeps the newest `keep_newest_n` VALID snapshots and deletes every snapshot file older than
/// the oldest of them (corrupt files newer than that are left for the operator to inspect).
/// Deletes nothing if fewer than `keep_newest_n` valid snapshots exist, or if it is 0 (keeping no
/// snapshot is never what recovery wants). Returns the deleted files.
pub fn delete_snapshots_before(
    dir: impl AsRef<Path>,
    keep_newest_n: usize,
) -> Result<Vec<PathBuf>, SnapshotFileError> {
    let dir = dir.as_ref();
    let snapshots = list_snapshots(dir)?;
    if keep_newest_n == 0 {
        return Ok(Vec::new());
    }
    let mut valid_seen = 0;
    let mut cutoff = None;
    for (seq, path) in snapshots.iter().rev() {
        if read_snapshot(path).is_ok() {
            valid_seen += 1;
            if valid_seen == keep_newest_n {
                cutoff = Some(*seq);
                break;
            }
        }
    }
    let Some(cutoff) = cutoff else {
        return Ok(Vec::new());
    };
    let mut deleted = Vec::new();
    for (seq, path) in snapshots {
        if seq < cutoff {
            fs::remove_file(&path).map_err(io_err("delete snapshot", &path))?;
            deleted.push(path);
        }
    }
    if !deleted.is_empty() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync directory", dir))?;
    }
    Ok(deleted)
}
