//! Damage anywhere but the tail is an error naming file, offset and sequence; `verify` lists it;
//! `repair::truncate_after` is the explicit way out.

mod common;

use std::path::Path;

use common::*;
use hayate_journal::segment::segment_file_name;
use hayate_journal::{Defect, FlushPolicy, Journal, JournalError, JournalReader, repair, verify};

const SEGMENT: u64 = 64 * 1024;
const COUNT: u64 = 2000;

fn open(dir: &Path) -> Result<Journal, JournalError> {
    Journal::open(dir, options(SEGMENT, FlushPolicy::Always)).map(|(journal, _)| journal)
}

fn expect_corrupt_record(dir: &Path, path: &Path, offset: u64, seq: u64) {
    match open(dir) {
        Err(JournalError::CorruptRecord {
            path: p,
            offset: o,
            seq: s,
            ..
        }) => {
            assert_eq!((p.as_path(), o, s), (path, offset, seq));
        }
        other => panic!(
            "expected CorruptRecord at {}:{offset} seq {seq}, got {other:?}",
            path.display()
        ),
    }
}

/// After a repair keeping `1..=keep`, the journal opens with exactly that prefix and continues.
fn assert_repair_keeps_prefix(dir: &Path, keep: u64) {
    let report = repair::truncate_after(dir, keep).unwrap();
    assert_eq!(report.next_seq, keep + 1);
    let (mut journal, open_report) =
        Journal::open(dir, options(SEGMENT, FlushPolicy::Always)).unwrap();
    assert_eq!(
        (open_report.last_seq, open_report.torn_tail),
        (Some(keep), None)
    );
    append_records(&mut journal, 5);
    drop(journal);
    assert_eq!(read_all_checked(dir), (1..=keep + 5).collect::<Vec<_>>());
}

#[test]
fn a_flipped_bit_in_the_middle_of_a_segment_is_an_error_naming_file_offset_and_seq() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let victim = COUNT - 50; // in the last segment, with valid records after it
    let (path, offset, _) = locate(dir.path(), SEGMENT, victim);
    xor_byte(&path, offset + 16, 0x04);
    expect_corrupt_record(dir.path(), &path, offset, victim);
    let message = open(dir.path()).unwrap_err().to_string();
    let file_name = path.file_name().unwrap().to_str().unwrap();
    for needle in [file_name, &offset.to_string(), &victim.to_string()] {
        assert!(
            message.contains(needle),
            "{message:?} should mention {needle}"
        );
    }

    let report = verify(dir.path()).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!(
        (problem.file.as_path(), problem.offset, problem.seq),
        (path.as_path(), Some(offset), Some(victim))
    );
    assert_eq!(
        report.records,
        COUNT - 1,
        "verify keeps counting past the problem"
    );
    assert_eq!(report.last_seq, Some(COUNT));

    let reader = JournalReader::open(dir.path()).unwrap();
    let last = reader.records_from(1).last().unwrap();
    assert!(matches!(last, Err(JournalError::CorruptRecord { seq, .. }) if seq == victim));

    assert_repair_keeps_prefix(dir.path(), victim - 1);
}

#[test]
fn a_flipped_bit_in_a_non_last_segment_is_an_error_even_in_its_last_record() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let victim = segment_starts(SEGMENT, COUNT)[1] - 1; // last record of the first segment
    let (path, offset, _) = locate(dir.path(), SEGMENT, victim);
    xor_byte(&path, offset + 3, 0x01); // the length word
    expect_corrupt_record(dir.path(), &path, offset, victim);
    assert!(!verify(dir.path()).unwrap().is_ok());
    assert_repair_keeps_prefix(dir.path(), victim - 1);
}

#[test]
fn a_zeroed_page_in_the_middle_is_detected_and_located() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let path = dir.path().join(segment_file_name(1));
    fill(&path, 8192, 4096, 0);
    // The first record touching the page is the one reported.
    let victim = (1..COUNT)
        .find(|seq| {
            let (p, offset, len) = locate(dir.path(), SEGMENT, *seq);
            p == path && offset + len > 8192
        })
        .unwrap();
    let (_, offset, _) = locate(dir.path(), SEGMENT, victim);
    expect_corrupt_record(dir.path(), &path, offset, victim);
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(
        (report.problems[0].offset, report.problems[0].seq),
        (Some(offset), Some(victim))
    );
    assert_repair_keeps_prefix(dir.path(), victim - 1);
}

#[test]
fn a_zeroed_page_in_the_middle_of_the_last_segment_is_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let last_start = segment_starts(SEGMENT, COUNT)[1];
    let count = last_start + 150;
    write_journal(dir.path(), SEGMENT, count);
    let path = dir.path().join(segment_file_name(last_start));
    let (_, end_offset, end_len) = locate(dir.path(), SEGMENT, count);
    assert!(
        end_offset + end_len > 3 * 4096,
        "the last segment needs data after the zeroed page"
    );
    fill(&path, 4096, 4096, 0);
    match open(dir.path()) {
        Err(JournalError::CorruptRecord {
            path: p, context, ..
        }) => {
            assert_eq!(p, path);
            assert!(context.contains("valid frame follows"), "{context}");
        }
        other => panic!("expected CorruptRecord, got {other:?}"),
    }
}

#[test]
fn a_shortened_segment_that_is_not_the_last_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let path = dir.path().join(segment_file_name(1));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(SEGMENT / 2)
        .unwrap();
    match open(dir.path()) {
        Err(JournalError::SegmentLength {
            path: p,
            expected_len,
            actual_len,
        }) => {
            assert_eq!(
                (p, expected_len, actual_len),
                (path.clone(), SEGMENT, SEGMENT / 2)
            );
        }
        other => panic!("expected SegmentLength, got {other:?}"),
    }
    assert!(
        verify(dir.path())
            .unwrap()
            .problems
            .iter()
            .any(|p| p.file == path)
    );
}

#[test]
fn a_missing_middle_segment_is_a_gap_error() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let starts = segment_starts(SEGMENT, COUNT);
    assert!(starts.len() >= 3);
    std::fs::remove_file(dir.path().join(segment_file_name(starts[1]))).unwrap();
    match open(dir.path()) {
        Err(JournalError::SequenceGap {
            path,
            expected_seq,
            found_seq,
        }) => {
            assert_eq!(path, dir.path().join(segment_file_name(starts[2])));
            assert_eq!((expected_seq, found_seq), (starts[1], starts[2]));
        }
        other => panic!("expected SequenceGap, got {other:?}"),
    }
    let report = verify(dir.path()).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.description.contains("gap")),
        "{:?}",
        report.problems
    );
    let reader = JournalReader::open(dir.path()).unwrap();
    assert!(
        reader
            .records_from(1)
            .any(|r| matches!(r, Err(JournalError::SequenceGap { .. })))
    );
    assert_repair_keeps_prefix(dir.path(), starts[1] - 1);
}

#[test]
fn a_corrupt_segment_header_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let starts = segment_starts(SEGMENT, COUNT);
    let path = dir.path().join(segment_file_name(starts[1]));
    xor_byte(&path, 17, 0x01); // first_seq
    match open(dir.path()) {
        Err(JournalError::BadSegmentHeader { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.contains("CRC"), "{reason}");
        }
        other => panic!("expected BadSegmentHeader, got {other:?}"),
    }
    assert!(JournalReader::open(dir.path()).is_err());
    let report = verify(dir.path()).unwrap();
    assert!(
        report.problems.iter().any(|p| p.file == path),
        "{:?}",
        report.problems
    );
    assert_repair_keeps_prefix(dir.path(), starts[1] - 1);
}

#[test]
fn a_segment_with_bad_magic_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, 10);
    let path = dir.path().join(segment_file_name(1));
    fill(&path, 0, 8, b'X');
    assert!(
        matches!(open(dir.path()), Err(JournalError::BadSegmentHeader { reason, .. }) if reason.contains("magic"))
    );
}

#[test]
fn repair_refuses_to_keep_records_that_are_not_valid_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let victim = 100;
    let (path, offset, _) = locate(dir.path(), SEGMENT, victim);
    xor_byte(&path, offset + 16, 0x01);
    let segments_before = JournalReader::open(dir.path())
        .unwrap()
        .segment_paths()
        .count();
    let result = repair::truncate_after(dir.path(), victim + 10);
    assert!(
        matches!(result, Err(JournalError::CorruptRecord { seq, .. }) if seq == victim),
        "{result:?}"
    );
    assert_eq!(
        JournalReader::open(dir.path())
            .unwrap()
            .segment_paths()
            .count(),
        segments_before
    );
}

#[test]
fn verify_reports_every_problem_not_just_the_first() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let victims = [10, 500, COUNT - 20];
    for victim in victims {
        let (path, offset, _) = locate(dir.path(), SEGMENT, victim);
        xor_byte(&path, offset + 9, 0x02); // the sequence field
    }
    let report = verify(dir.path()).unwrap();
    let seqs: Vec<Option<u64>> = report.problems.iter().map(|p| p.seq).collect();
    assert_eq!(
        seqs,
        victims.iter().map(|v| Some(*v)).collect::<Vec<_>>(),
        "{:?}",
        report.problems
    );
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.description.contains("CRC"))
    );
    assert_eq!(report.records, COUNT - 3);
}

#[test]
fn a_defect_reported_by_open_is_a_crc_mismatch_for_a_flipped_payload_bit() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, 100);
    let (path, offset, _) = locate(dir.path(), SEGMENT, 50);
    xor_byte(&path, offset + 16, 0x01);
    assert!(matches!(
        open(dir.path()),
        Err(JournalError::CorruptRecord {
            defect: Defect::CrcMismatch { .. },
            ..
        })
    ));
}
