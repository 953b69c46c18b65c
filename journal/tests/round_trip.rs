//! Appending, rolling over, reading back, durability semantics and retention.

mod common;

use std::time::Duration;

use common::*;
use hayate_journal::segment::segment_file_name;
use hayate_journal::{FlushPolicy, Journal, JournalError, JournalOptions, JournalReader};

const SEGMENT: u64 = 4096;

#[test]
fn records_read_back_exactly_across_roll_overs() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, 1000);
    let starts = segment_starts(SEGMENT, 1000);
    assert!(
        starts.len() > 10,
        "expected many roll-overs, got {}",
        starts.len()
    );
    for first in &starts {
        assert!(
            dir.path().join(segment_file_name(*first)).exists(),
            "segment {first} missing"
        );
    }
    assert_eq!(read_all_checked(dir.path()), (1..=1000).collect::<Vec<_>>());
}

#[test]
fn segments_are_preallocated_to_the_configured_size() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, 200);
    let reader = JournalReader::open(dir.path()).unwrap();
    for path in reader.segment_paths() {
        assert_eq!(
            std::fs::metadata(path).unwrap().len(),
            SEGMENT,
            "{}",
            path.display()
        );
    }
}

#[test]
fn records_from_any_seq_starts_at_that_record() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, 300);
    let reader = JournalReader::open(dir.path()).unwrap();
    for from in [1, 2, 13, 14, 15, 100, 299, 300] {
        let seqs: Vec<u64> = reader.records_from(from).map(|r| r.unwrap().seq).collect();
        assert_eq!(seqs, (from..=300).collect::<Vec<_>>(), "from {from}");
    }
    // Every segment boundary too.
    for from in segment_starts(SEGMENT, 300) {
        let first = reader.records_from(from).next().unwrap().unwrap();
        assert_eq!(
            (first.seq, first.payload),
            (from, payload_for(from).as_slice())
        );
    }
    assert!(reader.records_from(301).next().is_none());
}

#[test]
fn reopening_continues_the_sequence() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, 50);
    let (mut journal, report) =
        Journal::open(dir.path(), options(SEGMENT, FlushPolicy::Always)).unwrap();
    assert_eq!(
        (report.first_seq, report.last_seq, report.torn_tail),
        (Some(1), Some(50), None)
    );
    assert_eq!((journal.next_seq(), journal.durable_seq()), (51, 50));
    append_records(&mut journal, 50);
    drop(journal);
    assert_eq!(read_all_checked(dir.path()), (1..=100).collect::<Vec<_>>());
}

#[test]
fn empty_payloads_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) =
        Journal::open(dir.path(), options(SEGMENT, FlushPolicy::Always)).unwrap();
    for _ in 0..500 {
        journal.append(b"").unwrap();
    }
    journal.commit().unwrap();
    drop(journal);
    let reader = JournalReader::open(dir.path()).unwrap();
    let records: Vec<_> = reader.records_from(1).map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 500);
    assert!(records.iter().all(|r| r.payload.is_empty()));
}

#[test]
fn a_payload_that_fits_an_empty_segment_is_accepted_and_a_larger_one_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) =
        Journal::open(dir.path(), options(SEGMENT, FlushPolicy::Always)).unwrap();
    let max = journal.max_payload();
    assert_eq!(max, 4096 - 64 - 16);
    journal.append(b"small").unwrap();
    let big = vec![7u8; max];
    assert_eq!(journal.append(&big).unwrap(), 2); // rolls over to a fresh segment
    match journal.append(&vec![0u8; max + 1]) {
        Err(JournalError::PayloadTooLarge { len, max: m }) => assert_eq!((len, m), (max + 1, max)),
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    assert_eq!(journal.append(b"after").unwrap(), 3);
    journal.commit().unwrap();
    drop(journal);
    let reader = JournalReader::open(dir.path()).unwrap();
    let payloads: Vec<Vec<u8>> = reader
        .records_from(1)
        .map(|r| r.unwrap().payload.to_vec())
        .collect();
    assert_eq!(payloads, vec![b"small".to_vec(), big, b"after".to_vec()]);
}

#[test]
fn always_makes_everything_appended_durable_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) =
        Journal::open(dir.path(), options(SEGMENT, FlushPolicy::Always)).unwrap();
    assert_eq!(journal.durable_seq(), 0);
    journal.append(b"a").unwrap();
    journal.append(b"b").unwrap();
    assert_eq!(
        journal.durable_seq(),
        0,
        "appended is not durable before commit"
    );
    assert_eq!(journal.commit().unwrap(), 2);
    assert_eq!(journal.durable_seq(), 2);
}

#[test]
fn interval_commits_sync_only_after_the_interval_and_sync_forces_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = FlushPolicy::Interval { ms: 200 };
    let (mut journal, _) = Journal::open(dir.path(), options(SEGMENT, policy)).unwrap();
    journal.append(b"a").unwrap();
    assert_eq!(
        journal.commit().unwrap(),
        0,
        "within the interval commit does not sync"
    );
    assert_eq!(journal.sync().unwrap(), 1);
    journal.append(b"b").unwrap();
    assert_eq!(journal.commit().unwrap(), 1);
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(
        journal.commit().unwrap(),
        2,
        "after the interval commit syncs"
    );
}

#[test]
fn never_advances_durable_seq_on_commit_without_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), options(SEGMENT, FlushPolicy::Never)).unwrap();
    journal.append(b"a").unwrap();
    assert_eq!(journal.durable_seq(), 0);
    assert_eq!(journal.commit().unwrap(), 1);
}

#[test]
fn a_roll_over_makes_the_sealed_segment_durable() {
    let dir = tempfile::tempdir().unwrap();
    let policy = FlushPolicy::Interval { ms: 60_000 };
    let (mut journal, _) = Journal::open(dir.path(), options(SEGMENT, policy)).unwrap();
    let boundary = segment_starts(SEGMENT, 100)[1];
    for seq in 1..=boundary {
        journal.append(&payload_for(seq)).unwrap();
    }
    assert_eq!(journal.durable_seq(), boundary - 1);
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_journal, _) = Journal::open(
        dir.path(),
        JournalOptions {
            segment_size: SEGMENT,
            ..Default::default()
        },
    )
    .unwrap();
    let second = Journal::open(
        dir.path(),
        JournalOptions {
            segment_size: SEGMENT,
            ..Default::default()
        },
    );
    assert!(
        matches!(second, Err(JournalError::Locked { .. })),
        "{second:?}"
    );
}

#[test]
fn invalid_options_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for segment_size in [0, 1000, 4100] {
        let result = Journal::open(dir.path(), options(segment_size, FlushPolicy::Always));
        assert!(
            matches!(result, Err(JournalError::InvalidOptions(_))),
            "{segment_size}"
        );
    }
}

#[test]
fn a_new_journal_can_start_at_a_later_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let opts = JournalOptions {
        segment_size: SEGMENT,
        flush_policy: FlushPolicy::Always,
        first_seq: 1000,
    };
    let (mut journal, _) = Journal::open(dir.path(), opts).unwrap();
    assert_eq!(journal.append(b"x").unwrap(), 1000);
    journal.commit().unwrap();
    drop(journal);
    let reader = JournalReader::open(dir.path()).unwrap();
    assert_eq!(reader.records_from(1000).next().unwrap().unwrap().seq, 1000);
}

#[test]
fn delete_segments_through_removes_only_segments_wholly_at_or_before_seq() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) =
        Journal::open(dir.path(), options(SEGMENT, FlushPolicy::Always)).unwrap();
    append_records(&mut journal, 400);
    let starts = segment_starts(SEGMENT, 400);
    // seq inside the third segment: the first two go, the third stays.
    let removed = journal.delete_segments_through(starts[2] + 1).unwrap();
    assert_eq!(removed.len(), 2);
    assert_eq!(journal.first_seq(), starts[2]);
    // The last record of a segment: that segment goes too.
    let removed = journal.delete_segments_through(starts[3] - 1).unwrap();
    assert_eq!(removed, vec![dir.path().join(segment_file_name(starts[2]))]);
    // Never the active segment.
    journal.delete_segments_through(u64::MAX - 1).unwrap();
    assert_eq!(journal.segment_paths().count(), 1);
    append_records(&mut journal, 10);
    drop(journal);
    let seqs = read_all_checked(dir.path());
    assert_eq!(*seqs.last().unwrap(), 410);
    let reader = JournalReader::open(dir.path()).unwrap();
    assert!(matches!(
        reader.records_from(1).next(),
        Some(Err(JournalError::SeqNotInJournal { .. }))
    ));
}
