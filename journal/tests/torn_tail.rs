//! A torn or zeroed tail of the last segment is truncated and reported; appends continue.

mod common;

use common::*;
use hayate_journal::{Defect, FlushPolicy, Journal, JournalReader, verify};

const SEGMENT: u64 = 4096;
const COUNT: u64 = 100;

fn reopen(dir: &std::path::Path) -> (Journal, hayate_journal::OpenReport) {
    Journal::open(dir, options(SEGMENT, FlushPolicy::Always)).unwrap()
}

#[test]
fn a_last_record_with_a_bad_crc_is_truncated_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let (path, offset, len) = locate(dir.path(), SEGMENT, COUNT);
    xor_byte(&path, offset + 4, 0xFF); // the CRC field
    let (journal, report) = reopen(dir.path());
    let torn = report.torn_tail.expect("torn tail reported");
    assert_eq!(
        (torn.path.as_path(), torn.offset, torn.seq, torn.bytes),
        (
            path.as_path(),
            offset,
            COUNT,
            len_without_padding(COUNT, len)
        )
    );
    assert!(matches!(torn.defect, Defect::CrcMismatch { .. }));
    assert_eq!(report.last_seq, Some(COUNT - 1));
    assert_eq!(journal.next_seq(), COUNT);
}

/// The torn-tail byte count runs to the last non-zero byte, so trailing zero padding is excluded.
fn len_without_padding(seq: u64, frame_len: u64) -> u64 {
    let payload = payload_for(seq);
    let trailing_zeros = payload.iter().rev().take_while(|b| **b == 0).count() as u64;
    let padding = frame_len - 16 - payload.len() as u64;
    frame_len - padding - trailing_zeros
}

#[test]
fn a_last_record_cut_in_half_is_truncated_and_appends_continue_from_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let (path, offset, len) = locate(dir.path(), SEGMENT, COUNT);
    fill(&path, offset + len / 2, (len - len / 2) as usize, 0);
    let (mut journal, report) = reopen(dir.path());
    let torn = report.torn_tail.expect("torn tail reported");
    assert_eq!((torn.offset, torn.seq), (offset, COUNT));
    assert!(torn.bytes > 0 && torn.bytes <= len / 2, "{torn:?}");
    assert_eq!(journal.append(&payload_for(COUNT)).unwrap(), COUNT);
    append_records(&mut journal, 20);
    drop(journal);
    assert_eq!(
        read_all_checked(dir.path()),
        (1..=COUNT + 20).collect::<Vec<_>>()
    );
    // The truncation was durable: the next open finds nothing to report.
    assert_eq!(reopen(dir.path()).1.torn_tail, None);
}

#[test]
fn garbage_after_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let (path, offset, len) = locate(dir.path(), SEGMENT, COUNT);
    fill(&path, offset + len, 40, 0xEE);
    let (journal, report) = reopen(dir.path());
    let torn = report.torn_tail.expect("torn tail reported");
    assert_eq!(
        (torn.offset, torn.seq, torn.bytes),
        (offset + len, COUNT + 1, 40)
    );
    assert_eq!(journal.next_seq(), COUNT + 1);
}

#[test]
fn a_zeroed_tail_is_simply_the_end_of_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let (path, offset, len) = locate(dir.path(), SEGMENT, COUNT);
    fill(&path, offset, len as usize, 0);
    let (journal, report) = reopen(dir.path());
    assert_eq!(report.torn_tail, None);
    assert_eq!(journal.next_seq(), COUNT);
}

#[test]
fn readers_and_verify_see_a_torn_tail_without_modifying_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, COUNT);
    let (path, offset, _) = locate(dir.path(), SEGMENT, COUNT);
    xor_byte(&path, offset + 20, 0x01);
    let before = std::fs::read(&path).unwrap();
    let reader = JournalReader::open(dir.path()).unwrap();
    let seqs: Vec<u64> = reader.records_from(1).map(|r| r.unwrap().seq).collect();
    assert_eq!(seqs, (1..COUNT).collect::<Vec<_>>());
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(
        report.torn_tail.map(|t| (t.offset, t.seq)),
        Some((offset, COUNT))
    );
    assert_eq!(report.last_seq, Some(COUNT - 1));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "read-only paths must not modify files"
    );
}

#[test]
fn a_torn_first_record_of_a_new_segment_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let starts = segment_starts(SEGMENT, 1000);
    let last_start = starts[5];
    write_journal(dir.path(), SEGMENT, last_start);
    let (path, offset, _) = locate(dir.path(), SEGMENT, last_start);
    assert_eq!(offset, 64, "record {last_start} opens its segment");
    xor_byte(&path, offset + 17, 0x80);
    let (journal, report) = reopen(dir.path());
    assert_eq!(report.torn_tail.map(|t| t.seq), Some(last_start));
    assert_eq!(journal.next_seq(), last_start);
}

#[test]
fn a_crash_between_sealing_a_segment_and_creating_the_next_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let starts = segment_starts(SEGMENT, 1000);
    let next = starts[3];
    write_journal(dir.path(), SEGMENT, next); // record `next` opens a new segment
    std::fs::remove_file(
        dir.path()
            .join(hayate_journal::segment::segment_file_name(next)),
    )
    .unwrap();
    let (mut journal, report) = reopen(dir.path());
    assert_eq!((report.last_seq, report.torn_tail), (Some(next - 1), None));
    assert_eq!(journal.append(&payload_for(next)).unwrap(), next);
    journal.commit().unwrap();
    drop(journal);
    assert_eq!(read_all_checked(dir.path()), (1..=next).collect::<Vec<_>>());
}
