//! Roll-over into spare segments prepared ahead by the writer's background thread: the spare is
//! used (no inline creation when the thread has time), an unused spare is deleted on close, a
//! spare left behind by a crash is deleted and reported on open, and the states a crash at a
//! roll-over can leave open cleanly. (Real SIGKILLs during roll-overs: `tests/crash.rs`.)

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use hayate_journal::segment::SEGMENT_HEADER_LEN;
use hayate_journal::{FlushPolicy, Journal};

const SEGMENT: u64 = 64 * 1024;
const SPARE: &str = "spare.seg.tmp";

/// Names of the temporary files in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    names.sort();
    names
}

/// Appends standard records until the journal has rolled over `rollovers` more times, pausing
/// after each roll-over so the background thread can prepare the next spare.
fn append_through_rollovers(journal: &mut Journal, rollovers: usize, pause: Duration) {
    let target = journal.segment_paths().count() + rollovers;
    while journal.segment_paths().count() < target {
        let before = journal.segment_paths().count();
        let seq = journal.next_seq();
        assert_eq!(journal.append(&payload_for(seq)).unwrap(), seq);
        if journal.segment_paths().count() > before {
            journal.commit().unwrap();
            std::thread::sleep(pause);
        }
    }
    journal.commit().unwrap();
}

#[test]
fn roll_overs_use_the_prepared_spare() {
    for policy in [FlushPolicy::Never, FlushPolicy::Always] {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), options(SEGMENT, policy)).unwrap();
        // A 64 KiB spare takes well under a millisecond to prepare; pause generously so a loaded
        // test machine does not make this flaky.
        assert!(wait_until(Duration::from_secs(10), || dir
            .path()
            .join(SPARE)
            .exists()));
        std::thread::sleep(Duration::from_millis(50));
        append_through_rollovers(&mut journal, 12, Duration::from_millis(50));
        assert_eq!(
            journal.inline_rollovers(),
            0,
            "{policy:?}: every roll-over should have found a spare ready"
        );
        let last = journal.last_seq().unwrap();
        assert_eq!(journal.segment_paths().count(), 13);
        drop(journal);
        assert!(
            temp_files(dir.path()).is_empty(),
            "closing deletes the unused spare: {:?}",
            temp_files(dir.path())
        );
        assert_eq!(read_all_checked(dir.path()), (1..=last).collect::<Vec<_>>());
        let (_, report) = Journal::open(dir.path(), options(SEGMENT, policy)).unwrap();
        assert!(report.removed_temp_files.is_empty());
        assert_eq!(report.last_seq, Some(last));
    }
}

#[test]
fn roll_overs_faster_than_the_thread_fall_back_to_inline_creation() {
    // Many roll-overs back to back: whether or not the thread keeps up, every record is there
    // and the count of inline creations stays within the number of roll-overs.
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), options(4096, FlushPolicy::Never)).unwrap();
    append_records(&mut journal, 3000);
    let rollovers = journal.segment_paths().count() as u64 - 1;
    assert!(rollovers > 50);
    assert!(journal.inline_rollovers() <= rollovers);
    journal.sync().unwrap();
    drop(journal);
    assert_eq!(read_all_checked(dir.path()), (1..=3000).collect::<Vec<_>>());
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn a_leftover_spare_is_deleted_and_reported_on_open() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, 100);
    // What a writer killed while preparing (or before installing) its spare leaves behind.
    std::fs::write(dir.path().join(SPARE), vec![0u8; 8192]).unwrap();
    let (mut journal, report) =
        Journal::open(dir.path(), options(SEGMENT, FlushPolicy::Always)).unwrap();
    assert_eq!(report.removed_temp_files, vec![dir.path().join(SPARE)]);
    assert_eq!(report.last_seq, Some(100));
    append_records(&mut journal, 10);
    drop(journal);
    assert_eq!(read_all_checked(dir.path()), (1..=110).collect::<Vec<_>>());
}

#[test]
fn a_segment_installed_at_a_roll_over_without_records_is_a_valid_last_segment() {
    // A crash right after the rename leaves exactly this: the new segment with its header and no
    // records (under `Never`, header and name only in the page cache, which a process crash keeps).
    for policy in [FlushPolicy::Never, FlushPolicy::Always] {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path(), options(SEGMENT, policy)).unwrap();
        let boundary = segment_starts(SEGMENT, 10_000)[1];
        append_records(&mut journal, boundary - 1);
        assert_eq!(journal.segment_paths().count(), 1);
        // The append that rolls over; then zero its record, leaving the new segment as the rename
        // left it.
        journal.append(&payload_for(boundary)).unwrap();
        journal.commit().unwrap();
        assert_eq!(journal.segment_paths().count(), 2);
        drop(journal);
        let (path, offset, len) = locate(dir.path(), SEGMENT, boundary);
        assert_eq!(offset, SEGMENT_HEADER_LEN as u64);
        fill(&path, offset, len as usize, 0);
        let (mut journal, report) = Journal::open(dir.path(), options(SEGMENT, policy)).unwrap();
        assert_eq!(report.last_seq, Some(boundary - 1));
        assert!(report.torn_tail.is_none());
        assert_eq!(journal.next_seq(), boundary);
        append_records(&mut journal, 5);
        drop(journal);
        assert_eq!(
            read_all_checked(dir.path()),
            (1..=boundary + 4).collect::<Vec<_>>()
        );
    }
}

#[test]
fn sync_under_never_makes_segments_sealed_without_msync_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), options(4096, FlushPolicy::Never)).unwrap();
    append_records(&mut journal, 500);
    assert!(journal.segment_paths().count() > 5);
    let last = journal.last_seq().unwrap();
    assert_eq!(journal.sync().unwrap(), last);
    // Retention after unsynced roll-overs, then more of them, then sync again.
    journal.delete_segments_through(last / 2).unwrap();
    append_records(&mut journal, 500);
    assert_eq!(journal.sync().unwrap(), last + 500);
    drop(journal);
    let seqs = read_all_checked(dir.path());
    assert_eq!(seqs.last(), Some(&(last + 500)));
}
