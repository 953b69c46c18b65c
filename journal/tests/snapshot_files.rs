//! Snapshot files: atomic writes, checked reads, fallback past corrupt files, retention.

mod common;

use common::{fill, xor_byte};
use hayate_journal::snapshot_file::{
    SnapshotFileError, delete_snapshots_before, list_snapshots, newest_valid_snapshot,
    read_snapshot, snapshot_file_name, write_snapshot,
};

#[test]
fn a_snapshot_reads_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let path = write_snapshot(dir.path(), 42, &body).unwrap();
    assert_eq!(path, dir.path().join(snapshot_file_name(42)));
    assert_eq!(read_snapshot(&path).unwrap(), (42, body));
    // Atomic: no temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from(snapshot_file_name(42))]
    );
}

#[test]
fn an_empty_body_is_a_valid_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_snapshot(dir.path(), 0, b"").unwrap();
    assert_eq!(read_snapshot(path).unwrap(), (0, Vec::new()));
}

#[test]
fn snapshots_are_listed_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    for seq in [300, 5, 40] {
        write_snapshot(dir.path(), seq, b"state").unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
    let seqs: Vec<u64> = list_snapshots(dir.path())
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(seqs, vec![5, 40, 300]);
}

#[test]
fn a_truncated_snapshot_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_snapshot(dir.path(), 9, &[1u8; 1000]).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(500)
        .unwrap();
    match read_snapshot(&path) {
        Err(SnapshotFileError::Length {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (1040, 500)),
        other => panic!("expected Length, got {other:?}"),
    }
}

#[test]
fn a_bad_magic_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_snapshot(dir.path(), 9, b"state").unwrap();
    fill(&path, 0, 4, b'Z');
    assert!(matches!(
        read_snapshot(&path),
        Err(SnapshotFileError::BadMagic { .. })
    ));
}

#[test]
fn a_flipped_body_bit_is_a_crc_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_snapshot(dir.path(), 9, &[3u8; 100]).unwrap();
    xor_byte(&path, 40 + 50, 0x01);
    assert!(matches!(
        read_snapshot(&path),
        Err(SnapshotFileError::BodyCrc { .. })
    ));
}

#[test]
fn a_flipped_header_bit_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_snapshot(dir.path(), 9, &[3u8; 100]).unwrap();
    xor_byte(&path, 17, 0x01); // seq
    assert!(matches!(
        read_snapshot(&path),
        Err(SnapshotFileError::BadHeader { .. })
    ));
}

#[test]
fn a_snapshot_renamed_to_another_seq_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_snapshot(dir.path(), 9, b"state").unwrap();
    let renamed = dir.path().join(snapshot_file_name(10));
    std::fs::rename(&path, &renamed).unwrap();
    assert!(matches!(
        read_snapshot(&renamed),
        Err(SnapshotFileError::SeqMismatch {
            header_seq: 9,
            name_seq: 10,
            ..
        })
    ));
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_an_older_one_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write_snapshot(dir.path(), 100, b"old state").unwrap();
    let truncated = write_snapshot(dir.path(), 200, b"newer state").unwrap();
    let flipped = write_snapshot(dir.path(), 300, b"newest state").unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(45)
        .unwrap();
    xor_byte(&flipped, 45, 0x40);
    let (loaded, skipped) = newest_valid_snapshot(dir.path()).unwrap();
    let loaded = loaded.expect("the old snapshot is valid");
    assert_eq!(
        (loaded.seq, loaded.body.as_slice()),
        (100, b"old state".as_slice())
    );
    assert_eq!(skipped.len(), 2);
    assert!(matches!(&skipped[0], SnapshotFileError::BodyCrc { path, .. } if *path == flipped));
    assert!(matches!(&skipped[1], SnapshotFileError::Length { path, .. } if *path == truncated));
}

#[test]
fn no_snapshot_at_all_is_none_without_problems() {
    let dir = tempfile::tempdir().unwrap();
    let (loaded, skipped) = newest_valid_snapshot(dir.path().join("missing")).unwrap();
    assert!(loaded.is_none() && skipped.is_empty());
}

#[test]
fn retention_keeps_the_newest_valid_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    for seq in [10, 20, 30, 40] {
        write_snapshot(dir.path(), seq, b"state").unwrap();
    }
    let corrupt = dir.path().join(snapshot_file_name(40));
    xor_byte(&corrupt, 42, 0x01);
    // Keep 2 valid (30 and 20); the corrupt 40 stays for inspection; 10 goes.
    let deleted = delete_snapshots_before(dir.path(), 2).unwrap();
    assert_eq!(deleted, vec![dir.path().join(snapshot_file_name(10))]);
    let seqs: Vec<u64> = list_snapshots(dir.path())
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(seqs, vec![20, 30, 40]);
    // Fewer valid snapshots than asked for: nothing is deleted.
    assert!(delete_snapshots_before(dir.path(), 5).unwrap().is_empty());
    assert!(delete_snapshots_before(dir.path(), 0).unwrap().is_empty());
}
