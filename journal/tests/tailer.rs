//! A tailer follows a journal being written by another thread or another process, delivering
//! every record exactly once, in order, across roll-overs.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use hayate_journal::{FlushPolicy, Journal, Tailer};

const SEGMENT: u64 = 4096;
const RECORDS: u64 = 3000;
const DIR_VAR: &str = "HAYATE_TAIL_DIR";
const LIMIT: Duration = Duration::from_secs(30);

/// Writes `RECORDS` standard records in small batches with short pauses, so the tailer sees
/// partial progress, idle moments and many roll-overs.
fn write_slowly(dir: &std::path::Path) {
    let (mut journal, _) = Journal::open(dir, options(SEGMENT, FlushPolicy::Never)).unwrap();
    let mut rng = Rng::seeded(7);
    while journal.next_seq() <= RECORDS {
        let batch = rng.between(1, 40).min(RECORDS + 1 - journal.next_seq());
        append_records(&mut journal, batch);
        if rng.between(0, 3) == 0 {
            std::thread::sleep(Duration::from_micros(rng.between(50, 500)));
        }
    }
}

/// Polls until `RECORDS` records arrived (or the limit passed) and checks them.
fn follow(tailer: &mut Tailer, from_seq: u64) {
    let mut expected = from_seq;
    let deadline = Instant::now() + LIMIT;
    while expected <= RECORDS {
        assert!(
            Instant::now() < deadline,
            "tailer stuck at {expected} after {LIMIT:?}"
        );
        let delivered = tailer
            .poll(|seq, payload| {
                assert_eq!(seq, expected, "records must arrive once each, in order");
                assert_eq!(payload, payload_for(seq).as_slice(), "payload of {seq}");
                expected += 1;
            })
            .unwrap();
        if delivered == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    // Nothing more, nothing repeated.
    assert_eq!(
        tailer
            .poll(|seq, _| panic!("unexpected extra record {seq}"))
            .unwrap(),
        0
    );
    assert_eq!(tailer.next_seq(), RECORDS + 1);
}

#[test]
fn a_tailer_follows_a_writer_thread_across_roll_overs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let mut tailer = Tailer::open(dir.path(), 1).unwrap();
    // The writer starts after the tailer, so the tailer also sees the journal appear.
    let writer = std::thread::spawn(move || write_slowly(&path));
    follow(&mut tailer, 1);
    writer.join().unwrap();
    assert!(
        segment_starts(SEGMENT, RECORDS).len() > 100,
        "the test must cross many roll-overs"
    );
}

#[test]
fn a_tailer_can_start_from_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    write_slowly(dir.path());
    let from = segment_starts(SEGMENT, RECORDS)[7] + 3;
    let mut tailer = Tailer::open(dir.path(), from).unwrap();
    follow(&mut tailer, from);
}

#[test]
#[ignore = "child process of a_tailer_follows_a_writer_in_another_process"]
fn tail_child_writer() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    write_slowly(std::path::Path::new(&dir));
}

#[test]
fn a_tailer_follows_a_writer_in_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut tailer = Tailer::open(dir.path(), 1).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tail_child_writer",
            "--ignored",
            "--test-threads=1",
        ])
        .env(DIR_VAR, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let followed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| follow(&mut tailer, 1)));
    if followed.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    if let Err(panic) = followed {
        std::panic::resume_unwind(panic);
    }
    assert!(status.success(), "child writer failed: {status}");
}

#[test]
fn a_tailer_never_delivers_a_record_whose_commit_word_is_not_published() {
    // A frame whose body is written but whose commit word is still zero is "not yet".
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), SEGMENT, 5);
    let (path, offset, _) = locate(dir.path(), SEGMENT, 5);
    fill(&path, offset, 8, 0); // unpublish record 5, leaving its body
    let mut tailer = Tailer::open(dir.path(), 1).unwrap();
    let mut seen = Vec::new();
    assert_eq!(tailer.poll(|seq, _| seen.push(seq)).unwrap(), 4);
    assert_eq!(seen, vec![1, 2, 3, 4]);
    assert!(!wait_until(Duration::from_millis(20), || tailer
        .poll(|_, _| {})
        .unwrap()
        > 0));
}
